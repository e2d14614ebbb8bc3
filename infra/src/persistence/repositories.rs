//! sea-orm implementations of the domain's storage ports.

use super::entities::{
    admin_password, operation, registry, resource_group, scope_map, subscription,
    trusted_collection,
};
use super::{Database, from_millis, millis, store_error};
use async_trait::async_trait;
use berth_domain::arm::{
    ETag, Location, ProvisioningState, RegistryId, ResourceGroupId, ResourceGroupName,
    SubscriptionId, SystemData, Tags,
};
use berth_domain::operation::{
    Operation, OperationFailure, OperationId, OperationKind, OperationRepository, OperationStatus,
};
use berth_domain::registry::{
    AdminPasswordRepository, ContentTrust, Identity, Registry, RegistryChange, RegistryError,
    RegistryName, RegistryRepository, RegistrySettings, RegistryWriteError, Sku,
};
use berth_domain::resource_group::{
    ResourceGroup, ResourceGroupRepository, ResourceGroupWriteError,
};
use berth_domain::store::{Page, PageRequest, StoreError};
use berth_domain::subscription::{Subscription, SubscriptionRepository};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use tracing::instrument;

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError(format!("stored {what} cannot be read: {detail}"))
}

fn tags_to_json(tags: &Tags) -> String {
    serde_json::to_string(tags.as_map()).unwrap_or_else(|_| "{}".to_owned())
}

fn tags_from_json(text: &str) -> Result<Tags, StoreError> {
    let map: BTreeMap<String, String> =
        serde_json::from_str(text).map_err(|e| corrupt("tags", e))?;
    Tags::parse(map).map_err(|e| corrupt("tags", e))
}

fn state(text: &str) -> Result<ProvisioningState, StoreError> {
    ProvisioningState::parse(text).ok_or_else(|| corrupt("provisioning state", text))
}

fn page_filter<C: ColumnTrait>(key: C, page: &PageRequest) -> Condition {
    match &page.after {
        Some(after) => Condition::all().add(key.gt(after.clone())),
        None => Condition::all(),
    }
}

// ---------------------------------------------------------------- subscriptions

/// Subscriptions in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmSubscriptionRepository {
    db: Database,
}

impl SeaOrmSubscriptionRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn subscription_from_row(row: subscription::Model) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: SubscriptionId::parse(&row.id).map_err(|e| corrupt("subscription id", e))?,
        display_name: row.display_name,
        tenant_id: uuid::Uuid::parse_str(&row.tenant_id).map_err(|e| corrupt("tenant id", e))?,
        state: row.state,
    })
}

#[async_trait]
impl SubscriptionRepository for SeaOrmSubscriptionRepository {
    #[instrument(skip_all, err)]
    async fn list(&self) -> Result<Vec<Subscription>, StoreError> {
        subscription::Entity::find()
            .order_by_asc(subscription::Column::CreatedAt)
            .all(self.db.reader())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(subscription_from_row)
            .collect()
    }

    #[instrument(skip_all, err, fields(subscription.id = %id))]
    async fn get(&self, id: SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        subscription::Entity::find_by_id(id.to_string())
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .map(subscription_from_row)
            .transpose()
    }

    #[instrument(skip_all, err, fields(subscription.id = %s.id))]
    async fn insert_if_absent(&self, s: &Subscription) -> Result<(), StoreError> {
        let row = subscription::ActiveModel {
            id: Set(s.id.to_string()),
            display_name: Set(s.display_name.clone()),
            tenant_id: Set(s.tenant_id.to_string()),
            state: Set(s.state.clone()),
            created_at: Set(millis(OffsetDateTime::now_utc())),
        };
        subscription::Entity::insert(row)
            .on_conflict_do_nothing_on([subscription::Column::Id])
            .exec(self.db.writer())
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}

// ---------------------------------------------------------------- resource groups

/// Resource groups in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmResourceGroupRepository {
    db: Database,
}

impl SeaOrmResourceGroupRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn group_from_row(row: resource_group::Model) -> Result<ResourceGroup, StoreError> {
    Ok(ResourceGroup {
        id: ResourceGroupId {
            subscription: SubscriptionId::parse(&row.subscription_id)
                .map_err(|e| corrupt("subscription id", e))?,
            name: ResourceGroupName::parse(&row.name)
                .map_err(|e| corrupt("resource group name", e))?,
        },
        location: Location::parse(&row.location).map_err(|e| corrupt("location", e))?,
        tags: tags_from_json(&row.tags)?,
        managed_by: row.managed_by,
        provisioning_state: state(&row.provisioning_state)?,
        etag: ETag::from_stored(row.etag),
    })
}

fn group_to_row(g: &ResourceGroup, now: i64) -> resource_group::ActiveModel {
    resource_group::ActiveModel {
        key: Set(g.id.key()),
        subscription_id: Set(g.id.subscription.to_string()),
        name: Set(g.id.name.to_string()),
        location: Set(g.location.as_str().to_owned()),
        tags: Set(tags_to_json(&g.tags)),
        managed_by: Set(g.managed_by.clone()),
        provisioning_state: Set(g.provisioning_state.as_str().to_owned()),
        etag: Set(g.etag.as_str().to_owned()),
        created_at: Set(now),
        changed_at: Set(now),
    }
}

#[async_trait]
impl ResourceGroupRepository for SeaOrmResourceGroupRepository {
    #[instrument(skip_all, err, fields(resource_group = %id))]
    async fn get(&self, id: &ResourceGroupId) -> Result<Option<ResourceGroup>, StoreError> {
        resource_group::Entity::find_by_id(id.key())
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .map(group_from_row)
            .transpose()
    }

    #[instrument(skip_all, err, fields(resource_group = %g.id))]
    async fn insert(&self, g: &ResourceGroup) -> Result<(), ResourceGroupWriteError> {
        let row = group_to_row(g, millis(OffsetDateTime::now_utc()));
        let txn = self.db.begin_write().await?;
        resource_group::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(|e| {
                if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                    ResourceGroupWriteError::Conflict
                } else {
                    ResourceGroupWriteError::Store(store_error(e))
                }
            })?;
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(resource_group = %g.id))]
    async fn update(
        &self,
        g: &ResourceGroup,
        expected: &ETag,
    ) -> Result<(), ResourceGroupWriteError> {
        let mut row = group_to_row(g, millis(OffsetDateTime::now_utc()));
        row.created_at = sea_orm::ActiveValue::NotSet;
        let txn = self.db.begin_write().await?;
        let done = resource_group::Entity::update_many()
            .set(row)
            .filter(resource_group::Column::Key.eq(g.id.key()))
            .filter(resource_group::Column::Etag.eq(expected.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if done.rows_affected != 1 {
            return Err(ResourceGroupWriteError::Conflict);
        }
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(subscription.id = %subscription))]
    async fn list(
        &self,
        subscription: SubscriptionId,
        page: &PageRequest,
    ) -> Result<Page<ResourceGroup>, StoreError> {
        let rows = resource_group::Entity::find()
            .filter(resource_group::Column::SubscriptionId.eq(subscription.to_string()))
            .filter(page_filter(resource_group::Column::Key, page))
            .order_by_asc(resource_group::Column::Key)
            .limit(u64::from(page.top) + 1)
            .all(self.db.reader())
            .await
            .map_err(store_error)?;
        let groups = rows
            .into_iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(groups, page.top, |g| g.id.key()))
    }

    #[instrument(skip_all, err, fields(resource_group = %id, operation.id = %op.id))]
    async fn begin_delete(
        &self,
        id: &ResourceGroupId,
        expected: &ETag,
        op: &Operation,
    ) -> Result<(), ResourceGroupWriteError> {
        let txn = self.db.begin_write().await?;
        let marked = resource_group::Entity::update_many()
            .col_expr(
                resource_group::Column::ProvisioningState,
                Expr::value(ProvisioningState::Deleting.as_str()),
            )
            .col_expr(
                resource_group::Column::Etag,
                Expr::value(ETag::generate().as_str()),
            )
            .filter(resource_group::Column::Key.eq(id.key()))
            .filter(resource_group::Column::Etag.eq(expected.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if marked.rows_affected != 1 {
            return Err(ResourceGroupWriteError::Conflict);
        }
        registry::Entity::update_many()
            .col_expr(
                registry::Column::ProvisioningState,
                Expr::value(ProvisioningState::Deleting.as_str()),
            )
            .filter(registry::Column::GroupKey.eq(id.key()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        insert_operation(&txn, op).await?;
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(resource_group = %id))]
    async fn delete(&self, id: &ResourceGroupId) -> Result<(), StoreError> {
        resource_group::Entity::delete_by_id(id.key())
            .exec(self.db.writer())
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}

// ---------------------------------------------------------------- registries

/// Registries in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmRegistryRepository {
    db: Database,
}

impl SeaOrmRegistryRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Where the settings document keeps content trust's policy status (the running wipe is a
/// column of its own), as it always has: rows written before the state machine existed,
/// and replicas of another version, read it there.
const TRUST_ENABLED: &str = "trustEnabled";

pub(super) fn registry_from_row(row: registry::Model) -> Result<Registry, StoreError> {
    // Parsed once: the settings, and the policy status beside them.
    let document: serde_json::Value =
        serde_json::from_str(&row.settings).map_err(|e| corrupt("registry settings", e))?;
    let trust_enabled = document["policies"][TRUST_ENABLED]
        .as_bool()
        .unwrap_or(false);
    let settings = <RegistrySettings as serde::Deserialize>::deserialize(&document)
        .map_err(|e| corrupt("registry settings", e))?;
    let wipe = row
        .trust_wipe
        .as_deref()
        .map(|id| OperationId::parse(id).ok_or_else(|| corrupt("trust wipe operation", id)))
        .transpose()?;
    let identity: Option<Identity> = row
        .identity
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| corrupt("registry identity", e))?;
    Ok(Registry {
        id: RegistryId {
            resource_group: ResourceGroupId {
                subscription: SubscriptionId::parse(&row.subscription_id)
                    .map_err(|e| corrupt("subscription id", e))?,
                name: ResourceGroupName::parse(&row.group_name)
                    .map_err(|e| corrupt("resource group name", e))?,
            },
            name: RegistryName::parse(&row.name).map_err(|e| corrupt("registry name", e))?,
        },
        location: Location::parse(&row.location).map_err(|e| corrupt("location", e))?,
        sku: Sku::parse(&row.sku).map_err(|e| corrupt("sku", e))?,
        tags: tags_from_json(&row.tags)?,
        identity,
        settings,
        login_server: row.login_server,
        creation_date: from_millis(row.created_at)?,
        provisioning_state: state(&row.provisioning_state)?,
        etag: ETag::from_stored(row.etag),
        content_trust: ContentTrust::from_stored(trust_enabled, wipe),
        system_data: SystemData {
            created_by: row.created_by,
            created_by_type: row.created_by_type,
            created_at: from_millis(row.created_at)?,
            last_modified_by: row.last_modified_by,
            last_modified_by_type: row.last_modified_by_type,
            last_modified_at: from_millis(row.last_modified_at)?,
        },
    })
}

fn registry_to_row(r: &Registry) -> Result<registry::ActiveModel, StoreError> {
    let mut settings = serde_json::to_value(&r.settings).map_err(|e| StoreError(e.to_string()))?;
    if let Some(policies) = settings
        .get_mut("policies")
        .and_then(serde_json::Value::as_object_mut)
    {
        policies.insert(
            TRUST_ENABLED.to_owned(),
            serde_json::Value::Bool(r.content_trust.policy_enabled()),
        );
    }
    let settings = settings.to_string();
    let identity = r
        .identity
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError(e.to_string()))?;
    Ok(registry::ActiveModel {
        key: Set(r.id.key()),
        name_key: Set(r.id.name.key()),
        subscription_id: Set(r.id.resource_group.subscription.to_string()),
        group_key: Set(r.id.resource_group.key()),
        group_name: Set(r.id.resource_group.name.to_string()),
        name: Set(r.id.name.to_string()),
        location: Set(r.location.as_str().to_owned()),
        sku: Set(r.sku.as_str().to_owned()),
        tags: Set(tags_to_json(&r.tags)),
        identity: Set(identity),
        settings: Set(settings),
        login_server: Set(r.login_server.clone()),
        provisioning_state: Set(r.provisioning_state.as_str().to_owned()),
        etag: Set(r.etag.as_str().to_owned()),
        created_at: Set(millis(r.system_data.created_at)),
        created_by: Set(r.system_data.created_by.clone()),
        created_by_type: Set(r.system_data.created_by_type.clone()),
        last_modified_at: Set(millis(r.system_data.last_modified_at)),
        last_modified_by: Set(r.system_data.last_modified_by.clone()),
        last_modified_by_type: Set(r.system_data.last_modified_by_type.clone()),
        trust_wipe: Set(r.content_trust.wipe().map(|id| id.to_string())),
    })
}

impl SeaOrmRegistryRepository {
    async fn list_where(
        &self,
        condition: Condition,
        page: &PageRequest,
    ) -> Result<Page<Registry>, StoreError> {
        let rows = registry::Entity::find()
            .filter(condition)
            .filter(page_filter(registry::Column::Key, page))
            .order_by_asc(registry::Column::Key)
            .limit(u64::from(page.top) + 1)
            .all(self.db.reader())
            .await
            .map_err(store_error)?;
        let registries = rows
            .into_iter()
            .map(registry_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(registries, page.top, |r| r.id.key()))
    }
}

#[async_trait]
impl RegistryRepository for SeaOrmRegistryRepository {
    #[instrument(skip_all, err, fields(registry.name = %id.name))]
    async fn get(&self, id: &RegistryId) -> Result<Option<Registry>, StoreError> {
        registry::Entity::find_by_id(id.key())
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .map(registry_from_row)
            .transpose()
    }

    #[instrument(skip_all, err, fields(registry.name = %name))]
    async fn find_by_name(&self, name: &RegistryName) -> Result<Option<Registry>, StoreError> {
        registry::Entity::find()
            .filter(registry::Column::NameKey.eq(name.key()))
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .map(registry_from_row)
            .transpose()
    }

    #[instrument(skip_all, err, fields(registry.name = %r.id.name))]
    async fn insert(&self, r: &Registry) -> Result<(), RegistryWriteError> {
        let row = registry_to_row(r)?;
        let txn = self.db.begin_write().await?;
        let group = resource_group::Entity::find_by_id(r.id.resource_group.key())
            .one(&txn)
            .await
            .map_err(store_error)?;
        if group.is_none_or(|g| g.provisioning_state == ProvisioningState::Deleting.as_str()) {
            return Err(RegistryWriteError::ResourceGroupGone);
        }
        registry::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(|e: DbErr| {
                if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                    RegistryWriteError::NameTaken
                } else {
                    RegistryWriteError::Store(store_error(e))
                }
            })?;
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, fields(registry.name = %id.name))]
    async fn update_with(
        &self,
        id: &RegistryId,
        change: RegistryChange<'_>,
    ) -> Result<(Registry, Option<Operation>), RegistryError> {
        // The writer connection serializes SQLite writers; on PostgreSQL the row lock does.
        let txn = self.db.begin_write().await?;
        let row = registry::Entity::find_by_id(id.key())
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                RegistryError::NotFound(id.name.to_string(), id.resource_group.name.to_string())
            })?;
        let current = registry_from_row(row)?;
        let (next, started) = change(&current)?;
        let (was, is) = (current.content_trust, next.content_trust);
        if is == ContentTrust::Enabled && was != ContentTrust::Enabled {
            crate::activity::describe(
                "Content trust enabled: signers may push trust data.".to_owned(),
            );
        } else if is.wipe().is_some() && was.wipe().is_none() {
            crate::activity::describe(
                "Content trust disabled: every trusted collection of the registry is wiped."
                    .to_owned(),
            );
        }
        let mut row = registry_to_row(&next)?;
        row.key = sea_orm::ActiveValue::NotSet;
        registry::Entity::update_many()
            .set(row)
            .filter(registry::Column::Key.eq(id.key()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if let Some(op) = &started {
            insert_operation(&txn, op).await?;
        }
        txn.commit().await?;
        Ok((next, started))
    }

    async fn list_by_resource_group(
        &self,
        group: &ResourceGroupId,
        page: &PageRequest,
    ) -> Result<Page<Registry>, StoreError> {
        self.list_where(
            Condition::all().add(registry::Column::GroupKey.eq(group.key())),
            page,
        )
        .await
    }

    async fn list_by_subscription(
        &self,
        subscription: SubscriptionId,
        page: &PageRequest,
    ) -> Result<Page<Registry>, StoreError> {
        self.list_where(
            Condition::all().add(registry::Column::SubscriptionId.eq(subscription.to_string())),
            page,
        )
        .await
    }

    #[instrument(skip_all, err, fields(registry.name = %id.name, operation.id = %op.id))]
    async fn begin_delete(
        &self,
        id: &RegistryId,
        expected: &ETag,
        op: &Operation,
    ) -> Result<(), RegistryWriteError> {
        let txn = self.db.begin_write().await?;
        let marked = registry::Entity::update_many()
            .col_expr(
                registry::Column::ProvisioningState,
                Expr::value(ProvisioningState::Deleting.as_str()),
            )
            .col_expr(
                registry::Column::Etag,
                Expr::value(ETag::generate().as_str()),
            )
            .filter(registry::Column::Key.eq(id.key()))
            .filter(registry::Column::Etag.eq(expected.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if marked.rows_affected != 1 {
            return Err(RegistryWriteError::Stale);
        }
        insert_operation(&txn, op).await?;
        txn.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, err, fields(registry.name = %id.name))]
    async fn child_counts(&self, id: &RegistryId) -> Result<(u64, u64), StoreError> {
        use sea_orm::PaginatorTrait;
        let maps = scope_map::map::Entity::find()
            .filter(scope_map::map::Column::RegistryKey.eq(id.key()))
            .count(self.db.reader())
            .await
            .map_err(store_error)?;
        let tokens = scope_map::token::Entity::find()
            .filter(scope_map::token::Column::RegistryKey.eq(id.key()))
            .count(self.db.reader())
            .await
            .map_err(store_error)?;
        Ok((maps, tokens))
    }

    async fn delete(&self, id: &RegistryId) -> Result<(), StoreError> {
        // Its admin passwords go with it: a registry made later with the same name must not
        // inherit them.
        let txn = self.db.begin_write().await?;
        admin_password::Entity::delete_many()
            .filter(admin_password::Column::RegistryKey.eq(id.key()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        scope_map::map::Entity::delete_many()
            .filter(scope_map::map::Column::RegistryKey.eq(id.key()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        scope_map::token::Entity::delete_many()
            .filter(scope_map::token::Column::RegistryKey.eq(id.key()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        // Its trust data was wiped before; a registry made later with the same name starts
        // with an empty catalog.
        trusted_collection::Entity::delete_many()
            .filter(trusted_collection::Column::RegistryKey.eq(id.key()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        registry::Entity::delete_by_id(id.key())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await
    }
}

// ---------------------------------------------------------------- admin passwords

/// The registries' sealed admin passwords in SQL.
#[derive(Debug, Clone)]
pub struct SeaOrmAdminPasswordRepository {
    db: Database,
}

impl SeaOrmAdminPasswordRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AdminPasswordRepository for SeaOrmAdminPasswordRepository {
    async fn load(&self, registry: &RegistryId) -> Result<Vec<(String, String)>, StoreError> {
        Ok(admin_password::Entity::find()
            .filter(admin_password::Column::RegistryKey.eq(registry.key()))
            .all(self.db.writer())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| (row.name, row.sealed))
            .collect())
    }

    async fn store(
        &self,
        registry: &RegistryId,
        name: &str,
        sealed: &str,
        replace: bool,
    ) -> Result<(), StoreError> {
        let row = admin_password::ActiveModel {
            registry_key: Set(registry.key()),
            name: Set(name.to_owned()),
            sealed: Set(sealed.to_owned()),
            created_at: Set(millis(time::OffsetDateTime::now_utc())),
        };
        let mut conflict = sea_orm::sea_query::OnConflict::columns([
            admin_password::Column::RegistryKey,
            admin_password::Column::Name,
        ]);
        if replace {
            conflict.update_columns([
                admin_password::Column::Sealed,
                admin_password::Column::CreatedAt,
            ]);
        } else {
            conflict.do_nothing();
        }
        let txn = self.db.begin_write().await?;
        match admin_password::Entity::insert(row)
            .on_conflict(conflict)
            .exec(&txn)
            .await
        {
            Ok(_) | Err(DbErr::RecordNotInserted) => txn.commit().await,
            Err(e) => Err(store_error(e)),
        }
    }
}

// ---------------------------------------------------------------- operations

/// Operations in SQL, claimed with a compare-and-set lease so exactly one worker (of any
/// replica) runs each.
#[derive(Debug, Clone)]
pub struct SeaOrmOperationRepository {
    db: Database,
}

impl SeaOrmOperationRepository {
    /// Builds the repository.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

const KIND_DELETE_REGISTRY: &str = "DeleteRegistry";
const KIND_DELETE_GROUP: &str = "DeleteResourceGroup";
const KIND_DISABLE_TRUST: &str = "DisableContentTrust";

/// Records `op` in `txn`, with the request that starts it (for its later records).
async fn insert_operation(txn: &super::WriteTxn, op: &Operation) -> Result<(), StoreError> {
    let activity = txn
        .starts_operation(op.id.as_uuid())
        .map(|request| serde_json::to_string(&request))
        .transpose()
        .map_err(|e| StoreError(format!("an activity request is not JSON: {e}")))?;
    let (kind, group, registry_name) = match &op.kind {
        OperationKind::DeleteRegistry(id) => (
            KIND_DELETE_REGISTRY,
            &id.resource_group.name,
            Some(id.name.to_string()),
        ),
        OperationKind::DisableContentTrust(id) => (
            KIND_DISABLE_TRUST,
            &id.resource_group.name,
            Some(id.name.to_string()),
        ),
        OperationKind::DeleteResourceGroup(id) => (KIND_DELETE_GROUP, &id.name, None),
    };
    let target_key = op.kind.target_key();
    let row = operation::ActiveModel {
        id: Set(op.id.to_string()),
        subscription_id: Set(op.kind.subscription().to_string()),
        kind: Set(kind.to_owned()),
        target_key: Set(target_key),
        group_name: Set(group.to_string()),
        registry_name: Set(registry_name),
        status: Set(op.status.as_str().to_owned()),
        error_code: Set(None),
        error_message: Set(None),
        started_at: Set(millis(op.started_at)),
        ended_at: Set(None),
        attempts: Set(0),
        due_at: Set(millis(op.started_at)),
        lease_owner: Set(None),
        lease_until: Set(None),
        activity: Set(activity),
    };
    operation::Entity::insert(row)
        .exec(txn)
        .await
        .map(|_| ())
        .map_err(store_error)
}

/// What a step of an operation did, in words, for its activity record: its start (`ended`
/// `None`) or its end.
fn step_description(kind: &OperationKind, ended: Option<OperationStatus>) -> String {
    let what = match kind {
        OperationKind::DisableContentTrust(_) => {
            "The content-trust wipe (every trusted collection of the registry)"
        }
        OperationKind::DeleteRegistry(_) => "The registry's deletion (its trust data wiped first)",
        OperationKind::DeleteResourceGroup(_) => {
            "The resource group's deletion (each registry in it wiped first)"
        }
    };
    match ended {
        None => format!("{what} started."),
        Some(status) => format!("{what} ended: {}.", status.as_str()),
    }
}

fn operation_from_row(row: operation::Model) -> Result<Operation, StoreError> {
    let resource_group = ResourceGroupId {
        subscription: SubscriptionId::parse(&row.subscription_id)
            .map_err(|e| corrupt("subscription id", e))?,
        name: ResourceGroupName::parse(&row.group_name)
            .map_err(|e| corrupt("resource group name", e))?,
    };
    let registry = |name: &str| {
        Ok::<_, StoreError>(RegistryId {
            resource_group: resource_group.clone(),
            name: RegistryName::parse(name).map_err(|e| corrupt("registry name", e))?,
        })
    };
    let kind = match (row.kind.as_str(), row.registry_name.as_deref()) {
        (KIND_DELETE_REGISTRY, Some(name)) => OperationKind::DeleteRegistry(registry(name)?),
        (KIND_DISABLE_TRUST, Some(name)) => OperationKind::DisableContentTrust(registry(name)?),
        (KIND_DELETE_GROUP, _) => OperationKind::DeleteResourceGroup(resource_group.clone()),
        (other, _) => return Err(corrupt("operation kind", other)),
    };
    let error = match (row.error_code, row.error_message) {
        (Some(code), message) => Some(OperationFailure {
            code,
            message: message.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Operation {
        id: OperationId::parse(&row.id).ok_or_else(|| corrupt("operation id", &row.id))?,
        kind,
        status: OperationStatus::parse(&row.status)
            .ok_or_else(|| corrupt("operation status", &row.status))?,
        error,
        started_at: from_millis(row.started_at)?,
        ended_at: row.ended_at.map(from_millis).transpose()?,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
    })
}

#[async_trait]
impl OperationRepository for SeaOrmOperationRepository {
    #[instrument(skip_all, err, fields(operation.id = %id))]
    async fn get(&self, id: OperationId) -> Result<Option<Operation>, StoreError> {
        operation::Entity::find_by_id(id.to_string())
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .map(operation_from_row)
            .transpose()
    }

    #[instrument(skip_all, err)]
    async fn find_in_progress(&self, target: &str) -> Result<Option<Operation>, StoreError> {
        operation::Entity::find()
            .filter(operation::Column::TargetKey.eq(target))
            .filter(operation::Column::Status.eq(OperationStatus::InProgress.as_str()))
            .order_by_asc(operation::Column::StartedAt)
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .map(operation_from_row)
            .transpose()
    }

    #[instrument(skip_all, err, fields(worker = owner))]
    async fn claim_next(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Operation>, StoreError> {
        let now_ms = millis(now);
        let free = Condition::any()
            .add(operation::Column::LeaseUntil.is_null())
            .add(operation::Column::LeaseUntil.lt(now_ms));
        let due = operation::Entity::find()
            .filter(operation::Column::Status.eq(OperationStatus::InProgress.as_str()))
            .filter(operation::Column::DueAt.lte(now_ms))
            .filter(free.clone())
            .order_by_asc(operation::Column::DueAt)
            .limit(8)
            .all(self.db.writer())
            .await
            .map_err(store_error)?;
        for candidate in due {
            // Compare-and-set: only one worker's UPDATE matches a free lease.
            let txn = self.db.begin_write().await?;
            let claimed = operation::Entity::update_many()
                .col_expr(operation::Column::LeaseOwner, Expr::value(owner))
                .col_expr(
                    operation::Column::LeaseUntil,
                    Expr::value(millis(now + lease)),
                )
                .col_expr(
                    operation::Column::Attempts,
                    Expr::col(operation::Column::Attempts).add(1),
                )
                .filter(operation::Column::Id.eq(candidate.id.clone()))
                .filter(operation::Column::Status.eq(OperationStatus::InProgress.as_str()))
                .filter(free.clone())
                .exec(&txn)
                .await
                .map_err(store_error)?;
            if claimed.rows_affected == 1 {
                let mut row = candidate;
                row.attempts += 1;
                let (first, activity) = (row.attempts == 1, row.activity.clone());
                let op = operation_from_row(row)?;
                if first {
                    // The operation's first step is an event of its own, with its claim. Its
                    // time is the claim's, read now: `now` was read before the claim could
                    // see the operation, possibly before the request that started it ended,
                    // and the step must not be listed before that request's end.
                    txn.append(&super::activity_log::operation_step(
                        activity.as_deref(),
                        op.id.as_uuid(),
                        berth_domain::activity::ActivityStatus::Started,
                        step_description(&op.kind, None),
                        None,
                        std::cmp::Ord::max(OffsetDateTime::now_utc(), now),
                    ))
                    .await?;
                }
                txn.commit().await?;
                return Ok(Some(op));
            }
        }
        Ok(None)
    }

    #[instrument(skip_all, err, fields(operation.id = %id, worker = owner))]
    async fn finish(
        &self,
        id: OperationId,
        owner: &str,
        status: OperationStatus,
        error: Option<OperationFailure>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        let stored = operation::Entity::find_by_id(id.to_string())
            .filter(operation::Column::LeaseOwner.eq(owner))
            .one(&txn)
            .await
            .map_err(store_error)?;
        let Some(stored) = stored else {
            // Another worker holds it now: this one's end is not the operation's.
            return Ok(());
        };
        let ended_well = status == OperationStatus::Succeeded;
        let code = error.as_ref().map(|e| e.code.clone());
        let activity = stored.activity.clone();
        let kind = operation_from_row(stored)?.kind;
        txn.append(&super::activity_log::operation_step(
            activity.as_deref(),
            id.as_uuid(),
            if ended_well {
                berth_domain::activity::ActivityStatus::Succeeded
            } else {
                berth_domain::activity::ActivityStatus::Failed
            },
            step_description(&kind, Some(status)),
            code,
            now,
        ))
        .await?;
        let (code, message) = error.map_or((None, None), |e| (Some(e.code), Some(e.message)));
        let row = operation::ActiveModel {
            status: Set(status.as_str().to_owned()),
            error_code: Set(code),
            error_message: Set(message),
            ended_at: Set(Some(millis(now))),
            lease_owner: Set(None),
            lease_until: Set(None),
            ..Default::default()
        };
        operation::Entity::update_many()
            .set(row)
            .filter(operation::Column::Id.eq(id.to_string()))
            .filter(operation::Column::LeaseOwner.eq(owner))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await
    }

    #[instrument(skip_all, err, fields(operation.id = %id, worker = owner))]
    async fn retry_later(
        &self,
        id: OperationId,
        owner: &str,
        retry_at: OffsetDateTime,
        last_error: Option<OperationFailure>,
    ) -> Result<(), StoreError> {
        let (code, message) = last_error.map_or((None, None), |e| (Some(e.code), Some(e.message)));
        let row = operation::ActiveModel {
            due_at: Set(millis(retry_at)),
            lease_owner: Set(None),
            lease_until: Set(None),
            error_code: Set(code),
            error_message: Set(message),
            ..Default::default()
        };
        operation::Entity::update_many()
            .set(row)
            .filter(operation::Column::Id.eq(id.to_string()))
            .filter(operation::Column::LeaseOwner.eq(owner))
            .exec(self.db.writer())
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    #[instrument(skip_all, err, fields(operation.id = %id, worker = owner))]
    async fn renew(
        &self,
        id: OperationId,
        owner: &str,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let renewed = operation::Entity::update_many()
            .col_expr(operation::Column::LeaseUntil, Expr::value(millis(until)))
            .filter(operation::Column::Id.eq(id.to_string()))
            .filter(operation::Column::LeaseOwner.eq(owner))
            .filter(operation::Column::Status.eq(OperationStatus::InProgress.as_str()))
            .exec(self.db.writer())
            .await
            .map_err(store_error)?;
        Ok(renewed.rows_affected == 1)
    }
}
