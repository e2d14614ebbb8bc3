//! Canonical JSON exactly as `github.com/docker/go/canonical/json` writes it with
//! `MarshalCanonical` after decoding into `map[string]interface{}` — the bytes Notary signs
//! and verifies: object keys sorted bytewise, no whitespace, strings escaped only for `"`
//! and `\` (every other byte, control characters and non-ASCII included, is written raw),
//! numbers decoded as float64 and written as integers (a fractional number is an error).

use serde_json::Value;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The bytes are not JSON.
    #[error("{0}")]
    Json(String),
    /// A number that is not an integer (or is infinite), which canonical JSON cannot hold.
    #[error("json: unsupported value: {0}")]
    UnsupportedNumber(String),
}

/// Canonical bytes of a JSON document, as Notary computes them before verifying a signature
/// (`json.Unmarshal` into `interface{}`, then `json.MarshalCanonical`).
///
/// # Errors
/// [`CanonicalError`] when `bytes` is not JSON or holds a non-integer number.
pub fn canonicalize(bytes: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| CanonicalError::Json(e.to_string()))?;
    to_canonical(&value)
}

/// Canonical bytes of a JSON value.
///
/// # Errors
/// [`CanonicalError::UnsupportedNumber`] for a number that is not an integer.
pub fn to_canonical(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // Go decodes every JSON number into a float64, then writes int64(f).
            let f = n.as_f64().unwrap_or(f64::NAN);
            if !f.is_finite() || f.floor() != f {
                return Err(CanonicalError::UnsupportedNumber(n.to_string()));
            }
            #[expect(
                clippy::cast_possible_truncation,
                reason = "Go writes int64(f) of an integral float64"
            )]
            let i = f as i64;
            out.extend_from_slice(i.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                if let Some(v) = map.get(key) {
                    write_value(v, out)?;
                }
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        String::from_utf8(canonicalize(text.as_bytes()).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn keys_are_sorted_bytewise_and_whitespace_dropped() {
        assert_eq!(
            canon(r#"{ "b": 1, "a": [true, false, null], "B": {"z": "x", "_type": "y"} }"#),
            r#"{"B":{"_type":"y","z":"x"},"a":[true,false,null],"b":1}"#
        );
    }

    #[test]
    fn strings_escape_only_quote_and_backslash() {
        assert_eq!(
            canon(r#"{"s": "a\"b\\c\n\t<>&\u00e9\u2028"}"#),
            "{\"s\":\"a\\\"b\\\\c\n\t<>&\u{e9}\u{2028}\"}"
        );
    }

    #[test]
    fn numbers_are_go_float64_written_as_integers() {
        assert_eq!(
            canon(r#"[1, -0, 1e3, 2.0, 9007199254740993]"#),
            "[1,0,1000,2,9007199254740992]"
        );
        assert!(matches!(
            canonicalize(b"[1.5]"),
            Err(CanonicalError::UnsupportedNumber(_))
        ));
    }

    #[test]
    fn later_duplicate_keys_win_as_in_go() {
        assert_eq!(canon(r#"{"a":1,"a":2}"#), r#"{"a":2}"#);
    }
}
