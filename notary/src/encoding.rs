//! The byte encodings Notary's Go code uses for what it signs and hashes: standard base64
//! with padding (Go's `[]byte` in JSON), lower-case hex (key IDs, as Go's `hex.EncodeToString`), PEM certificates as Go's
//! `pem.EncodeToMemory` writes them, and RFC 3339 times as Go's `time.Time` marshals them.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Go's `base64.StdEncoding`: the standard alphabet, `=` padding written and required,
/// and (unlike the crate's strict `STANDARD`) non-zero trailing bits accepted, as Go's
/// non-strict decoder accepts them.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Standard base64 with `=` padding, as Go's `base64.StdEncoding` (and `[]byte` in JSON).
#[must_use]
pub fn base64_encode(bytes: &[u8]) -> String {
    GO_STD.encode(bytes)
}

/// Decodes standard padded base64 as Go's `base64.StdEncoding.Decode` does: `\r` and `\n`
/// are skipped, anything else outside the alphabet (or bad padding) is an error.
///
/// # Errors
/// A message saying what is wrong with the input.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let decoded = if text.contains(['\r', '\n']) {
        let symbols: Vec<u8> = text
            .bytes()
            .filter(|b| *b != b'\r' && *b != b'\n')
            .collect();
        GO_STD.decode(symbols)
    } else {
        GO_STD.decode(text)
    };
    decoded.map_err(|e| format!("illegal base64 data: {e}"))
}

/// SHA-256 of `bytes` in lower-case hex: a key ID of canonical key JSON, and the checksum
/// Notary names files by (`<role>.<checksum>.json`) and feeds in its changefeed.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
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
