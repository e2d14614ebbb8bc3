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

/// `?return=` of the sign-in start.
#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
}

/// `GET /portal/auth/signin`: starts the flow at the issuer's sign-in page.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let (Some(flow_state), Some(verifier)) = (random(), random()) else {
        return unavailable();
    };
    let settings = state.tokens.settings();
    let challenge = berth_infra::persistence::pkce_challenge(&verifier);
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

/// `GET /portal/auth/callback`: checks the flow's `state`, redeems the code with the
/// verifier, opens the session and goes back to the page the person was on.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(flow) = cookie(&headers, FLOW_COOKIE).and_then(|c| Flow::decode(&c)) else {
        return refused("This sign-in has expired or was started elsewhere. Sign in again.");
    };
    if query.state.as_deref() != Some(flow.state.as_str()) {
        return refused("This sign-in does not match the one this browser started. Sign in again.");
    }
    if let Some(error) = query.error {
        let description = query.error_description.unwrap_or(error);
        return refused(&description);
    }
    let request = TokenRequest {
        grant_type: "authorization_code".to_owned(),
        client_id: Some(PORTAL_CLIENT_ID.to_owned()),
        code: query.code,
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
    let (token, _) = match state.sessions.open(caller.object_id).await {
        Ok(opened) => opened,
        Err(e) => {
            tracing::error!(error.cause = %e, "cannot open a portal session");
            return unavailable();
        }
    };
    let mut response = see_other(&flow.return_to);
    set_cookie(&mut response, SESSION_COOKIE, &token, SESSION_MAX_AGE_SECS);
    set_cookie(&mut response, FLOW_COOKIE, "", 0);
    response
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
}

impl Flow {
    fn encode(&self) -> String {
        let joined = format!("{}\n{}\n{}", self.state, self.verifier, self.return_to);
        URL_SAFE_NO_PAD.encode(joined)
    }

    fn decode(value: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '\n');
        let (state, verifier, return_to) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Self {
            state: state.to_owned(),
            verifier: verifier.to_owned(),
            return_to: safe_return(Some(return_to)),
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
