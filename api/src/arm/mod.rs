//! ARM request plumbing shared by every route: api-version checks, JSON bodies, ETag
//! preconditions, paging, the public base URL, path normalization and request ids.

mod api_version;
mod body;
mod normalize;
pub mod odata;
mod paging;
mod request;

pub use api_version::{
    ApiVersion, InsightsVersions, MetadataVersions, RegistryVersions, ResourceGroupVersions,
    ResourcesVersions, SubscriptionVersions, VersionSet,
};
pub use body::{ArmJson, is_form_urlencoded};
pub use normalize::{NormalizeArmPath, ScopePrefix, layer as normalize_layer, normalize_path};
pub use paging::ListQuery;
pub use request::{
    BaseUrl, CLIENT_REQUEST_ID, CORRELATION_ID, Conditional, LocalAuthorities, REQUEST_ID,
    TRACEPARENT, header_text, request_ids, trace_id_of,
};

/// The status of a PUT that creates or replaces: 201 when it created, 200 when it replaced.
#[must_use]
pub fn put_status(created: bool) -> axum::http::StatusCode {
    if created {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    }
}
