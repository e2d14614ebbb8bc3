//! The one place that turns errors into HTTP: ARM's error envelope
//! `{"error":{"code","message","target"?,"details"?}}` with the right status (Graph's errors
//! share its shape), and every domain error's mapping to it; [`oauth`] the issuer's OAuth 2.0
//! errors; [`registry`] the Docker registry's `{"errors":[…]}` of the token server; and
//! [`notary`] Notary's for the trust server.
//! 5xx bodies are generic; their cause is logged once, here.

mod directory;
mod named;
pub mod notary;
pub mod oauth;
mod rbac;
pub mod registry;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_domain::registry::RegistryError;
use berth_domain::resource_group::ResourceGroupError;
use berth_domain::store::StoreError;
use berth_domain::subscription::SubscriptionError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// ARM's error response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorDetail,
}

/// One ARM error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `ResourceNotFound`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The property or parameter at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Further errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub details: Vec<ErrorDetail>,
}

/// The ARM error code a response carries, for the activity log (a response extension).
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

/// An error answer of the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    detail: ErrorDetail,
    close_connection: bool,
    challenge: bool,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                target: None,
                details: Vec::new(),
            },
            close_connection: false,
            challenge: false,
        }
    }

    /// Names the property or parameter at fault.
    #[must_use]
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.detail.target = Some(target.into());
        self
    }

    /// Adds `WWW-Authenticate: Bearer` (401 answers).
    #[must_use]
    pub fn challenging(mut self) -> Self {
        self.challenge = true;
        self
    }

    /// Asks the client not to reuse the connection (the request body was left unread).
    #[must_use]
    pub fn closing_connection(mut self) -> Self {
        self.close_connection = true;
        self
    }

    /// 400 `InvalidRequestContent`.
    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequestContent", message)
    }

    /// 500 with a generic body; `cause` goes to the log only.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.cause = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "The server encountered an internal error. Please retry the request.",
        )
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The ARM code.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.detail.code
    }

    /// The message (what the portal shows beside the control that failed).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.detail.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = ErrorCode(self.detail.code.clone());
        let mut response =
            (self.status, Json(ErrorResponse { error: self.detail })).into_response();
        response.extensions_mut().insert(code);
        if self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        if self.close_connection {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::internal(&e)
    }
}

impl From<SubscriptionError> for ApiError {
    fn from(e: SubscriptionError) -> Self {
        match e {
            SubscriptionError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "SubscriptionNotFound", e.to_string())
            }
            SubscriptionError::Store(s) => s.into(),
        }
    }
}

impl From<ResourceGroupError> for ApiError {
    fn from(e: ResourceGroupError) -> Self {
        let message = e.to_string();
        match e {
            ResourceGroupError::Subscription(s) => s.into(),
            ResourceGroupError::InvalidName(_) => {
                Self::new(StatusCode::BAD_REQUEST, "InvalidResourceGroupName", message)
                    .with_target("resourceGroupName")
            }
            ResourceGroupError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "ResourceGroupNotFound", message)
            }
            ResourceGroupError::LocationMismatch { .. } => Self::new(
                StatusCode::CONFLICT,
                "InvalidResourceGroupLocation",
                message,
            )
            .with_target("location"),
            ResourceGroupError::BeingDeleted(_) => {
                Self::new(StatusCode::CONFLICT, "ResourceGroupBeingDeleted", message)
            }
            ResourceGroupError::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                message,
            ),
            ResourceGroupError::Conflict => Self::new(StatusCode::CONFLICT, "Conflict", message),
            ResourceGroupError::Store(s) => s.into(),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let message = e.to_string();
        match e {
            RegistryError::ResourceGroup(g) => g.into(),
            RegistryError::InvalidName(_) => {
                Self::new(StatusCode::BAD_REQUEST, "InvalidResourceName", message)
                    .with_target("registryName")
            }
            RegistryError::NotFound(..) => {
                Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
            }
            RegistryError::NameNotAvailable(_) => {
                Self::new(StatusCode::CONFLICT, "RegistryNameNotAvailable", message)
                    .with_target("registryName")
            }
            RegistryError::FeatureNotInSku { feature, .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "FeatureNotSupportedForSku",
                message,
            )
            .with_target(feature_target(feature)),
            RegistryError::SkuDowngradeBlocked { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "SkuDowngradeNotAllowed", message)
                    .with_target("sku.name")
            }
            RegistryError::InvalidValue { target, .. } => {
                Self::invalid_content(message).with_target(target)
            }
            RegistryError::LocationMismatch { .. } => {
                Self::new(StatusCode::CONFLICT, "InvalidResourceLocation", message)
                    .with_target("location")
            }
            RegistryError::SkuLimitExceeded { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "SkuDowngradeNotAllowed", message)
                    .with_target("sku.name")
            }
            RegistryError::ChildNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
            }
            RegistryError::InUse(_) => Self::new(StatusCode::CONFLICT, "ResourceInUse", message),
            RegistryError::DataPlaneUnavailable(cause) => {
                tracing::error!(error.cause = %cause, "cannot clear a new registry's namespace in the data plane");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "DataPlaneUnavailable",
                    message,
                )
            }
            RegistryError::AdminUserDisabled(_) => {
                Self::new(StatusCode::BAD_REQUEST, "AdminUserDisabled", message)
            }
            RegistryError::BeingDeleted(_) => {
                Self::new(StatusCode::CONFLICT, "RegistryBeingDeleted", message)
            }
            RegistryError::PreconditionFailed => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                message,
            ),
            RegistryError::Conflict => Self::new(StatusCode::CONFLICT, "Conflict", message),
            RegistryError::ContentTrustUnavailable(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "ContentTrustNotConfigured",
                format!(
                    "{message} The embedded trust server is off (BERTH_TRUST_LISTEN=off): serve \
                     it with BERTH_TRUST_LISTEN=host:port, or point Berth at a Notary server \
                     with BERTH_NOTARY_URL and BERTH_NOTARY_SERVICE (notary_url and \
                     notary_service in berth.toml; BERTH_NOTARY_CA for a private CA), then \
                     enable content trust."
                ),
            )
            .with_target("properties.policies.trustPolicy.status"),
            RegistryError::TrustWipeInProgress { .. } => {
                Self::new(StatusCode::CONFLICT, "ContentTrustWipeInProgress", message)
                    .with_target("properties.policies.trustPolicy.status")
            }
            RegistryError::Store(s) => s.into(),
        }
    }
}

fn feature_target(feature: berth_domain::registry::Feature) -> &'static str {
    use berth_domain::registry::Feature;
    match feature {
        Feature::ContentTrust => "properties.policies.trustPolicy.status",
        Feature::RetentionPolicy => "properties.policies.retentionPolicy.status",
        Feature::AnonymousPull => "properties.anonymousPullEnabled",
        Feature::NetworkRules => "properties.networkRuleSet",
        Feature::PrivateLink => "properties.publicNetworkAccess",
        Feature::DedicatedDataEndpoints => "properties.dataEndpointEnabled",
        Feature::CustomerManagedKeys => "properties.encryption",
        Feature::GeoReplication => "sku.name",
    }
}
