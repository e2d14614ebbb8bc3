//! The OAuth 2.0 grants of the built-in issuer: `client_credentials` for service
//! principals, `password` and `authorization_code` (with PKCE, after a sign-in on the
//! issuer's own page; see [`super::authorization_code`]) for people, with a refresh token
//! and an id token, and `refresh_token`.

use super::authorization_code::{self, is_verifier};
use super::{
    Authorization, AuthorizationCodes, AuthorizeError, AuthorizeRequest, CODE_LIFETIME, CodeGrant,
    TokenClaims, TokenRejected, TokenSigner, TokenUse,
};
use crate::clock::Clock;
use crate::directory::{DirectoryService, SignInError};
use crate::limiter::SignInLimiter;
use crate::store::StoreError;
use std::sync::Arc;
use time::Duration;
use uuid::Uuid;

/// Lifetime of access and id tokens.
const ACCESS_LIFETIME: Duration = Duration::hours(1);
/// Lifetime of refresh tokens.
const REFRESH_LIFETIME: Duration = Duration::days(90);
/// Failed password or secret checks per user (or client) per [`LOCKOUT_WINDOW`]: Entra's
/// default smart-lockout threshold.
const MAX_FAILURES_PER_SUBJECT: u32 = 10;
/// Failed checks per client address per [`LOCKOUT_WINDOW`], for any subjects.
const MAX_FAILURES_PER_ADDRESS: u32 = 100;
/// How long a lockout lasts (Entra's default lockout duration).
const LOCKOUT_WINDOW: Duration = Duration::minutes(1);

/// Public clients every Entra tenant knows without registering them: the Azure CLI and
/// Azure PowerShell, which sign people in with `password` and `refresh_token` grants.
pub const FIRST_PARTY_CLIENTS: [&str; 2] = [
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    "1950a258-227b-4e31-a9cf-717495945fc2",
];

/// Where the issuer lives and which resources it issues tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerSettings {
    /// Public base URL (`https://host:port`).
    pub base_url: String,
    /// The tenant id.
    pub tenant: Uuid,
    /// Resources (token audiences) the issuer serves: the management API, the directory
    /// API, the registry token service.
    pub resources: Vec<String>,
}

impl IssuerSettings {
    /// `{base}/{tenant}/v2.0`, the `iss` of every token.
    #[must_use]
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.base_url, self.tenant)
    }
}

/// A token request, as the form fields came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequest {
    /// `grant_type`.
    pub grant_type: String,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `client_secret`.
    pub client_secret: Option<String>,
    /// `scope` (space-separated).
    pub scope: Option<String>,
    /// `username`.
    pub username: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `code` (the authorization-code grant).
    pub code: Option<String>,
    /// `redirect_uri` (the authorization-code grant).
    pub redirect_uri: Option<String>,
    /// `code_verifier` (PKCE).
    pub code_verifier: Option<String>,
}

/// A successful token answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scope granted.
    pub scope: String,
    /// For people: a refresh token.
    pub refresh_token: Option<String>,
    /// For people: an id token.
    pub id_token: Option<String>,
    /// For people: the object and tenant ids (MSAL's `client_info`).
    pub client_info: Option<(Uuid, Uuid)>,
}

/// OAuth 2.0 errors, with Entra's `AADSTS` codes in their descriptions.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// A required field is missing or malformed.
    #[error("AADSTS900144: {0}")]
    InvalidRequest(String),
    /// Unknown client or wrong secret.
    #[error(
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{0}'."
    )]
    InvalidClient(String),
    /// Wrong user name or password, or a refresh token that is no longer good.
    #[error("AADSTS50126: Error validating credentials due to invalid username or password.")]
    InvalidGrant,
    /// A `client_id` that names no application of the directory nor a first-party client.
    #[error(
        "AADSTS700016: Application with identifier '{0}' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant."
    )]
    UnknownClient(String),
    /// A refresh token redeemed by another client than the one it was issued to.
    #[error(
        "AADSTS70000: The provided value for the refresh token is not valid: it was issued to another client."
    )]
    ClientMismatch,
    /// A refresh token that failed verification (the reason is for logs only).
    #[error("AADSTS700082: The refresh token is not valid.")]
    InvalidRefreshToken(String),
    /// The resource asked for is not served.
    #[error("AADSTS500011: The resource principal named {0} was not found in the tenant.")]
    InvalidScope(String),
    /// The grant type is not supported.
    #[error("AADSTS70003: The app requested an unsupported grant type '{0}'.")]
    UnsupportedGrantType(String),
    /// An authorization code that is unknown, used, expired, or redeemed by another client
    /// or for another redirect URI than it was issued for.
    #[error(
        "AADSTS70008: The provided authorization code is expired, already redeemed, or was issued for another client or redirect URI."
    )]
    InvalidCode,
    /// A `code_verifier` that does not match the code's challenge.
    #[error(
        "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request."
    )]
    VerifierMismatch,
    /// Too many failed sign-ins for the user (or client) or from the address (Entra's
    /// `IdsLocked`); its credentials were not checked.
    #[error(
        "AADSTS50053: The account is locked, you've tried to sign in too many times with an incorrect user ID or password."
    )]
    Locked {
        /// Seconds until it may try again.
        retry_after: i64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OAuthError {
    /// The OAuth 2.0 `error` code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::UnknownClient(_) => "unauthorized_client",
            Self::InvalidGrant
            | Self::InvalidRefreshToken(_)
            | Self::ClientMismatch
            | Self::InvalidCode
            | Self::VerifierMismatch
            | Self::Locked { .. } => "invalid_grant",
            Self::InvalidScope(_) => "invalid_scope",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::Store(_) => "server_error",
        }
    }
}

/// The issuer's use cases.
#[derive(Clone)]
pub struct TokenService {
    settings: IssuerSettings,
    directory: DirectoryService,
    signer: Arc<dyn TokenSigner>,
    clock: Arc<dyn Clock>,
    limiter: Arc<SignInLimiter>,
    codes: Option<Arc<dyn AuthorizationCodes>>,
}

impl TokenService {
    /// Builds the service.
    #[must_use]
    pub fn new(
        settings: IssuerSettings,
        directory: DirectoryService,
        signer: Arc<dyn TokenSigner>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            settings,
            directory,
            signer,
            clock,
            limiter: Arc::new(SignInLimiter::new(
                MAX_FAILURES_PER_SUBJECT,
                MAX_FAILURES_PER_ADDRESS,
                LOCKOUT_WINDOW,
            )),
            codes: None,
        }
    }

    /// The same service, serving the authorization-code grant with codes kept in `codes`.
    #[must_use]
    pub fn with_authorization_codes(mut self, codes: Arc<dyn AuthorizationCodes>) -> Self {
        self.codes = Some(codes);
        self
    }

    /// Checks an authorize request: the client and its redirect URI, then PKCE, the
    /// response type and the scope.
    ///
    /// # Errors
    /// An [`AuthorizeError`] saying whether it may be sent back to the client.
    pub fn authorize(&self, request: &AuthorizeRequest) -> Result<Authorization, AuthorizeError> {
        let client = authorization_code::check_client(request, &self.settings.base_url)?;
        authorization_code::check_request(request, client, |scope| self.resource(scope).ok())
    }

    /// Signs a person in on the authorize page (as the `password` grant does, counted by
    /// the same limiter) and issues the single-use code of `authorization`.
    ///
    /// # Errors
    /// `InvalidGrant` for a wrong user name or password, `Locked` after too many,
    /// `UnsupportedGrantType` when no code store is configured, `Store`.
    pub async fn sign_in_for_code(
        &self,
        authorization: &Authorization,
        (username, password): (&str, &str),
        client: &str,
    ) -> Result<String, OAuthError> {
        let codes = self.codes()?;
        let sign_in = self.sign_in_user(username, password);
        let user = self.limited(username, client, sign_in).await?;
        let grant = CodeGrant {
            client_id: authorization.client_id.clone(),
            redirect_uri: authorization.redirect_uri.clone(),
            resource: authorization.resource.clone(),
            object_id: user.object_id,
            code_challenge: authorization.code_challenge.clone(),
            nonce: authorization.nonce.clone(),
            expires_at: self.clock.now() + CODE_LIFETIME,
        };
        Ok(codes.issue(&grant).await?)
    }

    fn codes(&self) -> Result<&Arc<dyn AuthorizationCodes>, OAuthError> {
        self.codes
            .as_ref()
            .ok_or_else(|| OAuthError::UnsupportedGrantType("authorization_code".to_owned()))
    }

    /// The issuer's settings.
    #[must_use]
    pub fn settings(&self) -> &IssuerSettings {
        &self.settings
    }

    /// The signer (for the JWKS and for verifying this issuer's tokens).
    #[must_use]
    pub fn signer(&self) -> &Arc<dyn TokenSigner> {
        &self.signer
    }

    /// Answers a token request from `client` (the caller's address).
    ///
    /// # Errors
    /// An [`OAuthError`]; `Locked` after too many failed password or secret checks for the
    /// user (or client id) or from the address.
    pub async fn token(
        &self,
        request: &TokenRequest,
        client: &str,
    ) -> Result<TokenResponse, OAuthError> {
        match request.grant_type.as_str() {
            "client_credentials" => {
                let subject = request.client_id.as_deref().unwrap_or_default();
                self.limited(subject, client, self.client_credentials(request))
                    .await
            }
            "password" => {
                let subject = request.username.as_deref().unwrap_or_default();
                self.limited(subject, client, self.password(request)).await
            }
            "refresh_token" => self.refresh(request).await,
            "authorization_code" => self.authorization_code(request).await,
            "" => Err(OAuthError::InvalidRequest(
                "The request body must contain the following parameter: 'grant_type'.".to_owned(),
            )),
            other => Err(OAuthError::UnsupportedGrantType(other.to_owned())),
        }
    }

    /// Runs a grant that checks a password or secret, unless the subject or the address is
    /// locked out: then the grant is not even started, so a guess costs no hash. Only a
    /// wrong credential counts as a failure; a success forgets the subject's failures.
    async fn limited<T>(
        &self,
        subject: &str,
        client: &str,
        grant: impl Future<Output = Result<T, OAuthError>>,
    ) -> Result<T, OAuthError> {
        let now = self.clock.now();
        if let Some(retry_after) = self.limiter.blocked(subject, client, now) {
            return Err(OAuthError::Locked { retry_after });
        }
        let result = grant.await;
        match &result {
            Ok(_) => self.limiter.succeeded(subject),
            Err(OAuthError::InvalidGrant | OAuthError::InvalidClient(_)) => {
                self.limiter.failed(subject, client, now);
            }
            Err(_) => {}
        }
        result
    }

    /// The resource a scope list asks for: `{resource}/.default`, `{resource}/user_impersonation`,
    /// or the resource itself, among OIDC scopes (`openid`, `profile`, `offline_access`).
    fn resource(&self, scope: Option<&str>) -> Result<String, OAuthError> {
        let scope = scope.ok_or_else(|| {
            OAuthError::InvalidRequest(
                "The request body must contain the following parameter: 'scope'.".to_owned(),
            )
        })?;
        let wanted = scope
            .split_whitespace()
            .find(|s| !matches!(*s, "openid" | "profile" | "offline_access" | "email"))
            .ok_or_else(|| OAuthError::InvalidScope(scope.to_owned()))?;
        let resource = wanted
            .strip_suffix("/.default")
            .or_else(|| wanted.strip_suffix("/user_impersonation"))
            .unwrap_or(wanted);
        let trimmed = resource.trim_end_matches('/');
        self.settings
            .resources
            .iter()
            .find(|r| r.trim_end_matches('/').eq_ignore_ascii_case(trimmed))
            .map(|_| resource.to_owned())
            .ok_or_else(|| OAuthError::InvalidScope(resource.to_owned()))
    }

    fn claims(&self, use_: TokenUse, aud: &str, lifetime: Duration, oid: Uuid) -> TokenClaims {
        let now = self.clock.now().unix_timestamp();
        TokenClaims {
            iss: self.settings.issuer(),
            sub: oid.to_string(),
            aud: aud.to_owned(),
            exp: now + lifetime.whole_seconds(),
            nbf: now,
            iat: now,
            jti: Uuid::new_v4().to_string(),
            oid: oid.to_string(),
            tid: self.settings.tenant.to_string(),
            idtyp: String::new(),
            ver: "2.0".to_owned(),
            token_use: use_,
            appid: None,
            azp: None,
            upn: None,
            preferred_username: None,
            name: None,
            nonce: None,
        }
    }

    async fn client_credentials(
        &self,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let client_id = request.client_id.as_deref().unwrap_or_default();
        let secret = request.client_secret.as_deref().unwrap_or_default();
        let resource = self.resource(request.scope.as_deref())?;
        let sp = self
            .directory
            .sign_in_service_principal(client_id, secret)
            .await
            .map_err(|e| match e {
                SignInError::InvalidCredentials => OAuthError::InvalidClient(client_id.to_owned()),
                SignInError::Store(s) => OAuthError::Store(s),
            })?;
        let mut claims = self.claims(TokenUse::Access, &resource, ACCESS_LIFETIME, sp.object_id);
        claims.idtyp = "app".to_owned();
        claims.appid = Some(sp.app_id.to_string());
        claims.azp = Some(sp.app_id.to_string());
        claims.name = Some(sp.display_name);
        Ok(TokenResponse {
            access_token: self.signer.sign(&claims).await?,
            expires_in: ACCESS_LIFETIME.whole_seconds(),
            scope: format!("{resource}/.default"),
            refresh_token: None,
            id_token: None,
            client_info: None,
        })
    }

    async fn password(&self, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let username = request.username.as_deref().unwrap_or_default();
        let password = request.password.as_deref().unwrap_or_default();
        let resource = self.resource(request.scope.as_deref())?;
        let client_id = self.known_client(request.client_id.as_deref()).await?;
        let user = self.sign_in_user(username, password).await?;
        self.user_tokens(&user, &resource, (client_id.as_deref(), None))
            .await
    }

    /// The `client_id` a person signs in through, in its canonical form: a first-party
    /// public client or the appId of an application of the directory. It becomes the id
    /// token's audience and the refresh token's `azp`, so it is never taken unchecked.
    async fn known_client(&self, client_id: Option<&str>) -> Result<Option<String>, OAuthError> {
        let Some(given) = client_id.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let unknown = || OAuthError::UnknownClient(given.chars().take(64).collect());
        let id = Uuid::parse_str(given).map_err(|_| unknown())?;
        let canonical = id.to_string();
        if FIRST_PARTY_CLIENTS.contains(&canonical.as_str()) {
            return Ok(Some(canonical));
        }
        let application = self
            .directory
            .find_service_principal(&canonical)
            .await
            .map_err(|e| OAuthError::Store(StoreError(e.to_string())))?
            .filter(|sp| sp.app_id == id && sp.account_enabled);
        application.map(|_| Some(canonical)).ok_or_else(unknown)
    }

    async fn refresh(&self, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let token = request.refresh_token.as_deref().ok_or_else(|| {
            OAuthError::InvalidRequest(
                "The request body must contain the following parameter: 'refresh_token'."
                    .to_owned(),
            )
        })?;
        let resource = self.resource(request.scope.as_deref())?;
        let claims = self
            .signer
            .verify(token, &self.settings.issuer(), &[self.settings.issuer()])
            .await
            .map_err(|TokenRejected(reason)| OAuthError::InvalidRefreshToken(reason))?;
        if claims.token_use != TokenUse::Refresh {
            return Err(OAuthError::InvalidRefreshToken(
                "not a refresh token".to_owned(),
            ));
        }
        // A refresh token is redeemed only by the client it was issued to (Entra binds it
        // the same way), so a leaked one cannot mint tokens for another application.
        let client_id = request
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| Uuid::parse_str(c).map_or_else(|_| c.to_owned(), |u| u.to_string()));
        if client_id != claims.azp {
            return Err(OAuthError::ClientMismatch);
        }
        let oid = Uuid::parse_str(&claims.oid)
            .map_err(|_| OAuthError::InvalidRefreshToken("bad oid".to_owned()))?;
        // A deleted or disabled user gets nothing more from an old refresh token.
        let user = self.enabled_user(oid).await?;
        self.user_tokens(&user, &resource, (client_id.as_deref(), None))
            .await
    }

    /// Redeems an authorization code: the client, redirect URI and PKCE verifier must be
    /// the code's, and its person still enabled. The code is spent even when a check fails.
    async fn authorization_code(
        &self,
        request: &TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let codes = self.codes()?;
        let missing = |name: &str| {
            OAuthError::InvalidRequest(format!(
                "The request body must contain the following parameter: '{name}'."
            ))
        };
        let code = request.code.as_deref().ok_or_else(|| missing("code"))?;
        let verifier = request
            .code_verifier
            .as_deref()
            .ok_or_else(|| missing("code_verifier"))?;
        let grant = codes
            .redeem(code, self.clock.now())
            .await?
            .ok_or(OAuthError::InvalidCode)?;
        let client_id = request
            .client_id
            .as_deref()
            .and_then(|c| Uuid::parse_str(c).ok())
            .map(|u| u.to_string());
        if client_id.as_deref() != Some(grant.client_id.as_str())
            || request.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str())
        {
            return Err(OAuthError::InvalidCode);
        }
        if !is_verifier(verifier) || codes.challenge_of(verifier) != grant.code_challenge {
            return Err(OAuthError::VerifierMismatch);
        }
        let user = self.enabled_user(grant.object_id).await?;
        self.user_tokens(
            &user,
            &grant.resource,
            (Some(&grant.client_id), grant.nonce.as_deref()),
        )
        .await
    }

    /// The user of a user name and password (a wrong one is `InvalidGrant`).
    async fn sign_in_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<crate::directory::User, OAuthError> {
        self.directory
            .sign_in_user(username, password)
            .await
            .map_err(|e| match e {
                SignInError::InvalidCredentials => OAuthError::InvalidGrant,
                SignInError::Store(s) => OAuthError::Store(s),
            })
    }

    /// The user `oid`, while it exists and may sign in.
    async fn enabled_user(&self, oid: Uuid) -> Result<crate::directory::User, OAuthError> {
        self.directory
            .get_by_ids(&[oid])
            .await
            .map_err(|e| OAuthError::Store(StoreError(e.to_string())))?
            .into_iter()
            .find_map(|o| match o {
                crate::directory::DirectoryObject::User(u) if u.account_enabled => Some(u),
                _ => None,
            })
            .ok_or(OAuthError::InvalidGrant)
    }

    async fn user_tokens(
        &self,
        user: &crate::directory::User,
        resource: &str,
        (client_id, nonce): (Option<&str>, Option<&str>),
    ) -> Result<TokenResponse, OAuthError> {
        let mut access = self.claims(TokenUse::Access, resource, ACCESS_LIFETIME, user.object_id);
        access.idtyp = "user".to_owned();
        access.upn = Some(user.user_principal_name.clone());
        access.name = Some(user.display_name.clone());
        access.azp = client_id.map(str::to_owned);
        let mut refresh = self.claims(
            TokenUse::Refresh,
            &self.settings.issuer(),
            REFRESH_LIFETIME,
            user.object_id,
        );
        refresh.idtyp = "user".to_owned();
        refresh.azp = client_id.map(str::to_owned);
        let mut id = self.claims(
            TokenUse::Id,
            client_id.unwrap_or(resource),
            ACCESS_LIFETIME,
            user.object_id,
        );
        id.idtyp = "user".to_owned();
        id.preferred_username = Some(user.user_principal_name.clone());
        id.name = Some(user.display_name.clone());
        id.nonce = nonce.map(str::to_owned);
        Ok(TokenResponse {
            access_token: self.signer.sign(&access).await?,
            expires_in: ACCESS_LIFETIME.whole_seconds(),
            scope: format!("{resource}/.default"),
            refresh_token: Some(self.signer.sign(&refresh).await?),
            id_token: Some(self.signer.sign(&id).await?),
            client_info: Some((user.object_id, self.settings.tenant)),
        })
    }
}
