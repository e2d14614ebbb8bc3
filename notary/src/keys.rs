//! The keys the trust server holds for collections: the timestamp key always, and the
//! snapshot key when a client delegated it (`notary init -p` with `--server-managed`
//! snapshot, or `key rotate <gun> snapshot -r`). A role may have several: the one its root
//! names, and a newer one handed out by a rotation that the client has yet to publish.

use super::{RoleName, TufKey, TufSigner, WriteGate};
use async_trait::async_trait;
use berth_domain::store::StoreError;
use std::sync::Arc;

/// Which key [`TufServerKeys::create`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewKey {
    /// The role's first: made only when it has none.
    First,
    /// One after the newest (a rotation).
    Next,
}

/// Why [`TufServerKeys::create`] made no key.
#[derive(Debug, thiserror::Error)]
pub enum KeyWriteError {
    /// The [`WriteGate`] was closed: the registry of the GUN does not accept trust data
    /// now, so no key is made for a collection a wipe would not find.
    #[error("the registry of {gun} does not accept trust data now")]
    NotAccepted {
        /// The GUN.
        gun: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The server's keys, kept (sealed) in Berth's store.
#[async_trait]
pub trait TufServerKeys: Send + Sync {
    /// The public keys held for `gun`'s `role`, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    async fn public_keys(&self, gun: &str, role: &RoleName) -> Result<Vec<TufKey>, StoreError>;

    /// Makes a new key for `gun`'s `role` (notary-server's `crypto.Create`) and returns its
    /// public half; with [`NewKey::First`], only if the role has none, else the newest held
    /// one. Keys are numbered per role, so that concurrent creators (in one process or in
    /// several replicas) agree: of two that make the same number, the second gets the
    /// first's key. Keys of the role that are neither in `keep` (the ones the collection's
    /// root names) nor recent are forgotten, so that repeated rotations cannot pile keys up.
    ///
    /// A key is made only while `gate` is open, checked in the transaction that stores it
    /// as [`super::TufMetadataStore::update`] checks it: key creation and rotation pass the
    /// same gate as metadata writes. Handing out a key already held needs no gate.
    ///
    /// # Errors
    /// [`KeyWriteError::NotAccepted`] when the gate is closed; [`KeyWriteError::Store`]
    /// when the key cannot be made or stored.
    async fn create(
        &self,
        gun: &str,
        role: &RoleName,
        keep: &[String],
        new: NewKey,
        gate: WriteGate,
    ) -> Result<TufKey, KeyWriteError>;

    /// A signer holding every key the server has for `gun`.
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be read or unsealed.
    async fn signer(&self, gun: &str) -> Result<Arc<dyn TufSigner>, StoreError>;

    /// Forgets `gun`'s keys: after its trust data is deleted, the next `key` request makes
    /// new ones, as notary-server does.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written.
    async fn delete(&self, gun: &str) -> Result<(), StoreError>;
}
