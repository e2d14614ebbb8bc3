//! The token server's use cases: exchange, and access tokens computed from role assignments.

use super::{
    AccessClaims, AccessEntry, RefreshClaims, RefreshPermissions, RegistryTokenKeys, ScopeRequest,
    TokenServerError, is_repository_name,
};
use crate::authorization::{AccessKind, RbacService, RequestAttributes, Scope};
use crate::clock::Clock;
use crate::directory::{DirectoryService, PrincipalInfo, SignInError};
use crate::identity::TokenRejected;
use crate::limiter::SignInLimiter;
use crate::registry::{
    AdminUsers, Registry, RegistryError, RegistryName, RegistryService, ScopeMaps, scope_map_allows,
};
use crate::trust::TrustedCollectionCatalog;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How the token server is set up.
#[derive(Debug, Clone)]
pub struct TokenServerSettings {
    /// `iss` of every token (the registry's and Notary's configured `issuer`).
    pub issuer: String,
    /// The deployment's tenant id.
    pub tenant: String,
    /// Lifetime of refresh tokens (ACR: 3 hours).
    pub refresh_lifetime: Duration,
    /// Lifetime of access tokens.
    pub access_lifetime: Duration,
    /// Lifetime of access tokens that carry a trust-data push (`push` or `*` on a GUN):
    /// short, since a wipe waits for the last of them to expire before its final sweep.
    pub trust_push_lifetime: Duration,
    /// The Notary server's `service` name, when one is used.
    pub trust_service: Option<String>,
    /// Failed sign-ins a subject may make from one address per `failure_window` before it
    /// gets 429; an address as a whole may make ten times as many.
    pub max_failures: u32,
    /// The window of `max_failures`.
    pub failure_window: Duration,
}

/// What a caller of `/oauth2/token` presented.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Nothing: Notary and Docker ask anonymously first.
    Anonymous,
    /// A registry refresh token (the `refresh_token` grant, or Basic with the null-GUID user).
    RefreshToken(String),
    /// A service principal's appId and secret (Basic or the `password` grant).
    ServicePrincipal {
        /// appId.
        app_id: String,
        /// Secret.
        secret: String,
    },
    /// Any other user name and password: the registry's admin user (its name).
    Named {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
}

/// An issued access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Seconds it lives.
    pub expires_in: i64,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// Whom it was issued to (its `sub`; empty for an anonymous caller).
    pub subject: String,
    /// A refresh token, when `offline_token=true` was asked with credentials that name a
    /// principal.
    pub refresh_token: Option<String>,
}

/// The data-plane operations a scope action maps to, with the control action (what ACR's
/// classic roles carry) and the data action (the repository-scoped roles') granting each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Pull,
    Push,
    Delete,
    MetadataRead,
    MetadataWrite,
    Catalog,
    Sign,
}

impl Operation {
    fn control(self) -> Option<&'static str> {
        Some(match self {
            Self::Pull | Self::MetadataRead | Self::Catalog => {
                "Microsoft.ContainerRegistry/registries/pull/read"
            }
            Self::Push | Self::MetadataWrite => "Microsoft.ContainerRegistry/registries/push/write",
            Self::Delete => "Microsoft.ContainerRegistry/registries/artifacts/delete",
            Self::Sign => return None,
        })
    }

    fn data(self) -> &'static str {
        match self {
            Self::Pull => "Microsoft.ContainerRegistry/registries/repositories/content/read",
            Self::Push => "Microsoft.ContainerRegistry/registries/repositories/content/write",
            Self::Delete => "Microsoft.ContainerRegistry/registries/repositories/content/delete",
            Self::MetadataRead => {
                "Microsoft.ContainerRegistry/registries/repositories/metadata/read"
            }
            Self::MetadataWrite => {
                "Microsoft.ContainerRegistry/registries/repositories/metadata/write"
            }
            Self::Catalog => "Microsoft.ContainerRegistry/registries/catalog/read",
            Self::Sign => "Microsoft.ContainerRegistry/registries/trustedCollections/write",
        }
    }

    fn of(action: &str) -> Option<Self> {
        Some(match action {
            "pull" => Self::Pull,
            "push" => Self::Push,
            "delete" => Self::Delete,
            "metadata_read" => Self::MetadataRead,
            "metadata_write" => Self::MetadataWrite,
            _ => return None,
        })
    }
}

/// What a principal may do with a registry's images (see
/// [`RegistryTokenService::image_access`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageAccess {
    /// Pull images.
    pub pull: bool,
    /// Push images.
    pub push: bool,
    /// Delete images.
    pub delete: bool,
    /// Hold the signing data action (AcrImageSigner's).
    pub signer: bool,
    /// Whether the registry takes signatures now (content trust enabled, no wipe running).
    pub trust_push_allowed: bool,
}

impl ImageAccess {
    /// Whether a signed push (`docker push` with content trust) would be granted now: trust
    /// data pushes need pull, push and the signing action, on a registry taking signatures.
    #[must_use]
    pub fn can_sign(&self) -> bool {
        Self::signing_allowed(
            self.trust_push_allowed,
            self.pull,
            || self.push,
            || self.signer,
        )
    }

    /// The one rule for a signed push, shared with the token server's trust grants (which
    /// ask `push` and `sign` only when needed): the registry takes signatures now, and the
    /// caller may pull, push and sign.
    fn signing_allowed(
        trust_push_allowed: bool,
        pull: bool,
        push: impl FnOnce() -> bool,
        sign: impl FnOnce() -> bool,
    ) -> bool {
        trust_push_allowed && pull && push() && sign()
    }
}

/// Who is asking, once authenticated: a principal, whose role assignments decide, or a
/// registry's admin user, who may do everything on its registry's repositories but sign.
enum Who {
    /// A principal, with itself and its groups as the authorization index takes them
    /// (worked out once per request, not per scope checked).
    Principal {
        info: PrincipalInfo,
        principals: Vec<Uuid>,
    },
    Admin,
    /// A repository-scoped token, with its scope map's actions.
    Token(Vec<String>),
}

impl Who {
    fn principal(info: PrincipalInfo) -> Self {
        let mut principals = Vec::with_capacity(info.groups.len() + 1);
        principals.push(info.object_id);
        principals.extend_from_slice(&info.groups);
        Self::Principal { info, principals }
    }
}

/// Who is asking, and what its credentials bind it to.
struct Identity {
    who: Who,
    /// The registry a refresh token was issued for.
    bound_to: Option<String>,
    /// When its refresh token was issued (unix seconds).
    issued_at: Option<i64>,
    /// The `sub` of its tokens.
    name: String,
}

impl Identity {
    /// Whether the identity may act at `registry`: one bound to a registry (a refresh
    /// token, the admin user, a scope-map token) only there, and a refresh token not at a
    /// registry made after it under the same name.
    fn reaches(&self, registry: &Registry) -> bool {
        self.bound_to
            .as_deref()
            .is_none_or(|aud| aud.eq_ignore_ascii_case(&registry.login_server))
            && !self
                .issued_at
                .is_some_and(|iat| registry.was_created_after(iat))
    }
}

/// Where the token is for.
enum Target {
    Registry(Box<Registry>),
    Trust,
}

/// What the token server reads to decide who a caller is and what it may do.
#[derive(Clone)]
pub struct AccessSources {
    /// Registries, by login server.
    pub registries: RegistryService,
    /// Principals and their groups.
    pub directory: DirectoryService,
    /// Role assignments.
    pub rbac: RbacService,
    /// Admin users.
    pub admin: AdminUsers,
    /// Scope maps and repository-scoped tokens.
    pub scope_maps: ScopeMaps,
    /// The catalog of trusted collections, fed with every GUN given a trust-data push.
    pub catalog: Arc<dyn TrustedCollectionCatalog>,
}

/// How long a token berthd mints for the data plane lives. One is minted per forwarded
/// request, and Distribution checks it when the request starts, so a long blob stream
/// does not outlive it.
pub const DATA_PLANE_TOKEN_SECS: i64 = 60;

/// The clock skew an access token's `nbf` and `exp` are allowed at a login server: a
/// minute, as Distribution allows.
pub const ACCESS_LEEWAY_SECS: i64 = 60;

/// The token server.
#[derive(Clone)]
pub struct RegistryTokenService {
    settings: TokenServerSettings,
    registries: RegistryService,
    directory: DirectoryService,
    rbac: RbacService,
    keys: Arc<dyn RegistryTokenKeys>,
    admin: AdminUsers,
    scope_maps: ScopeMaps,
    catalog: Arc<dyn TrustedCollectionCatalog>,
    clock: Arc<dyn Clock>,
    limiter: Arc<SignInLimiter>,
}

/// Refuses what was issued at or before a removal of one of the principal's credentials.
fn revoked(principal: &PrincipalInfo, issued_at: i64) -> Result<(), TokenServerError> {
    match principal.sessions_valid_after {
        Some(after) if issued_at <= after.unix_timestamp() => Err(TokenServerError::Unauthorized(
            "the token was issued before a credential of its principal was removed".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// How many more failures an address may make than one subject from it.
const ADDRESS_FACTOR: u32 = 10;

fn unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn store(e: RegistryError) -> TokenServerError {
    match e {
        RegistryError::Store(s) => TokenServerError::Store(s),
        other => TokenServerError::InvalidRequest(other.to_string()),
    }
}

impl RegistryTokenService {
    /// Builds the service.
    #[must_use]
    pub fn new(
        settings: TokenServerSettings,
        sources: AccessSources,
        keys: Arc<dyn RegistryTokenKeys>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            limiter: Arc::new(SignInLimiter::new(
                settings.max_failures,
                settings.max_failures.saturating_mul(ADDRESS_FACTOR),
                settings.failure_window,
            )),
            settings,
            registries: sources.registries,
            directory: sources.directory,
            rbac: sources.rbac,
            keys,
            admin: sources.admin,
            scope_maps: sources.scope_maps,
            catalog: sources.catalog,
            clock,
        }
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &TokenServerSettings {
        &self.settings
    }

    /// Verifies an access token presented at the login server `service`, as Distribution's
    /// token access controller does: Berth's signature (ES256 only), `iss`, `aud` = the
    /// login server, and `nbf`/`exp` within [`ACCESS_LEEWAY_SECS`].
    ///
    /// # Errors
    /// [`TokenRejected`] naming the failed check (for the log, not the caller).
    pub fn verify_access(&self, token: &str, service: &str) -> Result<AccessClaims, TokenRejected> {
        let now = self.clock.now().unix_timestamp();
        let issuer = &self.settings.issuer;
        self.keys
            .verify_access(token, issuer, service, now, ACCESS_LEEWAY_SECS)
    }

    /// A token for berthd itself at the data plane whose `auth.token.service` is `audience`:
    /// exactly `access` (backend names, already authorized at a login server), for
    /// [`DATA_PLANE_TOKEN_SECS`]. No client is ever given one: the token server grants
    /// tokens only for login servers and the trust service.
    ///
    /// # Errors
    /// [`StoreError`] when no key is usable.
    pub fn mint_for_data_plane(
        &self,
        audience: &str,
        access: Vec<AccessEntry>,
    ) -> Result<String, crate::store::StoreError> {
        let now = self.clock.now();
        let claims = AccessClaims {
            jti: Uuid::new_v4().simple().to_string(),
            sub: "berthd".to_owned(),
            nbf: unix(now),
            exp: unix(now + Duration::seconds(DATA_PLANE_TOKEN_SECS)),
            iat: unix(now),
            iss: self.settings.issuer.clone(),
            aud: audience.to_owned(),
            version: "1.0".to_owned(),
            access,
            roles: Vec::new(),
            grant_type: "none".to_owned(),
        };
        self.keys.sign_access(&claims)
    }

    async fn registry(&self, service: &str) -> Result<Registry, TokenServerError> {
        self.registries
            .find_by_login_server(service)
            .await
            .map_err(store)?
            .ok_or_else(|| TokenServerError::UnknownService(service.to_owned()))
    }

    async fn principal(&self, object_id: Uuid) -> Result<PrincipalInfo, TokenServerError> {
        self.directory
            .principal(object_id)
            .await
            .map_err(|e| TokenServerError::Store(crate::store::StoreError(e.to_string())))?
            .ok_or_else(|| {
                TokenServerError::Unauthorized("the principal is deleted or disabled".to_owned())
            })
    }

    fn refresh_token(
        &self,
        principal: &PrincipalInfo,
        registry: &str,
    ) -> Result<String, TokenServerError> {
        let now = self.clock.now();
        let claims = RefreshClaims {
            jti: Uuid::new_v4().simple().to_string(),
            sub: principal.name.clone(),
            oid: principal.object_id.to_string(),
            nbf: unix(now),
            exp: unix(now + self.settings.refresh_lifetime),
            iat: unix(now),
            iss: self.settings.issuer.clone(),
            aud: registry.to_ascii_lowercase(),
            version: "1.0".to_owned(),
            grant_type: "refresh_token".to_owned(),
            tenant: self.settings.tenant.clone(),
            permissions: RefreshPermissions {
                actions: vec!["*".to_owned()],
                not_actions: Vec::new(),
            },
            roles: Vec::new(),
        };
        Ok(self.keys.sign_refresh(&claims)?)
    }

    /// Exchanges the identity of an already verified Entra-style access token (issued at
    /// `issued_at`, unix seconds, when known) for a refresh token of the registry named by
    /// `service`.
    ///
    /// # Errors
    /// `UnknownService`; `Unauthorized` for another tenant, a deleted principal, or a token
    /// issued before one of the principal's credentials was removed; `Store`.
    pub async fn exchange(
        &self,
        service: &str,
        tenant: Option<&str>,
        principal: Uuid,
        issued_at: Option<i64>,
    ) -> Result<String, TokenServerError> {
        if tenant.is_some_and(|t| !t.is_empty() && !t.eq_ignore_ascii_case(&self.settings.tenant)) {
            return Err(TokenServerError::Unauthorized(
                "the tenant is not this deployment's".to_owned(),
            ));
        }
        let registry = self.registry(service).await?;
        let principal = self.principal(principal).await?;
        if let Some(issued_at) = issued_at {
            revoked(&principal, issued_at)?;
        }
        self.refresh_token(&principal, &registry.login_server)
    }

    async fn identify(
        &self,
        credentials: Credentials,
        target: &Target,
    ) -> Result<Option<Identity>, TokenServerError> {
        match credentials {
            Credentials::Anonymous => Ok(None),
            Credentials::RefreshToken(token) => {
                let claims = self
                    .keys
                    .verify_refresh(&token, &self.settings.issuer)
                    .map_err(|e| {
                        TokenServerError::Unauthorized(format!("invalid refresh token ({})", e.0))
                    })?;
                let oid = Uuid::parse_str(&claims.oid).map_err(|_| {
                    TokenServerError::Unauthorized("invalid refresh token".to_owned())
                })?;
                let principal = self.principal(oid).await?;
                revoked(&principal, claims.iat)?;
                Ok(Some(Identity {
                    name: principal.name.clone(),
                    who: Who::principal(principal),
                    bound_to: Some(claims.aud),
                    issued_at: Some(claims.iat),
                }))
            }
            Credentials::ServicePrincipal { app_id, secret } => {
                let sp = self
                    .directory
                    .sign_in_service_principal(&app_id, &secret)
                    .await
                    .map_err(|e| match e {
                        SignInError::InvalidCredentials => TokenServerError::Unauthorized(
                            "invalid username or password".to_owned(),
                        ),
                        SignInError::Store(s) => TokenServerError::Store(s),
                    })?;
                let principal = self.principal(sp.object_id).await?;
                Ok(Some(Identity {
                    name: principal.name.clone(),
                    who: Who::principal(principal),
                    bound_to: None,
                    issued_at: None,
                }))
            }
            Credentials::Named { username, password } => {
                let refused =
                    || TokenServerError::Unauthorized("invalid username or password".to_owned());
                // The admin user's name is its registry's, so it names the registry too.
                let registry = match RegistryName::parse(&username) {
                    Ok(name) => {
                        let host = self.registries.naming().login_server(&name);
                        self.registries
                            .find_by_login_server(&host)
                            .await
                            .map_err(store)?
                    }
                    Err(_) => None,
                };
                if let Some(registry) = registry
                    && self.admin.verify(&registry, &password).await?
                {
                    return Ok(Some(Identity {
                        name: registry.name().to_string(),
                        who: Who::Admin,
                        bound_to: Some(registry.login_server.clone()),
                        issued_at: None,
                    }));
                }
                // A repository-scoped token of the registry asked for. Tokens never reach
                // trust data (ACR's documented limit), so the trust service knows none.
                let Target::Registry(registry) = target else {
                    return Err(refused());
                };
                let actions = self
                    .scope_maps
                    .authenticate(&registry.id, &username, &password)
                    .await?
                    .ok_or_else(refused)?;
                Ok(Some(Identity {
                    name: username,
                    who: Who::Token(actions),
                    bound_to: Some(registry.login_server.clone()),
                    issued_at: None,
                }))
            }
        }
    }

    /// Authenticates, counting failures per subject and per client address (`client`
    /// names where the request came from): a subject or address with too many recent
    /// failures is refused before its credentials are even looked at. The subject is the
    /// name given, or for a refresh token the principal it claims (read unverified, for
    /// bucketing only), so garbage tokens share one bucket of their own and never block a
    /// valid token of a known principal from the same address; only the address-wide
    /// bucket, with a higher threshold, stops every subject at once.
    async fn identify_limited(
        &self,
        client: &str,
        credentials: Credentials,
        target: &Target,
    ) -> Result<Option<Identity>, TokenServerError> {
        let subject = match &credentials {
            Credentials::Anonymous => return Ok(None),
            Credentials::RefreshToken(token) => format!(
                "{client}|refresh:{}",
                self.keys
                    .claimed_principal(token)
                    .unwrap_or_else(|| "unparseable".to_owned())
            ),
            Credentials::ServicePrincipal { app_id, .. } => format!("{client}|{app_id}"),
            Credentials::Named { username, .. } => format!("{client}|{username}"),
        };
        let now = self.clock.now();
        if let Some(retry_after) = self.limiter.blocked(&subject, client, now) {
            return Err(TokenServerError::TooManyRequests { retry_after });
        }
        match self.identify(credentials, target).await {
            Err(TokenServerError::Unauthorized(reason)) => {
                self.limiter.failed(&subject, client, now);
                Err(TokenServerError::Unauthorized(reason))
            }
            Ok(identity) => {
                self.limiter.succeeded(&subject);
                Ok(identity)
            }
            Err(other) => Err(other),
        }
    }

    /// Issues an access token for `service` granting what the caller may do of `scopes` now;
    /// scopes it may not have are dropped, as the Docker token specification says.
    ///
    /// # Errors
    /// `UnknownService`; `Unauthorized` for bad credentials, a refresh token of another
    /// registry, or a deleted principal; `TooManyRequests` after too many failures from
    /// `client`; `Store`.
    pub async fn token(
        &self,
        service: &str,
        scopes: &[ScopeRequest],
        credentials: Credentials,
        offline: bool,
        client: &str,
    ) -> Result<IssuedToken, TokenServerError> {
        let target = if self
            .settings
            .trust_service
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(service))
        {
            Target::Trust
        } else {
            Target::Registry(Box::new(self.registry(service).await?))
        };
        let identity = self.identify_limited(client, credentials, &target).await?;
        if let (Target::Registry(registry), Some(identity)) = (&target, &identity)
            && !identity.reaches(registry)
        {
            return Err(TokenServerError::Unauthorized(
                "the refresh token is for another registry, or for an earlier registry of \
                 this name"
                    .to_owned(),
            ));
        }
        let now = self.clock.now();
        let mut lifetime = self.settings.access_lifetime;
        let mut access = Vec::new();
        for scope in scopes {
            // At a login server, a repository scope that names `<loginServer>/<repo>` is a
            // Notary GUN: the trust store served on that host, as ACR serves it.
            let gun_here = match &target {
                Target::Registry(registry) => {
                    scope.kind == "repository"
                        && scope
                            .name
                            .strip_prefix(registry.login_server.as_str())
                            .is_some_and(|rest| rest.starts_with('/'))
                }
                Target::Trust => true,
            };
            let actions = match &target {
                Target::Registry(registry) if !gun_here => {
                    self.registry_actions(identity.as_ref(), registry, scope)
                }
                Target::Registry(_) | Target::Trust => {
                    let push_until = now + self.settings.trust_push_lifetime;
                    let actions = self
                        .trust_actions(identity.as_ref(), scope, push_until)
                        .await?;
                    if actions.iter().any(|a| a == "push" || a == "*") {
                        lifetime = lifetime.min(self.settings.trust_push_lifetime);
                    }
                    actions
                }
            };
            if !actions.is_empty() {
                access.push(AccessEntry {
                    kind: scope.kind.clone(),
                    name: scope.name.clone(),
                    actions,
                });
            }
        }
        let claims = AccessClaims {
            jti: Uuid::new_v4().simple().to_string(),
            sub: identity
                .as_ref()
                .map(|i| i.name.clone())
                .unwrap_or_default(),
            nbf: unix(now),
            exp: unix(now + lifetime),
            iat: unix(now),
            iss: self.settings.issuer.clone(),
            aud: service.to_ascii_lowercase(),
            version: "1.0".to_owned(),
            access,
            roles: Vec::new(),
            grant_type: match &identity {
                None => "none",
                Some(Identity {
                    bound_to: Some(_), ..
                }) => "refresh_token",
                Some(_) => "password",
            }
            .to_owned(),
        };
        let refresh_token = match (&identity, &target, offline) {
            (
                Some(Identity {
                    who:
                        Who::Principal {
                            info: principal, ..
                        },
                    ..
                }),
                Target::Registry(registry),
                true,
            ) => Some(self.refresh_token(principal, &registry.login_server)?),
            _ => None,
        };
        Ok(IssuedToken {
            access_token: self.keys.sign_access(&claims)?,
            expires_in: lifetime.whole_seconds(),
            issued_at: now,
            subject: claims.sub.clone(),
            refresh_token,
        })
    }

    /// Whether the caller may perform `op` at `scope` (its own roles, or its groups'; the
    /// admin user everything but signing, on the registry it is bound to).
    fn can(
        &self,
        identity: Option<&Identity>,
        op: Operation,
        scope: &Scope,
        repository: &str,
    ) -> bool {
        let Some(identity) = identity else {
            return false;
        };
        let principals = match &identity.who {
            Who::Admin => return op != Operation::Sign,
            Who::Token(actions) => {
                let (repository, permission) = match op {
                    Operation::Pull => (repository, "content/read"),
                    Operation::Push => (repository, "content/write"),
                    Operation::Delete => (repository, "content/delete"),
                    Operation::MetadataRead => (repository, "metadata/read"),
                    Operation::MetadataWrite => (repository, "metadata/write"),
                    // The catalog lists every repository: only a map that reads the metadata
                    // of all of them (`repositories/*/metadata/read`) may; "/" is a name no
                    // repository has, so only the `*` pattern covers it.
                    Operation::Catalog => ("/", "metadata/read"),
                    Operation::Sign => return false,
                };
                return scope_map_allows(actions, repository, permission);
            }
            Who::Principal { principals, .. } => principals,
        };
        self.principal_can(principals, op, scope, repository)
    }

    /// Whether `principals` (a principal and its groups) may perform `op` at `scope`: a
    /// control action of ACR's classic roles, or a data action of the repository-scoped
    /// ones (whose conditions see `repository`).
    fn principal_can(
        &self,
        principals: &[Uuid],
        op: Operation,
        scope: &Scope,
        repository: &str,
    ) -> bool {
        let request = RequestAttributes {
            repository: (!repository.is_empty()).then_some(repository),
        };
        op.control().is_some_and(|a| {
            self.rbac
                .is_allowed(principals, a, AccessKind::Control, scope)
        }) || self
            .rbac
            .is_allowed_for(principals, op.data(), AccessKind::Data, scope, &request)
    }

    /// What `principals` (a principal and its groups) may do with every repository of
    /// `registry`, decided as the token server decides a token's actions: what a portal's
    /// "Check access" shows. Assignments whose condition names repositories grant nothing
    /// here, since no repository is named.
    #[must_use]
    pub fn image_access(&self, principals: &[Uuid], registry: &Registry) -> ImageAccess {
        let Ok(at) = Scope::parse(&registry.id.to_string()) else {
            return ImageAccess::default();
        };
        let can = |op| self.principal_can(principals, op, &at, "");
        ImageAccess {
            pull: can(Operation::Pull),
            push: can(Operation::Push),
            delete: can(Operation::Delete),
            signer: can(Operation::Sign),
            trust_push_allowed: registry.trust_push_allowed(),
        }
    }

    fn repository_scope(registry: &Registry, repository: &str) -> Option<Scope> {
        if !is_repository_name(repository) {
            return None;
        }
        Scope::parse(&format!("{}/repositories/{repository}", registry.id)).ok()
    }

    fn registry_actions(
        &self,
        identity: Option<&Identity>,
        registry: &Registry,
        scope: &ScopeRequest,
    ) -> Vec<String> {
        match scope.kind.as_str() {
            "registry" if scope.name == "catalog" => {
                let Ok(at) = Scope::parse(&registry.id.to_string()) else {
                    return Vec::new();
                };
                if scope.actions.iter().any(|a| a == "*")
                    && self.can(identity, Operation::Catalog, &at, "")
                {
                    vec!["*".to_owned()]
                } else {
                    Vec::new()
                }
            }
            "repository" => {
                let Some(at) = Self::repository_scope(registry, &scope.name) else {
                    return Vec::new();
                };
                let anonymous_pull = registry.settings.anonymous_pull_enabled;
                let can = |op: Operation| {
                    (anonymous_pull && matches!(op, Operation::Pull | Operation::MetadataRead))
                        || self.can(identity, op, &at, &scope.name)
                };
                grant(&scope.actions, can)
            }
            _ => Vec::new(),
        }
    }

    /// Notary scopes name a GUN (`<loginServer>/<repository>`, the login server spelled as
    /// Berth spells it, so that a wipe finds the collection under that exact name). Pull
    /// needs pull rights on the repository; push needs content trust enabled on the
    /// registry (and no wipe running), push and pull rights, and AcrImageSigner's data
    /// action; `*` (remote delete, key rotation) needs the same as push. A token that
    /// grants a push expires at `push_until`.
    async fn trust_actions(
        &self,
        identity: Option<&Identity>,
        scope: &ScopeRequest,
        push_until: OffsetDateTime,
    ) -> Result<Vec<String>, TokenServerError> {
        if scope.kind != "repository" {
            return Ok(Vec::new());
        }
        let Some((host, repository)) = scope.name.split_once('/') else {
            return Ok(Vec::new());
        };
        if identity
            .and_then(|i| i.bound_to.as_deref())
            .is_some_and(|aud| !aud.eq_ignore_ascii_case(host))
        {
            // A refresh token of one registry reaches no other registry's trust data.
            return Ok(Vec::new());
        }
        let Some(registry) = self
            .registries
            .find_by_login_server(host)
            .await
            .map_err(store)?
        else {
            return Ok(Vec::new());
        };
        if host != registry.login_server || identity.is_some_and(|i| !i.reaches(&registry)) {
            // An earlier registry's refresh token reaches none of a new one's trust data.
            return Ok(Vec::new());
        }
        let Some(at) = Self::repository_scope(&registry, repository) else {
            return Ok(Vec::new());
        };
        let anonymous_pull = registry.settings.anonymous_pull_enabled;
        if identity.is_some_and(|i| matches!(i.who, Who::Token(_))) {
            return Ok(Vec::new());
        }
        let pull = anonymous_pull || self.can(identity, Operation::Pull, &at, repository);
        let sign = ImageAccess::signing_allowed(
            registry.trust_push_allowed(),
            pull,
            || self.can(identity, Operation::Push, &at, repository),
            || self.can(identity, Operation::Sign, &at, repository),
        );
        let mut granted = Vec::new();
        for action in &scope.actions {
            let ok = match action.as_str() {
                "pull" => pull,
                "push" | "*" => sign,
                _ => false,
            };
            if ok && !granted.contains(action) {
                granted.push(action.clone());
            }
        }
        if sign && granted.iter().any(|a| a == "push" || a == "*") {
            // Whatever is pushed with this token must be found by a wipe later: the
            // collection and the token's expiry are in the catalog before the token exists.
            // Then the registry is read again from the store, past any cache: a wipe (or a
            // deletion) that began before this read is seen, and the push is refused; one
            // that begins after it reads the catalog after this record, and waits for this
            // token to expire before its final sweep.
            let gun = format!("{}/{repository}", registry.login_server);
            self.catalog
                .record(&registry.id, &gun, Some(push_until))
                .await?;
            let allowed = match self.registries.get(&registry.id).await {
                Ok(fresh) => fresh.trust_push_allowed(),
                Err(RegistryError::NotFound(..) | RegistryError::ResourceGroup(_)) => false,
                Err(e) => return Err(store(e)),
            };
            if !allowed {
                granted.retain(|a| a == "pull");
            }
        }
        Ok(granted)
    }
}

/// The requested actions the caller may perform; `*` is granted whole when pull, push and
/// delete all are, else as those of the three it may.
fn grant(requested: &[String], can: impl Fn(Operation) -> bool) -> Vec<String> {
    let mut granted: Vec<String> = Vec::new();
    let mut add = |a: &str| {
        if !granted.iter().any(|g| g == a) {
            granted.push(a.to_owned());
        }
    };
    for action in requested {
        if action == "*" {
            let parts = [Operation::Pull, Operation::Push, Operation::Delete];
            if parts.iter().all(|op| can(*op)) {
                add("*");
            } else {
                for (name, op) in ["pull", "push", "delete"].iter().zip(parts) {
                    if can(op) {
                        add(name);
                    }
                }
            }
        } else if Operation::of(action).is_some_and(&can) {
            add(action);
        }
    }
    granted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_may_be_done_is_granted_and_star_splits() {
        let requested = |s: &[&str]| s.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        let pull_only = |op: Operation| op == Operation::Pull;
        assert_eq!(grant(&requested(&["pull", "push"]), pull_only), ["pull"]);
        assert_eq!(grant(&requested(&["*"]), pull_only), ["pull"]);
        assert_eq!(grant(&requested(&["*"]), |_| true), ["*"]);
        assert_eq!(
            grant(&requested(&["pull", "pull", "bogus"]), |_| true),
            ["pull"]
        );
        assert!(grant(&requested(&["push"]), |_| false).is_empty());
    }
}
