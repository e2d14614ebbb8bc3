//! What every handler can reach: the domain's use cases and a few facts about the server.

use berth_domain::authorization::RbacService;
use berth_domain::directory::DirectoryService;
use berth_domain::identity::TokenService;
use berth_domain::operation::OperationService;
use berth_domain::registry::RegistryService;
use berth_domain::resource_group::ResourceGroupService;
use berth_domain::subscription::SubscriptionService;

/// The application state handed to handlers.
#[derive(Clone)]
pub struct AppState {
    /// Subscription use cases.
    pub subscriptions: SubscriptionService,
    /// Resource-group use cases.
    pub groups: ResourceGroupService,
    /// Registry use cases.
    pub registries: RegistryService,
    /// Role definitions, role assignments and authorization decisions.
    pub rbac: RbacService,
    /// The built-in token issuer.
    pub tokens: TokenService,
    /// The directory.
    pub directory: DirectoryService,
    /// Directory writes behind directory roles, and directory role assignments.
    pub directory_admin: berth_domain::directory::DirectoryAdmin,
    /// Scope maps and repository-scoped tokens.
    pub scope_maps: berth_domain::registry::ScopeMaps,
    /// The registries' admin users.
    pub admin_users: berth_domain::registry::AdminUsers,
    /// The catalog of trusted collections per registry.
    pub trust_catalog: std::sync::Arc<dyn berth_domain::trust::TrustedCollectionCatalog>,
    /// The registry token server.
    pub registry_tokens: berth_domain::registry_token::RegistryTokenService,
    /// Long-running operations.
    pub operations: OperationService,
    /// Whether the store answers, for `/readyz`.
    pub readiness: std::sync::Arc<dyn berth_domain::store::Readiness>,
    /// The configured public base URL, if any.
    pub public_url: Option<String>,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The `host:port` names of the listener a request's `Host` may use (no public URL set).
    pub local_authorities: crate::arm::LocalAuthorities,
    /// The deployment's tenant id (for managed identities).
    pub tenant_id: String,
    /// The audience of management tokens (the cloud's `activeDirectoryResourceId`).
    pub management_audience: String,
    /// Names the caller of a bearer token.
    pub authenticator: berth_domain::identity::Authenticator,
    /// The portal's sessions.
    pub sessions: berth_domain::session::SessionService,
    /// The registries' repositories (when the login servers have a data plane), with
    /// content trust's signatures.
    pub artifacts: Option<berth_domain::registry::Artifacts>,
    /// The external provider people may also sign in to the portal with, if any.
    pub portal_sign_in: Option<std::sync::Arc<dyn berth_domain::session::ExternalSignIn>>,
    /// What clients append to a registry name to reach its login server
    /// (`registry.localhost[:port]`, the cloud-metadata document's `acrLoginServer`).
    pub acr_login_server_suffix: String,
    /// Peers whose `X-Forwarded-For` names the client, for the sign-in limiters.
    pub trusted_proxies: std::sync::Arc<berth_infra::proxies::TrustedProxies>,
    /// The activity log.
    pub activity: std::sync::Arc<dyn berth_domain::activity::ActivityLog>,
    /// This replica's counters and histograms for `/metrics`.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// What `/metrics` reads from the store at each scrape.
    pub store_gauges: berth_infra::persistence::StoreGauges,
    /// Where sign-in and registry events go.
    pub diagnostics: std::sync::Arc<dyn berth_domain::diagnostics::DiagnosticSink>,
    /// Peers that may scrape `/metrics` without a token.
    pub metrics_allow: std::sync::Arc<berth_infra::proxies::TrustedProxies>,
}
