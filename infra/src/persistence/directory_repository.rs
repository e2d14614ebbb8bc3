//! The directory in SQL.

use super::entities::directory::{
    credential, external_link, group, member, service_principal, sp_name, user,
};
use super::{Database, bump_counter, from_millis, millis, read_counter, store_error};
use async_trait::async_trait;
use berth_domain::directory::{
    DirectoryObject, DirectoryRepository, DirectoryWriteError, Group, ObjectKind,
    PasswordCredential, ServicePrincipal, User,
};
use berth_domain::store::StoreError;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use std::collections::HashMap;
use tracing::instrument;
use uuid::Uuid;

/// The directory in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmDirectoryRepository {
    db: Database,
}

impl SeaOrmDirectoryRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

const COUNTER: &str = "directory";

fn write_error(e: DbErr) -> DirectoryWriteError {
    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        DirectoryWriteError::Conflict
    } else {
        DirectoryWriteError::Store(store_error(e))
    }
}

fn id(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text)
        .map_err(|e| StoreError(format!("stored object id '{text}' cannot be read: {e}")))
}

fn user_from_row(row: user::Model) -> Result<User, StoreError> {
    Ok(User {
        object_id: id(&row.object_id)?,
        user_principal_name: row.upn,
        display_name: row.display_name,
        mail_nickname: row.mail_nickname,
        account_enabled: row.account_enabled,
        password_hash: row.password_hash,
    })
}

fn group_from_row(row: group::Model) -> Result<Group, StoreError> {
    Ok(Group {
        object_id: id(&row.object_id)?,
        display_name: row.display_name,
        mail_nickname: row.mail_nickname,
        description: row.description,
    })
}

fn credential_row(sp: Uuid, c: &PasswordCredential) -> credential::ActiveModel {
    credential::ActiveModel {
        key_id: Set(c.key_id.to_string()),
        sp_object_id: Set(sp.to_string()),
        display_name: Set(c.display_name.clone()),
        hint: Set(c.hint.clone()),
        hash: Set(c.hash.clone()),
        start_at: Set(millis(c.start)),
        end_at: Set(millis(c.end)),
    }
}

async fn insert_user_row(conn: &impl ConnectionTrait, u: &User) -> Result<(), DirectoryWriteError> {
    let row = user::ActiveModel {
        object_id: Set(u.object_id.to_string()),
        upn: Set(u.user_principal_name.clone()),
        upn_key: Set(u.user_principal_name.to_lowercase()),
        display_name: Set(u.display_name.clone()),
        mail_nickname: Set(u.mail_nickname.clone()),
        account_enabled: Set(u.account_enabled),
        password_hash: Set(u.password_hash.clone()),
    };
    user::Entity::insert(row)
        .exec(conn)
        .await
        .map(|_| ())
        .map_err(write_error)
}

async fn insert_service_principal_rows(
    conn: &impl ConnectionTrait,
    sp: &ServicePrincipal,
) -> Result<(), DirectoryWriteError> {
    let row = service_principal::ActiveModel {
        object_id: Set(sp.object_id.to_string()),
        application_object_id: Set(sp.application_object_id.to_string()),
        app_id: Set(sp.app_id.to_string()),
        display_name: Set(sp.display_name.clone()),
        account_enabled: Set(sp.account_enabled),
        sessions_valid_after: Set(sp.sessions_valid_after.map(millis)),
    };
    service_principal::Entity::insert(row)
        .exec(conn)
        .await
        .map_err(write_error)?;
    for (position, name) in sp.service_principal_names.iter().enumerate() {
        let row = sp_name::ActiveModel {
            name_key: Set(name.to_lowercase()),
            name: Set(name.clone()),
            sp_object_id: Set(sp.object_id.to_string()),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        };
        sp_name::Entity::insert(row)
            .exec(conn)
            .await
            .map_err(write_error)?;
    }
    for c in &sp.credentials {
        credential::Entity::insert(credential_row(sp.object_id, c))
            .exec(conn)
            .await
            .map_err(write_error)?;
    }
    Ok(())
}

impl SeaOrmDirectoryRepository {
    /// Loads service principals with their names and credentials.
    async fn service_principals(
        &self,
        rows: Vec<service_principal::Model>,
    ) -> Result<Vec<ServicePrincipal>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|r| r.object_id.clone()).collect();
        let conn = self.db.reader();
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        for n in sp_name::Entity::find()
            .filter(sp_name::Column::SpObjectId.is_in(ids.clone()))
            .order_by_asc(sp_name::Column::Position)
            .all(conn)
            .await
            .map_err(store_error)?
        {
            names.entry(n.sp_object_id).or_default().push(n.name);
        }
        let mut credentials: HashMap<String, Vec<PasswordCredential>> = HashMap::new();
        for c in credential::Entity::find()
            .filter(credential::Column::SpObjectId.is_in(ids))
            .order_by_asc(credential::Column::StartAt)
            .all(conn)
            .await
            .map_err(store_error)?
        {
            credentials
                .entry(c.sp_object_id.clone())
                .or_default()
                .push(PasswordCredential {
                    key_id: id(&c.key_id)?,
                    display_name: c.display_name,
                    hint: c.hint,
                    hash: c.hash,
                    start: from_millis(c.start_at)?,
                    end: from_millis(c.end_at)?,
                });
        }
        rows.into_iter()
            .map(|row| {
                Ok(ServicePrincipal {
                    object_id: id(&row.object_id)?,
                    application_object_id: id(&row.application_object_id)?,
                    app_id: id(&row.app_id)?,
                    display_name: row.display_name,
                    service_principal_names: names.remove(&row.object_id).unwrap_or_default(),
                    account_enabled: row.account_enabled,
                    credentials: credentials.remove(&row.object_id).unwrap_or_default(),
                    sessions_valid_after: row.sessions_valid_after.map(from_millis).transpose()?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl DirectoryRepository for SeaOrmDirectoryRepository {
    #[instrument(skip_all, err, fields(object.id = %u.object_id))]
    async fn insert_user(&self, u: &User) -> Result<(), DirectoryWriteError> {
        let txn = self.db.begin_write().await?;
        insert_user_row(&txn, u).await?;
        txn.commit().await.map_err(DirectoryWriteError::Store)
    }

    #[instrument(skip_all, err, fields(object.id = %sp.object_id))]
    async fn insert_service_principal(
        &self,
        sp: &ServicePrincipal,
    ) -> Result<(), DirectoryWriteError> {
        let txn = self.db.begin_write().await?;
        insert_service_principal_rows(&txn, sp).await?;
        txn.commit().await.map_err(DirectoryWriteError::Store)
    }

    #[instrument(skip_all, err)]
    async fn find_external(&self, issuer: &str, subject: &str) -> Result<Option<Uuid>, StoreError> {
        external_link::Entity::find_by_id((issuer.to_owned(), subject.to_owned()))
            .one(self.db.writer())
            .await
            .map_err(store_error)?
            .map(|row| id(&row.object_id))
            .transpose()
    }

    #[instrument(skip_all, err, fields(object.id = %object.object_id()))]
    async fn insert_external(
        &self,
        issuer: &str,
        subject: &str,
        object: &DirectoryObject,
    ) -> Result<(), DirectoryWriteError> {
        let txn = self.db.begin_write().await?;
        let link = external_link::ActiveModel {
            issuer: Set(issuer.to_owned()),
            subject: Set(subject.to_owned()),
            object_id: Set(object.object_id().to_string()),
            created_at: Set(millis(time::OffsetDateTime::now_utc())),
        };
        external_link::Entity::insert(link)
            .exec(&txn)
            .await
            .map_err(write_error)?;
        match object {
            DirectoryObject::User(u) => insert_user_row(&txn, u).await?,
            DirectoryObject::ServicePrincipal(sp) => {
                insert_service_principal_rows(&txn, sp).await?
            }
            DirectoryObject::Group(_) => return Err(DirectoryWriteError::NotFound),
        }
        txn.commit().await.map_err(DirectoryWriteError::Store)
    }

    #[instrument(skip_all, err, fields(object.id = %sp))]
    async fn add_credential(
        &self,
        sp: Uuid,
        c: &PasswordCredential,
    ) -> Result<(), DirectoryWriteError> {
        let txn = self.db.begin_write().await?;
        let exists = service_principal::Entity::find_by_id(sp.to_string())
            .one(&txn)
            .await
            .map_err(write_error)?;
        if exists.is_none() {
            return Err(DirectoryWriteError::NotFound);
        }
        credential::Entity::insert(credential_row(sp, c))
            .exec(&txn)
            .await
            .map_err(write_error)?;
        txn.commit().await.map_err(DirectoryWriteError::Store)
    }

    #[instrument(skip_all, err, fields(object.id = %sp))]
    async fn remove_credential(&self, sp: Uuid, key_id: Uuid) -> Result<bool, StoreError> {
        // The credential goes, and the sessions it may have opened with it: tokens issued
        // before now are refused from now on, on every replica (the counter moves).
        let txn = self.db.begin_write().await?;
        let done = credential::Entity::delete_many()
            .filter(credential::Column::SpObjectId.eq(sp.to_string()))
            .filter(credential::Column::KeyId.eq(key_id.to_string()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if done.rows_affected == 1 {
            service_principal::Entity::update_many()
                .col_expr(
                    service_principal::Column::SessionsValidAfter,
                    sea_orm::sea_query::Expr::value(millis(time::OffsetDateTime::now_utc())),
                )
                .filter(service_principal::Column::ObjectId.eq(sp.to_string()))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            bump_counter(&txn, COUNTER).await?;
        }
        txn.commit().await?;
        Ok(done.rows_affected == 1)
    }

    #[instrument(skip_all, err, fields(object.id = %g.object_id))]
    async fn insert_group(&self, g: &Group) -> Result<(), DirectoryWriteError> {
        let row = group::ActiveModel {
            object_id: Set(g.object_id.to_string()),
            display_name: Set(g.display_name.clone()),
            mail_nickname: Set(g.mail_nickname.clone()),
            description: Set(g.description.clone()),
        };
        let txn = self.db.begin_write().await?;
        group::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(write_error)?;
        txn.commit().await.map_err(DirectoryWriteError::Store)
    }

    #[instrument(skip_all, err, fields(group.id = %g, member.id = %m))]
    async fn add_member(&self, g: Uuid, m: Uuid) -> Result<(), DirectoryWriteError> {
        let txn = self.db.begin_write().await?;
        let row = member::ActiveModel {
            group_id: Set(g.to_string()),
            member_id: Set(m.to_string()),
        };
        member::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(write_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await.map_err(DirectoryWriteError::Store)
    }

    #[instrument(skip_all, err, fields(group.id = %g, member.id = %m))]
    async fn remove_member(&self, g: Uuid, m: Uuid) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().await?;
        let done = member::Entity::delete_many()
            .filter(member::Column::GroupId.eq(g.to_string()))
            .filter(member::Column::MemberId.eq(m.to_string()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await?;
        Ok(done.rows_affected == 1)
    }

    async fn groups_of(&self, m: Uuid) -> Result<Vec<Uuid>, StoreError> {
        member::Entity::find()
            .filter(member::Column::MemberId.eq(m.to_string()))
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .iter()
            .map(|r| id(&r.group_id))
            .collect()
    }

    async fn members_of(&self, g: Uuid) -> Result<Vec<Uuid>, StoreError> {
        member::Entity::find()
            .filter(member::Column::GroupId.eq(g.to_string()))
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .iter()
            .map(|r| id(&r.member_id))
            .collect()
    }

    #[instrument(skip_all, err)]
    async fn get_objects(&self, ids: &[Uuid]) -> Result<Vec<DirectoryObject>, StoreError> {
        let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let conn = self.db.reader();
        let mut found = Vec::new();
        for row in user::Entity::find()
            .filter(user::Column::ObjectId.is_in(keys.clone()))
            .all(conn)
            .await
            .map_err(store_error)?
        {
            found.push(DirectoryObject::User(user_from_row(row)?));
        }
        let sps = service_principal::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(service_principal::Column::ObjectId.is_in(keys.clone()))
                    .add(service_principal::Column::ApplicationObjectId.is_in(keys.clone())),
            )
            .all(conn)
            .await
            .map_err(store_error)?;
        found.extend(
            self.service_principals(sps)
                .await?
                .into_iter()
                .map(DirectoryObject::ServicePrincipal),
        );
        for row in group::Entity::find()
            .filter(group::Column::ObjectId.is_in(keys))
            .all(conn)
            .await
            .map_err(store_error)?
        {
            found.push(DirectoryObject::Group(group_from_row(row)?));
        }
        Ok(found)
    }

    async fn find_user(&self, upn: &str) -> Result<Option<User>, StoreError> {
        user::Entity::find()
            .filter(user::Column::UpnKey.eq(upn.to_lowercase()))
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .map(user_from_row)
            .transpose()
    }

    async fn find_service_principal(
        &self,
        name: &str,
    ) -> Result<Option<ServicePrincipal>, StoreError> {
        let Some(link) = sp_name::Entity::find_by_id(name.to_lowercase())
            .one(self.db.reader())
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let rows = service_principal::Entity::find_by_id(link.sp_object_id)
            .all(self.db.reader())
            .await
            .map_err(store_error)?;
        Ok(self.service_principals(rows).await?.pop())
    }

    async fn version(&self) -> Result<i64, StoreError> {
        read_counter(self.db.reader(), COUNTER).await
    }

    async fn list(
        &self,
        kind: ObjectKind,
        after: Option<Uuid>,
        top: u64,
    ) -> Result<Vec<DirectoryObject>, StoreError> {
        let conn = self.db.reader();
        // Object ids are stored as lowercase hyphenated text, so text order is id order.
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        Ok(match kind {
            ObjectKind::User => user::Entity::find()
                .filter(user::Column::ObjectId.gt(after))
                .order_by_asc(user::Column::ObjectId)
                .limit(top)
                .all(conn)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|r| user_from_row(r).map(DirectoryObject::User))
                .collect::<Result<_, _>>()?,
            ObjectKind::Group => group::Entity::find()
                .filter(group::Column::ObjectId.gt(after))
                .order_by_asc(group::Column::ObjectId)
                .limit(top)
                .all(conn)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|r| group_from_row(r).map(DirectoryObject::Group))
                .collect::<Result<_, _>>()?,
            ObjectKind::ServicePrincipal => {
                let rows = service_principal::Entity::find()
                    .filter(service_principal::Column::ObjectId.gt(after))
                    .order_by_asc(service_principal::Column::ObjectId)
                    .limit(top)
                    .all(conn)
                    .await
                    .map_err(store_error)?;
                self.service_principals(rows)
                    .await?
                    .into_iter()
                    .map(DirectoryObject::ServicePrincipal)
                    .collect()
            }
        })
    }

    #[instrument(skip_all, err, fields(object.id = %object))]
    async fn delete_object(&self, object: Uuid) -> Result<bool, StoreError> {
        let key = object.to_string();
        let txn = self.db.begin_write().await?;
        let mut deleted = 0;
        deleted += user::Entity::delete_by_id(key.clone())
            .exec(&txn)
            .await
            .map_err(store_error)?
            .rows_affected;
        deleted += group::Entity::delete_by_id(key.clone())
            .exec(&txn)
            .await
            .map_err(store_error)?
            .rows_affected;
        deleted += service_principal::Entity::delete_by_id(key.clone())
            .exec(&txn)
            .await
            .map_err(store_error)?
            .rows_affected;
        sp_name::Entity::delete_many()
            .filter(sp_name::Column::SpObjectId.eq(key.clone()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        credential::Entity::delete_many()
            .filter(credential::Column::SpObjectId.eq(key.clone()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        external_link::Entity::delete_many()
            .filter(external_link::Column::ObjectId.eq(key.clone()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        member::Entity::delete_many()
            .filter(
                sea_orm::Condition::any()
                    .add(member::Column::MemberId.eq(key.clone()))
                    .add(member::Column::GroupId.eq(key)),
            )
            .exec(&txn)
            .await
            .map_err(store_error)?;
        bump_counter(&txn, COUNTER).await?;
        txn.commit().await?;
        Ok(deleted > 0)
    }
}
