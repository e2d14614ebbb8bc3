//! Creating and changing a registry (PUT, PATCH), with the rules every write obeys and
//! content trust's transitions, and the end of a content-trust wipe.

use super::rules::{check_sku, check_values, stamp_policy_times};
use super::{RegistryError, RegistryService, RegistryWrite, lookup::Changing};
use crate::arm::{Actor, ETag, Precondition, ProvisioningState, RegistryId, SystemData};
use crate::operation::{Operation, OperationId, OperationKind};
use crate::registry::{
    ContentTrust, Namespace, Registry, RegistryDefinition, RegistryPatch, RegistryWriteError, Sku,
    TrustEvent,
};

impl RegistryService {
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
            let asked = Some(definition.content_trust);
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
        let operation = match (started, registry.content_trust.wipe()) {
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
            content_trust: if definition.content_trust {
                ContentTrust::Enabled
            } else {
                ContentTrust::Disabled
            },
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
        // Checked after the SKU, as the content trust of a new registry always was.
        ContentTrust::Disabled
            .request(
                Some(definition.content_trust),
                self.trust_available,
                OperationId::generate(),
            )
            .map_err(|r| RegistryError::trust_refused(r, &registry.name().to_string()))?;
        self.clear_leftovers(&registry).await?;
        match self.repo.insert(&registry).await {
            Ok(()) => Ok(registry),
            Err(RegistryWriteError::NameTaken) if self.repo.get(&registry.id).await?.is_some() => {
                Err(RegistryError::Conflict)
            }
            Err(e) => Err(self.write_error(e, &registry.id)),
        }
    }

    /// Removes what a deleted registry of the same name may have left in the data plane
    /// (see [`Self::with_repository_storage`]); nothing has been written for this one yet.
    ///
    /// # Errors
    /// `DataPlaneUnavailable` when the data plane cannot be cleared now: the registry is
    /// not made, so that it never starts with another's leftovers.
    async fn clear_leftovers(&self, registry: &Registry) -> Result<(), RegistryError> {
        let Some(storage) = &self.storage else {
            return Ok(());
        };
        storage
            .purge(&Namespace::of(&registry.id.name))
            .await
            .map_err(|e| RegistryError::DataPlaneUnavailable(e.0))
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
    /// and the wipe it starts. `asked_trust` is the trust status the request names, if any;
    /// what it does is content trust's transition (`content_trust.rs`).
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
        let wipe = Operation::start(OperationKind::DisableContentTrust(current.id.clone()), now);
        let (trust, event) = current
            .content_trust
            .request(asked_trust, self.trust_available, wipe.id)
            .map_err(|r| RegistryError::trust_refused(r, &current.name().to_string()))?;
        let started = matches!(event, Some(TrustEvent::WipeStarted(_))).then_some(wipe);
        next.content_trust = trust;
        next.provisioning_state = if trust.wipe().is_some() {
            ProvisioningState::Updating
        } else {
            ProvisioningState::Succeeded
        };
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
            if let (trust, Some(TrustEvent::WipeFinished(_))) =
                current.content_trust.finish_wipe(operation)
            {
                next.content_trust = trust;
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
}
