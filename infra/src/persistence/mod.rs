//! Persistence through sea-orm: connecting, migrating, and the repositories that implement
//! the domain's storage ports.

mod activity_log;
mod authorization_codes;
mod directory_repository;
mod directory_roles;
pub mod entities;
mod migration;
mod portal_sessions;
mod rbac_repository;
mod repositories;
mod scope_map_repository;
mod secrets_at_rest;
mod store_gauges;
mod trusted_collections;
mod tuf_keys;
mod tuf_store;

pub use activity_log::{ActivityChainKey, SeaOrmActivityLog};
use activity_log::{Chains, Lease};
pub use authorization_codes::{SeaOrmAuthorizationCodes, pkce_challenge};
pub use directory_repository::SeaOrmDirectoryRepository;
pub use directory_roles::SeaOrmDirectoryRoleRepository;
pub use migration::Migrator;
pub use portal_sessions::SeaOrmSessionStore;
pub use rbac_repository::SeaOrmRbacRepository;
pub use repositories::{
    SeaOrmAdminPasswordRepository, SeaOrmOperationRepository, SeaOrmRegistryRepository,
    SeaOrmResourceGroupRepository, SeaOrmSubscriptionRepository,
};
pub use scope_map_repository::SeaOrmScopeMapRepository;
pub use secrets_at_rest::{Resealed, seal_secrets_at_rest};
pub use store_gauges::{GaugeSample, StoreGauges};
pub use trusted_collections::SeaOrmTrustedCollectionCatalog;
pub use tuf_keys::SeaOrmTufServerKeys;
pub use tuf_store::SeaOrmTufStore;

use berth_domain::store::StoreError;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database as SeaDatabase, DatabaseConnection,
    DatabaseTransaction, DbErr, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::path::Path;
use std::time::Duration;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite file (created if missing).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL URL, optionally with a schema to use (created if missing).
    Postgres {
        /// `postgres://...`
        url: String,
        /// Schema for every table; `public` when `None`.
        schema: Option<String>,
    },
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// Connecting failed.
    #[error("cannot connect to the database ({target}): {source}")]
    Connect {
        /// Which database (no credentials).
        target: String,
        /// The driver's error.
        source: DbErr,
    },
    /// Migrating failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(DbErr),
    /// The schema name is not a plain identifier.
    #[error("invalid PostgreSQL schema name '{0}': use letters, digits and underscores")]
    InvalidSchema(String),
}

/// The connections repositories use. SQLite gets one writer connection, so write
/// transactions never race for the lock, and a pool of readers (WAL lets them read while the
/// writer writes); PostgreSQL uses one pool for both.
#[derive(Debug, Clone)]
pub struct Database {
    read: DatabaseConnection,
    write: DatabaseConnection,
    /// The key the activity log's records are chained under (set by the composition root).
    chain: Option<ActivityChainKey>,
    /// The activity log's chains, with their heads as this process last committed them.
    chains: std::sync::Arc<Chains>,
    /// Whether this process added the chain heads' seals (M0020), so it seals the heads
    /// there were ([`Database::seal_migrated_chain_heads`]).
    seal_heads: bool,
}

/// Runs the migrations; whether they included the one that seals the chain heads (M0020).
async fn migrate(conn: &DatabaseConnection) -> Result<bool, DatabaseError> {
    let pending = Migrator::get_pending_migrations(conn)
        .await
        .map_err(DatabaseError::Migrate)?;
    let seals = pending
        .iter()
        .any(|m| m.name() == migration::MIGRATION_TO_SEAL_HEADS);
    Migrator::up(conn, None)
        .await
        .map_err(DatabaseError::Migrate)?;
    Ok(seals)
}

impl Database {
    /// Connects and runs the migrations.
    ///
    /// # Errors
    /// [`DatabaseError`] when the database cannot be reached or migrated.
    pub async fn open(target: &DatabaseTarget) -> Result<Self, DatabaseError> {
        let db = match target {
            DatabaseTarget::Sqlite(path) => {
                // Made owner-only before SQLite creates it (0644 otherwise); its `-wal` and
                // `-shm` files take their mode from it.
                if path != Path::new(":memory:") {
                    crate::files::create_private(path).map_err(|e| DatabaseError::Connect {
                        target: "sqlite".to_owned(),
                        source: DbErr::Custom(format!("cannot create {}: {e}", path.display())),
                    })?;
                }
                let write = connect_sqlite(path, 1).await?;
                // Create the file and switch it to WAL before readers open it.
                let seal_heads = migrate(&write).await?;
                let read = connect_sqlite(path, 4).await?;
                Self {
                    read,
                    write,
                    chain: None,
                    chains: std::sync::Arc::new(Chains::new(1)),
                    seal_heads,
                }
            }
            DatabaseTarget::Postgres { url, schema } => {
                if let Some(schema) = schema {
                    if !schema
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                        || schema.is_empty()
                    {
                        return Err(DatabaseError::InvalidSchema(schema.clone()));
                    }
                    let admin = connect(ConnectOptions::new(url.clone()), "postgresql").await?;
                    admin
                        .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                        .await
                        .map_err(DatabaseError::Migrate)?;
                    admin.close().await.map_err(DatabaseError::Migrate)?;
                }
                let mut options = ConnectOptions::new(url.clone());
                options
                    .max_connections(16)
                    .min_connections(1)
                    .sqlx_logging(false);
                if let Some(schema) = schema {
                    options.set_schema_search_path(schema.clone());
                }
                let conn = connect(options, "postgresql").await?;
                let seal_heads = migrate(&conn).await?;
                Self {
                    read: conn.clone(),
                    write: conn,
                    chain: None,
                    chains: std::sync::Arc::new(Chains::new(migration::POSTGRES_CHAINS)),
                    seal_heads,
                }
            }
        };
        Ok(db)
    }

    /// Whether the database answers (for `/readyz`).
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read.ping().await.map_err(store_error)
    }

    /// The connection for reads.
    #[must_use]
    pub fn reader(&self) -> &DatabaseConnection {
        &self.read
    }

    /// The connection for writes and transactions.
    #[must_use]
    pub fn writer(&self) -> &DatabaseConnection {
        &self.write
    }

    /// This database, with the key the activity log is chained under: write transactions
    /// then carry the records of the request they serve ([`WriteTxn::commit`]).
    #[must_use]
    pub fn with_activity_chain(mut self, key: ActivityChainKey) -> Self {
        self.chain = Some(key);
        self
    }

    /// Seals the activity chains' heads that have no seal yet, when this process's migrations
    /// added the seals (M0020): the heads as they were then, which the records before them
    /// verify. Only then: a seal blanked with SQL later is not made good again by a restart.
    /// Returns how many heads it sealed.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails or no chain key is set.
    pub async fn seal_migrated_chain_heads(&self) -> Result<u64, StoreError> {
        if !self.seal_heads {
            return Ok(0);
        }
        activity_log::seal_unsealed_heads(self.writer(), self.activity_chain()?).await
    }

    /// The key the activity log is chained under.
    ///
    /// # Errors
    /// [`StoreError`] when none was set.
    pub fn activity_chain(&self) -> Result<&ActivityChainKey, StoreError> {
        self.chain
            .as_ref()
            .ok_or_else(|| StoreError("no activity chain key is set".to_owned()))
    }

    /// How many chains the activity log has: one on SQLite (one writer), several on
    /// PostgreSQL (M0019).
    pub(crate) fn chain_count(&self) -> i32 {
        self.chains.count()
    }

    /// Begins a write transaction of a control-plane change.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn begin_write(&self) -> Result<WriteTxn, StoreError> {
        Ok(WriteTxn {
            txn: self.write.begin().await.map_err(store_error)?,
            chain: self.chain.clone(),
            chains: self.chains.clone(),
            lease: std::sync::Mutex::new(None),
            accepted: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// A write transaction whose commit carries the activity records of the request it serves
/// ([`crate::activity`]): the change and its records commit together or not at all.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    chain: Option<ActivityChainKey>,
    chains: std::sync::Arc<Chains>,
    /// The chain this transaction's records go to, once it has some.
    lease: std::sync::Mutex<Option<Lease>>,
    accepted: std::sync::atomic::AtomicBool,
}

impl WriteTxn {
    /// Notes that this transaction starts the long-running operation `id`: the request's
    /// records end `Accepted` and take its id. Returns the request's activity, for the
    /// operation's own records later.
    #[must_use]
    pub fn starts_operation(
        &self,
        id: uuid::Uuid,
    ) -> Option<berth_domain::activity::ActivityRequest> {
        self.accepted
            .store(true, std::sync::atomic::Ordering::Relaxed);
        crate::activity::adopt_operation_id(id);
        crate::activity::current_request()
    }

    /// Appends `events` (a background job's own) to the chain in this transaction.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails or no chain key is set.
    pub async fn append(
        &self,
        events: &[berth_domain::activity::ActivityEvent],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let key = self.chain.as_ref().ok_or_else(|| {
            StoreError("activity records to write, but no activity chain key is set".to_owned())
        })?;
        let held = self.lease.lock().ok().and_then(|mut lease| lease.take());
        let mut lease = held.unwrap_or_else(|| self.chains.lease());
        let appended = activity_log::append_chained(&self.txn, key, &mut lease, events).await;
        if let Ok(mut held) = self.lease.lock() {
            *held = Some(lease);
        }
        appended
    }

    /// Appends the current request's records (unless an earlier commit carried them), then
    /// commits.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; nothing is written then.
    pub async fn commit(self) -> Result<(), StoreError> {
        let events = crate::activity::events_for_commit(
            self.accepted.load(std::sync::atomic::Ordering::Relaxed),
        );
        self.append(&events).await?;
        self.txn.commit().await.map_err(store_error)?;
        if let Some(lease) = self.lease.lock().ok().and_then(|mut lease| lease.take()) {
            lease.committed();
        }
        crate::activity::committed(&events);
        Ok(())
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: sea_orm::Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

async fn connect_sqlite(path: &Path, max: u32) -> Result<DatabaseConnection, DatabaseError> {
    let mut options = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    options
        .max_connections(max)
        .min_connections(1)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                // NORMAL is durable across process crashes in WAL mode.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
                // An insert that fires triggers (the activity chain's) keeps a statement
                // journal; on disk that was a temporary file created and unlinked for about
                // every fourth write. In memory it costs no system calls.
                .pragma("temp_store", "memory")
                // Up to 32 MiB of pages per connection (SQLite's default is 2 MiB), so the
                // activity log's list indexes stay cached instead of read back per write.
                .pragma("cache_size", "-32768")
        });
    connect(options, "sqlite").await
}

async fn connect(
    options: ConnectOptions,
    target: &str,
) -> Result<DatabaseConnection, DatabaseError> {
    SeaDatabase::connect(options)
        .await
        .map_err(|source| DatabaseError::Connect {
            target: target.to_owned(),
            source,
        })
}

/// Advances a change counter (`rbac`, `directory`) in the caller's transaction, so replicas
/// notice the write.
pub(crate) async fn bump_counter(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<(), StoreError> {
    use entities::rbac::change_counter;
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    change_counter::Entity::update_many()
        .col_expr(
            change_counter::Column::Value,
            Expr::col(change_counter::Column::Value).add(1),
        )
        .filter(change_counter::Column::Name.eq(name))
        .exec(conn)
        .await
        .map(|_| ())
        .map_err(store_error)
}

/// Reads a change counter.
pub(crate) async fn read_counter(
    conn: &impl ConnectionTrait,
    name: &str,
) -> Result<i64, StoreError> {
    use entities::rbac::change_counter;
    use sea_orm::EntityTrait;
    change_counter::Entity::find_by_id(name)
        .one(conn)
        .await
        .map_err(store_error)?
        .map(|c| c.value)
        .ok_or_else(|| StoreError(format!("the {name} change counter is missing")))
}

/// A time as stored: unix milliseconds.
pub(crate) fn millis(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A stored time back.
pub(crate) fn from_millis(ms: i64) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError(format!("stored timestamp {ms} is out of range: {e}")))
}

/// Turns a driver error into the domain's opaque store error (the text goes to logs only).
pub(crate) fn store_error(e: DbErr) -> StoreError {
    StoreError(e.to_string())
}

#[async_trait::async_trait]
impl berth_domain::store::Readiness for Database {
    async fn ready(&self) -> Result<(), StoreError> {
        self.ping().await
    }
}
