//! The keys the trust server holds for collections: the timestamp key always, and the
//! snapshot key when a client delegated it (`notary init -p` with `--server-managed`
//! snapshot, or `key rotate <gun> snapshot -r`).

use super::{RoleName, TufKey, TufSigner};
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;

/// The server's keys, created on first use and kept (sealed) in Berth's store.
#[async_trait]
pub trait TufServerKeys: Send + Sync {
    /// The public key of `gun`'s `role` (`timestamp` or `snapshot`), made the first time it
    /// is asked for (notary-server's `GetOrCreateTimestampKey`); concurrent first calls
    /// agree on one key.
    async fn public_key(&self, gun: &str, role: &RoleName) -> Result<TufKey, StoreError>;

    /// A signer holding every key the server has for `gun`.
    async fn signer(&self, gun: &str) -> Result<Arc<dyn TufSigner>, StoreError>;

    /// Forgets `gun`'s keys: after its trust data is deleted, the next `key` request makes
    /// new ones, as notary-server does.
    async fn delete(&self, gun: &str) -> Result<(), StoreError>;
}
