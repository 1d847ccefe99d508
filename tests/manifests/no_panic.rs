//! No input makes loading, defaulting or validating panic: arbitrary bytes,
//! YAML-flavoured strings, and the seed manifests mutated by byte flips,
//! truncations, line deletions and line duplications, through loaders in
//! every field-validation mode.
use std::sync::OnceLock;

use keelson::api::manifest::Loader;
use keelson::api::{FieldValidation, Scheme};
use proptest::prelude::*;

use crate::seeds::{read_seed, seed_names};

/// Loads `input` through several loader configurations and exercises every
/// result: defaulting, validation, positions, names and error messages.
fn exercise(input: &[u8]) {
    let scheme = Scheme::builtin();
    for (mode, unknown) in [
        (FieldValidation::Strict, false),
        (FieldValidation::Warn, true),
        (FieldValidation::Ignore, true),
    ] {
        let loader = Loader::new(scheme)
            .field_validation(mode)
            .allow_unknown_kinds(unknown);
        for result in loader.load_bytes(input) {
            match result {
                Ok(mut loaded) => {
                    let _ = loaded.display_name();
                    for w in &loaded.warnings {
                        let _ = w.to_string();
                    }
                    if let Err(errors) = loaded.default_and_validate() {
                        assert!(!errors.is_empty());
                        for e in errors {
                            assert!(e.line >= 1, "{e}");
                            let _ = e.to_string();
                        }
                    }
                    let _ = loaded.object.to_json().expect("a loaded object encodes");
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
}

fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        seed_names()
            .iter()
            .map(|n| read_seed(n).into_bytes())
            .collect()
    })
}

/// One change to a document's bytes; positions are taken modulo the length.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    DeleteLine { line: usize },
    DuplicateLine { line: usize },
    Insert { at: usize, text: String },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        (
            any::<usize>(),
            prop::sample::select(b"\t :-[]{}&*!|>\"'#\n0".to_vec())
        )
            .prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), "[ \t\n:{}\\[\\],&*a-z0-9-]{1,8}")
            .prop_map(|(at, text)| Mutation::Insert { at, text }),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    let len = doc.len().max(1);
    match m {
        Mutation::Flip { at, bits } => {
            if let Some(b) = doc.get_mut(at % len) {
                *b ^= bits;
            }
        }
        Mutation::Set { at, byte } => {
            if let Some(b) = doc.get_mut(at % len) {
                *b = *byte;
            }
        }
        Mutation::Truncate { at } => doc.truncate(at % len),
        Mutation::DeleteLine { line } | Mutation::DuplicateLine { line } => {
            let mut lines: Vec<Vec<u8>> = doc.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            let i = line % lines.len();
            if matches!(m, Mutation::DeleteLine { .. }) {
                lines.remove(i);
            } else {
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            *doc = lines.join(&b'\n');
        }
        Mutation::Insert { at, text } => {
            let at = (at % len).min(doc.len());
            doc.splice(at..at, text.bytes());
        }
    }
}

#[test]
fn every_seed_unmutated_is_exercised() {
    for seed in seeds() {
        exercise(seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&input);
    }

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        exercise(input.as_bytes());
    }

    #[test]
    fn yaml_like_strings_never_panic(input in "([a-zA-Z0-9 \t\n:,\\-\\[\\]{}&*!|>'\"#%@.~?]|apiVersion: v1\n|kind: Pod\n|---\n|  - ){0,120}") {
        exercise(input.as_bytes());
    }

    #[test]
    fn mutated_seeds_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let mut doc = seeds[pick.index(seeds.len())].clone();
        for m in &mutations {
            apply(&mut doc, m);
        }
        exercise(&doc);
    }
}
