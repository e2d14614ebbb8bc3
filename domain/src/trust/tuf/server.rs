//! The embedded trust server's use cases: publish an update (validated as notary-server
//! validates it, then stored whole), read metadata, hand out the server's public keys, and
//! delete a collection. It is also a [`TrustStore`], so the content-trust wipe drives it
//! as it drives an external Notary server.

use super::{
    CertificateParser, RoleName, StoredTufFile, TufCrypto, TufKey, TufMetadataStore, TufSelector,
    TufServerKeys, TufSignatureVerifier, TufWriteError, UpdateError, UploadedFile, validate_update,
};
use crate::clock::Clock;
use crate::store::StoreError;
use crate::trust::{TrustStore, TrustStoreError};
use async_trait::async_trait;
use std::sync::Arc;

/// Why an update was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Refused as notary-server refuses it (the code and body are the [`UpdateError`]'s).
    #[error(transparent)]
    Refused(#[from] UpdateError),
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
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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
    /// update stored the same versions first; [`PublishError::Store`].
    pub async fn publish(&self, gun: &str, files: &[UploadedFile]) -> Result<(), PublishError> {
        let current = self.store.current(gun).await?;
        let signer = self.keys.signer(gun).await?;
        let crypto = TufCrypto {
            verifier: self.verifier.as_ref(),
            certificates: self.certificates.as_ref(),
            signer: signer.as_ref(),
        };
        let updates = validate_update(gun, files, &current, self.clock.now(), crypto)?;
        match self.store.update(gun, &updates).await {
            Ok(()) => Ok(()),
            Err(TufWriteError::OldVersion { role, .. }) => {
                Err(UpdateError::OldVersion { role }.into())
            }
            Err(TufWriteError::Store(e)) => Err(e.into()),
        }
    }

    /// One metadata file (`GET .../<role>.json`, `<version>.<role>.json`,
    /// `<role>.<checksum>.json`).
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn metadata(
        &self,
        gun: &str,
        role: &RoleName,
        which: &TufSelector,
    ) -> Result<Option<StoredTufFile>, StoreError> {
        self.store.get(gun, role, which).await
    }

    /// The server's public key of `role` for `gun` (`GET .../timestamp.key`,
    /// `snapshot.key`), made on first use.
    ///
    /// # Errors
    /// [`KeyError::NotServerManaged`] for other roles; [`KeyError::Store`].
    pub async fn key(&self, gun: &str, role: &RoleName) -> Result<TufKey, KeyError> {
        if !matches!(role, RoleName::Timestamp | RoleName::Snapshot) {
            return Err(KeyError::NotServerManaged(role.as_str().to_owned()));
        }
        Ok(self.keys.public_key(gun, role).await?)
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
            .changes(i64::MAX, 1, None)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
