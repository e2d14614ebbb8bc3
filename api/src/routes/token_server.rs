//! The registry token server, as ACR's: `POST /oauth2/exchange` turns an Entra-style access
//! token into a registry refresh token; `POST /oauth2/token` (refresh token or password
//! grant) and `GET /oauth2/token` (Basic, or anonymous) hand out the access tokens a
//! Distribution registry and a Notary server verify. Errors use the Docker registry's
//! `{"errors":[{"code","message"}]}` shape.

use crate::audit::EventFacts;
use crate::auth::authenticate;
use crate::error::registry::{self, RegistryErrors};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_domain::identity::Audience;
use berth_domain::registry_token::{
    Credentials, IssuedToken, REFRESH_TOKEN_USER, TokenServerError, parse_scopes,
};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The exchange's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExchangeAnswer {
    /// A registry refresh token (3 hours): `docker login -u 00000000-0000-0000-0000-000000000000`
    /// takes it as the password.
    pub refresh_token: String,
}

/// An access token, in the shape the Docker token specification and ACR give.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenAnswer {
    /// The access token.
    pub access_token: String,
    /// The same token (older clients read `token`).
    pub token: String,
    /// Seconds it lives.
    pub expires_in: i64,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// A refresh token, when `offline_token=true` was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// `POST /oauth2/exchange`'s form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExchangeForm {
    /// `access_token` (or the older `access_token_refresh_token`).
    pub grant_type: String,
    /// The registry's login server.
    pub service: String,
    /// The tenant (optional).
    pub tenant: Option<String>,
    /// An access token from the built-in issuer or a trusted provider.
    pub access_token: String,
}

/// `POST /oauth2/token`'s form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenForm {
    /// `refresh_token` or `password`.
    pub grant_type: String,
    /// The registry's login server, or the Notary service.
    pub service: String,
    /// `repository:<name>:<actions>` or `registry:catalog:*`; repeatable, or space-separated.
    pub scope: Option<String>,
    /// A registry refresh token (`refresh_token` grant).
    pub refresh_token: Option<String>,
    /// A service principal's appId (`password` grant).
    pub username: Option<String>,
    /// Its secret (`password` grant).
    pub password: Option<String>,
    /// The client (Docker sends `docker`); ignored.
    pub client_id: Option<String>,
}

/// The router.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(exchange))
        .routes(routes!(token_post, token_get))
}

/// Where a request came from, for the failed-attempt limits: the TCP peer, or, when the
/// peer is a trusted proxy (`BERTH_TRUSTED_PROXIES`), the right-most address of
/// `X-Forwarded-For` that is not one. An untrusted peer's header is ignored, so a client
/// cannot pick a fresh address for every guess.
pub struct ClientAddress(pub String);

impl axum::extract::FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.extensions, &parts.headers, state))
    }
}

impl ClientAddress {
    /// The client's address from a request's connection and headers.
    #[must_use]
    pub fn of(
        extensions: &axum::http::Extensions,
        headers: &axum::http::HeaderMap,
        state: &AppState,
    ) -> Self {
        let Some(peer) = extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Self("unknown".to_owned());
        };
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Self(state.trusted_proxies.client(peer, forwarded).to_string())
    }
}

/// Form (or query) fields, keeping every `scope`.
#[derive(Default)]
struct Fields {
    values: Vec<(String, String)>,
}

impl Fields {
    fn parse(bytes: &[u8]) -> Self {
        Self {
            values: form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, key: &str) -> Result<&str, TokenServerError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TokenServerError::InvalidRequest(format!("'{key}' is required")))
    }

    fn scopes(&self) -> Vec<String> {
        self.values
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Refuses a body that is not a form.
fn require_form(headers: &HeaderMap) -> Result<(), TokenServerError> {
    if crate::arm::is_form_urlencoded(headers) {
        Ok(())
    } else {
        Err(TokenServerError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".to_owned(),
        ))
    }
}

/// What a sign-in event tells of its request, known before it is answered.
struct Login {
    grant: String,
    /// The user name the request claims (never its secret).
    claimed: String,
    service: String,
    facts: EventFacts,
}

impl Login {
    fn of(grant: &str, claimed: &str, service: &str, client: &str, headers: &HeaderMap) -> Self {
        Self {
            grant: grant.to_owned(),
            claimed: claimed.chars().take(256).collect(),
            service: service.chars().take(256).collect(),
            facts: EventFacts::of(headers, client.to_owned()),
        }
    }
}

/// The answer (the token server's JSON, or its refusal in the registry's envelope), counted
/// and recorded as a sign-in event (the `String` of an answer: whom the token was issued to).
fn answer<T: Serialize>(
    state: &AppState,
    login: Login,
    outcome: Result<(T, String), TokenServerError>,
) -> Response {
    let (response, identity, description) = match outcome {
        Ok((answer, subject)) => {
            state.metrics.token_issued("registry", &login.grant);
            let identity = if subject.is_empty() {
                login.claimed.clone()
            } else {
                subject
            };
            (
                Json(answer).into_response(),
                identity,
                "token issued".to_owned(),
            )
        }
        Err(e) => {
            let why = e.to_string();
            let refused = registry::token_refused(e);
            let status = refused.status();
            state
                .metrics
                .token_refused("registry", &login.grant, status.as_str());
            (refused, login.claimed.clone(), why)
        }
    };
    let mut event = login.facts.event(
        berth_domain::diagnostics::LOGIN_EVENTS,
        "Login",
        response.status(),
        description,
        identity,
        &login.service,
    );
    event.grant = Some(login.grant);
    state.diagnostics.record(event);
    response
}

impl From<IssuedToken> for TokenAnswer {
    fn from(t: IssuedToken) -> Self {
        Self {
            token: t.access_token.clone(),
            access_token: t.access_token,
            expires_in: t.expires_in,
            issued_at: t.issued_at.format(&Rfc3339).unwrap_or_default(),
            refresh_token: t.refresh_token,
        }
    }
}

/// `POST /oauth2/exchange`: an access token of the issuer for a registry refresh token.
async fn exchange_token(
    state: &AppState,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<(ExchangeAnswer, String), TokenServerError> {
    require_form(headers)?;
    let grant = fields.required("grant_type")?;
    if grant != "access_token" && grant != "access_token_refresh_token" {
        return Err(TokenServerError::UnsupportedGrantType(grant.to_owned()));
    }
    let service = fields.required("service")?;
    let token = fields.required("access_token")?;
    let caller = authenticate(state, token, Audience::Registry)
        .await
        .map_err(|_| TokenServerError::Unauthorized("the access token was refused".to_owned()))?;
    let refresh_token = state
        .registry_tokens
        .exchange(
            service,
            fields.get("tenant"),
            caller.object_id,
            caller.issued_at,
        )
        .await?;
    Ok((ExchangeAnswer { refresh_token }, caller.name))
}

/// Exchanges an access token (for `https://containerregistry.azure.net` or the management
/// API) for a registry refresh token, as `az acr login` does.
#[utoipa::path(post, path = "/oauth2/exchange", operation_id = "TokenServer_Exchange", security(()), tag = "TokenServer",
    request_body(content = ExchangeForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "A refresh token", body = ExchangeAnswer), (status = 400, description = "A bad request", body = RegistryErrors), (status = 401, description = "The access token is refused", body = RegistryErrors)))]
async fn exchange(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let login = Login::of(
        "access_token",
        "",
        fields.get("service").unwrap_or_default(),
        &client,
        &headers,
    );
    answer(
        &state,
        login,
        exchange_token(&state, &headers, &fields).await,
    )
}

/// `POST /oauth2/token`: the credentials of the form's grant for an access token.
async fn form_token(
    state: &AppState,
    client: &str,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<(TokenAnswer, String), TokenServerError> {
    require_form(headers)?;
    let service = fields.required("service")?;
    let scopes = parse_scopes(&fields.scopes())?;
    let credentials = match fields.required("grant_type")? {
        "refresh_token" => Credentials::RefreshToken(fields.required("refresh_token")?.to_owned()),
        "password" => password(fields.required("username")?, fields.required("password")?),
        other => return Err(TokenServerError::UnsupportedGrantType(other.to_owned())),
    };
    let tokens = &state.registry_tokens;
    let issued = tokens
        .token(service, &scopes, credentials, false, client)
        .await?;
    let subject = issued.subject.clone();
    Ok((issued.into(), subject))
}

/// An access token for a refresh token (`grant_type=refresh_token`) or a service principal's
/// credentials (`grant_type=password`).
#[utoipa::path(post, path = "/oauth2/token", operation_id = "TokenServer_Token", security(()), tag = "TokenServer",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "An access token", body = TokenAnswer), (status = 400, description = "A bad request", body = RegistryErrors), (status = 401, description = "The credentials are refused", body = RegistryErrors), (status = 429, description = "Too many failed attempts; see Retry-After", body = RegistryErrors)))]
async fn token_post(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let grant = fields.get("grant_type").unwrap_or_default();
    let claimed = match grant {
        "password" => fields.get("username").unwrap_or_default(),
        _ => "",
    };
    let service = fields.get("service").unwrap_or_default();
    let login = Login::of(grant, claimed, service, &client, &headers);
    answer(
        &state,
        login,
        form_token(&state, &client, &headers, &fields).await,
    )
}

/// Basic or `password`-grant credentials: the null-GUID user with a refresh token, a
/// service principal's appId (a GUID) and secret, or the admin user's name and password.
fn password(user: &str, secret: &str) -> Credentials {
    if user == REFRESH_TOKEN_USER {
        Credentials::RefreshToken(secret.to_owned())
    } else if uuid::Uuid::parse_str(user).is_ok() {
        Credentials::ServicePrincipal {
            app_id: user.to_owned(),
            secret: secret.to_owned(),
        }
    } else {
        Credentials::Named {
            username: user.to_owned(),
            password: secret.to_owned(),
        }
    }
}

/// The credentials of a `GET`: its Basic `Authorization`, or none (anonymous).
fn basic_credentials(headers: &HeaderMap) -> Result<Credentials, TokenServerError> {
    let value = headers.get(header::AUTHORIZATION);
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return Ok(Credentials::Anonymous);
    };
    let basic = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, b64)| STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some((user, secret)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
        return Err(TokenServerError::Unauthorized(
            "the Authorization header is not Basic user:password".to_owned(),
        ));
    };
    Ok(password(user, secret))
}

/// `GET /oauth2/token`: Basic credentials (or none) for an access token.
async fn basic_token(
    state: &AppState,
    client: &str,
    fields: &Fields,
    credentials: Result<Credentials, TokenServerError>,
) -> Result<(TokenAnswer, String), TokenServerError> {
    let service = fields.required("service")?;
    let scopes = parse_scopes(&fields.scopes())?;
    let credentials = credentials?;
    let offline = fields.get("offline_token") == Some("true");
    let tokens = &state.registry_tokens;
    let issued = tokens
        .token(service, &scopes, credentials, offline, client)
        .await?;
    let subject = issued.subject.clone();
    Ok((issued.into(), subject))
}

/// An access token for Basic credentials (the null-GUID user with a refresh token, or a
/// service principal's appId and secret), or for nobody: anonymous callers get a token that
/// grants nothing unless the registry allows anonymous pull.
#[utoipa::path(get, path = "/oauth2/token", operation_id = "TokenServer_TokenBasic", security(()), tag = "TokenServer",
    params(
        ("service" = String, Query, description = "The registry's login server, or the Notary service"),
        ("scope" = Option<String>, Query, description = "repository:<name>:<actions> or registry:catalog:*; repeatable"),
        ("offline_token" = Option<bool>, Query, description = "Also return a refresh token"),
    ),
    responses((status = 200, description = "An access token", body = TokenAnswer), (status = 400, description = "A bad request", body = RegistryErrors), (status = 401, description = "The credentials are refused", body = RegistryErrors), (status = 429, description = "Too many failed attempts; see Retry-After", body = RegistryErrors)))]
async fn token_get(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let grant = if headers.contains_key(header::AUTHORIZATION) {
        "basic"
    } else {
        "anonymous"
    };
    let fields = Fields::parse(query.as_deref().unwrap_or_default().as_bytes());
    let credentials = basic_credentials(&headers);
    let claimed = match &credentials {
        Ok(
            Credentials::ServicePrincipal { app_id: user, .. }
            | Credentials::Named { username: user, .. },
        ) => user.as_str(),
        _ => "",
    };
    let service = fields.get("service").unwrap_or_default();
    let login = Login::of(grant, claimed, service, &client, &headers);
    answer(
        &state,
        login,
        basic_token(&state, &client, &fields, credentials).await,
    )
}
