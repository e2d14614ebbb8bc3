//! Registry use cases.

use super::{
    Feature, LoginServerNaming, Registry, RegistryDefinition, RegistryName, RegistryPatch,
    RegistryRepository, RegistryWriteError, Sku,
};
use crate::arm::{
    Actor, ETag, NameError, Precondition, ProvisioningState, RegistryId, ResourceGroupId,
    SystemData, retry_lost_races,
};
use crate::clock::Clock;
use crate::operation::{
    Operation, OperationId, OperationKind, OperationRepository, OperationSignal,
};
use crate::resource_group::{DeleteOutcome, ResourceGroupError, ResourceGroupService};
use crate::store::{Page, PageRequest, StoreError};
use crate::subscription::SubscriptionError;
use std::collections::HashMap;
use std::sync::Arc;

/// Errors of the registry use cases.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The subscription or resource group is missing or unusable.
    #[error(transparent)]
    ResourceGroup(#[from] ResourceGroupError),
    /// The registry name breaks the naming rules.
    #[error("{0}")]
    InvalidName(NameError),
    /// No such registry.
    #[error(
        "The Resource 'Microsoft.ContainerRegistry/registries/{0}' under resource group '{1}' was not found."
    )]
    NotFound(String, String),
    /// The name is used by another registry of the deployment.
    #[error(
        "The registry DNS name {0} is already in use. You can check if the name is already claimed using following API: https://docs.microsoft.com/en-us/rest/api/containerregistry/registries/checknameavailability"
    )]
    NameNotAvailable(String),
    /// A feature the settings use is not in the SKU.
    #[error("{} is only available in the {required} SKU; registry '{registry}' would be {sku}. Choose the {required} SKU, or turn the feature off.", feature.describe())]
    FeatureNotInSku {
        /// The feature.
        feature: Feature,
        /// The registry.
        registry: String,
        /// The SKU it would have.
        sku: Sku,
        /// The cheapest SKU with the feature.
        required: Sku,
    },
    /// A downgrade would leave a feature in use that the lower SKU lacks.
    #[error("The SKU of registry '{registry}' cannot be changed from {from} to {to}: {} is enabled and is only available in the {required} SKU. Turn it off first.", feature.describe())]
    SkuDowngradeBlocked {
        /// The feature in use.
        feature: Feature,
        /// The registry.
        registry: String,
        /// Current SKU.
        from: Sku,
        /// Requested SKU.
        to: Sku,
        /// The cheapest SKU with the feature.
        required: Sku,
    },
    /// A value is out of its range or not allowed.
    #[error("{message}")]
    InvalidValue {
        /// The property path.
        target: String,
        /// What is wrong.
        message: String,
    },
    /// PUT with another location than the registry's.
    #[error(
        "The resource '{name}' already exists in location '{existing}' in resource group '{group}'. A resource with the same name cannot be created in location '{requested}'. Please select a new resource name."
    )]
    LocationMismatch {
        /// Registry.
        name: String,
        /// Its group.
        group: String,
        /// Its location.
        existing: String,
        /// Asked for.
        requested: String,
    },
    /// The registry is being deleted.
    #[error("The registry '{0}' is being deleted and cannot be changed.")]
    BeingDeleted(String),
    /// `If-Match`/`If-None-Match` did not hold.
    #[error("The condition specified using HTTP conditional header(s) is not met.")]
    PreconditionFailed,
    /// A concurrent write won.
    #[error("The registry was changed by another request; retry.")]
    Conflict,
    /// A downgrade would leave more scope maps or tokens than the lower SKU allows.
    #[error(
        "The SKU of registry '{registry}' cannot be changed to {to}: it has {count} {what}, and {to} allows {limit}. Delete some first."
    )]
    SkuLimitExceeded {
        /// The registry.
        registry: String,
        /// Requested SKU.
        to: Sku,
        /// `scope maps` or `tokens`.
        what: &'static str,
        /// How many it has.
        count: u64,
        /// How many the SKU allows.
        limit: u32,
    },
    /// A scope map or token of the registry does not exist.
    #[error("The {kind} resource '{name}' was not found in the registry.")]
    ChildNotFound {
        /// `scopeMaps` or `tokens`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// Something still uses what was to be deleted.
    #[error("{0}")]
    InUse(String),
    /// Content trust cannot be enabled: the deployment has no trust server.
    #[error(
        "Content trust cannot be enabled on registry '{0}': this deployment has no trust server (Notary) configured."
    )]
    ContentTrustUnavailable(String),
    /// Content trust is being disabled: its trust data is being wiped.
    #[error(
        "Content trust of registry '{registry}' is being disabled: operation {operation} is deleting its trust data, and content trust cannot be enabled again until it has finished, so that no old trust data reappears. Follow the operation, then enable content trust again."
    )]
    TrustWipeInProgress {
        /// The registry.
        registry: String,
        /// The running wipe.
        operation: OperationId,
    },
    /// The admin user is off.
    #[error(
        "The admin user of registry '{0}' is disabled. Enable it first (adminUserEnabled: true)."
    )]
    AdminUserDisabled(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SubscriptionError> for RegistryError {
    fn from(e: SubscriptionError) -> Self {
        Self::ResourceGroup(ResourceGroupError::Subscription(e))
    }
}

/// A stored registry write: the registry, whether it was created, and the operation that
/// still runs on it (the content-trust wipe this write started or joined).
#[derive(Debug, Clone)]
pub struct RegistryWrite {
    /// The registry as stored.
    pub registry: Registry,
    /// Whether a PUT created it.
    pub created: bool,
    /// The running wipe, when the registry's trust data is being deleted.
    pub operation: Option<Operation>,
}

/// The answer of `checkNameAvailability`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameAvailability {
    /// The name can be used.
    Available,
    /// The name breaks the rules.
    Invalid(String),
    /// Another registry has it.
    AlreadyExists(String),
}

/// How long a registry looked up by login server is answered from memory. Writes through
/// this process clear it at once; another replica's writes show within this time.
const LOOKUP_TTL: time::Duration = time::Duration::seconds(1);
/// Login servers remembered at most (unknown ones too, so a flood of them cannot reach the
/// store more than once a second each).
const LOOKUP_MAX: usize = 10_000;

/// A remembered lookup: what was found, when, and at which write generation.
type Lookup = (Option<Registry>, time::OffsetDateTime, u64);

/// Registries by login server, for the token server's hot path.
#[derive(Default)]
struct LookupCache {
    generation: std::sync::atomic::AtomicU64,
    entries: std::sync::RwLock<HashMap<String, Lookup>>,
}

impl LookupCache {
    fn changed(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Bumps the lookup generation when dropped: a write is bracketed by two bumps, so a lookup
/// that raced it cannot keep what it read.
struct Changing<'a>(&'a LookupCache);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.changed();
    }
}

impl<'a> Changing<'a> {
    fn start(cache: &'a LookupCache) -> Self {
        cache.changed();
        Self(cache)
    }
}

/// Registry use cases.
#[derive(Clone)]
pub struct RegistryService {
    groups: ResourceGroupService,
    repo: Arc<dyn RegistryRepository>,
    operations: Arc<dyn OperationRepository>,
    signal: Arc<dyn OperationSignal>,
    clock: Arc<dyn Clock>,
    naming: LoginServerNaming,
    trust_available: bool,
    lookups: Arc<LookupCache>,
}

impl RegistryService {
    /// Builds the service; `naming` says how login servers are named
    /// (`<name>.registry.localhost[:port]`); `trust_available` says
    /// whether a trust server is configured (content trust cannot be enabled without one).
    #[must_use]
    pub fn new(
        groups: ResourceGroupService,
        repo: Arc<dyn RegistryRepository>,
        operations: Arc<dyn OperationRepository>,
        signal: Arc<dyn OperationSignal>,
        clock: Arc<dyn Clock>,
        naming: LoginServerNaming,
        trust_available: bool,
    ) -> Self {
        Self {
            groups,
            repo,
            operations,
            signal,
            clock,
            naming,
            trust_available,
            lookups: Arc::default(),
        }
    }

    /// Parses and checks a registry id: subscription exists, names valid.
    ///
    /// # Errors
    /// `ResourceGroup(..)` or `InvalidName`.
    pub async fn resolve_id(
        &self,
        subscription: &str,
        group: &str,
        name: &str,
    ) -> Result<RegistryId, RegistryError> {
        let resource_group = self.groups.resolve_id(subscription, group).await?;
        let name = RegistryName::parse(name).map_err(RegistryError::InvalidName)?;
        Ok(RegistryId {
            resource_group,
            name,
        })
    }

    /// Creates or replaces a registry (PUT).
    ///
    /// # Errors
    /// Every [`RegistryError`] but `NotFound`.
    pub async fn create_or_update(
        &self,
        id: RegistryId,
        definition: RegistryDefinition,
        precondition: &Precondition,
        actor: &Actor,
    ) -> Result<RegistryWrite, RegistryError> {
        let _changing = Changing::start(&self.lookups);
        self.check_sku_limits(&id, definition.sku).await?;
        let replace = |current: &Registry| {
            if !precondition.allows(Some(&current.etag)) {
                return Err(RegistryError::PreconditionFailed);
            }
            if current.location != definition.location {
                return Err(RegistryError::LocationMismatch {
                    name: current.name().to_string(),
                    group: current.id.resource_group.name.to_string(),
                    existing: current.location.as_str().to_owned(),
                    requested: definition.location.as_str().to_owned(),
                });
            }
            let mut next = Registry {
                sku: definition.sku,
                tags: definition.tags.clone(),
                identity: definition
                    .identity
                    .clone()
                    .map(|i| i.keeping_ids_of(current.identity.as_ref())),
                settings: definition.settings.clone(),
                ..current.clone()
            };
            // Zone redundancy is fixed at creation.
            next.settings.zone_redundancy = current.settings.zone_redundancy;
            let asked = Some(definition.settings.policies.trust_enabled);
            self.prepare_change(current, next, actor, asked)
        };
        // Most PUTs of an existing registry need nothing but this transaction.
        match self.repo.update_with(&id, &replace).await {
            Err(RegistryError::NotFound(..)) => {}
            other => return self.written(other?, false).await,
        }
        self.groups.get_live(&id.resource_group).await?;
        if !precondition.allows(None) {
            return Err(RegistryError::PreconditionFailed);
        }
        match self.create(id.clone(), definition.clone(), actor).await {
            // A concurrent PUT created it first: replace it.
            Err(RegistryError::Conflict) => {
                let replaced = self.repo.update_with(&id, &replace).await?;
                self.written(replaced, false).await
            }
            other => Ok(RegistryWrite {
                registry: other?,
                created: true,
                operation: None,
            }),
        }
    }

    /// The answer of a write: a wipe it started goes to the worker at once; one it joined
    /// is read back, so the caller can follow it.
    async fn written(
        &self,
        (registry, started): (Registry, Option<Operation>),
        created: bool,
    ) -> Result<RegistryWrite, RegistryError> {
        let operation = match (started, registry.trust_wipe) {
            (Some(op), _) => {
                self.signal.notify();
                Some(op)
            }
            (None, Some(running)) => self.operations.get(running).await?,
            (None, None) => None,
        };
        Ok(RegistryWrite {
            registry,
            created,
            operation,
        })
    }

    async fn create(
        &self,
        id: RegistryId,
        definition: RegistryDefinition,
        actor: &Actor,
    ) -> Result<Registry, RegistryError> {
        if let Some(other) = self.repo.find_by_name(&id.name).await? {
            // The same registry, created by a concurrent PUT, is replaced instead.
            return Err(if other.id.key() == id.key() {
                RegistryError::Conflict
            } else {
                RegistryError::NameNotAvailable(self.login_server(&id.name))
            });
        }
        let now = self.clock.now();
        let mut settings = definition.settings;
        stamp_policy_times(None, &mut settings, now);
        let registry = Registry {
            login_server: self.login_server(&id.name),
            id,
            location: definition.location,
            sku: definition.sku,
            tags: definition.tags,
            identity: definition.identity,
            settings,
            creation_date: now,
            provisioning_state: ProvisioningState::Succeeded,
            etag: ETag::generate(),
            trust_wipe: None,
            system_data: SystemData {
                created_by: actor.name.clone(),
                created_by_type: actor.kind.clone(),
                created_at: now,
                last_modified_by: actor.name.clone(),
                last_modified_by_type: actor.kind.clone(),
                last_modified_at: now,
            },
        };
        check_values(&registry)?;
        check_sku(None, &registry)?;
        if registry.settings.policies.trust_enabled && !self.trust_available {
            return Err(RegistryError::ContentTrustUnavailable(
                registry.name().to_string(),
            ));
        }
        match self.repo.insert(&registry).await {
            Ok(()) => Ok(registry),
            Err(RegistryWriteError::NameTaken) if self.repo.get(&registry.id).await?.is_some() => {
                Err(RegistryError::Conflict)
            }
            Err(e) => Err(self.write_error(e, &registry.id)),
        }
    }

    /// Applies a PATCH (RegistryUpdateParameters): absent fields keep their values, and
    /// `policies` merges one policy and one field at a time. The read, the rules and the
    /// write happen in one transaction, so concurrent writers serialize instead of failing.
    ///
    /// # Errors
    /// Every [`RegistryError`] but `NameNotAvailable` and `LocationMismatch`.
    pub async fn update(
        &self,
        id: &RegistryId,
        patch: &RegistryPatch,
        precondition: &Precondition,
        actor: &Actor,
    ) -> Result<RegistryWrite, RegistryError> {
        let _changing = Changing::start(&self.lookups);
        if let Some(sku) = patch.sku {
            self.check_sku_limits(id, sku).await?;
        }
        let change = |current: &Registry| {
            if !precondition.allows(Some(&current.etag)) {
                return Err(RegistryError::PreconditionFailed);
            }
            let asked = patch.policies.trust_enabled;
            self.prepare_change(current, current.apply_patch(patch), actor, asked)
        };
        match self.repo.update_with(id, &change).await {
            Err(RegistryError::NotFound(..)) => {
                Err(self.get(id).await.err().unwrap_or(RegistryError::Conflict))
            }
            other => self.written(other?, false).await,
        }
    }

    /// Reads a registry.
    ///
    /// # Errors
    /// `NotFound` (also when its resource group is missing: `ResourceGroup(NotFound)`), `Store`.
    pub async fn get(&self, id: &RegistryId) -> Result<Registry, RegistryError> {
        if let Some(registry) = self.repo.get(id).await? {
            return Ok(registry);
        }
        self.groups.get(&id.resource_group).await?;
        Err(RegistryError::NotFound(
            id.name.to_string(),
            id.resource_group.name.to_string(),
        ))
    }

    /// A page of a resource group's registries.
    ///
    /// # Errors
    /// `ResourceGroup(NotFound)` or `Store`.
    pub async fn list_by_resource_group(
        &self,
        group: &ResourceGroupId,
        page: &PageRequest,
    ) -> Result<Page<Registry>, RegistryError> {
        self.groups.get(group).await?;
        Ok(self.repo.list_by_resource_group(group, page).await?)
    }

    /// A page of a subscription's registries.
    ///
    /// # Errors
    /// `ResourceGroup(Subscription(NotFound))` or `Store`.
    pub async fn list_by_subscription(
        &self,
        subscription: &str,
        page: &PageRequest,
    ) -> Result<Page<Registry>, RegistryError> {
        let subscription = self.groups.resolve_subscription(subscription).await?;
        Ok(self.repo.list_by_subscription(subscription, page).await?)
    }

    /// How login servers are named.
    #[must_use]
    pub fn naming(&self) -> &LoginServerNaming {
        &self.naming
    }

    /// The registry whose login server is `host` (any case), if it exists and is not being
    /// deleted; answered from memory for up to a second (writes through this process clear
    /// it at once).
    ///
    /// # Errors
    /// `Store`.
    pub async fn find_by_login_server(
        &self,
        host: &str,
    ) -> Result<Option<Registry>, RegistryError> {
        use std::sync::atomic::Ordering;
        let host = host.to_ascii_lowercase();
        let now = self.clock.now();
        let generation = self.lookups.generation.load(Ordering::SeqCst);
        if let Some((found, _, _)) = self.lookups.entries.read().ok().and_then(|e| {
            e.get(&host)
                .filter(|(_, at, g)| *g == generation && now - *at < LOOKUP_TTL)
                .cloned()
        }) {
            return Ok(found);
        }
        let found = self.lookup(&host).await?;
        if let Ok(mut entries) = self.lookups.entries.write() {
            if entries.len() >= LOOKUP_MAX {
                entries.clear();
            }
            entries.insert(host, (found.clone(), now, generation));
        }
        Ok(found)
    }

    async fn lookup(&self, host: &str) -> Result<Option<Registry>, RegistryError> {
        let Some(name) = self.naming.registry_name(host) else {
            return Ok(None);
        };
        // The whole login server must be the registry's own (port included): a registry
        // keeps the one it was created with.
        Ok(self.repo.find_by_name(&name).await?.filter(|r| {
            r.provisioning_state != ProvisioningState::Deleting
                && r.login_server.eq_ignore_ascii_case(host)
        }))
    }

    /// Whether a name can be used for a new registry.
    ///
    /// # Errors
    /// `Store`.
    pub async fn check_name_availability(
        &self,
        name: &str,
    ) -> Result<NameAvailability, RegistryError> {
        let name = match RegistryName::parse(name) {
            Ok(name) => name,
            Err(e) => return Ok(NameAvailability::Invalid(e.message)),
        };
        Ok(match self.repo.find_by_name(&name).await? {
            Some(_) => {
                NameAvailability::AlreadyExists(format!("The registry {name} is already in use."))
            }
            None => NameAvailability::Available,
        })
    }

    /// Starts deleting a registry; a second request joins the running deletion.
    ///
    /// # Errors
    /// `PreconditionFailed`, `Conflict`, `Store`.
    pub async fn begin_delete(
        &self,
        id: &RegistryId,
        precondition: &Precondition,
    ) -> Result<DeleteOutcome, RegistryError> {
        let _changing = Changing::start(&self.lookups);
        retry_lost_races(
            precondition,
            |e| matches!(e, RegistryError::Conflict),
            || self.try_begin_delete(id, precondition),
        )
        .await
    }

    async fn try_begin_delete(
        &self,
        id: &RegistryId,
        precondition: &Precondition,
    ) -> Result<DeleteOutcome, RegistryError> {
        let Some(current) = self.repo.get(id).await? else {
            return Ok(DeleteOutcome::NotFound);
        };
        if !precondition.allows(Some(&current.etag)) {
            return Err(RegistryError::PreconditionFailed);
        }
        if current.provisioning_state == ProvisioningState::Deleting {
            let running = self.operations.find_in_progress(&id.key()).await?;
            let group = self
                .operations
                .find_in_progress(&id.resource_group.key())
                .await?;
            if let Some(op) = running.or(group) {
                return Ok(DeleteOutcome::Started(op));
            }
        }
        let operation = Operation::start(
            OperationKind::DeleteRegistry(current.id.clone()),
            self.clock.now(),
        );
        self.repo
            .begin_delete(&current.id, &current.etag, &operation)
            .await
            .map_err(|e| self.write_error(e, id))?;
        self.signal.notify();
        Ok(DeleteOutcome::Started(operation))
    }

    /// Refuses a SKU whose limits the registry's scope maps or tokens exceed.
    async fn check_sku_limits(&self, id: &RegistryId, to: Sku) -> Result<(), RegistryError> {
        let caps = to.capabilities();
        let (maps, tokens) = self.repo.child_counts(id).await?;
        for (what, count, limit) in [
            ("scope maps", maps, caps.scope_maps),
            ("tokens", tokens, caps.tokens),
        ] {
            if count > u64::from(limit) {
                return Err(RegistryError::SkuLimitExceeded {
                    registry: id.name.to_string(),
                    to,
                    what,
                    count,
                    limit,
                });
            }
        }
        Ok(())
    }

    /// The rules every change of an existing registry obeys; returns the registry to store
    /// and the wipe it starts. `asked_trust` is the trust status the request names, if any.
    ///
    /// Disabling content trust does not turn it off at once: it starts the wipe, and the
    /// policy shows as enabled (no trust-data push is granted) until the wipe has ended.
    /// Meanwhile, asking to enable it is refused, and asking to disable it joins the wipe.
    fn prepare_change(
        &self,
        current: &Registry,
        mut next: Registry,
        actor: &Actor,
        asked_trust: Option<bool>,
    ) -> Result<(Registry, Option<Operation>), RegistryError> {
        if current.provisioning_state == ProvisioningState::Deleting {
            return Err(RegistryError::BeingDeleted(current.name().to_string()));
        }
        let now = self.clock.now();
        let mut started = None;
        next.trust_wipe = current.trust_wipe;
        next.provisioning_state = ProvisioningState::Succeeded;
        let policies = &mut next.settings.policies;
        match (current.trust_wipe, current.settings.policies.trust_enabled) {
            (Some(operation), _) => {
                if asked_trust == Some(true) {
                    return Err(RegistryError::TrustWipeInProgress {
                        registry: current.name().to_string(),
                        operation,
                    });
                }
                policies.trust_enabled = true;
            }
            (None, true) if !policies.trust_enabled => {
                let op =
                    Operation::start(OperationKind::DisableContentTrust(current.id.clone()), now);
                next.trust_wipe = Some(op.id);
                policies.trust_enabled = true;
                started = Some(op);
            }
            (None, false) if policies.trust_enabled && !self.trust_available => {
                return Err(RegistryError::ContentTrustUnavailable(
                    current.name().to_string(),
                ));
            }
            (None, _) => {}
        }
        if next.trust_wipe.is_some() {
            next.provisioning_state = ProvisioningState::Updating;
        }
        stamp_policy_times(Some(&current.settings), &mut next.settings, now);
        check_values(&next)?;
        check_sku(Some(current), &next)?;
        next.etag = ETag::generate();
        next.system_data.last_modified_by = actor.name.clone();
        next.system_data.last_modified_by_type = actor.kind.clone();
        next.system_data.last_modified_at = now;
        Ok((next, started))
    }

    /// Ends a content-trust wipe: the policy shows as disabled. Nothing changes unless
    /// `operation` is the registry's running wipe (a repeated end is a no-op).
    ///
    /// # Errors
    /// `NotFound`, `Store`.
    pub async fn finish_trust_wipe(
        &self,
        id: &RegistryId,
        operation: OperationId,
    ) -> Result<(), RegistryError> {
        let _changing = Changing::start(&self.lookups);
        let finish = |current: &Registry| {
            let mut next = current.clone();
            if current.trust_wipe == Some(operation) {
                next.trust_wipe = None;
                next.settings.policies.trust_enabled = false;
                if next.provisioning_state == ProvisioningState::Updating {
                    next.provisioning_state = ProvisioningState::Succeeded;
                }
                next.etag = ETag::generate();
                next.system_data.last_modified_at = self.clock.now();
            }
            Ok((next, None))
        };
        self.repo.update_with(id, &finish).await.map(|_| ())
    }

    fn login_server(&self, name: &RegistryName) -> String {
        self.naming.login_server(name)
    }

    fn write_error(&self, e: RegistryWriteError, id: &RegistryId) -> RegistryError {
        match e {
            RegistryWriteError::NameTaken => {
                RegistryError::NameNotAvailable(self.login_server(&id.name))
            }
            RegistryWriteError::ResourceGroupGone => RegistryError::ResourceGroup(
                ResourceGroupError::NotFound(id.resource_group.name.to_string()),
            ),
            RegistryWriteError::Stale => RegistryError::Conflict,
            RegistryWriteError::Store(s) => RegistryError::Store(s),
        }
    }
}

/// Policies record when they last changed.
fn stamp_policy_times(
    before: Option<&super::RegistrySettings>,
    after: &mut super::RegistrySettings,
    now: time::OffsetDateTime,
) {
    let p = &mut after.policies;
    let (retention_changed, soft_delete_changed) = match before {
        None => (true, true),
        Some(b) => (
            (b.policies.retention.enabled, b.policies.retention.days)
                != (p.retention.enabled, p.retention.days),
            (
                b.policies.soft_delete.enabled,
                b.policies.soft_delete.retention_days,
            ) != (p.soft_delete.enabled, p.soft_delete.retention_days),
        ),
    };
    if retention_changed {
        p.retention.last_updated = Some(now);
    }
    if soft_delete_changed {
        p.soft_delete.last_updated = Some(now);
    }
}

fn check_values(r: &Registry) -> Result<(), RegistryError> {
    let p = &r.settings.policies;
    if p.retention.days > 365 {
        return Err(RegistryError::InvalidValue {
            target: "properties.policies.retentionPolicy.days".to_owned(),
            message: format!(
                "The retention policy's days must be between 0 and 365; {} was given.",
                p.retention.days
            ),
        });
    }
    if !(1..=90).contains(&p.soft_delete.retention_days) {
        return Err(RegistryError::InvalidValue {
            target: "properties.policies.softDeletePolicy.retentionDays".to_owned(),
            message: format!(
                "The soft-delete policy's retentionDays must be between 1 and 90; {} was given.",
                p.soft_delete.retention_days
            ),
        });
    }
    Ok(())
}

/// The capability table decides: a feature in use must be in the (new) SKU.
fn check_sku(current: Option<&Registry>, next: &Registry) -> Result<(), RegistryError> {
    let caps = next.sku.capabilities();
    for feature in next.settings.features_used() {
        if caps.has(feature) {
            continue;
        }
        let required = Sku::ALL
            .into_iter()
            .find(|s| s.capabilities().has(feature))
            .unwrap_or(Sku::Premium);
        let was_in_use = current
            .is_some_and(|c| c.settings.features_used().contains(&feature) && c.sku != next.sku);
        return Err(match current {
            Some(c) if was_in_use => RegistryError::SkuDowngradeBlocked {
                feature,
                registry: next.name().to_string(),
                from: c.sku,
                to: next.sku,
                required,
            },
            _ => RegistryError::FeatureNotInSku {
                feature,
                registry: next.name().to_string(),
                sku: next.sku,
                required,
            },
        });
    }
    Ok(())
}
