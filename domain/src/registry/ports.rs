//! Ports of the registry context.

use super::{Registry, RegistryError, RegistryName};
use crate::arm::{ETag, RegistryId, ResourceGroupId, SubscriptionId};
use crate::operation::Operation;
use crate::store::{Page, PageRequest, StoreError};
use async_trait::async_trait;

/// The rules of a change: from the current registry to the one to store and the operation
/// the change starts (stored in the same transaction), or why not.
pub type RegistryChange<'a> =
    &'a (dyn Fn(&Registry) -> Result<(Registry, Option<Operation>), RegistryError> + Send + Sync);

/// Why a registry write was not done.
#[derive(Debug, thiserror::Error)]
pub enum RegistryWriteError {
    /// Another registry (anywhere in the deployment) has this name, in any case.
    #[error("the registry name is taken")]
    NameTaken,
    /// The resource group is gone or being deleted.
    #[error("the resource group is missing or being deleted")]
    ResourceGroupGone,
    /// The stored ETag is not the expected one.
    #[error("the registry changed concurrently")]
    Stale,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores registries.
#[async_trait]
pub trait RegistryRepository: Send + Sync {
    /// Reads a registry by id (case-insensitive).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get(&self, id: &RegistryId) -> Result<Option<Registry>, StoreError>;

    /// How many user-defined scope maps and tokens the registry has.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn child_counts(&self, id: &RegistryId) -> Result<(u64, u64), StoreError>;

    /// Finds the registry with this name anywhere in the deployment (case-insensitive).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find_by_name(&self, name: &RegistryName) -> Result<Option<Registry>, StoreError>;

    /// Inserts a new registry, checking in the same transaction that its resource group
    /// exists and is not being deleted.
    ///
    /// # Errors
    /// `NameTaken`, `ResourceGroupGone`, or `Store`.
    async fn insert(&self, registry: &Registry) -> Result<(), RegistryWriteError>;

    /// In one transaction, with the registry's row locked against other writers: reads the
    /// registry, asks `change` for its next state, and stores it with the operation the
    /// change starts. The adapter decides nothing: `change` carries the rules.
    ///
    /// # Errors
    /// What `change` returns; [`RegistryError::NotFound`] when there is no such registry;
    /// [`RegistryError::Store`] when the store fails.
    async fn update_with(
        &self,
        id: &RegistryId,
        change: RegistryChange<'_>,
    ) -> Result<(Registry, Option<Operation>), RegistryError>;

    /// A page of a resource group's registries.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list_by_resource_group(
        &self,
        group: &ResourceGroupId,
        page: &PageRequest,
    ) -> Result<Page<Registry>, StoreError>;

    /// A page of a subscription's registries.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list_by_subscription(
        &self,
        subscription: SubscriptionId,
        page: &PageRequest,
    ) -> Result<Page<Registry>, StoreError>;

    /// In one transaction: marks the registry `Deleting` (if its ETag is still `expected`)
    /// and records `operation`.
    ///
    /// # Errors
    /// `Stale` when the ETag changed; `Store` otherwise.
    async fn begin_delete(
        &self,
        id: &RegistryId,
        expected: &ETag,
        operation: &Operation,
    ) -> Result<(), RegistryWriteError>;

    /// Removes a registry's row. Idempotent.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn delete(&self, id: &RegistryId) -> Result<(), StoreError>;
}
