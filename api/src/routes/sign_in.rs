//! The issuer's authorize endpoint, `/{tenant}/oauth2/v2.0/authorize`, as Entra serves it
//! to browser-based and native clients (the authorization-code flow with PKCE; the rules
//! are the domain's, `identity::authorization_code`):
//! - `GET` checks the request and shows the sign-in page, server-rendered, with no script;
//! - `POST` (the page's form, carrying the request's parameters again) signs the person in
//!   and sends the browser back to the client's redirect URI with a single-use code.
//!
//! An unknown client or a redirect URI it may not use is shown on the page and never
//! followed (no open redirect); other errors go back to the redirect URI, as OAuth says.
//! Failed sign-ins count toward the same limiter as the `password` grant, and every sign-in
//! the form attempts, good or refused, is a `SignInLogs` event (grant `interactive`). The
//! page may not be framed, is not cached, and its policy allows nothing but this origin.

use crate::routes::token_server::ClientAddress;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_domain::identity::{
    Authorization, AuthorizeError, AuthorizeRequest, OAuthError, PORTAL_CLIENT_ID,
};

/// The page's security headers: this origin only, never framed, never cached.
const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The sign-in page (or the page of an error that cannot go back to the client).
#[derive(askama::Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    title: &'a str,
    client_name: &'a str,
    action: &'a str,
    fields: Vec<(&'static str, String)>,
    username: &'a str,
    error: Option<&'a str>,
    form: bool,
    /// The external provider's name, when the portal may sign in through it.
    external: Option<&'a str>,
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: the sign-in page for a good request.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if !super::issuer::known_tenant(&state, &tenant) {
        return shown(StatusCode::BAD_REQUEST, &unknown_tenant(&tenant));
    }
    let request = parse(query.as_deref().unwrap_or("").as_bytes()).0;
    match state.tokens.authorize(&request) {
        Ok(authorization) => sign_in_page(&state, &tenant, &request, &authorization, None),
        Err(e) => refused(e),
    }
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the sign-in form.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !super::issuer::known_tenant(&state, &tenant) {
        return shown(StatusCode::BAD_REQUEST, &unknown_tenant(&tenant));
    }
    let (request, credentials) = parse(&body);
    let authorization = match state.tokens.authorize(&request) {
        Ok(authorization) => authorization,
        Err(e) => return refused(e),
    };
    let (username, password) = credentials;
    let facts = crate::audit::EventFacts::of(&headers, client.clone());
    let signed_in = state
        .tokens
        .sign_in_for_code(&authorization, (&username, &password), &client)
        .await;
    // A failure is told once: whether the password was refused, and what the page shows (an
    // unexpected failure is logged there).
    let outcome =
        signed_in.map_err(|e| (matches!(e, OAuthError::InvalidGrant), sign_in_failure(&e)));
    // The event says how the sign-in ended, whatever the page's own status: a refused
    // password is 401 there, though the page that says so is a 200.
    let (status, description) = match &outcome {
        Ok(_) => (StatusCode::OK, "signed in; a code was issued".to_owned()),
        Err((refused, (page_status, _))) => {
            let status = if *refused {
                StatusCode::UNAUTHORIZED
            } else {
                *page_status
            };
            (status, crate::audit::reason(status))
        }
    };
    let mut event = facts.event(
        berth_domain::diagnostics::SIGN_IN_EVENTS,
        "SignIn",
        status,
        description,
        username.chars().take(256).collect(),
        &state.tokens.settings().base_url,
    );
    event.grant = Some("interactive".to_owned());
    state.diagnostics.record(event);
    match outcome {
        Ok(code) => back_to_client(
            &authorization.redirect_uri,
            &[
                ("code", Some(code.as_str())),
                ("state", authorization.state.as_deref()),
            ],
        ),
        Err((_, (status, message))) => {
            let failed = Some((username.as_str(), message));
            let mut response = sign_in_page(&state, &tenant, &request, &authorization, failed);
            *response.status_mut() = status;
            response
        }
    }
}

/// The authorize parameters of a query or form, and the credentials a form carries.
fn parse(bytes: &[u8]) -> (AuthorizeRequest, (String, String)) {
    let mut request = AuthorizeRequest::default();
    let (mut username, mut password) = (String::new(), String::new());
    for (key, value) in form_urlencoded::parse(bytes) {
        let value = value.into_owned();
        match key.as_ref() {
            "client_id" => request.client_id = Some(value),
            "redirect_uri" => request.redirect_uri = Some(value),
            "response_type" => request.response_type = Some(value),
            "response_mode" => request.response_mode = Some(value),
            "scope" => request.scope = Some(value),
            "state" => request.state = Some(value),
            "nonce" => request.nonce = Some(value),
            "code_challenge" => request.code_challenge = Some(value),
            "code_challenge_method" => request.code_challenge_method = Some(value),
            "login_hint" => request.login_hint = Some(value),
            "username" => username = value,
            "password" => password = value,
            _ => {}
        }
    }
    (request, (username, password))
}

/// The request's parameters, carried by the form as hidden fields.
fn hidden_fields(request: &AuthorizeRequest) -> Vec<(&'static str, String)> {
    [
        ("client_id", &request.client_id),
        ("redirect_uri", &request.redirect_uri),
        ("response_type", &request.response_type),
        ("response_mode", &request.response_mode),
        ("scope", &request.scope),
        ("state", &request.state),
        ("nonce", &request.nonce),
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
    .collect()
}

/// The sign-in page for `authorization`, with a failed attempt's user name and message.
fn sign_in_page(
    state: &AppState,
    tenant: &str,
    request: &AuthorizeRequest,
    authorization: &Authorization,
    failed: Option<(&str, &str)>,
) -> Response {
    let username = failed
        .map(|(name, _)| name)
        .or(authorization.login_hint.as_deref())
        .unwrap_or_default();
    let action = format!("/{tenant}/oauth2/v2.0/authorize");
    let page = SignInPage {
        title: "Sign in",
        client_name: client_name(&authorization.client_id),
        action: &action,
        fields: hidden_fields(request),
        username,
        error: failed.map(|(_, message)| message),
        form: true,
        // The portal's sign-in may also go through the external provider.
        external: state
            .portal_sign_in
            .as_ref()
            .filter(|_| authorization.client_id == berth_domain::identity::PORTAL_CLIENT_ID)
            .map(|provider| provider.name()),
    };
    html(StatusCode::OK, &page)
}

/// A page that only says why (nothing is sent to the client).
fn shown(status: StatusCode, message: &str) -> Response {
    let page = SignInPage {
        title: "Sign-in cannot continue",
        client_name: "",
        action: "",
        fields: Vec::new(),
        username: "",
        error: Some(message),
        form: false,
        external: None,
    };
    html(status, &page)
}

/// The answer to a request that cannot go on: shown, or sent back to the client.
fn refused(error: AuthorizeError) -> Response {
    match error {
        AuthorizeError::Shown(message) => shown(StatusCode::BAD_REQUEST, &message),
        AuthorizeError::Redirected {
            redirect_uri,
            state,
            error,
            description,
        } => back_to_client(
            &redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", Some(description.as_str())),
                ("state", state.as_deref()),
            ],
        ),
    }
}

/// 303 to `redirect_uri` (checked: no query of its own) with `params` as its query.
fn back_to_client(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let location = format!("{redirect_uri}?{}", query.finish());
    let Ok(location) = HeaderValue::from_str(&location) else {
        return shown(
            StatusCode::BAD_REQUEST,
            "The redirect URI cannot be used in a redirect.",
        );
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    secure(&mut response);
    response
}

/// What a failed sign-in shows, and its status.
fn sign_in_failure(error: &OAuthError) -> (StatusCode, &'static str) {
    match error {
        OAuthError::InvalidGrant => (
            StatusCode::OK,
            "Your account or password is incorrect. (AADSTS50126)",
        ),
        OAuthError::Locked { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Your account is locked because you have tried to sign in too many times with an \
             incorrect user name or password. Try again in a minute. (AADSTS50053)",
        ),
        other => {
            tracing::error!(error.cause = %other, "sign-in failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is not available right now. Try again in a moment.",
            )
        }
    }
}

fn client_name(client_id: &str) -> &'static str {
    match client_id {
        PORTAL_CLIENT_ID => "Berth Portal",
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46" => "Microsoft Azure CLI",
        "1950a258-227b-4e31-a9cf-717495945fc2" => "Microsoft Azure PowerShell",
        _ => "an application",
    }
}

fn unknown_tenant(tenant: &str) -> String {
    format!(
        "AADSTS90002: Tenant '{}' not found.",
        tenant.chars().take(64).collect::<String>()
    )
}

/// `page` as HTML with the sign-in page's headers.
fn html(status: StatusCode, page: &SignInPage<'_>) -> Response {
    crate::portal::render(status, page, CSP)
}

/// The sign-in page's headers (its policy lets the form's redirect reach the client).
fn secure(response: &mut Response) {
    crate::portal::secure_with(response, CSP);
}
