//! Notary's error envelope, `{"errors":[{"code","message","detail"?}]}`, as notary-server
//! 0.7 answers the `notary` CLI and `docker trust`: the named answers of the trust server,
//! and the HTTP status and body of a refused upload.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_notary::UpdateError;
use serde_json::{Value, json};

/// Notary's error body.
#[must_use]
pub fn body(code: &str, message: &str, detail: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let (Some(detail), Some(obj)) = (detail, error.as_object_mut()) {
        obj.insert("detail".to_owned(), detail);
    }
    json!({ "errors": [error] })
}

/// An answer in Notary's envelope.
#[must_use]
pub fn answer(status: StatusCode, code: &str, message: &str, detail: Option<Value>) -> Response {
    (status, Json(body(code, message, detail))).into_response()
}

/// 404 `METADATA_NOT_FOUND`.
#[must_use]
pub fn not_found() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "METADATA_NOT_FOUND",
        "You have requested metadata that does not exist.",
        None,
    )
}

/// A 500 whose cause is logged here, once, and never sent.
#[must_use]
pub fn internal(cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(error.cause = %cause, "trust server request failed");
    answer(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN",
        "unknown error",
        None,
    )
}

/// The status notary-server answers a refused upload with: the client's fault (400), but
/// for a failure of the signing port, which is the server's (500).
#[must_use]
pub fn refusal_status(refused: &UpdateError) -> StatusCode {
    match refused {
        UpdateError::Signer(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The body notary-server answers a refused upload with.
#[must_use]
pub fn refusal_body(refused: &UpdateError) -> Value {
    body(refused.code(), refused.message(), refused.detail())
}

/// The answer to a refused upload; a server-side failure is logged and answered generically.
#[must_use]
pub fn refused(refused: &UpdateError) -> Response {
    let status = refusal_status(refused);
    if status.is_server_error() {
        return internal(refused);
    }
    (status, Json(refusal_body(refused))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_notary::{RoleName, SignerError, ValidationError};

    #[test]
    fn a_refused_upload_answers_notary_servers_status_and_body() {
        let invalid = UpdateError::Invalid(ValidationError::BadRoot {
            msg: "m".to_owned(),
        });
        assert_eq!(refusal_status(&invalid).as_u16(), 400);
        let body = refusal_body(&invalid);
        assert_eq!(
            body,
            json!({"errors":[{"code":"INVALID_UPDATE","message":"Update sent by the client is invalid.","detail":{"Name":"ErrBadRoot","Error":{"Msg":"m"}}}]})
        );
        let old = UpdateError::OldVersion {
            role: RoleName::Targets,
        };
        assert_eq!(
            (old.code(), refusal_status(&old).as_u16()),
            ("VERSION", 400)
        );
        let role = UpdateError::InvalidRole("targets/Upper".to_owned());
        assert_eq!(
            (role.code(), refusal_status(&role).as_u16()),
            ("INVALID_ROLE", 400)
        );
        assert_eq!(refusal_body(&role)["errors"][0]["detail"], "targets/Upper");
        let signer = UpdateError::Signer(SignerError("no key".to_owned()));
        assert_eq!(refusal_status(&signer).as_u16(), 500);
        assert!(
            refusal_body(&UpdateError::NoFilename)["errors"][0]
                .get("detail")
                .is_none()
        );
        // Byte for byte what Debian's notary-server answered to a replayed upload.
        let captured = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../notary/tests/fixtures/tuf/refusals/replay.json");
        let captured: Value = std::fs::read(&captured)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| panic!("{} is readable JSON", captured.display()));
        assert_eq!(refusal_body(&old), captured);
    }
}
