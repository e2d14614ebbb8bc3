//! Container registries (`Microsoft.ContainerRegistry/registries`): their model, the SKU
//! capability table, the ports they are stored through, and their use cases.

mod admin;
mod artifacts;
mod content_trust;
mod data_plane;
mod login_server;
mod model;
mod name;
mod ports;
mod scope_map;
mod service;
mod sku;

pub use admin::{
    ADMIN_PASSWORD_NAMES, AdminCredentials, AdminPasswordRepository, AdminUsers, SecretBox,
    admin_password_aad,
};
pub use artifacts::{
    ArtifactError, Artifacts, ListOrder, Listed, Listing, MAX_PAGE, RemovedRepository,
    RepositorySummary, TaggedManifest,
};
pub use content_trust::{ContentTrust, TrustEvent, TrustRefusal};
pub use data_plane::{
    DataPlaneError, MAX_BACKEND_NAME, ManifestRecord, Namespace, RepositoryNameError,
    RepositoryStorage, TagDigest, TagRecord,
};
pub use login_server::LoginServerNaming;
pub use model::{
    DomainNameLabelScope, Encryption, EndpointProtocol, Identity, IdentityType, KeyVaultProperties,
    NetworkRuleBypass, NetworkRuleSet, Policies, PoliciesPatch, PreviewSettings, Registry,
    RegistryDefinition, RegistryPatch, RegistrySettings, RetentionPolicy, RoleAssignmentMode,
    SoftDeletePolicy, UserAssignedIdentity,
};
pub use name::{RegistryName, is_repository_name};
pub use ports::{RegistryChange, RegistryRepository, RegistryWriteError};
pub use scope_map::{
    FastHash, GeneratedPassword, RepositoryToken, ScopeMap, ScopeMapRepository, ScopeMaps,
    TokenPassword, scope_map_allows, system_scope_maps,
};
pub use service::{NameAvailability, RegistryError, RegistryService, RegistryWrite};
pub use sku::{Capabilities, Feature, Sku};

/// The resource provider namespace and type of a registry.
pub const PROVIDER: &str = "Microsoft.ContainerRegistry/registries";
