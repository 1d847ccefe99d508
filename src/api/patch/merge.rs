//! RFC 7386 JSON merge patch.
use serde_json::{Map, Value};

/// Applies a JSON merge patch (RFC 7386) to `target`: the patch's fields
/// replace the target's, `null` removes a field, objects merge recursively,
/// and anything that is not an object (lists included) replaces whole.
///
/// ```
/// use keelson::api::patch::merge;
/// use serde_json::json;
///
/// let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
/// merge(&mut doc, &json!({"a": "z", "c": {"f": null}}));
/// assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
/// ```
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The JSON merge patch that turns `original` into `modified`: removed
/// fields as `null`, changed fields with their new values, unchanged fields
/// left out. Applying it with [`merge`] to `original` gives `modified`
/// whenever `modified` holds no `null` inside an object (a merge patch
/// cannot set a field to `null`).
///
/// ```
/// use keelson::api::patch::{create_merge_patch, merge};
/// use serde_json::json;
///
/// let a = json!({"spec": {"replicas": 1, "paused": true}, "x": 1});
/// let b = json!({"spec": {"replicas": 3}, "x": 1});
/// let p = create_merge_patch(&a, &b);
/// assert_eq!(p, json!({"spec": {"replicas": 3, "paused": null}}));
/// let mut c = a.clone();
/// merge(&mut c, &p);
/// assert_eq!(c, b);
/// ```
pub fn create_merge_patch(original: &Value, modified: &Value) -> Value {
    match (original, modified) {
        (Value::Object(o), Value::Object(m)) => {
            let mut patch = Map::new();
            for k in o.keys() {
                if !m.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            for (k, mv) in m {
                match o.get(k) {
                    Some(ov) if ov == mv => {}
                    Some(ov @ Value::Object(_)) if mv.is_object() => {
                        let sub = create_merge_patch(ov, mv);
                        if sub.as_object().is_some_and(|s| !s.is_empty()) {
                            patch.insert(k.clone(), sub);
                        }
                    }
                    _ => {
                        patch.insert(k.clone(), mv.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        _ => modified.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7386 appendix A.
    #[test]
    fn rfc7386_appendix_a() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (i, (target, patch, want)) in cases.into_iter().enumerate() {
            let mut t = target;
            merge(&mut t, &patch);
            assert_eq!(t, want, "case {i}");
        }
    }

    #[test]
    fn create_then_apply_round_trips() {
        let a = json!({"a": {"b": [1, 2], "c": "x"}, "d": 4, "e": {"f": 1}});
        let b = json!({"a": {"b": [2], "g": {"h": true}}, "e": 5, "i": []});
        let p = create_merge_patch(&a, &b);
        let mut c = a.clone();
        merge(&mut c, &p);
        assert_eq!(c, b);
        assert_eq!(create_merge_patch(&a, &a), json!({}));
    }
}
