//! Typed ARM resource ids. Their text form keeps the names' case; their `key` is the
//! lowercase form ARM compares by.

use super::{ResourceGroupName, SubscriptionId};
use crate::registry::RegistryName;
use std::fmt;

/// `/subscriptions/{sub}/resourceGroups/{rg}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceGroupId {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// The resource group's name.
    pub name: ResourceGroupName,
}

impl ResourceGroupId {
    /// The case-insensitive identity of the resource group.
    #[must_use]
    pub fn key(&self) -> String {
        self.to_string().to_lowercase()
    }
}

impl fmt::Display for ResourceGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}",
            self.subscription, self.name
        )
    }
}

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryId {
    /// The resource group holding the registry.
    pub resource_group: ResourceGroupId,
    /// The registry's name.
    pub name: RegistryName,
}

impl RegistryId {
    /// The case-insensitive identity of the registry.
    #[must_use]
    pub fn key(&self) -> String {
        self.to_string().to_lowercase()
    }
}

impl fmt::Display for RegistryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/providers/{}/{}",
            self.resource_group,
            crate::registry::PROVIDER,
            self.name
        )
    }
}
