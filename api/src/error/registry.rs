//! The Docker registry's error envelope, `{"errors":[{"code","message"}]}`, as the
//! registry token server (and Distribution) answer `docker` and the az CLI: a 401 carries
//! `WWW-Authenticate: Basic`, a 429 `Retry-After`, and a refused credential's reason goes to
//! the log only.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_domain::registry::ArtifactError;
use berth_domain::registry_token::TokenServerError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One error of the Docker registry error shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistryErrorDetail {
    /// `UNAUTHORIZED`, `UNSUPPORTED`, `INVALID_REQUEST`, `TOOMANYREQUESTS`.
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// The Docker registry error shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistryErrors {
    /// The errors.
    pub errors: Vec<RegistryErrorDetail>,
}

/// An answer in the registry's envelope.
#[must_use]
pub fn error(status: StatusCode, code: &str, message: String) -> Response {
    let mut response = (
        status,
        Json(RegistryErrors {
            errors: vec![RegistryErrorDetail {
                code: code.to_owned(),
                message,
            }],
        }),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"berth\""),
        );
    }
    response
}

/// The answer to a refused registry-token request; an unauthorized one's reason is
/// logged, never sent.
#[must_use]
pub fn token_refused(e: TokenServerError) -> Response {
    match e {
        TokenServerError::InvalidRequest(m) => error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", m),
        TokenServerError::UnsupportedGrantType(_) => {
            error(StatusCode::BAD_REQUEST, "UNSUPPORTED", e.to_string())
        }
        TokenServerError::UnknownService(_) => {
            error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", e.to_string())
        }
        TokenServerError::Unauthorized(reason) => {
            // The reason goes to the log; the caller learns only that it was refused.
            tracing::info!(token_server.reason = %reason, "registry token refused");
            error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "authentication required: the credentials or token are invalid, expired or revoked"
                    .to_owned(),
            )
        }
        TokenServerError::TooManyRequests { retry_after } => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                e.to_string(),
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        TokenServerError::Store(s) => super::ApiError::internal(&s).into_response(),
    }
}

/// The answer to a failed request of ACR's repository API, in Distribution's codes.
#[must_use]
pub fn artifact_error(e: &ArtifactError) -> Response {
    let (status, code) = match e {
        ArtifactError::Name(_) => (StatusCode::BAD_REQUEST, "NAME_INVALID"),
        ArtifactError::RepositoryUnknown(_) => (StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        ArtifactError::TagUnknown(_) => (StatusCode::NOT_FOUND, "TAG_UNKNOWN"),
        ArtifactError::ManifestUnknown(_) => (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        ArtifactError::Trust(cause) => {
            tracing::error!(error.cause = %cause, "a repository's trust data could not be deleted");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "the repository's trust data cannot be deleted now, so the repository was kept; \
                 retry later"
                    .to_owned(),
            );
        }
        ArtifactError::DataPlane(cause) => {
            tracing::error!(error.cause = %cause, "the data plane's storage failed");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "the data plane's storage cannot be read or changed now; retry later".to_owned(),
            );
        }
    };
    error(status, code, e.to_string())
}
