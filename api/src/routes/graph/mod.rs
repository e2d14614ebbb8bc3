//! The Microsoft Graph v1.0 subset that the Azure CLI uses to manage and resolve
//! principals: [`users`], [`applications`] with their passwords, [`service_principals`],
//! [`groups`] and their members, [`directory_objects`] (`getByIds`), and the
//! [`directory_roles`] of `roleManagement/directory`. Errors have Graph's
//! `{"error":{"code","message"}}`.
//!
//! Any principal of the tenant may read the directory; changing it takes a directory role
//! (Entra's, assigned through `roleManagement/directory`), never an ARM role, and a change to
//! a principal more privileged than the caller is refused: see
//! [`berth_domain::directory::DirectoryAdmin`].

mod applications;
mod directory_objects;
mod directory_roles;
pub mod dto;
mod groups;
mod service_principals;
mod users;

use crate::arm::BaseUrl;
use crate::arm::odata::{Arg, Condition, Filter};
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_domain::directory::{DirectoryError, DirectoryObject, ObjectKind};
use dto::{GraphList, GraphObject};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

/// Graph's largest page.
const MAX_PAGE: u64 = 999;
/// Graph's default page.
const DEFAULT_PAGE: u64 = 100;

/// The router of the Graph subset.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::router())
        .merge(applications::router())
        .merge(service_principals::router())
        .merge(groups::router())
        .merge(directory_objects::router())
        .merge(directory_roles::router())
}

/// `$filter` and paging of the directory lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphQuery {
    /// `userPrincipalName eq '...'`, `servicePrincipalNames/any(c:c eq '...')`, `appId eq '...'`,
    /// `displayName eq '...'`.
    #[serde(rename = "$filter")]
    #[param(rename = "$filter")]
    pub filter: Option<String>,
    /// Page size, 1 to 999 (default 100).
    #[serde(rename = "$top")]
    #[param(rename = "$top")]
    pub top: Option<u64>,
    /// Where the next page starts (from `@odata.nextLink`).
    #[serde(rename = "$skiptoken")]
    #[param(rename = "$skiptoken")]
    pub skiptoken: Option<String>,
}

impl GraphQuery {
    /// The one condition of `$filter`, when there is a filter (the lists take one).
    fn condition(&self) -> Result<Option<Condition>, ApiError> {
        let Some(text) = &self.filter else {
            return Ok(None);
        };
        let parsed = Filter::parse(text).ok();
        let single = parsed.as_ref().and_then(Filter::single).cloned();
        single.map(Some).ok_or_else(|| self.unsupported())
    }

    /// Graph's `Request_UnsupportedQuery` for this query's filter.
    fn unsupported(&self) -> ApiError {
        ApiError::graph_unsupported_filter(self.filter.as_deref().unwrap_or_default())
    }
}

/// `displayName eq '<name>'` as `(name, false)`, `startswith(displayName,'<name>')` as
/// `(name, true)`.
fn display_name(condition: &Condition) -> Option<(&str, bool)> {
    if let Some(name) = condition.eq("displayName") {
        return Some((name, false));
    }
    match condition.call("startswith")? {
        [Arg::Field(f), Arg::Literal(name)] if f.eq_ignore_ascii_case("displayName") => {
            Some((name, true))
        }
        _ => None,
    }
}

/// A path with an object id.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ObjectPath {
    /// Object id (for users, also the user principal name).
    id: String,
}

/// One page of a directory listing, each object as `show` shows it, with
/// `@odata.nextLink` when more follow.
async fn page(
    state: &AppState,
    kind: ObjectKind,
    q: &GraphQuery,
    BaseUrl(base): &BaseUrl,
    path: &str,
    show: fn(&DirectoryObject) -> GraphObject,
) -> Result<Json<GraphList>, ApiError> {
    let top = q.top.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&top) {
        return Err(ApiError::graph_bad_request(format!(
            "Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE} inclusive."
        )));
    }
    let after = q
        .skiptoken
        .as_deref()
        .map(|t| {
            Uuid::parse_str(t).map_err(|_| {
                ApiError::graph_bad_request("The $skiptoken is not one this service made.")
            })
        })
        .transpose()?;
    let mut found = state.directory.list(kind, after, top + 1).await?;
    let more = u64::try_from(found.len()).unwrap_or(u64::MAX) > top;
    found.truncate(usize::try_from(top).unwrap_or(usize::MAX));
    let next_link = match found.last() {
        Some(last) if more => Some(format!(
            "{base}{path}?$top={top}&$skiptoken={}",
            last.object_id()
        )),
        _ => None,
    };
    Ok(Json(GraphList {
        value: found.iter().map(show).collect(),
        next_link,
    }))
}

/// The directory object with this id, if the id is one.
async fn object(state: &AppState, id: &str) -> Result<Option<DirectoryObject>, ApiError> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    Ok(state.directory.get_by_ids(&[id]).await?.into_iter().next())
}

fn not_found(id: &str) -> ApiError {
    DirectoryError::NotFound(id.to_owned()).into()
}

/// 201 with the object made.
fn created(object: impl Serialize) -> Response {
    (StatusCode::CREATED, Json(object)).into_response()
}
