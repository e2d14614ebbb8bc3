//! Signing in to the portal (the issuer's authorization-code flow with PKCE, the portal
//! being its first-party client) and out.

use super::{SESSION_COOKIE, cookie, message_page, safe_return, see_other, signed_in};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_domain::identity::{PORTAL_CALLBACK_PATH, PORTAL_CLIENT_ID, TokenRequest};
use serde::Deserialize;

/// The cookie that carries a sign-in in progress: `state`, PKCE verifier, return path.
const FLOW_COOKIE: &str = "__Host-berth-signin";
/// How long a sign-in may take.
const FLOW_MAX_AGE_SECS: u32 = 600;
/// How long a session cookie is kept by the browser (the server ends it earlier when
/// idle; this is its absolute end).
const SESSION_MAX_AGE_SECS: i64 = berth_domain::session::ABSOLUTE_TIMEOUT.whole_seconds();

/// Where the external provider sends the browser back.
pub(crate) const EXTERNAL_CALLBACK_PATH: &str = "/portal/auth/external/callback";

/// `?return=&via=` of the sign-in start.
#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
    /// `external`: through the external provider instead of the built-in issuer.
    via: Option<String>,
}

/// `GET /portal/auth/signin`: starts the flow at the issuer's sign-in page, or (with
/// `via=external`) at the external provider's.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Response {
    let (Some(flow_state), Some(verifier)) = (random(), random()) else {
        return unavailable();
    };
    let challenge = berth_infra::persistence::pkce_challenge(&verifier);
    if query.via.as_deref() == Some("external") {
        // From the issuer's sign-in page: the page to come back to is the flow's.
        let return_to = query.return_to.or_else(|| {
            cookie(&headers, FLOW_COOKIE)
                .and_then(|c| Flow::decode(&c))
                .map(|f| f.return_to)
        });
        let flow = Flow {
            state: flow_state,
            verifier,
            return_to: safe_return(return_to.as_deref()),
            external: true,
        };
        return external_sign_in(&state, flow, &challenge).await;
    }
    let settings = state.tokens.settings();
    let params = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", PORTAL_CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("response_type", "code")
        .append_pair("scope", &format!("{}/.default openid", settings.base_url))
        .append_pair("state", &flow_state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let flow = Flow {
        state: flow_state,
        verifier,
        return_to: safe_return(query.return_to.as_deref()),
        external: false,
    };
    let mut response = see_other(&format!(
        "/{}/oauth2/v2.0/authorize?{params}",
        settings.tenant
    ));
    set_cookie(
        &mut response,
        FLOW_COOKIE,
        &flow.encode(),
        i64::from(FLOW_MAX_AGE_SECS),
    );
    response
}

/// The callback's query: a code, or the issuer's error.
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Sends the browser to the external provider, the flow kept in its cookie.
async fn external_sign_in(state: &AppState, flow: Flow, challenge: &str) -> Response {
    let Some(provider) = &state.portal_sign_in else {
        return refused(
            "Signing in through another provider is not set up here. Sign in with your directory account.",
        );
    };
    let redirect = external_redirect_uri(state);
    let location = match provider
        .authorization_url(&redirect, &flow.state, challenge)
        .await
    {
        Ok(location) => location,
        Err(e) => {
            tracing::warn!(error.cause = %e, "the portal's sign-in provider cannot be reached");
            return message_page(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                &format!(
                    "{} cannot be reached right now. Try again in a moment, or sign in with your directory account.",
                    provider.name()
                ),
            );
        }
    };
    let mut response = see_other(&location);
    set_cookie(
        &mut response,
        FLOW_COOKIE,
        &flow.encode(),
        i64::from(FLOW_MAX_AGE_SECS),
    );
    response
}

/// The flow a callback belongs to: this browser's, for the same provider, with the same
/// `state`, and no error from the provider; otherwise the page saying why not.
fn returning_flow(
    headers: &HeaderMap,
    query: &CallbackQuery,
    external: bool,
) -> Result<Flow, Box<Response>> {
    let flow = cookie(headers, FLOW_COOKIE)
        .and_then(|c| Flow::decode(&c))
        .filter(|f| f.external == external)
        .ok_or_else(|| {
            refused("This sign-in has expired or was started elsewhere. Sign in again.")
        })?;
    if query.state.as_deref() != Some(flow.state.as_str()) {
        return Err(Box::new(refused(
            "This sign-in does not match the one this browser started. Sign in again.",
        )));
    }
    if let Some(error) = &query.error {
        let description = query.error_description.as_ref().unwrap_or(error);
        return Err(Box::new(refused(description)));
    }
    Ok(flow)
}

/// `GET /portal/auth/external/callback`: as [`callback`], the code redeemed at the external
/// provider and its access token verified as the API verifies that provider's tokens.
pub(crate) async fn external_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let flow = match returning_flow(&headers, &query, true) {
        Ok(flow) => flow,
        Err(refusal) => return *refusal,
    };
    let (Some(provider), Some(code)) = (&state.portal_sign_in, query.code.as_deref()) else {
        return refused("The sign-in could not be completed. Sign in again.");
    };
    let redirect = external_redirect_uri(&state);
    let token = match provider.redeem(code, &redirect, &flow.verifier).await {
        Ok(token) => token,
        Err(e) => {
            tracing::info!(error.cause = %e, "a portal sign-in's code was refused by the provider");
            return refused("The sign-in could not be completed. Sign in again.");
        }
    };
    let audience = berth_domain::identity::Audience::Management;
    match state.authenticator.authenticate(&token, audience).await {
        Ok(caller) => open_session(&state, caller.object_id, &flow.return_to).await,
        Err(e) => {
            tracing::info!(error.cause = %e, "the provider's access token for a portal sign-in was refused");
            refused("Your sign-in was not accepted. Sign in again.")
        }
    }
}

/// Opens a session for `person` and goes to `return_to`.
async fn open_session(state: &AppState, person: uuid::Uuid, return_to: &str) -> Response {
    let (token, _) = match state.sessions.open(person).await {
        Ok(opened) => opened,
        Err(e) => {
            tracing::error!(error.cause = %e, "cannot open a portal session");
            return unavailable();
        }
    };
    let mut response = see_other(return_to);
    set_cookie(&mut response, SESSION_COOKIE, &token, SESSION_MAX_AGE_SECS);
    set_cookie(&mut response, FLOW_COOKIE, "", 0);
    response
}

/// `GET /portal/auth/callback`: checks the flow's `state`, redeems the code with the
/// verifier, opens the session and goes back to the page the person was on.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let flow = match returning_flow(&headers, &query, false) {
        Ok(flow) => flow,
        Err(refusal) => return *refusal,
    };
    let request = TokenRequest {
        grant_type: "authorization_code".to_owned(),
        client_id: Some(PORTAL_CLIENT_ID.to_owned()),
        code: query.code.clone(),
        redirect_uri: Some(redirect_uri(&state)),
        code_verifier: Some(flow.verifier),
        scope: Some(format!("{}/.default", state.tokens.settings().base_url)),
        ..TokenRequest::default()
    };
    let tokens = match state.tokens.token(&request, "portal").await {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::info!(error.cause = %e, "a portal sign-in's code was refused");
            return refused("The sign-in could not be completed. Sign in again.");
        }
    };
    let audience = berth_domain::identity::Audience::Graph;
    let caller = match state
        .authenticator
        .authenticate(&tokens.access_token, audience)
        .await
    {
        Ok(caller) => caller,
        Err(e) => {
            tracing::error!(error.cause = %e, "the portal's own access token was refused");
            return unavailable();
        }
    };
    open_session(&state, caller.object_id, &flow.return_to).await
}

/// `POST /portal/auth/signout`: ends the session (with its CSRF token).
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let csrf = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let person = match signed_in(&state, &headers, "/portal").await {
        Ok(person) => person,
        Err(_) => return see_other("/portal/signed-out"),
    };
    if let Err(refused) = person.check_csrf(&csrf) {
        return *refused;
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = state.sessions.close(&token).await
    {
        tracing::error!(error.cause = %e, "cannot end a portal session");
        return unavailable();
    }
    let mut response = see_other("/portal/signed-out");
    set_cookie(&mut response, SESSION_COOKIE, "", 0);
    response
}

/// `GET /portal/signed-out`.
pub(crate) async fn signed_out() -> Response {
    message_page(
        StatusCode::OK,
        "You have signed out",
        "Your session has ended on every replica. Close the browser on a shared computer.",
    )
}

/// A sign-in in progress, as its cookie carries it.
struct Flow {
    state: String,
    verifier: String,
    return_to: String,
    /// Through the external provider.
    external: bool,
}

impl Flow {
    fn encode(&self) -> String {
        let via = if self.external { "external" } else { "issuer" };
        let joined = format!(
            "{}\n{}\n{via}\n{}",
            self.state, self.verifier, self.return_to
        );
        URL_SAFE_NO_PAD.encode(joined)
    }

    fn decode(value: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(4, '\n');
        let (state, verifier) = (parts.next()?, parts.next()?);
        let external = match parts.next()? {
            "external" => true,
            "issuer" => false,
            _ => return None,
        };
        Some(Self {
            state: state.to_owned(),
            verifier: verifier.to_owned(),
            return_to: safe_return(Some(parts.next()?)),
            external,
        })
    }
}

/// The portal's redirect URI.
fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}{PORTAL_CALLBACK_PATH}",
        state.tokens.settings().base_url.trim_end_matches('/')
    )
}

/// Where the external provider sends the browser back (its client's redirect URI).
fn external_redirect_uri(state: &AppState) -> String {
    format!(
        "{}{EXTERNAL_CALLBACK_PATH}",
        state.tokens.settings().base_url.trim_end_matches('/')
    )
}

/// 43 random URL-safe characters (256 bits).
fn random() -> Option<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// Adds a `__Host-` cookie: Secure, HttpOnly, SameSite=Lax, Path=/.
fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: i64) {
    let cookie =
        format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn refused(message: &str) -> Response {
    let mut response = message_page(StatusCode::BAD_REQUEST, "Sign-in failed", message);
    set_cookie(&mut response, FLOW_COOKIE, "", 0);
    response
}

fn unavailable() -> Response {
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The portal is not available",
        "Sign-in cannot be completed right now. Try again in a moment.",
    )
}
