//! What the registry use cases can fail with.

use super::super::{Feature, Sku, TrustRefusal};
use crate::arm::NameError;
use crate::operation::OperationId;
use crate::resource_group::ResourceGroupError;
use crate::store::StoreError;
use crate::subscription::SubscriptionError;

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
    /// The data plane could not be made ready for a new registry (the cause, for the log).
    #[error(
        "The registry cannot be created now: its repositories' storage could not be prepared. Retry in a moment."
    )]
    DataPlaneUnavailable(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SubscriptionError> for RegistryError {
    fn from(e: SubscriptionError) -> Self {
        Self::ResourceGroup(ResourceGroupError::Subscription(e))
    }
}

impl RegistryError {
    /// A refused content-trust transition of `registry`.
    #[must_use]
    pub fn trust_refused(refusal: TrustRefusal, registry: &str) -> Self {
        match refusal {
            TrustRefusal::WipeInProgress(operation) => Self::TrustWipeInProgress {
                registry: registry.to_owned(),
                operation,
            },
            TrustRefusal::NoTrustServer => Self::ContentTrustUnavailable(registry.to_owned()),
        }
    }
}
