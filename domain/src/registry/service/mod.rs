//! Registry use cases, by concern: creating and changing a registry with the rules every
//! write obeys (`write`, with content trust's transitions from `content_trust.rs` and the
//! pure checks in `rules`), deleting one (`delete`), finding one by login server on the
//! token path (`lookup`), and the errors of them all (`error`).

mod delete;
mod error;
mod lookup;
mod rules;
#[cfg(test)]
mod tests;
mod write;

pub use error::RegistryError;
use lookup::LookupCache;

use super::{
    LoginServerNaming, Registry, RegistryName, RegistryRepository, RegistryWriteError,
    RepositoryStorage,
};
use crate::arm::{RegistryId, ResourceGroupId};
use crate::clock::Clock;
use crate::operation::{Operation, OperationRepository, OperationSignal};
use crate::resource_group::{ResourceGroupError, ResourceGroupService};
use crate::store::{Page, PageRequest};
use std::sync::Arc;

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
    storage: Option<Arc<dyn RepositoryStorage>>,
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
            storage: None,
        }
    }

    /// The same service, which clears a new registry's namespace in the data plane's
    /// `storage` before the registry exists: a request of a deleted registry of the same
    /// name that was still streaming while its repositories were removed may have written
    /// after that removal, and none of it may show in the new registry.
    #[must_use]
    pub fn with_repository_storage(mut self, storage: Arc<dyn RepositoryStorage>) -> Self {
        self.storage = Some(storage);
        self
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
