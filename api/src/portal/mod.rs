//! The portal: server-rendered pages under `/portal`, a driving adapter like the ARM routes
//! (it calls the same use cases, as the signed-in person, with the same authorization).
//!
//! Sign-in is the issuer's authorization-code flow with PKCE, the portal being a
//! first-party client: `/portal/auth/signin` keeps the flow's `state`, PKCE verifier and
//! return path in a short-lived cookie and sends the browser to the sign-in page; the
//! callback checks the `state`, redeems the code with the verifier, and opens a session
//! (see `berth_domain::session`). The session cookie is `__Host-`, HttpOnly, Secure and
//! SameSite=Lax; every state-changing form carries the session's CSRF token. Pages are
//! sent with `Content-Security-Policy: default-src 'self'`, never framed, never cached.

mod access_control;
mod access_keys;
mod assets;
mod auth;
mod content_trust;
mod create;
mod delete;
mod overview;
mod pages;
mod registry_page;
mod repositories;
mod tokens;

use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_domain::identity::Caller;
use berth_domain::session::Session;

/// The session cookie.
const SESSION_COOKIE: &str = "__Host-berth-session";
/// The pages' policy: this origin only.
const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The portal's routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/portal", get(pages::registries))
        .route("/portal/auth/signin", get(auth::sign_in))
        .route("/portal/auth/callback", get(auth::callback))
        .route(auth::EXTERNAL_CALLBACK_PATH, get(auth::external_callback))
        .route("/portal/auth/signout", post(auth::sign_out))
        .route("/portal/signed-out", get(auth::signed_out))
        .route("/portal/create", get(create::show).post(create::create))
        .route("/portal/create/name", get(create::name_status))
        .route(
            "/portal/registries/{subscription}/{group}/{name}",
            get(overview::show).post(overview::change_sku),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/delete",
            get(delete::show).post(delete::delete),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/operations/{operation}",
            get(delete::progress),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/content-trust",
            get(content_trust::show).post(content_trust::save),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/access-control",
            get(access_control::show),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/access-control/add",
            get(access_control::add).post(access_control::assign),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/access-control/remove",
            post(access_control::remove),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/access-keys",
            get(access_keys::show).post(access_keys::act),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/repositories",
            get(repositories::show),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/tokens",
            get(tokens::tokens).post(tokens::act_on_token),
        )
        .route(
            "/portal/registries/{subscription}/{group}/{name}/scope-maps",
            get(tokens::scope_maps).post(tokens::act_on_scope_map),
        )
        .route("/portal/static/berth.css", get(assets::stylesheet))
        .route("/portal/static/icon.svg", get(assets::icon))
        .route("/portal/static/portal.js", get(assets::script))
        .route(assets::HTMX_PATH, get(assets::htmx))
}

/// A posted form's fields (the last value of a repeated name).
pub(crate) struct Form(std::collections::HashMap<String, String>);

impl Form {
    /// The fields of an `application/x-www-form-urlencoded` body.
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    /// Field `name`, or `""`.
    pub(crate) fn field(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
}

/// The portal's session use cases over `store`, a person being one `authenticator` still
/// names (exists, enabled).
pub(crate) fn sessions(
    store: std::sync::Arc<dyn berth_domain::session::SessionStore>,
    authenticator: berth_domain::identity::Authenticator,
    clock: std::sync::Arc<dyn berth_domain::clock::Clock>,
) -> berth_domain::session::SessionService {
    berth_domain::session::SessionService::new(
        store,
        std::sync::Arc::new(People(authenticator)),
        clock,
    )
}

/// People as the authenticator knows them.
struct People(berth_domain::identity::Authenticator);

#[async_trait::async_trait]
impl berth_domain::session::SessionPeople for People {
    async fn caller(
        &self,
        object_id: uuid::Uuid,
    ) -> Result<Option<Caller>, berth_domain::store::StoreError> {
        use berth_domain::identity::AuthenticationError;
        match self.0.caller_of(object_id).await {
            Ok(caller) => Ok(Some(caller)),
            Err(AuthenticationError::Rejected(_)) => Ok(None),
            Err(e) => Err(berth_domain::store::StoreError(e.to_string())),
        }
    }
}

/// `GET /`: a browser goes to the portal; any other client gets ARM's answer for a path
/// that is not served.
async fn root(headers: HeaderMap) -> Response {
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if browser {
        see_other("/portal")
    } else {
        crate::error::ApiError::path_not_served().into_response()
    }
}

/// What every page's frame shows: who is signed in, the session's CSRF token (for the
/// sign-out form and the page's own forms), and the navigation entry that is current.
pub(crate) struct Frame<'a> {
    user: &'a str,
    csrf: &'a str,
    nav: &'static str,
}

impl<'a> Frame<'a> {
    /// The frame for `person`, with `nav` current.
    pub(crate) fn of(person: &'a SignedIn, nav: &'static str) -> Self {
        Self {
            user: &person.caller.name,
            csrf: &person.session.csrf,
            nav,
        }
    }
}

/// The person a request comes from: their live session and who they are now.
pub(crate) struct SignedIn {
    session: Session,
    caller: Caller,
}

/// Why a page cannot be shown to this request.
pub(crate) enum NotSignedIn {
    /// No live session: sign in, then come back to `return_to`; `htmx`: asked for by
    /// htmx, which is told to load the sign-in page whole (`HX-Redirect`).
    SignIn { return_to: String, htmx: bool },
    /// The store or directory failed.
    Unavailable,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn { return_to, htmx } => {
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("return", &return_to)
                    .finish();
                let location = format!("/portal/auth/signin?{query}");
                if !htmx {
                    return see_other(&location);
                }
                let mut response = StatusCode::NO_CONTENT.into_response();
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert("hx-redirect", value);
                }
                secure(&mut response);
                response
            }
            Self::Unavailable => message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The portal is not available",
                "The portal cannot reach its store right now. Try again in a moment.",
            ),
        }
    }
}

/// The signed-in person of a request, or why there is none (`return_to`: this page).
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    return_to: &str,
) -> Result<SignedIn, NotSignedIn> {
    let sign_in = || NotSignedIn::SignIn {
        return_to: return_to.to_owned(),
        htmx: headers.contains_key("hx-request"),
    };
    let token = cookie(headers, SESSION_COOKIE).ok_or_else(sign_in)?;
    match state.sessions.resume(&token).await {
        Ok(Some((session, caller))) => Ok(SignedIn { session, caller }),
        Ok(None) => Err(sign_in()),
        Err(e) => {
            tracing::error!(error.cause = %e, "cannot resume a portal session");
            Err(NotSignedIn::Unavailable)
        }
    }
}

impl SignedIn {
    /// Refuses a form that does not carry this session's CSRF token: 403 with a page
    /// saying nothing was done.
    ///
    /// # Errors
    /// The page, boxed, when `presented` is not the session's token.
    pub(crate) fn check_csrf(&self, presented: &str) -> Result<(), Box<Response>> {
        if self.session.csrf_matches(presented) {
            return Ok(());
        }
        Err(Box::new(message_page(
            StatusCode::FORBIDDEN,
            "The form has expired",
            "This form was not sent from your current session, so nothing was done. Go back, \
             reload the page and try again.",
        )))
    }
}

/// A refused registry write as a page tells it: the API's status and message, except for a
/// stale page (its ETag), told in the page's words with 409; `nothing_done` says what did
/// not happen ("nothing was saved").
pub(crate) fn write_refusal(
    e: berth_domain::registry::RegistryError,
    nothing_done: &str,
) -> (StatusCode, String) {
    match e {
        berth_domain::registry::RegistryError::PreconditionFailed => (
            StatusCode::CONFLICT,
            format!(
                "The registry was changed since this page was loaded, so {nothing_done}. \
                 Review its current state and try again."
            ),
        ),
        other => {
            let error = crate::error::ApiError::from(other);
            (error.status(), error.message().to_owned())
        }
    }
}

/// The value of cookie `name`.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// A return path the portal may send a browser to after sign-in: one of its own pages.
pub(crate) fn safe_return(path: Option<&str>) -> String {
    match path {
        Some(p)
            if p.starts_with("/portal")
                && !p.starts_with("//")
                && !p.contains(['\\', '\r', '\n'])
                && !p.contains("://") =>
        {
            p.to_owned()
        }
        _ => "/portal".to_owned(),
    }
}

/// 303 to `location` (a path of this origin).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    secure(&mut response);
    response
}

/// `page` as HTML with the portal's headers; a template that fails is a 500.
pub(crate) fn html(status: StatusCode, page: &impl Template) -> Response {
    render(status, page, CSP)
}

/// `page` as HTML under the policy `csp`, with the other headers of Berth's pages.
pub(crate) fn render(status: StatusCode, page: &impl Template, csp: &'static str) -> Response {
    let mut response = match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error.cause = %e, "a page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    secure_with(&mut response, csp);
    response
}

/// A page that only says something (signed out, unavailable).
#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

pub(crate) fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, &MessagePage { title, message })
}

/// The portal's security headers.
pub(crate) fn secure(response: &mut Response) {
    secure_with(response, CSP);
}

/// The headers of every answer of Berth's pages: the policy `csp`, no framing, no caching,
/// no referrer, no sniffing.
pub(crate) fn secure_with(response: &mut Response, csp: &'static str) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_portals_own_pages_are_return_paths() {
        assert_eq!(safe_return(Some("/portal?filter=x")), "/portal?filter=x");
        for off_site in [
            "https://evil.example/portal",
            "//evil.example/portal",
            "/portal\\..\\x",
            "/elsewhere",
            "/portal/x?next=https://evil.example",
            "",
        ] {
            assert_eq!(safe_return(Some(off_site)), "/portal", "{off_site}");
        }
        assert_eq!(safe_return(None), "/portal");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-berth-session=tok; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "berth-session"), None);
    }
}
