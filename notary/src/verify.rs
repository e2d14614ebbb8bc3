//! Signature threshold checks (`signed.VerifySignatures`), version and expiry checks, and
//! what Notary derives from certificates (`utils.ValidateCertificate`, `CertsToKeys`,
//! `CanonicalKeyID`).

use super::canonical::to_canonical;
use super::encoding::pem_certificates;
use super::model::{
    BaseRole, ECDSA_KEY, ECDSA_X509_KEY, RSA_KEY, RSA_X509_KEY, SignedCommon, SignedEnvelope,
    TufKey,
};
use super::ports::{Certificate, CertificateKey, CertificateParser, TufSignatureVerifier};
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};

/// Why a role's signatures do not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No signature at all (`ErrNoSignatures`).
    #[error("tuf: data has no signatures")]
    NoSignatures,
    /// Fewer valid signatures than the threshold, or a threshold under 1 (`ErrRoleThreshold`).
    #[error("{0}")]
    Threshold(String),
    /// A signature names a key whose content has another ID (`ErrInvalidKeyID`).
    #[error("key ID is not valid for key content")]
    InvalidKeyId,
    /// The payload has no canonical form.
    #[error("{0}")]
    Canonical(String),
}

/// `signed.VerifySignatures`: at least `role.threshold` distinct keys of `role` signed the
/// canonical form of the payload.
///
/// # Errors
/// [`VerifyError`].
pub fn verify_signatures(
    envelope: &SignedEnvelope,
    role: &BaseRole,
    verifier: &dyn TufSignatureVerifier,
) -> Result<(), VerifyError> {
    if envelope.signatures.is_empty() {
        return Err(VerifyError::NoSignatures);
    }
    if role.threshold < 1 {
        return Err(VerifyError::Threshold(
            "valid signatures did not meet threshold".to_owned(),
        ));
    }
    if !envelope.signed.is_object() {
        return Err(VerifyError::Canonical(
            "json: cannot unmarshal signed payload into map[string]interface {}".to_owned(),
        ));
    }
    let message =
        to_canonical(&envelope.signed).map_err(|e| VerifyError::Canonical(e.to_string()))?;
    let mut valid = BTreeSet::new();
    for sig in &envelope.signatures {
        let Some(key) = role.keys.get(&sig.keyid) else {
            continue;
        };
        if key.id() != sig.keyid {
            return Err(VerifyError::InvalidKeyId);
        }
        if verifier
            .verify(key, &sig.method, &sig.sig, &message)
            .is_ok()
        {
            valid.insert(sig.keyid.clone());
        }
    }
    if i64::try_from(valid.len()).unwrap_or(i64::MAX) < role.threshold {
        return Err(VerifyError::Threshold(format!(
            "valid signatures did not meet threshold for {}",
            role.name
        )));
    }
    Ok(())
}

/// `signed.VerifyVersion`: `version <version> is lower than current version <min>`.
///
/// # Errors
/// The message, when the version is below `min_version`.
pub fn verify_version(common: &SignedCommon, min_version: i64) -> Result<(), String> {
    if common.version < min_version {
        return Err(format!(
            "version {} is lower than current version {min_version}",
            common.version
        ));
    }
    Ok(())
}

/// `signed.VerifyExpiry`: `<role> expired at <time>` when `expires` is before `now`.
///
/// # Errors
/// The message, when expired.
pub fn verify_expiry(common: &SignedCommon, role: &str, now: OffsetDateTime) -> Result<(), String> {
    if common.expires < now {
        return Err(format!(
            "{role} expired at {}",
            go_unix_date(common.expires)
        ));
    }
    Ok(())
}

/// A time as Go's `Format("Mon Jan 2 15:04:05 MST 2006")` writes it, in UTC.
fn go_unix_date(t: OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        MONTHS[usize::from(u8::from(t.month()) - 1)],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

/// `utils.ValidateCertificate`: a sane validity window, no SHA-1 signature, RSA keys of
/// at least 2048 bits, and (with `check_expiry`) valid now, with a day of leeway on
/// `not_before`.
///
/// # Errors
/// Notary's message.
pub fn validate_certificate(
    cert: &Certificate,
    check_expiry: bool,
    now: OffsetDateTime,
) -> Result<(), String> {
    if cert.not_before > cert.not_after {
        return Err("certificate validity window is invalid".to_owned());
    }
    if cert.sha1_signature {
        return Err(format!(
            "certificate with CN {} uses invalid SHA1 signature algorithm",
            cert.common_name
        ));
    }
    if let CertificateKey::Rsa { bits, .. } = cert.key
        && bits < 2048
    {
        return Err("RSA bit length is too short".to_owned());
    }
    if check_expiry {
        let tomorrow = now + Duration::days(1);
        if tomorrow < cert.not_before || now > cert.not_after {
            return Err(format!(
                "certificate with CN {} is expired",
                cert.common_name
            ));
        }
    }
    Ok(())
}

/// `utils.CertBundleToKey`: the `*-x509` key for a leaf and its intermediates, its PEM
/// written as Go writes it (so its ID is the one Notary computes). `None` for a leaf whose
/// key is neither ECDSA nor RSA.
#[must_use]
pub fn cert_bundle_to_key(leaf: &Certificate, intermediates: &[Certificate]) -> Option<TufKey> {
    let keytype = match leaf.key {
        CertificateKey::Ecdsa { .. } => ECDSA_X509_KEY,
        CertificateKey::Rsa { .. } => RSA_X509_KEY,
        CertificateKey::Other => return None,
    };
    let pem = pem_certificates(
        std::iter::once(leaf.der.as_slice()).chain(intermediates.iter().map(|c| c.der.as_slice())),
    );
    Some(TufKey::new(keytype, pem))
}

/// `utils.CanonicalKeyID`: for `*-x509` keys, the ID of the bare public key of the first
/// certificate (how key stores name the key); for others, the key's own ID.
///
/// # Errors
/// A message when the certificate cannot be read.
pub fn canonical_key_id(
    key: &TufKey,
    certificates: &dyn CertificateParser,
) -> Result<String, String> {
    let bare_type = match key.keytype.as_str() {
        ECDSA_X509_KEY => ECDSA_KEY,
        RSA_X509_KEY => RSA_KEY,
        _ => return Ok(key.id()),
    };
    let certs = certificates
        .parse_pem_bundle(&key.keyval.public)
        .map_err(|e| e.to_string())?;
    let spki = match certs.first().map(|c| &c.key) {
        Some(CertificateKey::Ecdsa { spki } | CertificateKey::Rsa { spki, .. }) => spki.clone(),
        _ => return Err("x509: unsupported public key algorithm".to_owned()),
    };
    Ok(TufKey::new(bare_type, spki).id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_reported_as_go_formats_it() {
        let common = SignedCommon {
            kind: "Targets".to_owned(),
            expires: OffsetDateTime::from_unix_timestamp(1_890_238_236)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            version: 1,
        };
        let now = OffsetDateTime::from_unix_timestamp(1_893_456_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            verify_expiry(&common, "targets", now),
            Err("targets expired at Sat Nov 24 18:10:36 UTC 2029".to_owned())
        );
        assert_eq!(verify_expiry(&common, "targets", common.expires), Ok(()));
        assert_eq!(
            verify_version(&common, 2),
            Err("version 1 is lower than current version 2".to_owned())
        );
    }
}
