//! The embedded trust server's use cases: publish an update (validated as notary-server
//! validates it, then stored whole), read metadata (server-signed metadata renewed when it
//! has expired), hand out and rotate the server's public keys, read the changefeed, and
//! delete a collection. It is also a [`TrustStore`], so the content-trust wipe drives it
//! as it drives an external Notary server.

use super::refresh::{RefreshError, is_fresh, refresh_server_signed};
use super::{
    CertificateParser, ChangeWindow, KeyWriteError, NewKey, RoleName, Root, SignedEnvelope,
    StoredTufFile, TufChange, TufCrypto, TufKey, TufMetadataStore, TufSelector, TufServerKeys,
    TufSignatureVerifier, TufWriteError, UpdateError, UploadedFile, WriteGate, validate_update,
};
use async_trait::async_trait;
use berth_domain::clock::Clock;
use berth_domain::store::StoreError;
use berth_domain::trust::{SignedTag, TrustStore, TrustStoreError};
use std::sync::Arc;

/// Why an update was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Refused as notary-server refuses it (the code and body are the [`UpdateError`]'s).
    #[error(transparent)]
    Refused(#[from] UpdateError),
    /// The collection's registry does not accept trust data now (content trust is off, or
    /// being wiped), whatever the caller's token says: answered as a token whose scope no
    /// longer suffices.
    #[error("the registry of {0} does not accept trust data now")]
    NotAccepted(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a key was not handed out.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Only `timestamp` and `snapshot` keys are held by the server (`INVALID_ROLE`).
    #[error("the server holds no {0} key")]
    NotServerManaged(String),
    /// The collection's registry does not accept trust data now (content trust is off or
    /// being wiped): no key is made for it.
    #[error("the registry of {0} does not accept trust data now")]
    NotAccepted(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why metadata could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Stored server-signed metadata had expired and could not be renewed.
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why the changefeed was not read (notary's `INVALID_PARAMETERS`, or the store).
#[derive(Debug, thiserror::Error)]
pub enum ChangefeedError {
    /// `records` or `change_id` is not a 32-bit integer.
    #[error("{0}")]
    InvalidParameters(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records of a changefeed page when `records` is 0 (`notary.DefaultPageSize`).
pub const DEFAULT_CHANGEFEED_PAGE: u64 = 100;
/// The most records one changefeed page holds (notary has no limit; a bound keeps one
/// request from reading the whole feed).
pub const MAX_CHANGEFEED_PAGE: u64 = 10_000;

/// A changefeed request as notary-server reads it: `records` (required, a 32-bit integer;
/// 0 means 100; negative reads backwards) and `change_id` (empty for the start; negative
/// means from the latest, backwards).
///
/// # Errors
/// [`ChangefeedError::InvalidParameters`] with notary's wording.
pub fn changefeed_window(
    change_id: Option<&str>,
    records: Option<&str>,
) -> Result<(ChangeWindow, u64), ChangefeedError> {
    let records: i32 = records.unwrap_or_default().parse().map_err(|e| {
        ChangefeedError::InvalidParameters(format!("invalid records parameter: {e}"))
    })?;
    let id: i32 = match change_id.unwrap_or_default() {
        "" => 0,
        id => id.parse().map_err(|_| {
            ChangefeedError::InvalidParameters(format!(
                "change ID expected to be integer, provided ID was: {id}"
            ))
        })?,
    };
    let limit = match u64::from(records.unsigned_abs()) {
        0 => DEFAULT_CHANGEFEED_PAGE,
        n => n.min(MAX_CHANGEFEED_PAGE),
    };
    let window = if id < 0 || records < 0 {
        ChangeWindow::Before((id > 0).then_some(i64::from(id)))
    } else {
        ChangeWindow::After(i64::from(id))
    };
    Ok((window, limit))
}

/// The embedded trust server.
#[derive(Clone)]
pub struct EmbeddedTrustServer {
    store: Arc<dyn TufMetadataStore>,
    keys: Arc<dyn TufServerKeys>,
    verifier: Arc<dyn TufSignatureVerifier>,
    certificates: Arc<dyn CertificateParser>,
    clock: Arc<dyn Clock>,
}

impl EmbeddedTrustServer {
    /// Builds the server over its store, its keys and the crypto ports.
    #[must_use]
    pub fn new(
        store: Arc<dyn TufMetadataStore>,
        keys: Arc<dyn TufServerKeys>,
        verifier: Arc<dyn TufSignatureVerifier>,
        certificates: Arc<dyn CertificateParser>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            keys,
            verifier,
            certificates,
            clock,
        }
    }

    /// Publishes an upload (`POST /v2/<gun>/_trust/tuf/`): validated against the stored
    /// metadata, then stored with the server's snapshot (when it holds that key) and a new
    /// timestamp, all or nothing.
    ///
    /// # Errors
    /// [`PublishError::Refused`] with notary's code, including `VERSION` when a concurrent
    /// update stored the same versions first; [`PublishError::NotAccepted`] when the
    /// registry does not accept trust data at the moment of storing; [`PublishError::Store`].
    pub async fn publish(&self, gun: &str, files: &[UploadedFile]) -> Result<(), PublishError> {
        let current = self.store.current(gun).await?;
        let signer = self.keys.signer(gun).await?;
        let crypto = TufCrypto {
            verifier: self.verifier.as_ref(),
            certificates: self.certificates.as_ref(),
            signer: signer.as_ref(),
        };
        let updates = validate_update(gun, files, &current, self.clock.now(), crypto)?;
        match self
            .store
            .update(gun, &updates, WriteGate::RegistryAcceptsTrustData)
            .await
        {
            Ok(()) => Ok(()),
            Err(TufWriteError::OldVersion { role, .. }) => {
                Err(UpdateError::OldVersion { role }.into())
            }
            Err(TufWriteError::NotAccepted { gun }) => Err(PublishError::NotAccepted(gun)),
            Err(TufWriteError::Store(e)) => Err(e.into()),
        }
    }

    /// One metadata file (`GET .../<role>.json`, `<version>.<role>.json`,
    /// `<role>.<checksum>.json`). The current timestamp and snapshot are served as
    /// notary-server serves them: the snapshot the current timestamp names, both renewed
    /// first when they have expired.
    ///
    /// # Errors
    /// [`ReadError`].
    pub async fn metadata(
        &self,
        gun: &str,
        role: &RoleName,
        which: &TufSelector,
    ) -> Result<Option<StoredTufFile>, ReadError> {
        match (role, which) {
            (RoleName::Timestamp | RoleName::Snapshot, TufSelector::Current) => {
                self.server_signed(gun, role).await
            }
            _ => Ok(self.store.get(gun, role, which).await?),
        }
    }

    async fn server_signed(
        &self,
        gun: &str,
        role: &RoleName,
    ) -> Result<Option<StoredTufFile>, ReadError> {
        // Renewed twice at most (a concurrent reader may store renewed files first); the
        // read after that serves what is stored then.
        let mut renewals = 0;
        loop {
            let Some(timestamp) = self
                .store
                .get(gun, &RoleName::Timestamp, &TufSelector::Current)
                .await?
            else {
                return Ok(None);
            };
            let Some(checksum) = snapshot_checksum(&timestamp.data) else {
                return Err(RefreshError::Invalid(
                    "the stored timestamp names no sha256 of a snapshot".to_owned(),
                )
                .into());
            };
            let Some(snapshot) = self
                .store
                .get(gun, &RoleName::Snapshot, &TufSelector::Checksum(checksum))
                .await?
            else {
                return Ok(None);
            };
            let now = self.clock.now();
            if renewals == 2 || is_fresh(&timestamp.data, &snapshot.data, now)? {
                return Ok(Some(if *role == RoleName::Timestamp {
                    timestamp
                } else {
                    snapshot
                }));
            }
            let Some(root) = self
                .store
                .get(gun, &RoleName::Root, &TufSelector::Current)
                .await?
            else {
                return Ok(None);
            };
            let signer = self.keys.signer(gun).await?;
            let crypto = TufCrypto {
                verifier: self.verifier.as_ref(),
                certificates: self.certificates.as_ref(),
                signer: signer.as_ref(),
            };
            let updates = refresh_server_signed(
                gun,
                &root.data,
                &timestamp.data,
                &snapshot.data,
                now,
                crypto,
            )?;
            // A renewal is gated as a publish is: a collection being wiped gets no new
            // timestamp, and is served as stored until the wipe takes it.
            match self
                .store
                .update(gun, &updates, WriteGate::RegistryAcceptsTrustData)
                .await
            {
                Ok(()) | Err(TufWriteError::OldVersion { .. }) => renewals += 1,
                Err(TufWriteError::NotAccepted { .. }) => renewals = 2,
                Err(TufWriteError::Store(e)) => return Err(e.into()),
            }
        }
    }

    /// The key IDs the current root of `gun` gives `role`, if it has a root.
    async fn root_key_ids(
        &self,
        gun: &str,
        role: &RoleName,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let Some(root) = self
            .store
            .get(gun, &RoleName::Root, &TufSelector::Current)
            .await?
        else {
            return Ok(None);
        };
        // A stored root was validated when it was published; one that does not parse
        // names no key.
        let ids = SignedEnvelope::parse(&root.data)
            .ok()
            .and_then(|e| Root::from_signed(&e.signed).ok())
            .and_then(|r| r.base_role(role).ok())
            .map(|base| base.keys.into_keys().collect())
            .unwrap_or_default();
        Ok(Some(ids))
    }

    /// The server's public key of `role` for `gun` (`GET .../timestamp.key`,
    /// `snapshot.key`; notary-server's `GetOrCreateTimestampKey`): the held key the
    /// collection's root names, else the newest held key, else a new one.
    ///
    /// # Errors
    /// [`KeyError::NotServerManaged`] for other roles; [`KeyError::NotAccepted`] when a key
    /// would be made for a registry that does not accept trust data now; [`KeyError::Store`].
    pub async fn key(&self, gun: &str, role: &RoleName) -> Result<TufKey, KeyError> {
        server_managed(role)?;
        let named = self.root_key_ids(gun, role).await?.unwrap_or_default();
        let held = self.keys.public_keys(gun, role).await?;
        if let Some(key) = held.iter().find(|k| named.contains(&k.id())) {
            return Ok(key.clone());
        }
        if let Some(newest) = held.into_iter().next() {
            return Ok(newest);
        }
        Ok(self
            .keys
            .create(
                gun,
                role,
                &named,
                NewKey::First,
                WriteGate::RegistryAcceptsTrustData,
            )
            .await?)
    }

    /// A new key for `role` of `gun` (`POST .../timestamp.key`, `snapshot.key`; notary's
    /// `RotateTimestampKey`): the client publishes a root naming it next. Until then the
    /// server keeps signing with the key the current root names.
    ///
    /// # Errors
    /// [`KeyError::NotServerManaged`] for other roles; [`KeyError::NotAccepted`] when a key
    /// would be made for a registry that does not accept trust data now; [`KeyError::Store`].
    pub async fn rotate_key(&self, gun: &str, role: &RoleName) -> Result<TufKey, KeyError> {
        server_managed(role)?;
        let named = self.root_key_ids(gun, role).await?.unwrap_or_default();
        Ok(self
            .keys
            .create(
                gun,
                role,
                &named,
                NewKey::Next,
                WriteGate::RegistryAcceptsTrustData,
            )
            .await?)
    }

    /// A page of the changefeed (`GET /v2/_trust/changefeed`, or of one GUN with
    /// `/v2/<gun>/_trust/changefeed`), read as notary-server reads `change_id` and
    /// `records`.
    ///
    /// # Errors
    /// [`ChangefeedError`].
    pub async fn changefeed(
        &self,
        gun: Option<&str>,
        change_id: Option<&str>,
        records: Option<&str>,
    ) -> Result<Vec<TufChange>, ChangefeedError> {
        let (window, limit) = changefeed_window(change_id, records)?;
        Ok(self.store.changes(window, limit, gun).await?)
    }

    /// Deletes exactly `gun`'s trust data and the server's keys for it; whether there was
    /// trust data.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete(&self, gun: &str) -> Result<bool, StoreError> {
        let had = self.store.delete(gun).await?;
        self.keys.delete(gun).await?;
        Ok(had)
    }
}

impl From<KeyWriteError> for KeyError {
    fn from(e: KeyWriteError) -> Self {
        match e {
            KeyWriteError::NotAccepted { gun } => Self::NotAccepted(gun),
            KeyWriteError::Store(e) => Self::Store(e),
        }
    }
}

fn server_managed(role: &RoleName) -> Result<(), KeyError> {
    if matches!(role, RoleName::Timestamp | RoleName::Snapshot) {
        Ok(())
    } else {
        Err(KeyError::NotServerManaged(role.as_str().to_owned()))
    }
}

/// The SHA-256 (hex) of the snapshot a timestamp names.
fn snapshot_checksum(timestamp: &[u8]) -> Option<String> {
    let envelope = SignedEnvelope::parse(timestamp).ok()?;
    let list: super::MetaList = serde_json::from_value(envelope.signed).ok()?;
    list.meta
        .get("snapshot")
        .and_then(|m| m.hashes.get("sha256"))
        .map(hex::encode)
}

fn unavailable(e: StoreError) -> TrustStoreError {
    TrustStoreError(format!("the embedded trust store: {e}"))
}

#[async_trait]
impl TrustStore for EmbeddedTrustServer {
    async fn list_collections(&self) -> Result<Vec<String>, TrustStoreError> {
        self.store.guns().await.map_err(unavailable)
    }

    async fn delete_collection(&self, gun: &str) -> Result<(), TrustStoreError> {
        self.delete(gun).await.map(|_| ()).map_err(unavailable)
    }

    async fn has_collection(&self, gun: &str) -> Result<bool, TrustStoreError> {
        // Every collection has a root: its first update must carry one.
        self.store
            .get(gun, &RoleName::Root, &TufSelector::Current)
            .await
            .map(|root| root.is_some())
            .map_err(unavailable)
    }

    async fn health(&self) -> Result<(), TrustStoreError> {
        // The cheapest read there is: past the end of the changefeed.
        self.store
            .changes(ChangeWindow::After(i64::MAX), 1, None)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Publishes and renewals are stored through [`WriteGate::RegistryAcceptsTrustData`].
    fn refuses_trust_data_once_disabled(&self) -> bool {
        true
    }

    async fn signed_tags(&self, gun: &str) -> Result<Option<Vec<SignedTag>>, TrustStoreError> {
        let current = self.store.current(gun).await.map_err(unavailable)?;
        if current.is_empty() {
            return Ok(None);
        }
        let mut tags = Vec::new();
        for (role, file) in &current {
            if !matches!(role, RoleName::Targets | RoleName::Delegation(_)) {
                continue;
            }
            let envelope = SignedEnvelope::parse(file)
                .map_err(|e| TrustStoreError(format!("{gun} {}: {e}", role.as_str())))?;
            let key_ids: Vec<String> = envelope
                .signatures
                .iter()
                .map(|s| s.keyid.clone())
                .collect();
            let targets: super::Targets = serde_json::from_value(envelope.signed)
                .map_err(|e| TrustStoreError(format!("{gun} {}: {e}", role.as_str())))?;
            for (tag, meta) in targets.targets {
                let Some(sha256) = meta.hashes.get("sha256") else {
                    continue;
                };
                tags.push(SignedTag {
                    tag,
                    digest: format!("sha256:{}", hex::encode(sha256)),
                    size: u64::try_from(meta.length).unwrap_or(0),
                    role: role.as_str().to_owned(),
                    key_ids: key_ids.clone(),
                });
            }
        }
        tags.sort_by(|a, b| (&a.tag, &a.role).cmp(&(&b.tag, &b.role)));
        Ok(Some(tags))
    }
}
