//! The embedded trust server's storage port: every version of every TUF file of every
//! GUN, written a validated update at a time, and the changefeed Notary clients (and the
//! wipe) read. Modelled on notary-server's `storage.MetaStore`.

use super::{MetaUpdate, RoleName};
use async_trait::async_trait;
use berth_domain::store::StoreError;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Which version of a role's file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TufSelector {
    /// The newest (`<role>.json`).
    Current,
    /// That version (`<version>.<role>.json`).
    Version(i64),
    /// The version whose SHA-256 is this lowercase hex (`<role>.<checksum>.json`).
    Checksum(String),
}

/// A stored TUF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTufFile {
    /// Its role.
    pub role: RoleName,
    /// Its version.
    pub version: i64,
    /// SHA-256 of `data`, lowercase hex.
    pub sha256: String,
    /// The bytes, exactly as uploaded or generated.
    pub data: Vec<u8>,
    /// When it was stored.
    pub stored_at: OffsetDateTime,
}

/// What a changefeed entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeCategory {
    /// An update was published (Notary's `update`).
    Update,
    /// The GUN's trust data was deleted (Notary's `deletion`).
    Deletion,
}

impl ChangeCategory {
    /// Notary's name of it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Update => "update",
            Self::Deletion => "deletion",
        }
    }
}

/// One changefeed entry. An update is recorded with the version and checksum of the
/// timestamp it published; a deletion with version 0 and no checksum, as notary-server does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TufChange {
    /// Position in the feed (increasing).
    pub id: i64,
    /// The GUN.
    pub gun: String,
    /// The timestamp's version (0 for a deletion).
    pub version: i64,
    /// The timestamp's SHA-256, lowercase hex (empty for a deletion).
    pub sha256: String,
    /// Update or deletion.
    pub category: ChangeCategory,
    /// When.
    pub created_at: OffsetDateTime,
}

/// Which part of the changefeed to read (notary-server's `change_id` and `records`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeWindow {
    /// The changes after this position (0 for the start), oldest first.
    After(i64),
    /// The latest changes before this position (`None`: the very latest), still returned
    /// oldest first (a negative `change_id` or `records`).
    Before(Option<i64>),
}

/// What an update needs of the collection's registry when it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteGate {
    /// Nothing: the store is used on its own (its tests, tools).
    Open,
    /// The registry whose login server begins the GUN accepts trust data: content trust is
    /// enabled, no wipe runs and it is not being deleted
    /// ([`berth_domain::registry::Registry::trust_push_allowed`]). It is read in the update's own
    /// transaction and held until the update commits, so a disable committed first refuses
    /// the update, and a wipe that begins after it finds what it stored: a wipe then need
    /// not wait for the push tokens issued before it to expire.
    RegistryAcceptsTrustData,
}

/// Why an update was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TufWriteError {
    /// A file's version is not newer than the stored one (Notary's `ErrOldVersion`,
    /// answered as `VERSION`), including when a concurrent update stored it first.
    #[error("a newer version of {role} is already stored for {gun}")]
    OldVersion {
        /// The GUN.
        gun: String,
        /// The role.
        role: RoleName,
    },
    /// The [`WriteGate`] was closed: the registry does not accept trust data now (or no
    /// registry has the GUN's login server).
    #[error("the registry of {gun} does not accept trust data now")]
    NotAccepted {
        /// The GUN.
        gun: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The store of TUF metadata. Adapters: SQL through sea-orm (SQLite or PostgreSQL).
#[async_trait]
pub trait TufMetadataStore: Send + Sync {
    /// The newest file of each role of `gun` (what an update is validated against).
    async fn current(&self, gun: &str) -> Result<BTreeMap<RoleName, Vec<u8>>, StoreError>;

    /// One file of a role, if stored.
    async fn get(
        &self,
        gun: &str,
        role: &RoleName,
        which: &TufSelector,
    ) -> Result<Option<StoredTufFile>, StoreError>;

    /// Stores the files of one validated update, all or none: each must be newer than the
    /// stored version of its role, or [`TufWriteError::OldVersion`], and `gate` must be
    /// open, or [`TufWriteError::NotAccepted`]. Records an `update` change with the
    /// update's timestamp, when it has one.
    async fn update(
        &self,
        gun: &str,
        files: &[MetaUpdate],
        gate: WriteGate,
    ) -> Result<(), TufWriteError>;

    /// Deletes every file of exactly `gun` and records a `deletion` change when there was
    /// any; whether there was.
    async fn delete(&self, gun: &str) -> Result<bool, StoreError>;

    /// Up to `limit` changes of `window`, oldest first, of `gun` only when given.
    async fn changes(
        &self,
        window: ChangeWindow,
        limit: u64,
        gun: Option<&str>,
    ) -> Result<Vec<TufChange>, StoreError>;

    /// The GUNs that have trust data.
    async fn guns(&self) -> Result<Vec<String>, StoreError>;
}
