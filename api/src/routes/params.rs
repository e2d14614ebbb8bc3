//! OpenAPI descriptions of the path and query parameters routes share. The values are
//! parsed by the extractors in `crate::arm`; these types only document them.

use serde::Deserialize;
use utoipa::IntoParams;

/// The path of a subscription.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct SubscriptionPath {
    /// Subscription id (a GUID).
    pub(crate) subscription_id: String,
}

/// The path of a resource group.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct GroupPath {
    /// Subscription id.
    pub(crate) subscription_id: String,
    /// Resource-group name.
    pub(crate) resource_group_name: String,
}

/// Defines the `api-version` query parameter of one provider, with a doc line listing the
/// versions; with `list`, also the list variant, which adds paging.
macro_rules! api_version_params {
    ($plain:ident, $example:literal, $doc:literal) => {
        #[doc = concat!("The `api-version` query parameter: ", $doc)]
        #[derive(Debug, Deserialize, IntoParams)]
        #[into_params(parameter_in = Query)]
        pub struct $plain {
            #[doc = $doc]
            #[serde(rename = "api-version")]
            #[param(rename = "api-version", example = $example)]
            pub api_version: String,
        }
    };
    ($plain:ident, list $list:ident, $example:literal, $doc:literal) => {
        api_version_params!($plain, $example, $doc);

        #[doc = concat!("The list parameters, with the `api-version`: ", $doc)]
        #[derive(Debug, Deserialize, IntoParams)]
        #[into_params(parameter_in = Query)]
        pub struct $list {
            #[doc = $doc]
            #[serde(rename = "api-version")]
            #[param(rename = "api-version", example = $example)]
            pub api_version: String,
            /// Page size (1–1000).
            #[serde(rename = "$top")]
            #[param(rename = "$top")]
            pub top: Option<u32>,
            /// Continuation token, from `nextLink`.
            #[serde(rename = "$skipToken")]
            #[param(rename = "$skipToken")]
            pub skip_token: Option<String>,
        }
    };
}

api_version_params!(
    RegistryApiVersion,
    list RegistryListParams,
    "2025-11-01",
    "2025-11-01 (stable), 2026-01-01-preview or 2026-09-01-preview (Azure CLI), 2025-04-01, 2023-07-01."
);
api_version_params!(
    ResourceGroupApiVersion,
    list ResourceGroupListParams,
    "2025-04-01",
    "2025-04-01, 2025-03-01, 2024-11-01, 2024-07-01, 2024-03-01, 2023-07-01, 2022-09-01 or 2021-04-01."
);
api_version_params!(
    SubscriptionApiVersion,
    "2022-12-01",
    "2022-12-01, 2021-01-01, 2020-01-01 or 2016-06-01."
);
api_version_params!(
    MetadataApiVersion,
    "2022-09-01",
    "2022-09-01, 2020-06-01 or 2019-05-01."
);
