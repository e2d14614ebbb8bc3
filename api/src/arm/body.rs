//! JSON request bodies as ARM takes them: `application/json` only, a size limit, and
//! malformed JSON answered with `InvalidRequestContent` naming line and column.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body, parsed.
#[derive(Debug, Clone)]
pub struct ArmJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ArmJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!(
                    "The content media type '{content_type}' is not supported. Only 'application/json' is supported."
                ),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    "The request body is larger than the server accepts.",
                )
                .closing_connection()
            } else {
                ApiError::invalid_content(format!(
                    "The request body could not be read: {rejection}"
                ))
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::invalid_content(
                "The request content was invalid: the body is empty.",
            ));
        }
        serde_json::from_slice(&bytes).map(ArmJson).map_err(|e| {
            ApiError::invalid_content(format!(
                "The request content was invalid and could not be deserialized: {e}."
            ))
        })
    }
}
