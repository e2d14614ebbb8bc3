//! The directory's errors as Microsoft Graph answers them (`Request_BadRequest`,
//! `Request_ResourceNotFound`, `Authorization_RequestDenied`, ...).

use super::ApiError;
use axum::http::StatusCode;
use berth_domain::directory::DirectoryError;

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        let message = e.to_string();
        match e {
            DirectoryError::Invalid { target, .. } => {
                Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
                    .with_target(target)
            }
            DirectoryError::Conflict(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "Request_MultipleObjectsWithSameKeyValue",
                message,
            ),
            DirectoryError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "Request_ResourceNotFound", message)
            }
            DirectoryError::Forbidden(_) => Self::new(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                message,
            ),
            DirectoryError::Store(s) => s.into(),
        }
    }
}
