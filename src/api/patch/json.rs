//! RFC 6902 JSON patch, with RFC 6901 JSON Pointers.
use serde_json::Value;

use super::{json_equal, PatchError};

/// The most operations one patch may hold (as in Kubernetes).
const MAX_OPERATIONS: usize = 10_000;

/// Applies a JSON patch (RFC 6902): `patch` must be a list of operations,
/// each `{"op": ..., "path": ...}` with `value` (`add`, `replace`, `test`)
/// or `from` (`move`, `copy`). Atomic: when an operation fails, `target` is
/// unchanged and the error names the operation's index and path.
///
/// ```
/// use keelson::api::patch::{json_patch, PatchError};
/// use serde_json::json;
///
/// let mut doc = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"args": ["a"]}});
/// json_patch(&mut doc, &json!([
///     {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
///     {"op": "add", "path": "/spec/args/-", "value": "b"},
///     {"op": "remove", "path": "/metadata/labels/app"},
/// ])).unwrap();
/// assert_eq!(doc, json!({"metadata": {"labels": {"tier": "front"}}, "spec": {"args": ["a", "b"]}}));
///
/// let before = doc.clone();
/// let err = json_patch(&mut doc, &json!([
///     {"op": "replace", "path": "/spec/args/0", "value": "z"},
///     {"op": "test", "path": "/spec/args/1", "value": "nope"},
/// ])).unwrap_err();
/// assert!(matches!(err, PatchError::Operation { index: 1, .. }));
/// assert_eq!(doc, before);
/// ```
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = parse(patch)?;
    let mut doc = target.clone();
    for (index, op) in ops.iter().enumerate() {
        op.run(&mut doc).map_err(|reason| PatchError::Operation {
            index,
            op: op.name().to_string(),
            path: op.path_str.clone(),
            reason,
        })?;
    }
    *target = doc;
    Ok(())
}

enum Kind {
    Add(Value),
    Remove,
    Replace(Value),
    Move(Vec<String>),
    Copy(Vec<String>),
    Test(Value),
}

struct Op {
    kind: Kind,
    path: Vec<String>,
    path_str: String,
    from_str: String,
}

impl Op {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Add(_) => "add",
            Kind::Remove => "remove",
            Kind::Replace(_) => "replace",
            Kind::Move(_) => "move",
            Kind::Copy(_) => "copy",
            Kind::Test(_) => "test",
        }
    }

    fn run(&self, doc: &mut Value) -> Result<(), String> {
        match &self.kind {
            Kind::Add(v) => add(doc, &self.path, v.clone()),
            Kind::Remove => remove(doc, &self.path).map(drop),
            Kind::Replace(v) => {
                let slot = get_mut(doc, &self.path)
                    .ok_or_else(|| format!("path {:?} does not exist", self.path_str))?;
                *slot = v.clone();
                Ok(())
            }
            Kind::Move(from) => {
                if from == &self.path {
                    return Ok(());
                }
                if self.path.len() > from.len() && self.path.starts_with(from) {
                    return Err(format!(
                        "cannot move {:?} into its own child {:?}",
                        self.from_str, self.path_str
                    ));
                }
                let v = remove(doc, from)
                    .map_err(|_| format!("from {:?} does not exist", self.from_str))?;
                add(doc, &self.path, v)
            }
            Kind::Copy(from) => {
                let v = get(doc, from)
                    .ok_or_else(|| format!("from {:?} does not exist", self.from_str))?
                    .clone();
                add(doc, &self.path, v)
            }
            Kind::Test(want) => match get(doc, &self.path) {
                Some(have) if json_equal(have, want) => Ok(()),
                Some(_) => Err(format!(
                    "test failed: the value at {:?} differs",
                    self.path_str
                )),
                None => Err(format!(
                    "test failed: path {:?} does not exist",
                    self.path_str
                )),
            },
        }
    }
}

fn parse(patch: &Value) -> Result<Vec<Op>, PatchError> {
    let Value::Array(items) = patch else {
        return Err(PatchError::bad("a JSON patch must be a list of operations"));
    };
    if items.len() > MAX_OPERATIONS {
        return Err(PatchError::bad(format!(
            "the JSON patch has {} operations, more than the limit of {MAX_OPERATIONS}",
            items.len()
        )));
    }
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let bad = |m: String| PatchError::bad(format!("operation {i}: {m}"));
        let Value::Object(o) = item else {
            return Err(bad("an operation must be an object".into()));
        };
        let name = o
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing \"op\"".into()))?;
        let path_str = o
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing \"path\"".into()))?
            .to_string();
        let path = parse_pointer(&path_str).map_err(&bad)?;
        let value = || {
            o.get("value")
                .cloned()
                .ok_or_else(|| bad(format!("{name} needs a \"value\"")))
        };
        let mut from_str = String::new();
        let mut from = || -> Result<Vec<String>, PatchError> {
            let f = o
                .get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("{name} needs a \"from\"")))?;
            from_str = f.to_string();
            parse_pointer(f).map_err(&bad)
        };
        let kind = match name {
            "add" => Kind::Add(value()?),
            "remove" => Kind::Remove,
            "replace" => Kind::Replace(value()?),
            "move" => Kind::Move(from()?),
            "copy" => Kind::Copy(from()?),
            "test" => Kind::Test(value()?),
            other => return Err(bad(format!("unknown operation {other:?}"))),
        };
        ops.push(Op {
            kind,
            path,
            path_str,
            from_str,
        });
    }
    Ok(ops)
}

/// Splits an RFC 6901 pointer into unescaped tokens (`~1` is `/`, `~0` is
/// `~`); `""` is the whole document.
pub(crate) fn parse_pointer(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!("the pointer {p:?} must start with \"/\""));
    };
    rest.split('/')
        .map(|tok| {
            let mut out = String::with_capacity(tok.len());
            let mut chars = tok.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("the pointer {p:?} has an invalid ~ escape")),
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

/// An array index token: digits with no leading zero.
fn index(tok: &str) -> Option<usize> {
    if tok.is_empty() || (tok.len() > 1 && tok.starts_with('0')) {
        return None;
    }
    if !tok.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    tok.parse().ok()
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, tok| match v {
        Value::Object(m) => m.get(tok),
        Value::Array(a) => index(tok).and_then(|i| a.get(i)),
        _ => None,
    })
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |v, tok| match v {
        Value::Object(m) => m.get_mut(tok),
        Value::Array(a) => index(tok).and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

fn add(doc: &mut Value, path: &[String], v: Value) -> Result<(), String> {
    let Some((last, parent)) = path.split_last() else {
        *doc = v;
        return Ok(());
    };
    let parent =
        get_mut(doc, parent).ok_or_else(|| "the parent path does not exist".to_string())?;
    match parent {
        Value::Object(m) => {
            m.insert(last.clone(), v);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
                return Ok(());
            }
            match index(last) {
                Some(i) if i <= a.len() => {
                    a.insert(i, v);
                    Ok(())
                }
                _ => Err(format!(
                    "index {last:?} is out of bounds for a list of {}",
                    a.len()
                )),
            }
        }
        _ => Err("the parent is neither an object nor a list".to_string()),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, String> {
    let Some((last, parent)) = path.split_last() else {
        return Err("cannot remove the whole document".to_string());
    };
    let parent = get_mut(doc, parent).ok_or_else(|| "the path does not exist".to_string())?;
    match parent {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| "the path does not exist".to_string()),
        Value::Array(a) => match index(last) {
            Some(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(format!(
                "index {last:?} is out of bounds for a list of {}",
                a.len()
            )),
        },
        _ => Err("the path does not exist".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(doc: Value, patch: Value, want: Value) {
        let mut d = doc;
        json_patch(&mut d, &patch).unwrap();
        assert_eq!(d, want);
    }

    fn fails(doc: Value, patch: Value) -> PatchError {
        let mut d = doc.clone();
        let e = json_patch(&mut d, &patch).unwrap_err();
        assert_eq!(d, doc, "a failed patch leaves the target unchanged");
        e
    }

    /// RFC 6902 appendix A.
    #[test]
    fn rfc6902_appendix_a() {
        // A.1 add an object member
        ok(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux"}]),
            json!({"baz": "qux", "foo": "bar"}),
        );
        // A.2 add an array element
        ok(
            json!({"foo": ["bar", "baz"]}),
            json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
            json!({"foo": ["bar", "qux", "baz"]}),
        );
        // A.3 remove an object member
        ok(
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "remove", "path": "/baz"}]),
            json!({"foo": "bar"}),
        );
        // A.4 remove an array element
        ok(
            json!({"foo": ["bar", "qux", "baz"]}),
            json!([{"op": "remove", "path": "/foo/1"}]),
            json!({"foo": ["bar", "baz"]}),
        );
        // A.5 replace a value
        ok(
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
            json!({"baz": "boo", "foo": "bar"}),
        );
        // A.6 move a value
        ok(
            json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
            json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
        );
        // A.7 move an array element
        ok(
            json!({"foo": ["all", "grass", "cows", "eat"]}),
            json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
            json!({"foo": ["all", "cows", "eat", "grass"]}),
        );
        // A.8 test a value: success
        ok(
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
            json!([
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2}
            ]),
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
        );
        // A.9 test a value: error
        let e = fails(
            json!({"baz": "qux"}),
            json!([{"op": "test", "path": "/baz", "value": "bar"}]),
        );
        assert!(matches!(e, PatchError::Operation { index: 0, ref op, .. } if op == "test"));
        assert_eq!(e.code(), 422);
        // A.10 add a nested member object
        ok(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
            json!({"foo": "bar", "child": {"grandchild": {}}}),
        );
        // A.11 ignore unrecognized elements
        ok(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
            json!({"foo": "bar", "baz": "qux"}),
        );
        // A.12 add to a nonexistent target
        let e = fails(
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
        );
        assert!(matches!(e, PatchError::Operation { ref path, .. } if path == "/baz/bat"));
        // A.14 ~ escape ordering
        ok(
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": 10}]),
            json!({"/": 9, "~1": 10}),
        );
        ok(
            json!({"a/b": 1}),
            json!([{"op": "replace", "path": "/a~1b", "value": 2}]),
            json!({"a/b": 2}),
        );
        // A.15 comparing strings and numbers
        fails(
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": "10"}]),
        );
        // A.16 add an array value
        ok(
            json!({"foo": ["bar"]}),
            json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
            json!({"foo": ["bar", ["abc", "def"]]}),
        );
    }

    #[test]
    fn copy_root_and_bad_documents() {
        ok(
            json!({"a": {"b": 1}}),
            json!([{"op": "copy", "from": "/a", "path": "/c"}]),
            json!({"a": {"b": 1}, "c": {"b": 1}}),
        );
        ok(
            json!({"a": 1}),
            json!([{"op": "replace", "path": "", "value": [1]}]),
            json!([1]),
        );
        ok(
            json!({"n": 1}),
            json!([{"op": "test", "path": "/n", "value": 1.0}]),
            json!({"n": 1}),
        );
        // Atomic: the first op succeeded, the second failed.
        let e = fails(
            json!({"a": [1]}),
            json!([
                {"op": "add", "path": "/b", "value": 1},
                {"op": "remove", "path": "/a/5"}
            ]),
        );
        assert!(matches!(e, PatchError::Operation { index: 1, .. }));
        fails(
            json!({"a": [1]}),
            json!([{"op": "add", "path": "/a/01", "value": 1}]),
        );
        fails(
            json!({"a": {}}),
            json!([{"op": "move", "from": "/a", "path": "/a/b"}]),
        );
        fails(json!({}), json!([{"op": "remove", "path": ""}]));
        for bad in [
            json!({"op": "add"}),
            json!([{"op": "frob", "path": "/a"}]),
            json!([{"op": "add", "path": "a", "value": 1}]),
            json!([{"op": "add", "path": "/a~2", "value": 1}]),
            json!([{"op": "add", "path": "/a"}]),
            json!([{"op": "move", "path": "/a"}]),
            json!([3]),
        ] {
            let mut d = json!({});
            let e = json_patch(&mut d, &bad).unwrap_err();
            assert_eq!(e.code(), 400, "{bad}");
        }
    }
}
