//! Content trust's store of signed metadata (Notary v1 collections, keyed by GUN
//! `<loginServer>/<repository>`), seen through a port, and the catalog Berth keeps of the
//! collections of each registry, since Notary cannot list them per registry. The Notary v1
//! server itself (TUF model, validation, the embedded trust server) is `berth-notary`.

mod wipe;

pub use wipe::{TrustWipe, WipeError, WipeSettings, WipeStep};

use crate::arm::RegistryId;
use crate::store::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Why the trust store did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trust store: {0}")]
pub struct TrustStoreError(pub String);

/// A tag a collection's signers vouch for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTag {
    /// The tag.
    pub tag: String,
    /// `sha256:<hex>` of the manifest it names.
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: u64,
    /// The role whose metadata lists it: `targets`, or a delegation (`targets/releases`).
    pub role: String,
    /// The ids of the keys that signed that role's metadata.
    pub key_ids: Vec<String>,
}

/// A store of trust data (a Notary v1 server, or an embedded one).
#[async_trait]
pub trait TrustStore: Send + Sync {
    /// Every collection the store holds now (for Notary: its changefeed replayed).
    ///
    /// # Errors
    /// [`TrustStoreError`] when the store cannot be read.
    async fn list_collections(&self) -> Result<Vec<String>, TrustStoreError>;

    /// Deletes one collection's trust data, exactly that GUN; deleting one that does not
    /// exist succeeds.
    ///
    /// # Errors
    /// [`TrustStoreError`] when the store refuses or cannot be reached.
    async fn delete_collection(&self, gun: &str) -> Result<(), TrustStoreError>;

    /// Whether the collection has trust data.
    ///
    /// # Errors
    /// [`TrustStoreError`] when the store cannot be read.
    async fn has_collection(&self, gun: &str) -> Result<bool, TrustStoreError>;

    /// Whether the store answers.
    ///
    /// # Errors
    /// [`TrustStoreError`] when it does not.
    async fn health(&self) -> Result<(), TrustStoreError>;

    /// The signed tags of collection `gun`: the targets its current `targets` metadata and
    /// its delegations' list, each with the role that lists it and the keys that signed that
    /// role's file; `None` when there is no such collection.
    ///
    /// # Errors
    /// [`TrustStoreError`] when the store cannot be read, or cannot tell (a store that only
    /// serves the metadata to clients).
    async fn signed_tags(&self, gun: &str) -> Result<Option<Vec<SignedTag>>, TrustStoreError> {
        let _ = gun;
        Err(TrustStoreError(
            "this trust store does not tell which tags are signed: the embedded trust server does"
                .to_owned(),
        ))
    }

    /// Whether the store itself refuses trust data for a registry that does not accept it
    /// (content trust off, or being wiped), atomically with the write. Then a wipe needs no
    /// final sweep after the push tokens issued before it expire. A Notary server trusts a
    /// token until it expires (plus its leeway): it does not.
    fn refuses_trust_data_once_disabled(&self) -> bool {
        false
    }
}

/// The collections Berth knows of, per registry: every GUN it issued a trust-data push
/// scope for (and every one the trust store's own list adds), with the expiry of the
/// latest push token issued for it.
#[async_trait]
pub trait TrustedCollectionCatalog: Send + Sync {
    /// Records a collection of a registry, exactly as named. `push_until` is the expiry of a
    /// push token about to be issued for it: the latest one is kept.
    ///
    /// # Errors
    /// `Store`.
    async fn record(
        &self,
        registry: &RegistryId,
        gun: &str,
        push_until: Option<OffsetDateTime>,
    ) -> Result<(), StoreError>;

    /// Records collections of a registry found in the trust store (no push token issued),
    /// in one write; known ones stay as they are.
    ///
    /// # Errors
    /// `Store`.
    async fn record_found(&self, registry: &RegistryId, guns: &[String]) -> Result<(), StoreError>;

    /// The registry's collections, in name order.
    ///
    /// # Errors
    /// `Store`.
    async fn list(&self, registry: &RegistryId) -> Result<Vec<String>, StoreError>;

    /// When the last push token issued for any of the registry's collections expires.
    ///
    /// # Errors
    /// `Store`.
    async fn push_deadline(
        &self,
        registry: &RegistryId,
    ) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Forgets collections (they were wiped).
    ///
    /// # Errors
    /// `Store`.
    async fn forget(&self, registry: &RegistryId, guns: &[String]) -> Result<(), StoreError>;
}
