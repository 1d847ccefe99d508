//! Standard base64 (RFC 4648, with padding), the JSON form of Go `[]byte`
//! fields such as Secret `data` and ConfigMap `binaryData`.
//!
//! Decoding accepts exactly what Go's `encoding/json` accepts for `[]byte`
//! (standard alphabet, padding required, `\r` and `\n` ignored), so a value
//! Kubernetes would reject is rejected here too.
//!
//! ```
//! use keelson::api::core::base64;
//!
//! assert_eq!(base64::encode(b"admin"), "YWRtaW4=");
//! assert_eq!(base64::decode("YWRtaW4=").unwrap(), b"admin");
//! assert!(base64::decode("YWRtaW4").is_err());
//! ```
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A string that is not valid standard base64.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("illegal base64 data at input byte {offset}")]
pub struct Error {
    /// The offset of the first offending byte (as Go reports it).
    pub offset: usize,
}

/// Encodes `bytes` as standard padded base64.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The length of the base64 text for `n` bytes.
pub const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

fn sextet(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes standard padded base64, ignoring `\r` and `\n`.
pub fn decode(text: &str) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quad = [0u32; 4];
    let mut filled = 0;
    let mut padding = 0;
    // Offset of the start of the current quantum, for error reporting.
    let mut quantum_start = 0;
    for (offset, &c) in text.as_bytes().iter().enumerate() {
        if c == b'\r' || c == b'\n' {
            continue;
        }
        if filled == 0 {
            quantum_start = offset;
        }
        if padding > 0 {
            // After `=` only more `=` may follow, up to the end of the quantum.
            if c != b'=' || filled == 4 {
                return Err(Error { offset });
            }
            padding += 1;
            filled += 1;
            continue;
        }
        if c == b'=' {
            if filled < 2 {
                return Err(Error { offset });
            }
            padding = 1;
            filled += 1;
            continue;
        }
        quad[filled] = sextet(c).ok_or(Error { offset })?;
        filled += 1;
        if filled == 4 {
            let n = quad[0] << 18 | quad[1] << 12 | quad[2] << 6 | quad[3];
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            filled = 0;
        }
    }
    match (filled, padding) {
        (0, 0) => Ok(out),
        (4, 1) => {
            let n = quad[0] << 18 | quad[1] << 12 | quad[2] << 6;
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
            Ok(out)
        }
        (4, 2) => {
            let n = quad[0] << 18 | quad[1] << 12;
            out.push((n >> 16) as u8);
            Ok(out)
        }
        _ => Err(Error {
            offset: quantum_start,
        }),
    }
}

/// The decoded length of valid base64 `text` (without decoding it).
pub fn decoded_len(text: &str) -> usize {
    let significant = text
        .bytes()
        .filter(|&c| c != b'\r' && c != b'\n' && c != b'=')
        .count();
    significant * 3 / 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let table: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"admin", "YWRtaW4="),
            (b"1f2d1e2e67df", "MWYyZDFlMmU2N2Rm"),
            (&[0xff, 0xfe, 0x00], "//4A"),
        ];
        for &(raw, text) in table {
            assert_eq!(encode(raw), text);
            assert_eq!(decode(text).unwrap(), raw, "{text}");
            assert_eq!(decoded_len(text), raw.len());
        }
        assert_eq!(decode("Zm9v\nYg==\r\n").unwrap(), b"foob");
    }

    #[test]
    fn rejects_invalid() {
        for (bad, offset) in [
            ("Zm9", 0),
            ("Zg", 0),
            ("Z===", 1),
            ("Zg=a", 3),
            ("Zm9v!", 4),
            ("Zg==Zg==", 4),
            ("Zm9v-_", 4),
            ("Zg=", 0),
        ] {
            assert_eq!(decode(bad), Err(Error { offset }), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(&text).unwrap(), bytes);
        }

        #[test]
        fn never_panics(text in "[A-Za-z0-9+/=\\r\\n!]{0,16}") {
            let _ = decode(&text);
        }
    }
}
