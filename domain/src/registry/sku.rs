//! Service tiers and the one table that says what each tier has.

use std::fmt;

/// A registry's service tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sku {
    /// Entry tier.
    Basic,
    /// Most production workloads.
    Standard,
    /// High volume, and the features that need it (content trust among them).
    Premium,
}

impl Sku {
    /// Every tier, cheapest first.
    pub const ALL: [Self; 3] = [Self::Basic, Self::Standard, Self::Premium];

    /// Parses a SKU name without regard to case. `Classic` is retired and refused.
    ///
    /// # Errors
    /// A message listing the accepted names.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("Classic") {
            return Err(
                "The 'Classic' SKU is retired and cannot be used for new or updated registries. \
                        Use Basic, Standard or Premium."
                    .to_owned(),
            );
        }
        Self::ALL
            .into_iter()
            .find(|sku| sku.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("The SKU '{s}' is not supported. Supported SKUs: Basic, Standard, Premium.")
            })
    }

    /// The ARM spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "Basic",
            Self::Standard => "Standard",
            Self::Premium => "Premium",
        }
    }

    /// What this tier offers.
    #[must_use]
    pub fn capabilities(self) -> &'static Capabilities {
        match self {
            Self::Basic => &BASIC,
            Self::Standard => &STANDARD,
            Self::Premium => &PREMIUM,
        }
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A feature that only some tiers have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// Docker Content Trust (`policies.trustPolicy`).
    ContentTrust,
    /// Retention policy for untagged manifests (`policies.retentionPolicy`).
    RetentionPolicy,
    /// Anonymous (unauthenticated) pull.
    AnonymousPull,
    /// IP network rules (`networkRuleSet` with `Deny` or IP rules).
    NetworkRules,
    /// Turning public network access off (private endpoints only).
    PrivateLink,
    /// Dedicated data endpoints.
    DedicatedDataEndpoints,
    /// Customer-managed encryption keys.
    CustomerManagedKeys,
    /// Geo-replication.
    GeoReplication,
}

impl Feature {
    /// How the feature is named in errors.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::ContentTrust => "Content trust (properties.policies.trustPolicy)",
            Self::RetentionPolicy => "The retention policy (properties.policies.retentionPolicy)",
            Self::AnonymousPull => "Anonymous pull (properties.anonymousPullEnabled)",
            Self::NetworkRules => "Network rules (properties.networkRuleSet)",
            Self::PrivateLink => "Disabling public network access (properties.publicNetworkAccess)",
            Self::DedicatedDataEndpoints => {
                "Dedicated data endpoints (properties.dataEndpointEnabled)"
            }
            Self::CustomerManagedKeys => "Customer-managed keys (properties.encryption)",
            Self::GeoReplication => "Geo-replication",
        }
    }
}

/// What one tier offers: features and limits, after ACR's published SKU table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Features available in the tier.
    pub features: &'static [Feature],
    /// Storage included in the price, in bytes.
    pub included_storage_bytes: u64,
    /// Webhooks per registry.
    pub webhooks: u32,
    /// Non-Entra tokens per registry.
    pub tokens: u32,
    /// Scope maps per registry.
    pub scope_maps: u32,
    /// Repositories per scope map.
    pub repositories_per_scope_map: u32,
    /// Private endpoints per registry.
    pub private_endpoints: u32,
    /// Minimum read operations per minute.
    pub read_ops_per_minute: u32,
    /// Minimum write operations per minute.
    pub write_ops_per_minute: u32,
}

impl Capabilities {
    /// Whether the tier has `feature`.
    #[must_use]
    pub fn has(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }
}

const GIB: u64 = 1024 * 1024 * 1024;

static BASIC: Capabilities = Capabilities {
    features: &[],
    included_storage_bytes: 10 * GIB,
    webhooks: 2,
    tokens: 100,
    scope_maps: 100,
    repositories_per_scope_map: 500,
    private_endpoints: 0,
    read_ops_per_minute: 1_000,
    write_ops_per_minute: 100,
};

static STANDARD: Capabilities = Capabilities {
    features: &[Feature::AnonymousPull],
    included_storage_bytes: 100 * GIB,
    webhooks: 10,
    tokens: 500,
    scope_maps: 500,
    repositories_per_scope_map: 500,
    private_endpoints: 0,
    read_ops_per_minute: 3_000,
    write_ops_per_minute: 500,
};

static PREMIUM: Capabilities = Capabilities {
    features: &[
        Feature::ContentTrust,
        Feature::RetentionPolicy,
        Feature::AnonymousPull,
        Feature::NetworkRules,
        Feature::PrivateLink,
        Feature::DedicatedDataEndpoints,
        Feature::CustomerManagedKeys,
        Feature::GeoReplication,
    ],
    included_storage_bytes: 500 * GIB,
    webhooks: 500,
    tokens: 50_000,
    scope_maps: 50_000,
    repositories_per_scope_map: 500,
    private_endpoints: 200,
    read_ops_per_minute: 10_000,
    write_ops_per_minute: 2_000,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_trust_is_premium_only() {
        assert!(Sku::Premium.capabilities().has(Feature::ContentTrust));
        assert!(!Sku::Standard.capabilities().has(Feature::ContentTrust));
        assert!(!Sku::Basic.capabilities().has(Feature::ContentTrust));
    }

    #[test]
    fn sku_names_parse_without_regard_to_case_and_classic_is_refused() {
        assert_eq!(Sku::parse("premium"), Ok(Sku::Premium));
        assert!(Sku::parse("Classic").is_err_and(|m| m.contains("retired")));
        assert!(Sku::parse("Gold").is_err_and(|m| m.contains("Basic, Standard, Premium")));
    }

    #[test]
    fn higher_tiers_never_have_fewer_features_or_lower_limits() {
        for pair in Sku::ALL.windows(2) {
            let (lo, hi) = (pair[0].capabilities(), pair[1].capabilities());
            assert!(lo.features.iter().all(|f| hi.has(*f)));
            assert!(lo.webhooks <= hi.webhooks && lo.tokens <= hi.tokens);
            assert!(lo.included_storage_bytes <= hi.included_storage_bytes);
        }
    }
}
