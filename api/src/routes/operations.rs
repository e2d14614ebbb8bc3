//! ARM's long-running-operation resources: the `Azure-AsyncOperation` status document and
//! the `Location` result URL, for any operation recorded by the domain.

use crate::error::{ApiError, ErrorDetail};
use crate::routes::registries::dto::rfc3339;
use crate::routes::wire::OperationState;
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_domain::operation::{Operation, OperationStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const AZURE_ASYNC_OPERATION: header::HeaderName =
    header::HeaderName::from_static("azure-asyncoperation");

/// Seconds a client should wait between polls.
pub const RETRY_AFTER_SECS: &str = "1";

/// The status of a long-running operation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatusResource {
    /// The status resource's id.
    pub id: String,
    /// The operation id.
    pub name: String,
    /// `InProgress`, `Succeeded`, `Failed` or `Canceled`.
    pub status: OperationState,
    /// Start (RFC 3339).
    #[schema(format = DateTime)]
    pub start_time: String,
    /// End (RFC 3339), once ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub end_time: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// Where clients follow an operation: a status URL and a result URL (absolute, with api-version).
#[derive(Debug, Clone)]
pub struct OperationUrls {
    /// `Azure-AsyncOperation`.
    pub status: String,
    /// `Location`.
    pub result: String,
}

impl OperationUrls {
    /// URLs under `resource_path` (`.../operationStatuses/{id}` and `.../operationResults/{id}`).
    #[must_use]
    pub fn under(base: &str, resource_path: &str, op: &Operation, api_version: &str) -> Self {
        Self {
            status: format!(
                "{base}{resource_path}/operationStatuses/{}?api-version={api_version}",
                op.id
            ),
            result: format!(
                "{base}{resource_path}/operationResults/{}?api-version={api_version}",
                op.id
            ),
        }
    }

    /// The headers of an answer that starts (or joins) the operation.
    #[must_use]
    pub fn headers(&self) -> HeaderMap {
        let mut headers = self.status_headers();
        if let Ok(v) = HeaderValue::from_str(&self.result) {
            headers.insert(header::LOCATION, v);
        }
        headers
    }

    /// `Azure-AsyncOperation` and `Retry-After` only: for a PUT or PATCH, whose result is
    /// the resource itself rather than a `Location` URL.
    #[must_use]
    pub fn status_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.status) {
            headers.insert(AZURE_ASYNC_OPERATION, v);
        }
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
        headers
    }

    /// 202 Accepted with the headers.
    #[must_use]
    pub fn accepted(&self) -> Response {
        (StatusCode::ACCEPTED, self.headers()).into_response()
    }
}

/// The `Azure-AsyncOperation` answer: 200 with the status document (`Retry-After` while running).
#[must_use]
pub fn status_response(op: &Operation, path: &str) -> Response {
    let body = OperationStatusResource {
        id: path.to_owned(),
        name: op.id.to_string(),
        status: op.status.into(),
        start_time: rfc3339(op.started_at),
        end_time: op.ended_at.map(rfc3339),
        error: op.error.as_ref().map(|e| ErrorDetail {
            code: e.code.clone(),
            message: e.message.clone(),
            target: None,
            details: Vec::new(),
        }),
    };
    let mut response = Json(body).into_response();
    if op.status == OperationStatus::InProgress {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    response
}

/// The `Location` answer: 202 while running, 204 when it succeeded, the error when it failed.
#[must_use]
pub fn result_response(op: &Operation, self_url: &str) -> Response {
    match op.status {
        OperationStatus::InProgress => {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(self_url) {
                headers.insert(header::LOCATION, v);
            }
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
            (StatusCode::ACCEPTED, headers).into_response()
        }
        OperationStatus::Succeeded => StatusCode::NO_CONTENT.into_response(),
        OperationStatus::Failed | OperationStatus::Canceled => {
            let (code, message) = op
                .error
                .as_ref()
                .map_or(("OperationFailed", "The operation failed."), |e| {
                    (e.code.as_str(), e.message.as_str())
                });
            ApiError::operation_failed(code, message).into_response()
        }
    }
}

/// 404 for an operation id that does not exist under the path.
#[must_use]
pub fn not_found(id: &str) -> ApiError {
    ApiError::operation_not_found(id)
}
