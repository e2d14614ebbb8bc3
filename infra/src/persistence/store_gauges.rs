//! What `/metrics` reads from the store at each scrape: the same answer from every replica,
//! since it is the database's (content-trust wipes and what they have left, the signing
//! keys' ages), and this replica's connection pools.

use super::entities::{operation, registry, signing_key, token_server_key, trusted_collection};
use super::{Database, store_error};
use berth_domain::store::StoreError;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

/// One gauge sample.
#[derive(Debug, Clone, PartialEq)]
pub struct GaugeSample {
    /// The metric's name.
    pub name: &'static str,
    /// What it measures.
    pub help: &'static str,
    /// Its labels (bounded values only).
    pub labels: Vec<(&'static str, String)>,
    /// Its value.
    pub value: f64,
}

/// Reads the store's gauges.
#[derive(Debug, Clone)]
pub struct StoreGauges {
    db: Database,
}

fn gauge(
    name: &'static str,
    help: &'static str,
    labels: Vec<(&'static str, String)>,
    value: f64,
) -> GaugeSample {
    GaugeSample {
        name,
        help,
        labels,
        value,
    }
}

#[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn pool(name: &'static str, conn: &DatabaseConnection) -> Vec<GaugeSample> {
    let (size, idle, max) = match conn.get_database_backend() {
        DbBackend::Postgres => {
            let p = conn.get_postgres_connection_pool();
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
        _ => {
            let p = conn.get_sqlite_connection_pool();
            (p.size(), p.num_idle(), p.options().get_max_connections())
        }
    };
    let in_use = f64::from(size) - idle as f64;
    vec![
        gauge(
            "berth_db_connections",
            "Connections of this replica's database pools, by pool and state.",
            vec![("pool", name.to_owned()), ("state", "idle".to_owned())],
            idle as f64,
        ),
        gauge(
            "berth_db_connections",
            "Connections of this replica's database pools, by pool and state.",
            vec![("pool", name.to_owned()), ("state", "in_use".to_owned())],
            in_use.max(0.0),
        ),
        gauge(
            "berth_db_connections_max",
            "The most connections each database pool of this replica opens.",
            vec![("pool", name.to_owned())],
            f64::from(max),
        ),
    ]
}

impl StoreGauges {
    /// The gauges of `db`.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Reads every gauge now (`now_ms`: unix milliseconds, for ages).
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    #[expect(clippy::cast_precision_loss, reason = "counts and ages far below 2^52")]
    pub async fn read(&self, now_ms: i64) -> Result<Vec<GaugeSample>, StoreError> {
        let reader = self.db.reader();
        let running = operation::Entity::find()
            .filter(operation::Column::Status.eq("InProgress"))
            .filter(operation::Column::Kind.eq("DisableContentTrust"))
            .count(reader)
            .await
            .map_err(store_error)?;
        let wiping: Vec<String> = registry::Entity::find()
            .filter(registry::Column::TrustWipe.is_not_null())
            .all(reader)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|r| r.key)
            .collect();
        let left = if wiping.is_empty() {
            0
        } else {
            trusted_collection::Entity::find()
                .filter(trusted_collection::Column::RegistryKey.is_in(wiping))
                .count(reader)
                .await
                .map_err(store_error)?
        };
        let mut out = vec![
            gauge(
                "berth_trust_wipes_running",
                "Content-trust wipes in progress (disables not yet finished).",
                Vec::new(),
                running as f64,
            ),
            gauge(
                "berth_trust_wipe_collections_left",
                "Trusted collections the running wipes have yet to delete.",
                Vec::new(),
                left as f64,
            ),
        ];
        let issuer = signing_key::Entity::find()
            .filter(signing_key::Column::RetiredAt.is_null())
            .order_by_desc(signing_key::Column::CreatedAt)
            .one(reader)
            .await
            .map_err(store_error)?
            .map(|k| k.created_at);
        let mut newest = vec![("issuer", issuer)];
        for (purpose, key_name) in [
            ("access-es256", "registry_access"),
            ("refresh-hs256", "registry_refresh"),
        ] {
            let created = token_server_key::Entity::find()
                .filter(token_server_key::Column::Purpose.eq(purpose))
                .filter(token_server_key::Column::RetiredAt.is_null())
                .order_by_desc(token_server_key::Column::CreatedAt)
                .one(reader)
                .await
                .map_err(store_error)?
                .map(|k| k.created_at);
            newest.push((key_name, created));
        }
        for (key_name, created) in newest {
            if let Some(created_ms) = created {
                out.push(gauge(
                    "berth_signing_key_age_seconds",
                    "Age of the key that signs now, by key.",
                    vec![("key", key_name.to_owned())],
                    ((now_ms - created_ms).max(0) as f64) / 1000.0,
                ));
            }
        }
        // SQLite has a pool of readers and one writer; PostgreSQL one pool for both.
        if self.db.reader().get_database_backend() == DbBackend::Postgres {
            out.extend(pool("main", self.db.reader()));
        } else {
            out.extend(pool("read", self.db.reader()));
            out.extend(pool("write", self.db.writer()));
        }
        Ok(out)
    }
}
