//! The byte encodings Notary's Go code uses for what it signs and hashes: standard base64
//! with padding (Go's `[]byte` in JSON), lower-case hex (key IDs), PEM certificates as Go's
//! `pem.EncodeToMemory` writes them, and RFC 3339 times as Go's `time.Time` marshals them.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding, as Go's `base64.StdEncoding` (and `[]byte` in JSON).
#[must_use]
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard padded base64 as Go's `base64.StdEncoding.Decode` does: `\r` and `\n`
/// are skipped, anything else outside the alphabet (or bad padding) is an error.
///
/// # Errors
/// A message saying what is wrong with the input.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let symbols: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    if !symbols.len().is_multiple_of(4) {
        return Err("illegal base64 data: length is not a multiple of 4".to_owned());
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    let quads = symbols.chunks(4);
    let count = quads.len();
    for (index, quad) in quads.enumerate() {
        let mut n: u32 = 0;
        let mut pad = 0;
        for (i, &c) in quad.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if index + 1 == count && i >= 2 => {
                    pad += 1;
                    0
                }
                _ => {
                    return Err(format!(
                        "illegal base64 data at input byte {}",
                        index * 4 + i
                    ));
                }
            };
            if pad > 0 && c != b'=' {
                return Err(format!(
                    "illegal base64 data at input byte {}",
                    index * 4 + i
                ));
            }
            n = (n << 6) | u32::from(v);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(out)
}

/// SHA-256 of `bytes` in lower-case hex: a key ID of canonical key JSON, and the checksum
/// Notary names files by (`<role>.<checksum>.json`) and feeds in its changefeed.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex_encode(&Sha256::digest(bytes))
}

/// Lower-case hex, as Go's `hex.EncodeToString`.
#[must_use]
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// DER certificates as one PEM bundle, byte for byte as Go's `pem.EncodeToMemory` writes
/// them (64-column lines, trailing newline): Notary derives key IDs from this text.
#[must_use]
pub fn pem_certificates<'a>(ders: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = String::new();
    for der in ders {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64_encode(der);
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

/// A time as Go's `time.Time` marshals a UTC time to JSON (RFC 3339, nanoseconds with
/// trailing zeros dropped, `Z`).
#[must_use]
pub fn go_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses an RFC 3339 time as Go's `time.Time` unmarshals it from JSON.
///
/// # Errors
/// A message when the text is not RFC 3339.
pub fn parse_go_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("parsing time {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_length_and_matches_known_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).as_deref(), Ok(plain.as_bytes()));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)), Ok(all));
    }

    #[test]
    fn base64_refuses_what_go_refuses_and_skips_newlines() {
        assert!(base64_decode("Zg=").is_err());
        assert!(base64_decode("Z===").is_err());
        assert!(base64_decode("Zg==Zg==").is_err());
        assert!(base64_decode("Z-8=").is_err());
        assert_eq!(base64_decode("Zm9v\r\nYmFy"), Ok(b"foobar".to_vec()));
    }

    #[test]
    fn times_are_written_as_go_writes_them() {
        let Ok(t) = parse_go_time("2029-11-24T18:10:45.981437800Z") else {
            panic!("time")
        };
        assert_eq!(go_time(t), "2029-11-24T18:10:45.9814378Z");
        let Ok(t) = parse_go_time("2029-11-24T19:10:45+01:00") else {
            panic!("time")
        };
        assert_eq!(go_time(t), "2029-11-24T18:10:45Z");
    }
}
