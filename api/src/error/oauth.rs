//! OAuth 2.0's error envelope as Entra ID answers it (`{"error","error_description",...}`),
//! for the built-in issuer's endpoints: the refusals of a token request (the reason is
//! logged, never a secret), an unknown tenant, and the lockout of `AADSTS50053`.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_domain::identity::OAuthError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An OAuth 2.0 error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OAuthErrorAnswer {
    /// `invalid_client`, `invalid_grant`, ...
    pub error: String,
    /// What went wrong (with an `AADSTS` code).
    pub error_description: String,
    /// The `AADSTS` codes, as numbers (on a lockout, as Entra sends them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<u32>,
    /// When (`YYYY-MM-DD hh:mm:ssZ`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// This answer's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The client's `client-request-id`, or a new id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// 400 `invalid_tenant`: the path names no tenant of this issuer.
#[must_use]
pub fn unknown_tenant(tenant: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_tenant",
        format!("AADSTS90002: Tenant '{tenant}' not found."),
    )
}

/// 400 `invalid_request`: the token request is not form-encoded.
#[must_use]
pub fn not_a_form() -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "AADSTS900144: The request body must be application/x-www-form-urlencoded.".to_owned(),
    )
}

/// The answer to a refused token request of `grant`: 401 for bad client credentials, 429
/// on a lockout, 400 otherwise, and 500 when the store failed.
#[must_use]
pub fn refused(e: &OAuthError, grant: &str, headers: &HeaderMap) -> Response {
    match e {
        OAuthError::Store(cause) => super::ApiError::internal(cause).into_response(),
        OAuthError::Locked { retry_after } => {
            tracing::info!(oauth.error = e.code(), oauth.grant = %grant, "token request refused: locked out");
            locked(headers, e, *retry_after)
        }
        _ => {
            // The reason goes to the log; neither secrets nor tokens do.
            tracing::info!(oauth.error = e.code(), oauth.grant = %grant, reason = ?e, "token request refused");
            let status = if matches!(e, OAuthError::InvalidClient(_)) {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            };
            oauth_error(status, e.code(), e.to_string())
        }
    }
}

fn oauth_error(status: StatusCode, code: &str, description: String) -> Response {
    (
        status,
        Json(OAuthErrorAnswer {
            error: code.to_owned(),
            error_description: description,
            error_codes: Vec::new(),
            timestamp: None,
            trace_id: None,
            correlation_id: None,
        }),
    )
        .into_response()
}

/// A lockout answer in Entra's shape for `AADSTS50053` (`IdsLocked`): the description with
/// trace, correlation and time lines, the same as fields, and `error_codes` — but 429 with
/// `Retry-After` rather than Entra's 400, so clients and proxies see a throttle.
fn locked(headers: &HeaderMap, e: &OAuthError, retry_after: i64) -> Response {
    let now = time::OffsetDateTime::now_utc();
    let timestamp = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(OAuthErrorAnswer {
            error: e.code().to_owned(),
            error_description: format!(
                "{e}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            error_codes: vec![50053],
            timestamp: Some(timestamp),
            trace_id: Some(trace_id),
            correlation_id: Some(correlation_id),
        }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
