//! The built-in identity provider's endpoints, shaped like Microsoft Entra ID's: OpenID
//! discovery (for a tenant id, `organizations` and `common`), the JWKS, the v2.0 token
//! endpoint, and ARM's `GET /tenants`.

use crate::arm::{ApiVersion, SubscriptionVersions};
use crate::auth::Caller;
use crate::error::ErrorResponse;
use crate::error::oauth::{self, OAuthErrorAnswer};
use crate::routes::params::SubscriptionApiVersion;
use crate::routes::token_server::ClientAddress;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_domain::identity::{Jwk, OAuthError, TokenRequest, TokenResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The path of the tenant-scoped endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    /// The tenant id, `organizations` or `common`.
    tenant: String,
}

/// The OpenID Connect discovery document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenIdConfiguration {
    /// `iss` of the tokens.
    pub issuer: String,
    /// The token endpoint (its first path segment is the tenant, as MSAL reads it).
    pub token_endpoint: String,
    /// The authorize endpoint: the sign-in page of the authorization-code flow (PKCE).
    pub authorization_endpoint: String,
    /// The JWKS.
    pub jwks_uri: String,
    /// `code`, `id_token`, `token`.
    pub response_types_supported: Vec<String>,
    /// `pairwise`.
    pub subject_types_supported: Vec<String>,
    /// `ES256`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `authorization_code`, `client_credentials`, `password`, `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// `S256`: PKCE is required for the authorization-code grant.
    pub code_challenge_methods_supported: Vec<String>,
    /// `client_secret_post`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `openid`, `profile`, `offline_access`.
    pub scopes_supported: Vec<String>,
    /// `AAD`-style hint that this is a single-tenant issuer.
    pub tenant_region_scope: Option<String>,
}

/// The JWKS document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    /// The issuer's public keys.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<Jwk>,
}

/// A token request (form-encoded).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenForm {
    /// `client_credentials`, `password` or `refresh_token`.
    pub grant_type: String,
    /// The application (client) id.
    pub client_id: Option<String>,
    /// The client secret (`client_credentials`).
    pub client_secret: Option<String>,
    /// `{resource}/.default`, space-separated with OIDC scopes.
    pub scope: Option<String>,
    /// User principal name (`password`).
    pub username: Option<String>,
    /// Password (`password`).
    pub password: Option<String>,
    /// Refresh token (`refresh_token`).
    pub refresh_token: Option<String>,
}

/// A token answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenAnswer {
    /// `Bearer`.
    pub token_type: String,
    /// The scope granted.
    pub scope: String,
    /// Seconds of validity.
    pub expires_in: i64,
    /// Same as `expires_in`.
    pub ext_expires_in: i64,
    /// The access token (ES256 JWT).
    pub access_token: String,
    /// For people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// For people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// For people: base64url of `{"uid","utid"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
}

/// A tenant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantResource {
    /// `/tenants/{id}`.
    pub id: String,
    /// The tenant id.
    pub tenant_id: String,
    /// `Home`.
    pub tenant_category: String,
    /// Display name.
    pub display_name: String,
    /// Default domain.
    pub default_domain: String,
}

/// The tenants.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    /// The tenants.
    pub value: Vec<TenantResource>,
}

/// The router of the issuer.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openid_configuration))
        .routes(routes!(jwks))
        .routes(routes!(token))
        .routes(routes!(adfs_openid_configuration))
        .routes(routes!(adfs_jwks))
        .routes(routes!(adfs_token))
        .routes(routes!(tenants))
}

/// Whether a path names this issuer's tenant (by id, `organizations` or `common`).
pub(crate) fn known_tenant(state: &AppState, tenant: &str) -> bool {
    let own = state.tokens.settings().tenant.to_string();
    tenant.eq_ignore_ascii_case(&own)
        || tenant.eq_ignore_ascii_case("organizations")
        || tenant.eq_ignore_ascii_case("common")
}

/// OpenID Connect discovery.
#[utoipa::path(get, path = "/{tenant}/v2.0/.well-known/openid-configuration", operation_id = "Issuer_OpenIdConfiguration", security(()),
    tag = "Identity", params(TenantPath),
    responses((status = 200, description = "The discovery document", body = OpenIdConfiguration), (status = 400, description = "Unknown tenant", body = OAuthErrorAnswer)))]
async fn openid_configuration(
    State(state): State<AppState>,
    Path(path): Path<TenantPath>,
) -> Response {
    if !known_tenant(&state, &path.tenant) {
        return oauth::unknown_tenant(&path.tenant);
    }
    let settings = state.tokens.settings();
    discovery(
        &state,
        &format!("{}/{}", settings.base_url, settings.tenant),
        "v2.0/",
    )
}

/// The discovery document of endpoints under `base` (`{base}/oauth2/{version}token`, ...).
fn discovery(state: &AppState, base: &str, version: &str) -> Response {
    let settings = state.tokens.settings();
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Json(OpenIdConfiguration {
        issuer: settings.issuer(),
        token_endpoint: format!("{base}/oauth2/{version}token"),
        authorization_endpoint: format!("{base}/oauth2/{version}authorize"),
        jwks_uri: format!("{base}/discovery/{version}keys"),
        response_types_supported: strings(&["code", "id_token", "token"]),
        subject_types_supported: strings(&["pairwise"]),
        id_token_signing_alg_values_supported: strings(&["ES256"]),
        grant_types_supported: strings(&[
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
        ]),
        code_challenge_methods_supported: strings(&["S256"]),
        token_endpoint_auth_methods_supported: strings(&["client_secret_post"]),
        scopes_supported: strings(&["openid", "profile", "offline_access"]),
        tenant_region_scope: None,
    })
    .into_response()
}

/// The issuer's public keys.
#[utoipa::path(get, path = "/{tenant}/discovery/v2.0/keys", operation_id = "Issuer_Keys", security(()), tag = "Identity", params(TenantPath),
    responses((status = 200, description = "The JWKS", body = Jwks), (status = 400, description = "Unknown tenant", body = OAuthErrorAnswer)))]
async fn jwks(State(state): State<AppState>, Path(path): Path<TenantPath>) -> Response {
    if !known_tenant(&state, &path.tenant) {
        return oauth::unknown_tenant(&path.tenant);
    }
    keys(&state).await
}

async fn keys(state: &AppState) -> Response {
    Json(Jwks {
        keys: state.tokens.signer().public_keys().await,
    })
    .into_response()
}

/// The v2.0 token endpoint: `client_credentials`, `password`, `refresh_token`. MSAL's
/// `client_info` and `claims` fields are accepted and ignored.
#[utoipa::path(post, path = "/{tenant}/oauth2/v2.0/token", operation_id = "Issuer_Token", security(()), tag = "Identity", params(TenantPath),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Tokens", body = TokenAnswer), (status = 400, description = "An OAuth error", body = OAuthErrorAnswer), (status = 401, description = "Bad client credentials", body = OAuthErrorAnswer),
        (status = 429, description = "Locked out after too many failed sign-ins (AADSTS50053); see Retry-After", body = OAuthErrorAnswer)))]
async fn token(
    State(state): State<AppState>,
    Path(path): Path<TenantPath>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !known_tenant(&state, &path.tenant) {
        return oauth::unknown_tenant(&path.tenant);
    }
    issue(&state, &client, &headers, &body).await
}

/// Answers a form-encoded token request, for either authority.
async fn issue(state: &AppState, client: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    if !crate::arm::is_form_urlencoded(headers) {
        return oauth::not_a_form();
    }
    let mut request = TokenRequest::default();
    for (k, v) in form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "grant_type" => request.grant_type = v,
            "client_id" => request.client_id = Some(v),
            "client_secret" => request.client_secret = Some(v),
            "scope" => request.scope = Some(v),
            "username" => request.username = Some(v),
            "password" => request.password = Some(v),
            "refresh_token" => request.refresh_token = Some(v),
            "code" => request.code = Some(v),
            "redirect_uri" => request.redirect_uri = Some(v),
            "code_verifier" => request.code_verifier = Some(v),
            _ => {}
        }
    }
    let facts = crate::audit::EventFacts::of(headers, client.to_owned());
    let outcome = state.tokens.token(&request, client).await;
    // Who signs in: the user name given, the person a refresh or a code was for, or the
    // application (never a secret).
    let identity = request
        .username
        .clone()
        .or_else(|| {
            outcome
                .as_ref()
                .ok()
                .and_then(|t| t.client_info.map(|(uid, _)| uid.to_string()))
        })
        .or_else(|| request.client_id.clone())
        .unwrap_or_default()
        .chars()
        .take(256)
        .collect();
    let response = answer_token(state, &request, headers, outcome);
    let description = if response.status().is_success() {
        "token issued".to_owned()
    } else {
        crate::audit::reason(response.status())
    };
    let mut event = facts.event(
        berth_domain::diagnostics::SIGN_IN_EVENTS,
        "SignIn",
        response.status(),
        description,
        identity,
        &state.tokens.settings().base_url,
    );
    event.grant = Some(request.grant_type.chars().take(64).collect());
    state.diagnostics.record(event);
    response
}

/// The token answer, or the refusal, counted.
fn answer_token(
    state: &AppState,
    request: &TokenRequest,
    headers: &HeaderMap,
    outcome: Result<TokenResponse, OAuthError>,
) -> Response {
    match outcome {
        Ok(t) => {
            state.metrics.token_issued("issuer", &request.grant_type);
            Json(TokenAnswer {
                token_type: "Bearer".to_owned(),
                scope: t.scope,
                expires_in: t.expires_in,
                ext_expires_in: t.expires_in,
                access_token: t.access_token,
                refresh_token: t.refresh_token,
                id_token: t.id_token,
                client_info: t.client_info.map(|(uid, utid)| {
                    URL_SAFE_NO_PAD.encode(json!({"uid": uid, "utid": utid}).to_string())
                }),
            })
            .into_response()
        }
        Err(e) => {
            let refused = oauth::refused(&e, &request.grant_type, headers);
            let status = refused.status();
            state
                .metrics
                .token_refused("issuer", &request.grant_type, status.as_str());
            refused
        }
    }
}

/// OpenID Connect discovery of the ADFS-style authority (`{base}/adfs`). MSAL skips instance
/// discovery for such an authority, and lets `az login -u/-p` sign a user in on any port
/// (the Entra-ID-shaped one needs the user-realm lookup on port 443).
#[utoipa::path(get, path = "/adfs/.well-known/openid-configuration", operation_id = "Issuer_AdfsOpenIdConfiguration", security(()),
    tag = "Identity", responses((status = 200, description = "The discovery document", body = OpenIdConfiguration)))]
async fn adfs_openid_configuration(State(state): State<AppState>) -> Response {
    let base = format!("{}/adfs", state.tokens.settings().base_url);
    discovery(&state, &base, "")
}

/// The issuer's public keys, under the ADFS-style authority.
#[utoipa::path(get, path = "/adfs/discovery/keys", operation_id = "Issuer_AdfsKeys", security(()), tag = "Identity",
    responses((status = 200, description = "The JWKS", body = Jwks)))]
async fn adfs_jwks(State(state): State<AppState>) -> Response {
    keys(&state).await
}

/// The token endpoint of the ADFS-style authority: the same grants and tokens as the v2.0
/// endpoint, for this deployment's tenant.
#[utoipa::path(post, path = "/adfs/oauth2/token", operation_id = "Issuer_AdfsToken", security(()), tag = "Identity",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Tokens", body = TokenAnswer), (status = 400, description = "An OAuth error", body = OAuthErrorAnswer), (status = 401, description = "Bad client credentials", body = OAuthErrorAnswer),
        (status = 429, description = "Locked out after too many failed sign-ins (AADSTS50053); see Retry-After", body = OAuthErrorAnswer)))]
async fn adfs_token(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    issue(&state, &client, &headers, &body).await
}

/// The tenants the caller can see (ARM's `GET /tenants`).
#[utoipa::path(get, path = "/tenants", operation_id = "Tenants_List", tag = "Identity", params(SubscriptionApiVersion),
    responses((status = 200, description = "The tenant", body = TenantList), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn tenants(
    State(state): State<AppState>,
    _caller: Caller,
    _version: ApiVersion<SubscriptionVersions>,
) -> Json<TenantList> {
    let tenant = state.tokens.settings().tenant.to_string();
    Json(TenantList {
        value: vec![TenantResource {
            id: format!("/tenants/{tenant}"),
            tenant_id: tenant,
            tenant_category: "Home".to_owned(),
            display_name: "Berth".to_owned(),
            default_domain: "berth.local".to_owned(),
        }],
    })
}
