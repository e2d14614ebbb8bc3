//! notary-server's validation of a metadata upload (`POST /v2/<gun>/_trust/tuf/`):
//! `atomicUpdateHandler`'s parsing of the parts, `validateUpdate`, and the storage layer's
//! refusal of versions that are not newer (`ErrOldVersion`). The result is every file to
//! store atomically, the server-signed snapshot (when the client sent none) and timestamp
//! included; or the error notary-server answers with.

use super::builder::{Builder, GenerateError};
use super::model::{MetaList, SignedEnvelope, SignedMeta};
use super::ports::{SignerError, TufCrypto};
use super::role::RoleName;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// One part of the multipart upload: its `filename` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The part's `filename` (`root`, `targets.json`, `targets/releases`…).
    pub filename: String,
    /// The metadata file as sent.
    pub data: Vec<u8>,
}

/// One file to store (`storage.MetaUpdate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaUpdate {
    /// Its role.
    pub role: RoleName,
    /// Its version.
    pub version: i64,
    /// The bytes to store and serve, exactly.
    pub data: Vec<u8>,
}

/// Validation failures notary-server reports as `INVALID_UPDATE` with a serialized detail
/// (`tuf/validation` errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// `ErrValidation`.
    #[error("An error occurred during validation: {msg}")]
    Validation {
        /// What went wrong.
        msg: String,
    },
    /// `ErrBadHierarchy` (a snapshot is missing and the server cannot make one).
    #[error("Metadata hierarchy is incomplete: {msg}")]
    BadHierarchy {
        /// The missing role.
        missing: String,
        /// What went wrong.
        msg: String,
    },
    /// `ErrBadRoot`.
    #[error("The root metadata is invalid: {msg}")]
    BadRoot {
        /// What went wrong.
        msg: String,
    },
    /// `ErrBadTargets` (targets or a delegation).
    #[error("The targets metadata is invalid: {msg}")]
    BadTargets {
        /// What went wrong.
        msg: String,
    },
    /// `ErrBadSnapshot`.
    #[error("The snapshot metadata is invalid: {msg}")]
    BadSnapshot {
        /// What went wrong.
        msg: String,
    },
}

impl ValidationError {
    /// notary's `validation.SerializableError` JSON, the `detail` of the error:
    /// `{"Name":"ErrBadRoot","Error":{"Msg":"…"}}`.
    #[must_use]
    pub fn detail(&self) -> Value {
        match self {
            Self::Validation { msg } => json!({"Name": "ErrValidation", "Error": {"Msg": msg}}),
            Self::BadHierarchy { missing, msg } => {
                json!({"Name": "ErrBadHierarchy", "Error": {"Missing": missing, "Msg": msg}})
            }
            Self::BadRoot { msg } => json!({"Name": "ErrBadRoot", "Error": {"Msg": msg}}),
            Self::BadTargets { msg } => json!({"Name": "ErrBadTargets", "Error": {"Msg": msg}}),
            Self::BadSnapshot { msg } => json!({"Name": "ErrBadSnapshot", "Error": {"Msg": msg}}),
        }
    }
}

/// Why an upload is refused, one variant per answer of notary-server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// A part has no file name (`NO_FILENAME`, 400).
    #[error("no file/role name provided")]
    NoFilename,
    /// A part names no valid role (`INVALID_ROLE`, 400; detail: the role).
    #[error("invalid role {0}")]
    InvalidRole(String),
    /// A part is not a metadata file (`MALFORMED_JSON`, 400).
    #[error("malformed JSON for {role}: {reason}")]
    MalformedJson {
        /// The part's role.
        role: String,
        /// Why it did not parse (for logs only; notary sends no detail).
        reason: String,
    },
    /// The update does not validate (`INVALID_UPDATE`, 400, with a serialized detail).
    #[error(transparent)]
    Invalid(ValidationError),
    /// The update does not validate for a reason notary cannot serialize, such as stored
    /// metadata that no longer loads (`INVALID_UPDATE`, 400, no detail).
    #[error("invalid update: {0}")]
    InvalidWithoutDetail(String),
    /// A version is not newer than the stored one of its role (`VERSION`, 400, detail `{}`).
    #[error("Error updating metadata. A newer version is already available ({role})")]
    OldVersion {
        /// The role.
        role: RoleName,
    },
    /// The signing port failed. notary-server folds this into `INVALID_UPDATE`; Berth
    /// reports it as a server error (`UNKNOWN`, 500), since the client is not at fault.
    #[error(transparent)]
    Signer(SignerError),
}

impl UpdateError {
    /// notary-server's error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoFilename => "NO_FILENAME",
            Self::InvalidRole(_) => "INVALID_ROLE",
            Self::MalformedJson { .. } => "MALFORMED_JSON",
            Self::Invalid(_) | Self::InvalidWithoutDetail(_) => "INVALID_UPDATE",
            Self::OldVersion { .. } => "VERSION",
            Self::Signer(_) => "UNKNOWN",
        }
    }

    /// notary-server's message for the code.
    #[must_use]
    pub fn message(&self) -> &'static str {
        match self {
            Self::NoFilename => "No file/role name provided.",
            Self::InvalidRole(_) => "The role you are attempting to operate on is invalid.",
            Self::MalformedJson { .. } => {
                "JSON sent by the client could not be parsed by the server"
            }
            Self::Invalid(_) | Self::InvalidWithoutDetail(_) => {
                "Update sent by the client is invalid."
            }
            Self::OldVersion { .. } => "A newer version of metadata is already available.",
            Self::Signer(_) => "unknown error",
        }
    }

    /// notary-server's `detail`, when it sends one.
    #[must_use]
    pub fn detail(&self) -> Option<Value> {
        match self {
            Self::InvalidRole(role) => Some(Value::String(role.clone())),
            Self::Invalid(e) => Some(e.detail()),
            Self::OldVersion { .. } => Some(json!({})),
            _ => None,
        }
    }
}

/// Parses the parts of an upload as `atomicUpdateHandler` does: the role is the file name
/// without `.json`; each part must be metadata with readable common fields. A later part
/// for the same role replaces an earlier one.
///
/// # Errors
/// `NoFilename`, `InvalidRole`, `MalformedJson`.
pub fn parse_upload(
    files: &[UploadedFile],
) -> Result<BTreeMap<RoleName, (i64, Vec<u8>)>, UpdateError> {
    let mut roles = BTreeMap::new();
    for file in files {
        let name = file
            .filename
            .strip_suffix(".json")
            .unwrap_or(&file.filename);
        if name.is_empty() {
            return Err(UpdateError::NoFilename);
        }
        let role = RoleName::parse(name).map_err(|_| UpdateError::InvalidRole(name.to_owned()))?;
        let meta: SignedMeta =
            serde_json::from_slice(&file.data).map_err(|e| UpdateError::MalformedJson {
                role: name.to_owned(),
                reason: e.to_string(),
            })?;
        roles.insert(role, (meta.signed.version, file.data.clone()));
    }
    Ok(roles)
}

fn load_from_store(
    builder: &mut Builder<'_>,
    role: &RoleName,
    stored: &BTreeMap<RoleName, Vec<u8>>,
) -> Result<bool, UpdateError> {
    let Some(bytes) = stored.get(role) else {
        return Ok(false);
    };
    builder
        .load(role, bytes, 1, true)
        .map_err(UpdateError::InvalidWithoutDetail)?;
    Ok(true)
}

fn stored_meta_list(
    stored: &BTreeMap<RoleName, Vec<u8>>,
    role: &RoleName,
) -> Result<Option<MetaList>, UpdateError> {
    let Some(bytes) = stored.get(role) else {
        return Ok(None);
    };
    let envelope = SignedEnvelope::parse(bytes).map_err(UpdateError::InvalidWithoutDetail)?;
    serde_json::from_value(envelope.signed)
        .map(Some)
        .map_err(|e| UpdateError::InvalidWithoutDetail(e.to_string()))
}

/// Validates an upload to `gun` against its stored metadata (`current`: the current file of
/// each role) at `now`, as notary-server does, and returns every file to store in one
/// transaction: the uploaded root, targets and delegations that validated, the uploaded
/// snapshot or one the server generates and signs (when it holds the snapshot key), and a
/// new server-signed timestamp. An uploaded timestamp is ignored, as notary-server ignores
/// it.
///
/// # Errors
/// [`UpdateError`], carrying notary-server's code, status, message and detail.
pub fn validate_update(
    gun: &str,
    files: &[UploadedFile],
    current: &BTreeMap<RoleName, Vec<u8>>,
    now: OffsetDateTime,
    crypto: TufCrypto<'_>,
) -> Result<Vec<MetaUpdate>, UpdateError> {
    let roles = parse_upload(files)?;
    let mut updates = Vec::new();

    let mut builder = Builder::new(gun, now, crypto);
    load_from_store(&mut builder, &RoleName::Root, current)?;

    if let Some((version, data)) = roles.get(&RoleName::Root) {
        let current_version = builder.loaded_version(&RoleName::Root);
        if *version != current_version && *version != current_version + 1 {
            return Err(UpdateError::Invalid(ValidationError::BadRoot {
                msg: format!(
                    "Root modifications must increment the version. Current {current_version}, new {version}"
                ),
            }));
        }
        builder = builder.bootstrap_new();
        builder
            .load(&RoleName::Root, data, current_version, false)
            .map_err(|msg| UpdateError::Invalid(ValidationError::BadRoot { msg }))?;
        updates.push(MetaUpdate {
            role: RoleName::Root,
            version: *version,
            data: data.clone(),
        });
    } else if !builder.is_loaded(&RoleName::Root) {
        return Err(UpdateError::Invalid(ValidationError::Validation {
            msg: "no pre-existing root and no root provided in update.".to_owned(),
        }));
    }

    // Targets and delegations, shallower first, each after its stored ancestors.
    let mut targets_roles: Vec<&RoleName> = roles.keys().filter(|r| r.is_targets_kind()).collect();
    targets_roles.sort_by(|a, b| a.hierarchy_cmp(b));
    for role in targets_roles {
        let mut ancestors = Vec::new();
        let mut ancestor = role.clone();
        while let Some(parent) = ancestor.parent() {
            if !builder.is_loaded(&parent) {
                ancestors.push(parent.clone());
            }
            ancestor = parent;
        }
        for parent in ancestors.iter().rev() {
            load_from_store(&mut builder, parent, current)?;
        }
        let Some((version, data)) = roles.get(role) else {
            continue;
        };
        builder
            .load(role, data, 1, false)
            .map_err(|msg| UpdateError::Invalid(ValidationError::BadTargets { msg }))?;
        updates.push(MetaUpdate {
            role: role.clone(),
            version: *version,
            data: data.clone(),
        });
    }

    if let Some((version, data)) = roles.get(&RoleName::Snapshot) {
        builder
            .load(&RoleName::Snapshot, data, 1, false)
            .map_err(|msg| UpdateError::Invalid(ValidationError::BadSnapshot { msg }))?;
        updates.push(MetaUpdate {
            role: RoleName::Snapshot,
            version: *version,
            data: data.clone(),
        });
    } else {
        let prev = stored_meta_list(current, &RoleName::Snapshot)?;
        let (data, version) = builder.generate_snapshot(prev).map_err(|e| match e {
            GenerateError::CannotSign => UpdateError::Invalid(ValidationError::BadHierarchy {
                missing: "snapshot".to_owned(),
                msg: "no snapshot was included in update and server does not hold current snapshot key for repository".to_owned(),
            }),
            GenerateError::Other(msg) => UpdateError::Invalid(ValidationError::Validation { msg }),
            GenerateError::Signer(e) => UpdateError::Signer(e),
        })?;
        updates.push(MetaUpdate {
            role: RoleName::Snapshot,
            version,
            data,
        });
    }

    let prev = stored_meta_list(current, &RoleName::Timestamp)?;
    let (data, version) = builder.generate_timestamp(prev).map_err(|e| match e {
        GenerateError::CannotSign => UpdateError::Invalid(ValidationError::BadRoot {
            // Debian's notary-server 0.7.0 says it with two spaces.
            msg: "no  timestamp keys exist on the server".to_owned(),
        }),
        GenerateError::Other(msg) => UpdateError::Invalid(ValidationError::Validation { msg }),
        GenerateError::Signer(e) => UpdateError::Signer(e),
    })?;
    updates.push(MetaUpdate {
        role: RoleName::Timestamp,
        version,
        data,
    });

    // The storage layer's check (`UpdateMany`): every version must be newer than the
    // stored one of its role, or nothing is stored.
    for update in &updates {
        let stored_version = current
            .get(&update.role)
            .and_then(|bytes| serde_json::from_slice::<SignedMeta>(bytes).ok())
            .map(|meta| meta.signed.version);
        if stored_version.is_some_and(|v| v >= update.version) {
            return Err(UpdateError::OldVersion {
                role: update.role.clone(),
            });
        }
    }
    Ok(updates)
}

#[cfg(test)]
mod tests {
    //! The refusals that happen before any crypto; the rest is tested with real crypto
    //! and real notary output in `berth-infra` (`tuf_crypto`).

    use super::*;
    use crate::model::{Signature, TufKey};
    use crate::ports::{
        Certificate, CertificateError, CertificateParser, SignatureError, TufSignatureVerifier,
        TufSigner,
    };

    /// Ports that must not be reached.
    struct NoCrypto;

    impl TufSignatureVerifier for NoCrypto {
        fn verify(&self, _: &TufKey, _: &str, _: &[u8], _: &[u8]) -> Result<(), SignatureError> {
            panic!("no signature should be checked")
        }
    }

    impl CertificateParser for NoCrypto {
        fn parse_pem_bundle(&self, _: &[u8]) -> Result<Vec<Certificate>, CertificateError> {
            panic!("no certificate should be parsed")
        }
    }

    impl TufSigner for NoCrypto {
        fn sign(
            &self,
            _: &str,
            _: &RoleName,
            _: &str,
            _: &[u8],
        ) -> Result<Option<Signature>, SignerError> {
            panic!("nothing should be signed")
        }
    }

    fn validate(files: &[(&str, &[u8])]) -> Result<Vec<MetaUpdate>, UpdateError> {
        let files: Vec<UploadedFile> = files
            .iter()
            .map(|(name, data)| UploadedFile {
                filename: (*name).to_owned(),
                data: data.to_vec(),
            })
            .collect();
        let crypto = TufCrypto {
            verifier: &NoCrypto,
            certificates: &NoCrypto,
            signer: &NoCrypto,
        };
        validate_update(
            "example.com/app",
            &files,
            &BTreeMap::new(),
            OffsetDateTime::UNIX_EPOCH,
            crypto,
        )
    }

    const TARGETS: &[u8] = br#"{"signed":{"_type":"Targets","version":2,"expires":"2030-01-01T00:00:00Z"},"signatures":[]}"#;

    #[test]
    fn parts_are_refused_as_the_upload_handler_refuses_them() {
        let code = |files: &[(&str, &[u8])]| validate(files).err().map(|e| e.code());
        assert_eq!(code(&[("", TARGETS)]), Some("NO_FILENAME"));
        assert_eq!(code(&[(".json", TARGETS)]), Some("NO_FILENAME"));
        assert_eq!(code(&[("targets/Upper", TARGETS)]), Some("INVALID_ROLE"));
        assert_eq!(
            code(&[("targets.json", b"not json")]),
            Some("MALFORMED_JSON")
        );
        assert_eq!(
            code(&[("targets", br#"{"signed":{"version":"one"}}"#)]),
            Some("MALFORMED_JSON")
        );
        let error = validate(&[("mirror", TARGETS)]).err();
        assert_eq!(
            error.as_ref().and_then(UpdateError::detail),
            Some(Value::String("mirror".to_owned()))
        );
    }

    #[test]
    fn a_first_upload_without_root_is_refused_before_any_crypto() {
        let error = validate(&[("targets.json", TARGETS)]).err();
        assert_eq!(
            error.as_ref().map(|e| (e.code(), e.message(), e.detail())),
            Some((
                "INVALID_UPDATE",
                "Update sent by the client is invalid.",
                Some(json!({"Name": "ErrValidation",
                           "Error": {"Msg": "no pre-existing root and no root provided in update."}}))
            ))
        );
    }

    #[test]
    fn a_root_must_be_version_one_or_two_on_an_empty_collection() {
        let root = br#"{"signed":{"_type":"Root","version":3},"signatures":[]}"#;
        assert_eq!(
            validate(&[("root", root)]).err(),
            Some(UpdateError::Invalid(ValidationError::BadRoot {
                msg: "Root modifications must increment the version. Current 1, new 3".to_owned()
            }))
        );
    }
}
