//! Continue tokens of paginated lists.
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::store::{Error, Result, Revision};

/// Where a paginated list continues: the next key (without the store's
/// prefix) and the revision of the first page. Serialized as URL-safe
/// base64 of JSON, opaque to callers.
#[derive(Serialize, Deserialize)]
pub(super) struct ContinueToken {
    pub(super) rev: Revision,
    pub(super) start: String,
}

impl ContinueToken {
    pub(super) fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub(super) fn decode(token: &str) -> Result<Self> {
        let bad = |why: String| Error::InvalidArgument(format!("bad continue token: {why}"));
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|e| bad(e.to_string()))?;
        let token: Self = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
        if token.rev <= 0 {
            return Err(bad(format!("revision {}", token.rev)));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = ContinueToken {
            rev: 42,
            start: "/pods/a\0".into(),
        }
        .encode();
        let decoded = ContinueToken::decode(&token).expect("valid token");
        assert_eq!(decoded.rev, 42);
        assert_eq!(decoded.start, "/pods/a\0");
        for bad in ["", "!!!", "e30", "eyJyZXYiOjAsInN0YXJ0IjoiIn0"] {
            assert!(
                matches!(ContinueToken::decode(bad), Err(Error::InvalidArgument(_))),
                "{bad:?} accepted"
            );
        }
    }
}
