//! JSON request bodies as ARM takes them: `application/json` only, a size limit, and
//! malformed JSON answered with `InvalidRequestContent` naming line and column.
//!
//! The body is read by the extractor but its faults are reported only when the handler
//! asks for it with [`ArmJson::parse`] — after authorization, so a caller who may not act
//! learns 403 whatever it sent, and the shape of a body never leaks past authorization.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body, parsed, or why it could not be.
#[derive(Debug)]
pub struct ArmJson<T>(Result<T, ApiError>);

impl<T> ArmJson<T> {
    /// The body.
    ///
    /// # Errors
    /// 415 for another media type, 413 for a body over the limit, 400
    /// `InvalidRequestContent` for an empty or malformed one.
    pub fn parse(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ArmJson<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(read(req, state).await))
    }
}

async fn read<T: DeserializeOwned, S: Send + Sync>(req: Request, state: &S) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::body_too_large()
        } else {
            ApiError::invalid_content(format!("The request body could not be read: {rejection}"))
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::invalid_content(
            "The request content was invalid: the body is empty.",
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::invalid_content(format!(
            "The request content was invalid and could not be deserialized: {e}."
        ))
    })
}

/// Whether a request's body is `application/x-www-form-urlencoded` (OAuth 2.0 token
/// endpoints take only that).
#[must_use]
pub fn is_form_urlencoded(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
