//! The `api-version` query parameter: required, and checked against the versions each
//! resource type serves.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::marker::PhantomData;

/// The api-versions a resource type accepts.
pub trait VersionSet: Send + Sync + 'static {
    /// What the versions are for, in error messages.
    const RESOURCE: &'static str;
    /// Accepted versions.
    const SUPPORTED: &'static [&'static str];
}

/// `Microsoft.ContainerRegistry`: the stable SDK's version and the Azure CLI's previews.
pub struct RegistryVersions;
impl VersionSet for RegistryVersions {
    const RESOURCE: &'static str = "Microsoft.ContainerRegistry/registries";
    const SUPPORTED: &'static [&'static str] = &[
        "2023-07-01",
        "2025-04-01",
        "2025-11-01",
        "2026-01-01-preview",
        "2026-09-01-preview",
    ];
}

/// `Microsoft.Resources/resourceGroups`.
pub struct ResourceGroupVersions;
impl VersionSet for ResourceGroupVersions {
    const RESOURCE: &'static str = "Microsoft.Resources/resourceGroups";
    const SUPPORTED: &'static [&'static str] = &[
        "2021-04-01",
        "2022-09-01",
        "2023-07-01",
        "2024-03-01",
        "2024-07-01",
        "2024-11-01",
        "2025-03-01",
        "2025-04-01",
    ];
}

/// The generic resources list (`/subscriptions/{sub}/resources`).
pub struct ResourcesVersions;
impl VersionSet for ResourcesVersions {
    const RESOURCE: &'static str = "Microsoft.Resources/resources";
    const SUPPORTED: &'static [&'static str] = ResourceGroupVersions::SUPPORTED;
}

/// `Microsoft.Resources/subscriptions`.
pub struct SubscriptionVersions;
impl VersionSet for SubscriptionVersions {
    const RESOURCE: &'static str = "Microsoft.Resources/subscriptions";
    const SUPPORTED: &'static [&'static str] =
        &["2016-06-01", "2020-01-01", "2021-01-01", "2022-12-01"];
}

/// `Microsoft.Insights` (the activity log).
pub struct InsightsVersions;
impl VersionSet for InsightsVersions {
    const RESOURCE: &'static str = "microsoft.insights/eventtypes/values";
    const SUPPORTED: &'static [&'static str] = &["2015-04-01"];
}

/// The cloud-metadata document.
pub struct MetadataVersions;
impl VersionSet for MetadataVersions {
    const RESOURCE: &'static str = "metadata/endpoints";
    const SUPPORTED: &'static [&'static str] = &["2019-05-01", "2020-06-01", "2022-09-01"];
}

/// A checked api-version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion<S> {
    value: &'static str,
    set: PhantomData<S>,
}

impl<S> ApiVersion<S> {
    /// The version, as one of the supported strings.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        self.value
    }

    /// Whether it is a preview version (these carry the preview-only properties).
    #[must_use]
    pub fn is_preview(&self) -> bool {
        self.value.ends_with("-preview")
    }
}

impl<S: VersionSet> ApiVersion<S> {
    /// Checks a raw query string.
    ///
    /// # Errors
    /// `MissingApiVersionParameter` or `InvalidApiVersionParameter` (400).
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let given = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
            .map(|(_, v)| v.into_owned());
        let Some(given) = given else {
            return Err(ApiError::missing_api_version());
        };
        S::SUPPORTED
            .iter()
            .find(|v| v.eq_ignore_ascii_case(&given))
            .map(|v| Self {
                value: v,
                set: PhantomData,
            })
            .ok_or_else(|| {
                ApiError::invalid_api_version(&given, S::RESOURCE, &S::SUPPORTED.join(","))
                    .with_target("api-version")
            })
    }
}

impl<S: VersionSet, St: Send + Sync> FromRequestParts<St> for ApiVersion<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        Self::from_query(parts.uri.query())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_unknown_and_supported_versions() {
        let missing = ApiVersion::<RegistryVersions>::from_query(Some("x=1")).err();
        assert_eq!(
            missing.map(|e| e.code().to_owned()).as_deref(),
            Some("MissingApiVersionParameter")
        );
        let bad = ApiVersion::<RegistryVersions>::from_query(Some("api-version=2019-01-01")).err();
        assert_eq!(
            bad.map(|e| e.code().to_owned()).as_deref(),
            Some("InvalidApiVersionParameter")
        );
        let ok = ApiVersion::<RegistryVersions>::from_query(Some("api-version=2026-09-01-PREVIEW"));
        assert!(ok.is_ok_and(|v| v.is_preview() && v.as_str() == "2026-09-01-preview"));
    }
}
