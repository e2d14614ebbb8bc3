//! What notary-server does when a client reads `timestamp.json` or `snapshot.json`
//! (`timestamp.GetOrCreateTimestamp`): metadata the server signs must never be served
//! expired, so an expired snapshot (when the server holds its key) is signed anew, and an
//! expired timestamp, or one naming a snapshot that was just re-signed, is replaced.

use super::builder::{Builder, GenerateError};
use super::model::{MetaList, SignedEnvelope};
use super::ports::{SignerError, TufCrypto};
use super::role::RoleName;
use super::update::MetaUpdate;
use time::OffsetDateTime;

/// Why fresh server-signed metadata could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// The stored metadata does not load (the builder's message).
    #[error("stored metadata does not load: {0}")]
    Invalid(String),
    /// The signing port failed.
    #[error(transparent)]
    Signer(#[from] SignerError),
}

fn meta_list(bytes: &[u8]) -> Result<MetaList, RefreshError> {
    let envelope = SignedEnvelope::parse(bytes).map_err(RefreshError::Invalid)?;
    serde_json::from_value(envelope.signed).map_err(|e| RefreshError::Invalid(e.to_string()))
}

fn generated(e: GenerateError) -> RefreshError {
    match e {
        GenerateError::CannotSign => {
            RefreshError::Invalid("the server holds none of the role's keys".to_owned())
        }
        GenerateError::Other(msg) => RefreshError::Invalid(msg),
        GenerateError::Signer(e) => RefreshError::Signer(e),
    }
}

/// Whether the timestamp (and the snapshot it names) can be served as they are at `now`.
///
/// # Errors
/// [`RefreshError::Invalid`] when either does not parse.
pub fn is_fresh(
    timestamp: &[u8],
    snapshot: &[u8],
    now: OffsetDateTime,
) -> Result<bool, RefreshError> {
    Ok(meta_list(timestamp)?.common.expires > now && meta_list(snapshot)?.common.expires > now)
}

/// The files to store so that `gun` is served fresh: a re-signed snapshot when the stored
/// one (the one `timestamp` names) has expired and the server holds its key, and a new
/// timestamp when the stored one has expired or the snapshot changed. Empty when both are
/// fresh. A snapshot the server cannot sign (the client holds its key) is left as it is:
/// the timestamp is still renewed, and clients see that the snapshot expired, which only
/// its owner can fix.
///
/// # Errors
/// [`RefreshError`] when the stored metadata does not load or signing fails.
pub fn refresh_server_signed(
    gun: &str,
    root: &[u8],
    timestamp: &[u8],
    snapshot: &[u8],
    now: OffsetDateTime,
    crypto: TufCrypto<'_>,
) -> Result<Vec<MetaUpdate>, RefreshError> {
    let prev_timestamp = meta_list(timestamp)?;
    let prev_snapshot = meta_list(snapshot)?;
    let mut updates = Vec::new();
    let mut snapshot_bytes = snapshot.to_vec();
    if prev_snapshot.common.expires <= now {
        let mut builder = Builder::new(gun, now, crypto);
        builder
            .load(&RoleName::Root, root, 1, false)
            .map_err(RefreshError::Invalid)?;
        match builder.generate_snapshot(Some(prev_snapshot)) {
            Ok((data, version)) => {
                snapshot_bytes.clone_from(&data);
                updates.push(MetaUpdate {
                    role: RoleName::Snapshot,
                    version,
                    data,
                });
            }
            Err(GenerateError::CannotSign) => {}
            Err(e) => return Err(generated(e)),
        }
    }
    if updates.is_empty() && prev_timestamp.common.expires > now {
        return Ok(updates);
    }
    let mut builder = Builder::new(gun, now, crypto);
    builder
        .load(&RoleName::Root, root, 1, false)
        .map_err(RefreshError::Invalid)?;
    // An expired snapshot that could not be re-signed still loads, so that the timestamp
    // names it.
    builder
        .load(&RoleName::Snapshot, &snapshot_bytes, 1, true)
        .map_err(RefreshError::Invalid)?;
    let (data, version) = builder
        .generate_timestamp(Some(prev_timestamp))
        .map_err(generated)?;
    updates.push(MetaUpdate {
        role: RoleName::Timestamp,
        version,
        data,
    });
    Ok(updates)
}
