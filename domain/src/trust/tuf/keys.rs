//! The keys the trust server holds for collections: the timestamp key always, and the
//! snapshot key when a client delegated it (`notary init -p` with `--server-managed`
//! snapshot, or `key rotate <gun> snapshot -r`). A role may have several: the one its root
//! names, and a newer one handed out by a rotation that the client has yet to publish.

use super::{RoleName, TufKey, TufSigner};
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;

/// The server's keys, kept (sealed) in Berth's store.
#[async_trait]
pub trait TufServerKeys: Send + Sync {
    /// The public keys held for `gun`'s `role`, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    async fn public_keys(&self, gun: &str, role: &RoleName) -> Result<Vec<TufKey>, StoreError>;

    /// Makes a new key for `gun`'s `role` (notary-server's `crypto.Create`) and returns its
    /// public half. Keys of the role that are neither in `keep` (the ones the collection's
    /// root names) nor recent are forgotten, so that repeated rotations cannot pile keys up.
    ///
    /// # Errors
    /// [`StoreError`] when the key cannot be made or stored.
    async fn create(
        &self,
        gun: &str,
        role: &RoleName,
        keep: &[String],
    ) -> Result<TufKey, StoreError>;

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
