//! Resource groups (`Microsoft.Resources/resourceGroups`), as ARM serves them.

use crate::arm::{
    ETag, Location, NameError, Precondition, ProvisioningState, ResourceGroupId, ResourceGroupName,
    SubscriptionId, Tags, retry_lost_races,
};
use crate::clock::Clock;
use crate::operation::{Operation, OperationKind, OperationRepository, OperationSignal};
use crate::store::{Page, PageRequest, StoreError};
use crate::subscription::{SubscriptionError, SubscriptionService};
use async_trait::async_trait;
use std::sync::Arc;

/// A resource group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroup {
    /// Its id.
    pub id: ResourceGroupId,
    /// Region (immutable).
    pub location: Location,
    /// Tags.
    pub tags: Tags,
    /// The id of the resource that manages it, if any.
    pub managed_by: Option<String>,
    /// `Succeeded`, or `Deleting` while its deletion runs.
    pub provisioning_state: ProvisioningState,
    /// Version stamp.
    pub etag: ETag,
}

/// What a PUT of a resource group describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceGroupDefinition {
    /// Region.
    pub location: Location,
    /// Tags.
    pub tags: Tags,
    /// Managing resource.
    pub managed_by: Option<String>,
}

/// A PATCH of a resource group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceGroupPatch {
    /// New tags.
    pub tags: Option<Tags>,
    /// New managing resource.
    pub managed_by: Option<String>,
}

/// Why a write to a resource group was not done.
#[derive(Debug, thiserror::Error)]
pub enum ResourceGroupWriteError {
    /// Another write came first (insert of an existing group, or a changed ETag).
    #[error("the resource group changed concurrently")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores resource groups.
#[async_trait]
pub trait ResourceGroupRepository: Send + Sync {
    /// Reads a resource group (case-insensitive id).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get(&self, id: &ResourceGroupId) -> Result<Option<ResourceGroup>, StoreError>;

    /// Inserts a new group.
    ///
    /// # Errors
    /// `Conflict` when one with that id exists; `Store` otherwise.
    async fn insert(&self, group: &ResourceGroup) -> Result<(), ResourceGroupWriteError>;

    /// Replaces a group whose stored ETag is `expected`.
    ///
    /// # Errors
    /// `Conflict` when the ETag changed; `Store` otherwise.
    async fn update(
        &self,
        group: &ResourceGroup,
        expected: &ETag,
    ) -> Result<(), ResourceGroupWriteError>;

    /// A page of a subscription's groups.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(
        &self,
        subscription: SubscriptionId,
        page: &PageRequest,
    ) -> Result<Page<ResourceGroup>, StoreError>;

    /// In one transaction: marks the group and every registry in it `Deleting`, and records
    /// `operation`, provided the group's ETag is still `expected`.
    ///
    /// # Errors
    /// `Conflict` when the ETag changed; `Store` otherwise.
    async fn begin_delete(
        &self,
        id: &ResourceGroupId,
        expected: &ETag,
        operation: &Operation,
    ) -> Result<(), ResourceGroupWriteError>;

    /// Removes the group's row (its registries are gone by then). Idempotent.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn delete(&self, id: &ResourceGroupId) -> Result<(), StoreError>;
}

/// Errors of the resource-group use cases.
#[derive(Debug, thiserror::Error)]
pub enum ResourceGroupError {
    /// The subscription does not exist.
    #[error(transparent)]
    Subscription(#[from] SubscriptionError),
    /// The name breaks ARM's rules.
    #[error("{0}")]
    InvalidName(NameError),
    /// No such group.
    #[error("Resource group '{0}' could not be found.")]
    NotFound(String),
    /// PUT with a location other than the group's.
    #[error(
        "Invalid resource group location '{requested}'. The Resource group already exists in location '{existing}'."
    )]
    LocationMismatch {
        /// Asked for.
        requested: String,
        /// The group's.
        existing: String,
    },
    /// The group is being deleted.
    #[error(
        "The resource group '{0}' is in deprovisioning state and cannot perform this operation."
    )]
    BeingDeleted(String),
    /// `If-Match`/`If-None-Match` did not hold.
    #[error("The condition specified using HTTP conditional header(s) is not met.")]
    PreconditionFailed,
    /// A concurrent write won.
    #[error("The resource group was changed by another request; retry.")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ResourceGroupWriteError> for ResourceGroupError {
    fn from(e: ResourceGroupWriteError) -> Self {
        match e {
            ResourceGroupWriteError::Conflict => Self::Conflict,
            ResourceGroupWriteError::Store(s) => Self::Store(s),
        }
    }
}

/// The outcome of a delete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// There was nothing to delete.
    NotFound,
    /// Deletion runs as this operation (started now, or already running).
    Started(Operation),
}

/// Resource-group use cases.
#[derive(Clone)]
pub struct ResourceGroupService {
    subscriptions: SubscriptionService,
    repo: Arc<dyn ResourceGroupRepository>,
    operations: Arc<dyn OperationRepository>,
    signal: Arc<dyn OperationSignal>,
    clock: Arc<dyn Clock>,
}

impl ResourceGroupService {
    /// Builds the service.
    #[must_use]
    pub fn new(
        subscriptions: SubscriptionService,
        repo: Arc<dyn ResourceGroupRepository>,
        operations: Arc<dyn OperationRepository>,
        signal: Arc<dyn OperationSignal>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            subscriptions,
            repo,
            operations,
            signal,
            clock,
        }
    }

    /// Parses and checks a group id: the subscription must exist and the name be valid.
    ///
    /// # Errors
    /// `Subscription(NotFound)`, `InvalidName`, or `Store`.
    pub async fn resolve_id(
        &self,
        subscription: &str,
        name: &str,
    ) -> Result<ResourceGroupId, ResourceGroupError> {
        let subscription = self.subscriptions.require(subscription).await?;
        let name = ResourceGroupName::parse(name).map_err(ResourceGroupError::InvalidName)?;
        Ok(ResourceGroupId { subscription, name })
    }

    /// Checks that a subscription exists.
    ///
    /// # Errors
    /// `Subscription(NotFound)` or `Store`.
    pub async fn resolve_subscription(
        &self,
        subscription: &str,
    ) -> Result<SubscriptionId, ResourceGroupError> {
        Ok(self.subscriptions.require(subscription).await?)
    }

    /// Creates or replaces a group. Returns the group and whether it was created. Without a
    /// precondition, a write that lost a race is retried (last writer wins).
    ///
    /// # Errors
    /// `LocationMismatch`, `BeingDeleted`, `PreconditionFailed`, `Conflict`, `Store`.
    pub async fn create_or_update(
        &self,
        id: ResourceGroupId,
        definition: ResourceGroupDefinition,
        precondition: &Precondition,
    ) -> Result<(ResourceGroup, bool), ResourceGroupError> {
        retry_lost_races(
            precondition,
            |e| matches!(e, ResourceGroupError::Conflict),
            || self.try_create_or_update(id.clone(), definition.clone(), precondition),
        )
        .await
    }

    async fn try_create_or_update(
        &self,
        id: ResourceGroupId,
        definition: ResourceGroupDefinition,
        precondition: &Precondition,
    ) -> Result<(ResourceGroup, bool), ResourceGroupError> {
        let existing = self.repo.get(&id).await?;
        if !precondition.allows(existing.as_ref().map(|g| &g.etag)) {
            return Err(ResourceGroupError::PreconditionFailed);
        }
        match existing {
            None => {
                let group = ResourceGroup {
                    id,
                    location: definition.location,
                    tags: definition.tags,
                    managed_by: definition.managed_by,
                    provisioning_state: ProvisioningState::Succeeded,
                    etag: ETag::generate(),
                };
                self.repo.insert(&group).await?;
                Ok((group, true))
            }
            Some(current) => {
                Self::ensure_live(&current)?;
                if current.location != definition.location {
                    return Err(ResourceGroupError::LocationMismatch {
                        requested: definition.location.as_str().to_owned(),
                        existing: current.location.as_str().to_owned(),
                    });
                }
                let group = ResourceGroup {
                    tags: definition.tags,
                    managed_by: definition.managed_by,
                    etag: ETag::generate(),
                    ..current.clone()
                };
                self.repo.update(&group, &current.etag).await?;
                Ok((group, false))
            }
        }
    }

    /// Applies a PATCH, retried like [`Self::create_or_update`].
    ///
    /// # Errors
    /// `NotFound`, `BeingDeleted`, `PreconditionFailed`, `Conflict`, `Store`.
    pub async fn update(
        &self,
        id: &ResourceGroupId,
        patch: ResourceGroupPatch,
        precondition: &Precondition,
    ) -> Result<ResourceGroup, ResourceGroupError> {
        retry_lost_races(
            precondition,
            |e| matches!(e, ResourceGroupError::Conflict),
            || self.try_update(id, patch.clone(), precondition),
        )
        .await
    }

    async fn try_update(
        &self,
        id: &ResourceGroupId,
        patch: ResourceGroupPatch,
        precondition: &Precondition,
    ) -> Result<ResourceGroup, ResourceGroupError> {
        let current = self.get(id).await?;
        if !precondition.allows(Some(&current.etag)) {
            return Err(ResourceGroupError::PreconditionFailed);
        }
        Self::ensure_live(&current)?;
        let group = ResourceGroup {
            tags: patch.tags.unwrap_or_else(|| current.tags.clone()),
            managed_by: patch.managed_by.or_else(|| current.managed_by.clone()),
            etag: ETag::generate(),
            ..current.clone()
        };
        self.repo.update(&group, &current.etag).await?;
        Ok(group)
    }

    /// Reads a group.
    ///
    /// # Errors
    /// `NotFound` or `Store`.
    pub async fn get(&self, id: &ResourceGroupId) -> Result<ResourceGroup, ResourceGroupError> {
        self.repo
            .get(id)
            .await?
            .ok_or_else(|| ResourceGroupError::NotFound(id.name.to_string()))
    }

    /// Reads a group that accepts new resources (exists and is not being deleted).
    ///
    /// # Errors
    /// `NotFound`, `BeingDeleted` or `Store`.
    pub async fn get_live(
        &self,
        id: &ResourceGroupId,
    ) -> Result<ResourceGroup, ResourceGroupError> {
        let group = self.get(id).await?;
        Self::ensure_live(&group)?;
        Ok(group)
    }

    /// A page of the subscription's groups.
    ///
    /// # Errors
    /// `Subscription(NotFound)` or `Store`.
    pub async fn list(
        &self,
        subscription: &str,
        page: &PageRequest,
    ) -> Result<Page<ResourceGroup>, ResourceGroupError> {
        let subscription = self.subscriptions.require(subscription).await?;
        Ok(self.repo.list(subscription, page).await?)
    }

    /// Starts deleting a group and everything in it; a second request joins the running
    /// deletion.
    ///
    /// # Errors
    /// `PreconditionFailed`, `Conflict` or `Store`.
    pub async fn begin_delete(
        &self,
        id: &ResourceGroupId,
        precondition: &Precondition,
    ) -> Result<DeleteOutcome, ResourceGroupError> {
        retry_lost_races(
            precondition,
            |e| matches!(e, ResourceGroupError::Conflict),
            || self.try_begin_delete(id, precondition),
        )
        .await
    }

    async fn try_begin_delete(
        &self,
        id: &ResourceGroupId,
        precondition: &Precondition,
    ) -> Result<DeleteOutcome, ResourceGroupError> {
        let Some(current) = self.repo.get(id).await? else {
            return Ok(DeleteOutcome::NotFound);
        };
        if !precondition.allows(Some(&current.etag)) {
            return Err(ResourceGroupError::PreconditionFailed);
        }
        if current.provisioning_state == ProvisioningState::Deleting
            && let Some(op) = self.operations.find_in_progress(&id.key()).await?
        {
            return Ok(DeleteOutcome::Started(op));
        }
        let operation = Operation::start(
            OperationKind::DeleteResourceGroup(id.clone()),
            self.clock.now(),
        );
        self.repo
            .begin_delete(id, &current.etag, &operation)
            .await?;
        self.signal.notify();
        Ok(DeleteOutcome::Started(operation))
    }

    fn ensure_live(group: &ResourceGroup) -> Result<(), ResourceGroupError> {
        if group.provisioning_state == ProvisioningState::Deleting {
            return Err(ResourceGroupError::BeingDeleted(group.id.name.to_string()));
        }
        Ok(())
    }
}
