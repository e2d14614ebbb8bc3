//! The embedded trust server's TUF metadata in SQL: `tuf_files` and `tuf_changes`.

use super::entities::{registry, tuf_change, tuf_file};
use super::repositories::registry_from_row;
use super::{Database, from_millis, millis, store_error};
use async_trait::async_trait;
use berth_domain::store::StoreError;
use berth_notary::encoding::sha256_hex;
use berth_notary::{
    ChangeCategory, ChangeWindow, MetaUpdate, RoleName, StoredTufFile, TufChange, TufMetadataStore,
    TufSelector, TufWriteError, WriteGate,
};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    TransactionTrait,
};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// TUF metadata in SQL (SQLite or PostgreSQL).
#[derive(Debug, Clone)]
pub struct SeaOrmTufStore {
    db: Database,
}

impl SeaOrmTufStore {
    /// Builds the store.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Whether the registry whose login server begins `gun` accepts trust data, read in `txn`.
/// On PostgreSQL the row is locked for share until `txn` ends, so a disable (an update of
/// the row) waits for the write, and the wipe after it sees what was written; SQLite has one
/// writer, which serializes them alike.
pub(super) async fn accepts_trust_data(
    txn: &impl ConnectionTrait,
    gun: &str,
) -> Result<bool, StoreError> {
    let Some((login_server, _)) = gun.split_once('/') else {
        return Ok(false);
    };
    let row = registry::Entity::find()
        .filter(registry::Column::LoginServer.eq(login_server))
        .lock_shared()
        .one(txn)
        .await
        .map_err(store_error)?;
    Ok(match row {
        Some(row) => registry_from_row(row)?.trust_push_allowed(),
        None => false,
    })
}

fn role_of(name: &str) -> Result<RoleName, StoreError> {
    RoleName::parse(name).map_err(|e| StoreError(format!("stored role: {e}")))
}

fn file_of(row: tuf_file::Model) -> Result<StoredTufFile, StoreError> {
    Ok(StoredTufFile {
        role: role_of(&row.role)?,
        version: row.version,
        sha256: row.sha256,
        data: row.data,
        stored_at: from_millis(row.created_at)?,
    })
}

fn change_of(row: tuf_change::Model) -> Result<TufChange, StoreError> {
    let category = match row.category.as_str() {
        "update" => ChangeCategory::Update,
        "deletion" => ChangeCategory::Deletion,
        other => return Err(StoreError(format!("stored change category '{other}'"))),
    };
    Ok(TufChange {
        id: row.id,
        gun: row.gun,
        version: row.version,
        sha256: row.sha256,
        category,
        created_at: from_millis(row.created_at)?,
    })
}

/// The newest stored version of each role of `gun`.
async fn versions<C: ConnectionTrait>(
    conn: &C,
    gun: &str,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let rows: Vec<(String, Option<i64>)> = tuf_file::Entity::find()
        .select_only()
        .column(tuf_file::Column::Role)
        .column_as(
            Expr::from(Func::max(Expr::col(tuf_file::Column::Version))),
            "newest",
        )
        .filter(tuf_file::Column::Gun.eq(gun))
        .group_by(tuf_file::Column::Role)
        .into_tuple()
        .all(conn)
        .await
        .map_err(store_error)?;
    Ok(rows
        .into_iter()
        .filter_map(|(role, newest)| newest.map(|v| (role, v)))
        .collect())
}

async fn record_change<C: ConnectionTrait>(
    conn: &C,
    gun: &str,
    version: i64,
    sha256: String,
    category: ChangeCategory,
    now: i64,
) -> Result<(), StoreError> {
    tuf_change::Entity::insert(tuf_change::ActiveModel {
        id: NotSet,
        gun: Set(gun.to_owned()),
        version: Set(version),
        sha256: Set(sha256),
        category: Set(category.as_str().to_owned()),
        created_at: Set(now),
    })
    .exec(conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl TufMetadataStore for SeaOrmTufStore {
    async fn current(&self, gun: &str) -> Result<BTreeMap<RoleName, Vec<u8>>, StoreError> {
        let mut files = BTreeMap::new();
        for (role, version) in versions(self.db.writer(), gun).await? {
            let row = tuf_file::Entity::find()
                .filter(tuf_file::Column::Gun.eq(gun))
                .filter(tuf_file::Column::Role.eq(role.as_str()))
                .filter(tuf_file::Column::Version.eq(version))
                .one(self.db.writer())
                .await
                .map_err(store_error)?;
            if let Some(row) = row {
                files.insert(role_of(&row.role)?, row.data);
            }
        }
        Ok(files)
    }

    async fn get(
        &self,
        gun: &str,
        role: &RoleName,
        which: &TufSelector,
    ) -> Result<Option<StoredTufFile>, StoreError> {
        let query = tuf_file::Entity::find()
            .filter(tuf_file::Column::Gun.eq(gun))
            .filter(tuf_file::Column::Role.eq(role.as_str()));
        let query = match which {
            TufSelector::Current => query.order_by_desc(tuf_file::Column::Version),
            TufSelector::Version(v) => query.filter(tuf_file::Column::Version.eq(*v)),
            TufSelector::Checksum(sum) => query
                .filter(tuf_file::Column::Sha256.eq(sum.to_ascii_lowercase()))
                .order_by_desc(tuf_file::Column::Version),
        };
        query
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .map(file_of)
            .transpose()
    }

    async fn update(
        &self,
        gun: &str,
        files: &[MetaUpdate],
        gate: WriteGate,
    ) -> Result<(), TufWriteError> {
        if files.is_empty() {
            return Ok(());
        }
        let now = millis(OffsetDateTime::now_utc());
        let txn = self.db.writer().begin().await.map_err(store_error)?;
        if gate == WriteGate::RegistryAcceptsTrustData && !accepts_trust_data(&txn, gun).await? {
            return Err(TufWriteError::NotAccepted {
                gun: gun.to_owned(),
            });
        }
        let stored = versions(&txn, gun).await?;
        let old = |role: &RoleName| TufWriteError::OldVersion {
            gun: gun.to_owned(),
            role: role.clone(),
        };
        for file in files {
            if stored
                .get(file.role.as_str())
                .is_some_and(|newest| *newest >= file.version)
            {
                return Err(old(&file.role));
            }
        }
        let sums: Vec<String> = files.iter().map(|f| sha256_hex(&f.data)).collect();
        let rows = files
            .iter()
            .zip(&sums)
            .map(|(f, sum)| tuf_file::ActiveModel {
                id: NotSet,
                gun: Set(gun.to_owned()),
                role: Set(f.role.as_str().to_owned()),
                version: Set(f.version),
                sha256: Set(sum.clone()),
                data: Set(f.data.clone()),
                created_at: Set(now),
            });
        if let Err(e) = tuf_file::Entity::insert_many(rows).exec(&txn).await {
            // A concurrent update stored one of these versions first.
            if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                return Err(old(&files[0].role));
            }
            return Err(store_error(e).into());
        }
        if let Some((timestamp, sum)) = files
            .iter()
            .zip(sums)
            .find(|(f, _)| f.role == RoleName::Timestamp)
        {
            record_change(
                &txn,
                gun,
                timestamp.version,
                sum,
                ChangeCategory::Update,
                now,
            )
            .await?;
        }
        txn.commit().await.map_err(|e| {
            if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                old(&files[0].role)
            } else {
                store_error(e).into()
            }
        })
    }

    async fn delete(&self, gun: &str) -> Result<bool, StoreError> {
        let txn = self.db.writer().begin().await.map_err(store_error)?;
        let deleted = tuf_file::Entity::delete_many()
            .filter(tuf_file::Column::Gun.eq(gun))
            .exec(&txn)
            .await
            .map_err(store_error)?
            .rows_affected;
        if deleted > 0 {
            let now = millis(OffsetDateTime::now_utc());
            record_change(&txn, gun, 0, String::new(), ChangeCategory::Deletion, now).await?;
        }
        txn.commit().await.map_err(store_error)?;
        Ok(deleted > 0)
    }

    async fn changes(
        &self,
        window: ChangeWindow,
        limit: u64,
        gun: Option<&str>,
    ) -> Result<Vec<TufChange>, StoreError> {
        let mut query = tuf_change::Entity::find();
        if let Some(gun) = gun {
            query = query.filter(tuf_change::Column::Gun.eq(gun));
        }
        let query = match window {
            ChangeWindow::After(after) => query
                .filter(tuf_change::Column::Id.gt(after))
                .order_by_asc(tuf_change::Column::Id),
            ChangeWindow::Before(before) => match before {
                Some(before) => query.filter(tuf_change::Column::Id.lt(before)),
                None => query,
            }
            .order_by_desc(tuf_change::Column::Id),
        };
        let mut changes = query
            .limit(limit)
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(change_of)
            .collect::<Result<Vec<_>, _>>()?;
        if matches!(window, ChangeWindow::Before(_)) {
            changes.reverse();
        }
        Ok(changes)
    }

    async fn guns(&self) -> Result<Vec<String>, StoreError> {
        tuf_file::Entity::find()
            .select_only()
            .column(tuf_file::Column::Gun)
            .distinct()
            .order_by_asc(tuf_file::Column::Gun)
            .into_tuple()
            .all(self.db.reader())
            .await
            .map_err(|e: DbErr| store_error(e))
    }
}
