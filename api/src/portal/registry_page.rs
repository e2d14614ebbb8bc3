//! What every page of one registry starts with, as extractors: the signed-in person, the
//! registry of the path when they may read it (otherwise a 404 that tells nothing), and for
//! a posted form its fields once its CSRF token is the session's.

use super::{Form, SignedIn, signed_in};
use crate::routes::registries::READ;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Path, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_domain::registry::Registry;

/// `/portal/registries/{subscription}/{group}/{name}/…`.
#[derive(serde::Deserialize)]
struct RegistryAt {
    subscription: String,
    group: String,
    name: String,
}

/// A page of a registry, asked for by a signed-in person who may read that registry.
pub(crate) struct RegistryPage {
    pub(crate) person: SignedIn,
    pub(crate) registry: Registry,
    /// The page's path (without its query).
    pub(crate) path: String,
}

impl FromRequestParts<AppState> for RegistryPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Path(at) = Path::<RegistryAt>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        // Sign-in comes back to the page as it was asked for; a form, to its page.
        let return_to = if parts.method == Method::GET {
            uri.path_and_query().map_or(uri.path(), |p| p.as_str())
        } else {
            uri.path()
        };
        let person = signed_in(state, &parts.headers, return_to)
            .await
            .map_err(IntoResponse::into_response)?;
        let registry = readable(state, &person, &at).await?;
        Ok(Self {
            person,
            registry,
            path: uri.path().to_owned(),
        })
    }
}

/// A form posted to a page of a registry: the page, and the form's fields once its CSRF
/// token is the session's (otherwise 403 and nothing done).
pub(crate) struct RegistryForm {
    pub(crate) page: RegistryPage,
    pub(crate) form: Form,
}

impl FromRequest<AppState> for RegistryForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let page = RegistryPage::from_request_parts(&mut parts, state).await?;
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Form::parse(&body);
        page.person
            .check_csrf(form.field("csrf"))
            .map_err(|refused| *refused)?;
        Ok(Self { page, form })
    }
}

/// The registry of `at` when the person may read it; otherwise the page saying there is
/// none (the same for a registry that exists and one that does not).
async fn readable(
    state: &AppState,
    person: &SignedIn,
    at: &RegistryAt,
) -> Result<Registry, Response> {
    let not_found = || {
        super::message_page(
            StatusCode::NOT_FOUND,
            "Registry not found",
            "There is no such registry, or you may not read it.",
        )
    };
    let id = state
        .registries
        .resolve_id(&at.subscription, &at.group, &at.name)
        .await
        .map_err(|_| not_found())?;
    if !state.allows(&person.caller, READ, &id.to_string()) {
        return Err(not_found());
    }
    state.registries.get(&id).await.map_err(|_| not_found())
}
