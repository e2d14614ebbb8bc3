//! `trustpinning.ValidateRoot` as notary-server calls it (no pinned certificates or CAs,
//! trust on first use): root keys are certificates whose CN is the GUN (or a `prefix*`
//! wildcard matching it); a new root must be signed by a threshold of the previous root's
//! root certificates (with the previous threshold) and by a threshold of its own.

use super::model::{BaseRole, Root, SignedEnvelope, TufKey};
use super::ports::{Certificate, TufCrypto};
use super::role::RoleName;
use super::verify::{cert_bundle_to_key, validate_certificate, verify_signatures};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Why a root is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    /// The root payload itself is invalid (structure).
    #[error("{0}")]
    Invalid(String),
    /// `ErrValidationFail`.
    #[error("could not validate the path to a trusted root: {0}")]
    ValidationFail(String),
    /// `ErrRootRotationFail`.
    #[error("could not rotate trust to a new trusted root: {0}")]
    RotationFail(String),
}

/// A root certificate with the CA certificates bundled after it, by the key's ID.
struct CertSet {
    leaves: BTreeMap<String, Certificate>,
    intermediates: BTreeMap<String, Vec<Certificate>>,
}

/// `parseAllCerts`: for each root-role key that is a PEM bundle with exactly one non-CA
/// certificate, first in the bundle.
fn parse_all_certs(root: &Root, crypto: TufCrypto<'_>) -> CertSet {
    let mut set = CertSet {
        leaves: BTreeMap::new(),
        intermediates: BTreeMap::new(),
    };
    let Some(Some(role)) = root.roles.get("root") else {
        return set;
    };
    for id in &role.keyids {
        let Some(key) = root.keys.get(id) else {
            continue;
        };
        let Ok(certs) = crypto.certificates.parse_pem_bundle(&key.keyval.public) else {
            continue;
        };
        let mut leaves = certs.iter().filter(|c| !c.is_ca);
        let (Some(leaf), None) = (leaves.next(), leaves.next()) else {
            continue;
        };
        if certs.first().is_some_and(|c| c.is_ca) {
            continue;
        }
        let key_id = key.id();
        set.leaves.insert(key_id.clone(), leaf.clone());
        set.intermediates
            .insert(key_id, certs.iter().filter(|c| c.is_ca).cloned().collect());
    }
    set
}

/// `MatchCNToGun`: equal, or a `prefix*` wildcard the GUN starts with.
fn cn_matches_gun(common_name: &str, gun: &str) -> bool {
    match common_name.strip_suffix('*') {
        Some(_) => gun.starts_with(common_name.trim_end_matches('*')),
        None => common_name == gun,
    }
}

/// `validRootLeafCerts`.
fn valid_leaves(
    leaves: &BTreeMap<String, Certificate>,
    gun: &str,
    check_expiry: bool,
    now: OffsetDateTime,
) -> Option<BTreeMap<String, Certificate>> {
    let valid: BTreeMap<String, Certificate> = leaves
        .iter()
        .filter(|(_, c)| cn_matches_gun(&c.common_name, gun))
        .filter(|(_, c)| validate_certificate(c, check_expiry, now).is_ok())
        .map(|(id, c)| (id.clone(), c.clone()))
        .collect();
    (!valid.is_empty()).then_some(valid)
}

/// `utils.CertsToKeys`: `*-x509` keys re-encoded from the certificates, by their own ID.
fn certs_to_keys(
    leaves: &BTreeMap<String, Certificate>,
    intermediates: &BTreeMap<String, Vec<Certificate>>,
) -> BTreeMap<String, TufKey> {
    leaves
        .iter()
        .filter_map(|(id, leaf)| {
            let ints = intermediates.get(id).map(Vec::as_slice).unwrap_or_default();
            cert_bundle_to_key(leaf, ints)
        })
        .map(|key| (key.id(), key))
        .collect()
}

/// Validates `envelope` as the new root of `gun` (`trustpinning.ValidateRoot` with an empty
/// trust-pinning configuration, TOFU allowed), given the previous trusted root.
///
/// # Errors
/// [`RootError`].
pub fn validate_root(
    previous: Option<&Root>,
    envelope: &SignedEnvelope,
    gun: &str,
    now: OffsetDateTime,
    crypto: TufCrypto<'_>,
) -> Result<Root, RootError> {
    let root = Root::from_signed(&envelope.signed).map_err(RootError::Invalid)?;
    let root_role = root
        .base_role(&RoleName::Root)
        .map_err(RootError::Invalid)?;

    let all = parse_all_certs(&root, crypto);
    let certs_from_root = valid_leaves(&all.leaves, gun, true, now).ok_or_else(|| {
        RootError::ValidationFail("unable to retrieve valid leaf certificates".to_owned())
    })?;
    let valid_intermediates: BTreeMap<String, Vec<Certificate>> = all
        .intermediates
        .iter()
        .map(|(id, ints)| {
            let valid = ints
                .iter()
                .filter(|c| validate_certificate(c, true, now).is_ok())
                .cloned()
                .collect();
            (id.clone(), valid)
        })
        .collect();

    if let Some(previous) = previous {
        // The previous root's certificates are trusted even if expired since.
        let trusted = parse_all_certs(previous, crypto);
        let trusted_leaves = valid_leaves(&trusted.leaves, gun, false, now).ok_or_else(|| {
            RootError::ValidationFail(
                "could not retrieve trusted certs from previous root role data".to_owned(),
            )
        })?;
        let Some(Some(previous_role)) = previous.roles.get("root") else {
            return Err(RootError::ValidationFail(
                "could not retrieve previous root role data".to_owned(),
            ));
        };
        let old = BaseRole {
            name: String::new(),
            keys: certs_to_keys(&trusted_leaves, &trusted.intermediates),
            threshold: previous_role.threshold,
        };
        verify_signatures(envelope, &old, crypto.verifier).map_err(|_| {
            RootError::RotationFail(
                "failed to validate data with current trusted certificates".to_owned(),
            )
        })?;
    }

    // Trust pinning: with no pinned certs or CAs, TOFU accepts every certificate left.
    let new = BaseRole {
        name: String::new(),
        keys: certs_to_keys(&certs_from_root, &valid_intermediates),
        threshold: root_role.threshold,
    };
    verify_signatures(envelope, &new, crypto.verifier).map_err(|_| {
        RootError::ValidationFail("failed to validate integrity of roots".to_owned())
    })?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::cn_matches_gun;

    #[test]
    fn common_names_match_the_gun_exactly_or_by_wildcard_prefix() {
        assert!(cn_matches_gun("example.com/app", "example.com/app"));
        assert!(!cn_matches_gun("example.com/app", "example.com/app2"));
        assert!(cn_matches_gun("example.com/*", "example.com/app"));
        assert!(!cn_matches_gun("other.com/*", "example.com/app"));
    }
}
