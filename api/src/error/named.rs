//! The named ARM and Graph answers handlers and extractors give, so that no status and code
//! is spelled outside this module.

use super::ApiError;
use axum::http::StatusCode;

impl ApiError {
    /// 404 `NotFound`: no route serves the path.
    #[must_use]
    pub fn path_not_served() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The requested path is not served by Berth.",
        )
    }

    /// 405 `MethodNotAllowed`.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The HTTP method is not allowed on this path.",
        )
    }

    /// 401 `AuthenticationFailed`, with a `WWW-Authenticate` challenge.
    #[must_use]
    pub fn authentication_failed(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AuthenticationFailed", message).challenging()
    }

    /// 401 `InvalidAuthenticationToken`, with a challenge; why is logged, never sent.
    #[must_use]
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token is invalid. It may be expired, malformed, or issued for another audience or by another issuer.",
        )
        .challenging()
    }

    /// 403 `AuthorizationFailed`: the client (`name`, `object_id`) may not do `action` at
    /// `scope`.
    #[must_use]
    pub fn authorization_failed(
        name: &str,
        object_id: &uuid::Uuid,
        action: &str,
        scope: &str,
    ) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client '{name}' with object id '{object_id}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
        )
    }

    /// 415 `UnsupportedMediaType`: only JSON bodies are read.
    #[must_use]
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "The content media type '{content_type}' is not supported. Only 'application/json' is supported."
            ),
        )
    }

    /// 413 `RequestEntityTooLarge`; the connection is closed, its body unread.
    #[must_use]
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The request body is larger than the server accepts.",
        )
        .closing_connection()
    }

    /// 400 `InvalidQueryParameterValue` for `$top`.
    #[must_use]
    pub fn invalid_top(given: &str, max: u32) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidQueryParameterValue",
            format!("The value '{given}' of $top is invalid: use an integer from 1 to {max}."),
        )
        .with_target("$top")
    }

    /// 400 `InvalidSkipToken`.
    #[must_use]
    pub fn invalid_skip_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidSkipToken",
            "The $skipToken is not valid.",
        )
        .with_target("$skipToken")
    }

    /// 400 `MissingApiVersionParameter`.
    #[must_use]
    pub fn missing_api_version() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    }

    /// 400 `InvalidApiVersionParameter`, listing the versions `resource` supports.
    #[must_use]
    pub fn invalid_api_version(given: &str, resource: &str, supported: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{given}' is invalid. The supported versions for '{resource}' are '{supported}'."
            ),
        )
    }

    /// 400 `InvalidFilterInQueryString`, saying what the route supports.
    #[must_use]
    pub fn invalid_filter(message: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidFilterInQueryString",
            message,
        )
        .with_target("$filter")
    }

    /// The error of a failed or canceled operation, as its result URL answers it (409).
    #[must_use]
    pub fn operation_failed(code: &str, message: &str) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 404 `OperationNotFound`.
    #[must_use]
    pub fn operation_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("The operation '{id}' could not be found."),
        )
    }

    /// 400 `RoleDefinitionDoesNotExist`: a PUT names a role that does not exist.
    #[must_use]
    pub fn role_definition_does_not_exist(message: String) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "RoleDefinitionDoesNotExist",
            message,
        )
        .with_target("properties.roleDefinitionId")
    }

    /// 503 `ServiceUnavailable`: the store does not answer.
    #[must_use]
    pub fn not_ready() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The database is not reachable.",
        )
    }

    /// Graph's 400 `Request_BadRequest`.
    #[must_use]
    pub fn graph_bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    /// Graph's 400 `Request_UnsupportedQuery` for a `$filter`.
    #[must_use]
    pub fn graph_unsupported_filter(filter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            format!("Unsupported query: $filter={filter}"),
        )
    }
}
