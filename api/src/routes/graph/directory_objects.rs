//! `/v1.0/directoryObjects/getByIds`: how the Azure CLI names the principals of role
//! assignments.

use super::dto::{GetByIds, GraphList, GraphObject};
use crate::arm::ArmJson;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use berth_domain::directory::DirectoryObject;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The most ids `getByIds` takes, as in Graph.
const MAX_GET_BY_IDS: usize = 1000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_by_ids))
}

impl GetByIds {
    /// The ids asked for that are object ids (others cannot match), at most 1000 of them.
    fn object_ids(&self) -> Result<Vec<Uuid>, ApiError> {
        if self.ids.len() > MAX_GET_BY_IDS {
            return Err(ApiError::graph_bad_request(format!(
                "Too many ids: {} were given, getByIds takes at most {MAX_GET_BY_IDS}.",
                self.ids.len()
            ))
            .with_target("ids"));
        }
        Ok(self
            .ids
            .iter()
            .filter_map(|id| Uuid::parse_str(id).ok())
            .collect())
    }

    /// Whether `types` (all when empty) takes this object's kind.
    fn wants(&self, o: &DirectoryObject) -> bool {
        let kind = match o {
            DirectoryObject::User(_) => "user",
            DirectoryObject::ServicePrincipal(_) => "serviceprincipal",
            DirectoryObject::Group(_) => "group",
        };
        self.types.is_empty() || self.types.iter().any(|t| t.eq_ignore_ascii_case(kind))
    }
}

/// Finds directory objects by id; `types` narrows the kinds.
#[utoipa::path(post, path = "/v1.0/directoryObjects/getByIds", operation_id = "Graph_GetByIds", tag = "Graph", request_body = GetByIds,
    responses((status = 200, description = "The objects found", body = GraphList), (status = "default", description = "A Graph error", body = ErrorResponse)))]
async fn get_by_ids(
    State(state): State<AppState>,
    _caller: Caller,
    body: ArmJson<GetByIds>,
) -> Result<Json<GraphList>, ApiError> {
    let body = body.parse()?;
    let ids = body.object_ids()?;
    let found = state.directory.get_by_ids(&ids).await?;
    let wanted = found
        .iter()
        .filter(|o| ids.contains(&o.object_id()) && body.wants(o));
    Ok(Json(GraphList::of(wanted, GraphObject::of)))
}
