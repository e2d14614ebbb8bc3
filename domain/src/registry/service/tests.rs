//! The registry service against fake ports: the Premium gate, the downgrade block, content
//! trust's wipe (start, join, refuse, finish) and ETag preconditions. Each fake keeps its
//! state in memory and applies `update_with`'s change under one lock, as the adapters do in
//! one transaction.

use super::*;
use crate::arm::{
    Actor, ETag, Location, Precondition, ProvisioningState, ResourceGroupName, SubscriptionId, Tags,
};
use crate::clock::Clock;
use crate::operation::{
    OperationFailure, OperationId, OperationRepository, OperationSignal, OperationStatus,
};
use crate::registry::{
    ContentTrust, DataPlaneError, Feature, ManifestRecord, Namespace, PoliciesPatch,
    RegistryChange, RegistryDefinition, RegistryPatch, RegistrySettings, Sku, TagRecord,
};
use crate::resource_group::{ResourceGroup, ResourceGroupRepository, ResourceGroupWriteError};
use crate::store::StoreError;
use crate::subscription::{Subscription, SubscriptionRepository, SubscriptionService};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const SUBSCRIPTION: &str = "00000000-0000-0000-0000-00000000abcd";

#[derive(Default)]
struct Registries {
    rows: Mutex<HashMap<String, Registry>>,
    operations: Arc<Operations>,
}

#[async_trait]
impl RegistryRepository for Registries {
    async fn get(&self, id: &RegistryId) -> Result<Option<Registry>, StoreError> {
        Ok(self
            .rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id.key())
            .cloned())
    }

    async fn child_counts(&self, _: &RegistryId) -> Result<(u64, u64), StoreError> {
        Ok((0, 0))
    }

    async fn find_by_name(&self, name: &RegistryName) -> Result<Option<Registry>, StoreError> {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        Ok(rows.values().find(|r| r.id.name == *name).cloned())
    }

    async fn insert(&self, registry: &Registry) -> Result<(), RegistryWriteError> {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if rows.values().any(|r| r.id.name == registry.id.name) {
            return Err(RegistryWriteError::NameTaken);
        }
        rows.insert(registry.id.key(), registry.clone());
        Ok(())
    }

    async fn update_with(
        &self,
        id: &RegistryId,
        change: RegistryChange<'_>,
    ) -> Result<(Registry, Option<Operation>), RegistryError> {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        let Some(current) = rows.get(&id.key()) else {
            return Err(RegistryError::NotFound(
                id.name.to_string(),
                id.resource_group.name.to_string(),
            ));
        };
        let (next, started) = change(current)?;
        if let Some(op) = &started {
            self.operations.insert(op.clone());
        }
        rows.insert(id.key(), next.clone());
        Ok((next, started))
    }

    async fn list_by_resource_group(
        &self,
        _: &ResourceGroupId,
        _: &PageRequest,
    ) -> Result<Page<Registry>, StoreError> {
        Err(StoreError("not used by these tests".to_owned()))
    }

    async fn list_by_subscription(
        &self,
        _: SubscriptionId,
        _: &PageRequest,
    ) -> Result<Page<Registry>, StoreError> {
        Err(StoreError("not used by these tests".to_owned()))
    }

    async fn begin_delete(
        &self,
        id: &RegistryId,
        expected: &ETag,
        operation: &Operation,
    ) -> Result<(), RegistryWriteError> {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        match rows.get_mut(&id.key()) {
            Some(r) if r.etag == *expected => {
                r.provisioning_state = ProvisioningState::Deleting;
                self.operations.insert(operation.clone());
                Ok(())
            }
            _ => Err(RegistryWriteError::Stale),
        }
    }

    async fn delete(&self, id: &RegistryId) -> Result<(), StoreError> {
        self.rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id.key());
        Ok(())
    }
}

#[derive(Default)]
struct Operations(Mutex<HashMap<OperationId, Operation>>);

impl Operations {
    fn insert(&self, op: Operation) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(op.id, op);
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[async_trait]
impl OperationRepository for Operations {
    async fn get(&self, id: OperationId) -> Result<Option<Operation>, StoreError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned())
    }

    async fn find_in_progress(&self, _: &str) -> Result<Option<Operation>, StoreError> {
        Ok(None)
    }

    async fn claim_next(
        &self,
        _: &str,
        _: OffsetDateTime,
        _: Duration,
    ) -> Result<Option<Operation>, StoreError> {
        Ok(None)
    }

    async fn finish(
        &self,
        _: OperationId,
        _: &str,
        _: OperationStatus,
        _: Option<OperationFailure>,
        _: OffsetDateTime,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn retry_later(
        &self,
        _: OperationId,
        _: &str,
        _: OffsetDateTime,
        _: Option<OperationFailure>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    async fn renew(&self, _: OperationId, _: &str, _: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// Counts how often the worker was woken.
#[derive(Default)]
struct Signal(AtomicUsize);

impl OperationSignal for Signal {
    fn notify(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
    }
}

/// One subscription with one resource group.
struct Directory(ResourceGroup);

#[async_trait]
impl SubscriptionRepository for Directory {
    async fn list(&self) -> Result<Vec<Subscription>, StoreError> {
        Ok(vec![self.subscription()])
    }

    async fn get(&self, id: SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        Ok((id == self.0.id.subscription).then(|| self.subscription()))
    }

    async fn insert_if_absent(&self, _: &Subscription) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Directory {
    fn subscription(&self) -> Subscription {
        Subscription {
            id: self.0.id.subscription,
            display_name: "test".to_owned(),
            tenant_id: Uuid::nil(),
            state: "Enabled".to_owned(),
        }
    }
}

#[async_trait]
impl ResourceGroupRepository for Directory {
    async fn get(&self, id: &ResourceGroupId) -> Result<Option<ResourceGroup>, StoreError> {
        Ok((id.key() == self.0.id.key()).then(|| self.0.clone()))
    }

    async fn insert(&self, _: &ResourceGroup) -> Result<(), ResourceGroupWriteError> {
        Ok(())
    }

    async fn update(&self, _: &ResourceGroup, _: &ETag) -> Result<(), ResourceGroupWriteError> {
        Ok(())
    }

    async fn list(
        &self,
        _: SubscriptionId,
        _: &PageRequest,
    ) -> Result<Page<ResourceGroup>, StoreError> {
        Ok(Page {
            items: vec![self.0.clone()],
            next: None,
        })
    }

    async fn begin_delete(
        &self,
        _: &ResourceGroupId,
        _: &ETag,
        _: &Operation,
    ) -> Result<(), ResourceGroupWriteError> {
        Ok(())
    }

    async fn delete(&self, _: &ResourceGroupId) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The service over the fakes, and the fakes to look into.
struct World {
    service: RegistryService,
    registries: Arc<Registries>,
    signal: Arc<Signal>,
}

fn parsed<T>(r: Result<T, crate::arm::NameError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn world(trust_server: bool) -> World {
    let group = ResourceGroup {
        id: ResourceGroupId {
            subscription: parsed(SubscriptionId::parse(SUBSCRIPTION)),
            name: parsed(ResourceGroupName::parse("rg")),
        },
        location: parsed(Location::parse("westus")),
        tags: Tags::default(),
        managed_by: None,
        provisioning_state: ProvisioningState::Succeeded,
        etag: ETag::generate(),
    };
    let directory = Arc::new(Directory(group));
    let registries = Arc::new(Registries::default());
    let operations = Arc::clone(&registries.operations);
    let signal = Arc::new(Signal::default());
    let groups = ResourceGroupService::new(
        SubscriptionService::new(directory.clone()),
        directory,
        operations.clone(),
        signal.clone(),
        Arc::new(FixedClock),
    );
    let naming =
        LoginServerNaming::new("registry.localhost", None).unwrap_or_else(|e| panic!("{e}"));
    let service = RegistryService::new(
        groups,
        registries.clone(),
        operations,
        signal.clone(),
        Arc::new(FixedClock),
        naming,
        trust_server,
    );
    World {
        service,
        registries,
        signal,
    }
}

fn definition(sku: Sku, content_trust: bool) -> RegistryDefinition {
    RegistryDefinition {
        location: Location::parse("westus").unwrap_or_else(|e| panic!("{e}")),
        sku,
        tags: Tags::default(),
        identity: None,
        settings: RegistrySettings::default(),
        content_trust,
    }
}

fn trust(enable: bool) -> RegistryPatch {
    RegistryPatch {
        policies: PoliciesPatch {
            trust_enabled: Some(enable),
            ..PoliciesPatch::default()
        },
        ..RegistryPatch::default()
    }
}

fn sku(sku: Sku) -> RegistryPatch {
    RegistryPatch {
        sku: Some(sku),
        ..RegistryPatch::default()
    }
}

fn any() -> Precondition {
    Precondition::default()
}

fn if_match(etag: &ETag) -> Precondition {
    Precondition::from_headers(Some(&etag.to_header()), None)
}

impl World {
    async fn id(&self) -> RegistryId {
        self.service
            .resolve_id(SUBSCRIPTION, "rg", "signed")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn create(&self, sku: Sku, content_trust: bool) -> Result<RegistryWrite, RegistryError> {
        let id = self.id().await;
        let actor = Actor::anonymous();
        self.service
            .create_or_update(id, definition(sku, content_trust), &any(), &actor)
            .await
    }

    async fn patch(&self, patch: &RegistryPatch) -> Result<RegistryWrite, RegistryError> {
        let id = self.id().await;
        self.patch_if(patch, &any(), &id).await
    }

    async fn patch_if(
        &self,
        patch: &RegistryPatch,
        precondition: &Precondition,
        id: &RegistryId,
    ) -> Result<RegistryWrite, RegistryError> {
        let actor = Actor::anonymous();
        self.service.update(id, patch, precondition, &actor).await
    }

    async fn stored(&self) -> Registry {
        let id = self.id().await;
        self.service
            .get(&id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A Premium registry with content trust on, then disabled: the wipe it started.
    async fn wiping(&self) -> OperationId {
        ok(self.create(Sku::Premium, true).await);
        let write = ok(self.patch(&trust(false)).await);
        let Some(op) = write.operation else {
            panic!("disabling started no wipe")
        };
        op.id
    }
}

fn ok(result: Result<RegistryWrite, RegistryError>) -> RegistryWrite {
    result.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn content_trust_is_premium_only_and_nothing_is_stored_when_refused() {
    let w = world(true);
    for below in [Sku::Basic, Sku::Standard] {
        let refused = w.create(below, true).await;
        assert!(
            matches!(
                refused,
                Err(RegistryError::FeatureNotInSku {
                    feature: Feature::ContentTrust,
                    required: Sku::Premium,
                    ..
                })
            ),
            "{refused:?}"
        );
        assert!(
            w.registries
                .get(&w.id().await)
                .await
                .ok()
                .flatten()
                .is_none()
        );
    }
    let write = ok(w.create(Sku::Premium, true).await);
    assert!(write.created);
    assert_eq!(write.registry.content_trust, ContentTrust::Enabled);
}

#[tokio::test]
async fn a_downgrade_is_blocked_while_content_trust_is_on_and_while_it_is_wiped() {
    let w = world(true);
    ok(w.create(Sku::Premium, true).await);
    let blocked = |r: &Result<RegistryWrite, RegistryError>| {
        matches!(
            r,
            Err(RegistryError::SkuDowngradeBlocked {
                feature: Feature::ContentTrust,
                from: Sku::Premium,
                to: Sku::Standard,
                ..
            })
        )
    };
    assert!(blocked(&w.patch(&sku(Sku::Standard)).await));
    let op = ok(w.patch(&trust(false)).await).operation.map(|o| o.id);
    assert!(
        blocked(&w.patch(&sku(Sku::Standard)).await),
        "during the wipe"
    );
    let id = w.id().await;
    let Some(op) = op else { panic!("no wipe") };
    w.service
        .finish_trust_wipe(&id, op)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok(w.patch(&sku(Sku::Standard)).await).registry.sku,
        Sku::Standard
    );
}

#[tokio::test]
async fn disabling_starts_one_wipe_and_a_second_disable_joins_it() {
    let w = world(true);
    let op = w.wiping().await;
    let stored = w.stored().await;
    assert_eq!(stored.content_trust, ContentTrust::Wiping(op));
    assert!(
        stored.content_trust.policy_enabled(),
        "shows enabled until the wipe ends"
    );
    assert!(!stored.trust_push_allowed());
    assert_eq!(stored.provisioning_state, ProvisioningState::Updating);
    assert_eq!(w.signal.0.load(Ordering::SeqCst), 1, "the worker was woken");
    assert_eq!(w.registries.operations.count(), 1);

    let again = ok(w.patch(&trust(false)).await);
    assert_eq!(again.operation.map(|o| o.id), Some(op), "joined");
    let untouched = ok(w.patch(&RegistryPatch::default()).await);
    assert_eq!(untouched.operation.map(|o| o.id), Some(op));
    assert_eq!(w.registries.operations.count(), 1, "no second wipe");
    assert_eq!(w.signal.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn enabling_during_the_wipe_is_refused_and_changes_nothing() {
    let w = world(true);
    let op = w.wiping().await;
    let before = w.stored().await;
    let refused = w.patch(&trust(true)).await;
    assert!(
        matches!(refused, Err(RegistryError::TrustWipeInProgress { operation, .. }) if operation == op),
        "{refused:?}"
    );
    let id = w.id().await;
    let actor = Actor::anonymous();
    let put = w
        .service
        .create_or_update(id, definition(Sku::Premium, true), &any(), &actor)
        .await;
    assert!(matches!(
        put,
        Err(RegistryError::TrustWipeInProgress { .. })
    ));
    assert_eq!(w.stored().await, before);
}

#[tokio::test]
async fn only_the_wipes_operation_ends_it_and_then_content_trust_can_be_enabled_again() {
    let w = world(true);
    let op = w.wiping().await;
    let id = w.id().await;
    let before = w.stored().await;
    let finish = |op| w.service.finish_trust_wipe(&id, op);
    finish(OperationId::generate())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.stored().await, before, "another operation ends nothing");

    finish(op).await.unwrap_or_else(|e| panic!("{e}"));
    let after = w.stored().await;
    assert_eq!(after.content_trust, ContentTrust::Disabled);
    assert_eq!(after.provisioning_state, ProvisioningState::Succeeded);
    assert_ne!(after.etag, before.etag);
    finish(op).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.stored().await, after, "a repeated end is a no-op");

    let enabled = ok(w.patch(&trust(true)).await);
    assert_eq!(enabled.registry.content_trust, ContentTrust::Enabled);
    assert!(enabled.operation.is_none());
}

#[tokio::test]
async fn without_a_trust_server_content_trust_cannot_be_enabled() {
    let w = world(false);
    let refused = w.create(Sku::Premium, true).await;
    assert!(
        matches!(refused, Err(RegistryError::ContentTrustUnavailable(_))),
        "{refused:?}"
    );
    ok(w.create(Sku::Premium, false).await);
    let refused = w.patch(&trust(true)).await;
    assert!(
        matches!(refused, Err(RegistryError::ContentTrustUnavailable(_))),
        "{refused:?}"
    );
    assert_eq!(w.stored().await.content_trust, ContentTrust::Disabled);
}

#[tokio::test]
async fn etag_preconditions_guard_every_write() {
    let w = world(true);
    let id = w.id().await;
    let created = ok(w.create(Sku::Premium, false).await).registry;
    let stale = ETag::generate();
    let refused = w.patch_if(&trust(true), &if_match(&stale), &id).await;
    assert!(
        matches!(refused, Err(RegistryError::PreconditionFailed)),
        "{refused:?}"
    );
    assert_eq!(w.stored().await, created, "nothing changed");

    let changed = ok(w
        .patch_if(&trust(true), &if_match(&created.etag), &id)
        .await)
    .registry;
    assert_ne!(changed.etag, created.etag, "every write makes a new ETag");

    let actor = Actor::anonymous();
    let only_new = Precondition::from_headers(None, Some("*"));
    let put = w
        .service
        .create_or_update(
            id.clone(),
            definition(Sku::Premium, true),
            &only_new,
            &actor,
        )
        .await;
    assert!(
        matches!(put, Err(RegistryError::PreconditionFailed)),
        "{put:?}"
    );
    let delete = w.service.begin_delete(&id, &if_match(&stale)).await;
    assert!(
        matches!(delete, Err(RegistryError::PreconditionFailed)),
        "{delete:?}"
    );
    assert_eq!(w.stored().await, changed);
}

/// A data plane's storage that records what it purged, and fails while told to.
#[derive(Default)]
struct Storage {
    purged: Mutex<Vec<String>>,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl RepositoryStorage for Storage {
    async fn purge(&self, namespace: &Namespace) -> Result<(), DataPlaneError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(DataPlaneError("the storage is down".to_owned()));
        }
        self.purged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(namespace.prefix().to_owned());
        Ok(())
    }
    async fn remove(&self, _: &str) -> Result<bool, DataPlaneError> {
        Ok(false)
    }
    async fn tags(&self, _: &str) -> Result<Option<Vec<TagRecord>>, DataPlaneError> {
        Ok(None)
    }
    async fn manifests(&self, _: &str) -> Result<Option<Vec<ManifestRecord>>, DataPlaneError> {
        Ok(None)
    }
    async fn untag(&self, _: &str, _: &str) -> Result<bool, DataPlaneError> {
        Ok(false)
    }
    async fn repositories(&self, _: &Namespace) -> Result<Vec<String>, DataPlaneError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_new_registry_starts_from_a_cleared_namespace_or_is_not_made() {
    let storage = Arc::new(Storage::default());
    let mut w = world(true);
    w.service = w.service.with_repository_storage(storage.clone());
    let id = w.id().await;

    storage.down.store(true, Ordering::SeqCst);
    let refused = w.create(Sku::Basic, false).await;
    assert!(
        matches!(refused, Err(RegistryError::DataPlaneUnavailable(_))),
        "{refused:?}"
    );
    assert!(
        w.service.get(&id).await.is_err(),
        "made without a cleared namespace"
    );

    storage.down.store(false, Ordering::SeqCst);
    ok(w.create(Sku::Basic, false).await);
    ok(w.patch(&trust(false)).await);
    let purged = storage
        .purged
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert_eq!(
        purged,
        ["signed/"],
        "cleared once, when made; an update clears nothing"
    );
}
