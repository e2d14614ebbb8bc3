//! The registry resource and what a caller may set on it.

use super::{ContentTrust, Feature, RegistryName, Sku};
use crate::arm::{ETag, Location, ProvisioningState, RegistryId, SystemData, Tags};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Defines string enums with their ARM spellings and a case-insensitive parser.
macro_rules! arm_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// The ARM spelling.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the ARM spelling without regard to case.
            ///
            /// # Errors
            /// A message listing the accepted values.
            pub fn parse(s: &str) -> Result<Self, String> {
                $(if s.eq_ignore_ascii_case($text) { return Ok(Self::$variant); })+
                Err(format!("The value '{}' is not valid; allowed values: {}.", s, [$($text),+].join(", ")))
            }
        }
    };
}

arm_enum!(
    /// Which services may bypass the network rules.
    NetworkRuleBypass { /// Trusted Azure-style services.
    AzureServices => "AzureServices", /// None.
    None => "None" }
);
arm_enum!(
    /// How role assignments on the registry are interpreted.
    RoleAssignmentMode { /// Repository-scoped (ABAC) permissions.
    AbacRepositoryPermissions => "AbacRepositoryPermissions", /// Registry-wide permissions.
    LegacyRegistryPermissions => "LegacyRegistryPermissions" }
);
arm_enum!(
    /// IP protocols the registry endpoints answer on (preview API).
    EndpointProtocol { /// IPv4 only.
    IPv4 => "IPv4", /// IPv4 and IPv6.
    IPv4AndIPv6 => "IPv4AndIPv6" }
);
arm_enum!(
    /// Managed identity kinds.
    IdentityType { /// A system-assigned identity.
    SystemAssigned => "SystemAssigned", /// User-assigned identities.
    UserAssigned => "UserAssigned", /// Both.
    SystemAndUserAssigned => "SystemAssigned, UserAssigned", /// No identity.
    None => "None" }
);
arm_enum!(
    /// The reuse scope of an auto-generated domain name label (preview API).
    DomainNameLabelScope { /// No auto-generated label.
    Unsecure => "Unsecure", /// Reusable in the tenant.
    TenantReuse => "TenantReuse", /// Reusable in the subscription.
    SubscriptionReuse => "SubscriptionReuse", /// Reusable in the resource group.
    ResourceGroupReuse => "ResourceGroupReuse", /// Never reused.
    NoReuse => "NoReuse" }
);

/// A user-assigned identity attached to the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentity {
    /// The identity's ARM resource id.
    pub resource_id: String,
    /// Its principal (object) id.
    pub principal_id: String,
    /// Its client (application) id.
    pub client_id: String,
}

/// The registry's managed identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// Which identities are attached.
    pub kind: IdentityType,
    /// The system-assigned identity's principal id, when there is one.
    pub principal_id: Option<String>,
    /// The tenant of the system-assigned identity.
    pub tenant_id: Option<String>,
    /// User-assigned identities.
    pub user_assigned: Vec<UserAssignedIdentity>,
}

impl Identity {
    /// This identity, keeping the principal and client ids of `current` for the identities
    /// both have: a PUT or PATCH that names an identity again must not mint a new one.
    #[must_use]
    pub fn keeping_ids_of(mut self, current: Option<&Identity>) -> Self {
        let Some(current) = current else { return self };
        if self.principal_id.is_some() && current.principal_id.is_some() {
            self.principal_id.clone_from(&current.principal_id);
            self.tenant_id.clone_from(&current.tenant_id);
        }
        for user in &mut self.user_assigned {
            if let Some(known) = current
                .user_assigned
                .iter()
                .find(|u| u.resource_id.eq_ignore_ascii_case(&user.resource_id))
            {
                user.principal_id.clone_from(&known.principal_id);
                user.client_id.clone_from(&known.client_id);
            }
        }
        self
    }
}

/// The IP rules of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRuleSet {
    /// `true` for `Allow`, `false` for `Deny`.
    pub default_allow: bool,
    /// Allowed CIDR ranges or addresses.
    pub ip_rules: Vec<String>,
}

impl Default for NetworkRuleSet {
    fn default() -> Self {
        Self {
            default_allow: true,
            ip_rules: Vec::new(),
        }
    }
}

/// Customer-managed key settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyVaultProperties {
    /// The key's URI.
    pub key_identifier: Option<String>,
    /// The client id of the identity that reads the key.
    pub identity: Option<String>,
}

/// Encryption at rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    /// Whether a customer-managed key is used.
    pub enabled: bool,
    /// The key, when enabled.
    pub key_vault: Option<KeyVaultProperties>,
}

/// Retention of untagged manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicy {
    /// Whether the policy is on.
    pub enabled: bool,
    /// Days untagged manifests are kept (0–365).
    pub days: u16,
    /// When the policy last changed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
}

/// Soft delete of artifacts (preview API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SoftDeletePolicy {
    /// Whether the policy is on.
    pub enabled: bool,
    /// Days deleted artifacts are kept (1–90).
    pub retention_days: u16,
    /// When the policy last changed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
}

/// The registry's policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policies {
    /// Quarantine of pushed images.
    pub quarantine_enabled: bool,
    /// Retention of untagged manifests.
    pub retention: RetentionPolicy,
    /// Whether artifacts may be exported.
    pub export_enabled: bool,
    /// Whether Entra tokens with the ARM audience are accepted by the data plane.
    pub aad_as_arm_enabled: bool,
    /// Soft delete (preview API).
    pub soft_delete: SoftDeletePolicy,
}

impl Default for Policies {
    fn default() -> Self {
        Self {
            quarantine_enabled: false,
            retention: RetentionPolicy {
                enabled: false,
                days: 7,
                last_updated: None,
            },
            export_enabled: true,
            aad_as_arm_enabled: true,
            soft_delete: SoftDeletePolicy {
                enabled: false,
                retention_days: 7,
                last_updated: None,
            },
        }
    }
}

/// Properties only the preview api-versions carry; stored always, returned on those versions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewSettings {
    /// Regional endpoints.
    pub regional_endpoints: bool,
    /// Endpoint protocol.
    pub endpoint_protocol: Option<EndpointProtocol>,
    /// Metadata search.
    pub metadata_search: bool,
    /// Auto-generated domain name label scope.
    pub auto_generated_domain_name_label_scope: Option<DomainNameLabelScope>,
}

/// Everything a caller sets on a registry beyond location, SKU and tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegistrySettings {
    /// Whether the admin user is on.
    pub admin_user_enabled: bool,
    /// IP network rules.
    pub network_rule_set: NetworkRuleSet,
    /// Policies.
    pub policies: Policies,
    /// Encryption at rest.
    pub encryption: Encryption,
    /// Dedicated data endpoints.
    pub data_endpoint_enabled: bool,
    /// Public network access.
    pub public_network_access: bool,
    /// Network-rule bypass.
    pub network_rule_bypass: NetworkRuleBypass,
    /// Whether tasks may bypass network rules.
    pub network_rule_bypass_allowed_for_tasks: bool,
    /// Zone redundancy (immutable after creation).
    pub zone_redundancy: bool,
    /// Anonymous pull.
    pub anonymous_pull_enabled: bool,
    /// Role assignment mode.
    pub role_assignment_mode: RoleAssignmentMode,
    /// Preview-only properties.
    pub preview: PreviewSettings,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            admin_user_enabled: false,
            network_rule_set: NetworkRuleSet::default(),
            policies: Policies::default(),
            encryption: Encryption::default(),
            data_endpoint_enabled: false,
            public_network_access: true,
            network_rule_bypass: NetworkRuleBypass::AzureServices,
            network_rule_bypass_allowed_for_tasks: false,
            zone_redundancy: false,
            anonymous_pull_enabled: false,
            role_assignment_mode: RoleAssignmentMode::LegacyRegistryPermissions,
            preview: PreviewSettings::default(),
        }
    }
}

impl RegistrySettings {
    /// The tier features these settings use (content trust is the registry's own state:
    /// see [`Registry::features_used`]).
    #[must_use]
    pub fn features_used(&self) -> Vec<Feature> {
        let uses = [
            (Feature::RetentionPolicy, self.policies.retention.enabled),
            (Feature::AnonymousPull, self.anonymous_pull_enabled),
            (
                Feature::NetworkRules,
                !self.network_rule_set.default_allow || !self.network_rule_set.ip_rules.is_empty(),
            ),
            (Feature::PrivateLink, !self.public_network_access),
            (Feature::DedicatedDataEndpoints, self.data_endpoint_enabled),
            (Feature::CustomerManagedKeys, self.encryption.enabled),
        ];
        uses.into_iter()
            .filter_map(|(f, on)| on.then_some(f))
            .collect()
    }
}

impl RegistrySettings {
    /// Applies the settings part of a PATCH: absent fields keep their values, and policies
    /// merge one field at a time.
    pub fn apply(&mut self, patch: &RegistryPatch) {
        let s = self;
        set(&mut s.admin_user_enabled, patch.admin_user_enabled);
        set(&mut s.network_rule_set, patch.network_rule_set.clone());
        set(&mut s.encryption, patch.encryption.clone());
        set(&mut s.data_endpoint_enabled, patch.data_endpoint_enabled);
        set(&mut s.public_network_access, patch.public_network_access);
        set(&mut s.network_rule_bypass, patch.network_rule_bypass);
        set(
            &mut s.network_rule_bypass_allowed_for_tasks,
            patch.network_rule_bypass_allowed_for_tasks,
        );
        set(&mut s.anonymous_pull_enabled, patch.anonymous_pull_enabled);
        set(&mut s.role_assignment_mode, patch.role_assignment_mode);
        set(&mut s.preview.regional_endpoints, patch.regional_endpoints);
        if patch.endpoint_protocol.is_some() {
            s.preview.endpoint_protocol = patch.endpoint_protocol;
        }
        set(&mut s.preview.metadata_search, patch.metadata_search);
        let (p, pp) = (&mut s.policies, &patch.policies);
        set(&mut p.quarantine_enabled, pp.quarantine_enabled);
        set(&mut p.retention.enabled, pp.retention_enabled);
        set(&mut p.retention.days, pp.retention_days);
        set(&mut p.export_enabled, pp.export_enabled);
        set(&mut p.aad_as_arm_enabled, pp.aad_as_arm_enabled);
        set(&mut p.soft_delete.enabled, pp.soft_delete_enabled);
        set(
            &mut p.soft_delete.retention_days,
            pp.soft_delete_retention_days,
        );
    }
}

/// The desired state a PUT describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryDefinition {
    /// Region.
    pub location: Location,
    /// Tier.
    pub sku: Sku,
    /// Tags.
    pub tags: Tags,
    /// Managed identity.
    pub identity: Option<Identity>,
    /// Settings.
    pub settings: RegistrySettings,
    /// Whether content trust is to be on (`trustPolicy.status`).
    pub content_trust: bool,
}

/// A partial update (PATCH): every `None` leaves the current value as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryPatch {
    /// New tags (replace the whole set).
    pub tags: Option<Tags>,
    /// New tier.
    pub sku: Option<Sku>,
    /// New identity.
    pub identity: Option<Identity>,
    /// Admin user.
    pub admin_user_enabled: Option<bool>,
    /// Network rules (replaced whole).
    pub network_rule_set: Option<NetworkRuleSet>,
    /// Policies, merged one field at a time.
    pub policies: PoliciesPatch,
    /// Encryption (replaced whole).
    pub encryption: Option<Encryption>,
    /// Dedicated data endpoints.
    pub data_endpoint_enabled: Option<bool>,
    /// Public network access.
    pub public_network_access: Option<bool>,
    /// Network-rule bypass.
    pub network_rule_bypass: Option<NetworkRuleBypass>,
    /// Task bypass.
    pub network_rule_bypass_allowed_for_tasks: Option<bool>,
    /// Anonymous pull.
    pub anonymous_pull_enabled: Option<bool>,
    /// Role assignment mode.
    pub role_assignment_mode: Option<RoleAssignmentMode>,
    /// Regional endpoints (preview).
    pub regional_endpoints: Option<bool>,
    /// Endpoint protocol (preview).
    pub endpoint_protocol: Option<EndpointProtocol>,
    /// Metadata search (preview).
    pub metadata_search: Option<bool>,
}

/// A partial update of the policies; a policy or field left `None` keeps its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoliciesPatch {
    /// Quarantine.
    pub quarantine_enabled: Option<bool>,
    /// Content trust (a request: see [`ContentTrust::request`]).
    pub trust_enabled: Option<bool>,
    /// Retention on/off.
    pub retention_enabled: Option<bool>,
    /// Retention days.
    pub retention_days: Option<u16>,
    /// Export.
    pub export_enabled: Option<bool>,
    /// Entra tokens with the ARM audience.
    pub aad_as_arm_enabled: Option<bool>,
    /// Soft delete on/off.
    pub soft_delete_enabled: Option<bool>,
    /// Soft-delete retention days.
    pub soft_delete_retention_days: Option<u16>,
}

/// A registry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// Its ARM id.
    pub id: RegistryId,
    /// Region (immutable).
    pub location: Location,
    /// Tier.
    pub sku: Sku,
    /// Tags.
    pub tags: Tags,
    /// Managed identity.
    pub identity: Option<Identity>,
    /// Settings.
    pub settings: RegistrySettings,
    /// `<name>.<suffix>`, fixed at creation.
    pub login_server: String,
    /// When it was created.
    pub creation_date: OffsetDateTime,
    /// Provisioning state.
    pub provisioning_state: ProvisioningState,
    /// Version stamp.
    pub etag: ETag,
    /// Who made and changed it.
    pub system_data: SystemData,
    /// Content trust: off, on, or being wiped.
    pub content_trust: ContentTrust,
}

impl Registry {
    /// Whether a token issued at `issued_at` (unix seconds) predates this registry: it was
    /// issued for an earlier registry of the same name, and so of the same login server,
    /// and grants nothing here. Compared in whole seconds, as tokens carry them.
    #[must_use]
    pub fn was_created_after(&self, issued_at: i64) -> bool {
        issued_at < self.creation_date.unix_timestamp()
    }

    /// Whether trust-data pushes may be granted now: content trust is enabled, no wipe runs,
    /// and the registry is not being deleted.
    #[must_use]
    pub fn trust_push_allowed(&self) -> bool {
        self.content_trust.accepts_trust_data()
            && self.provisioning_state != ProvisioningState::Deleting
    }

    /// The tier features the registry uses: its settings', and content trust while it is
    /// on or still being wiped.
    #[must_use]
    pub fn features_used(&self) -> Vec<Feature> {
        let mut used = self.settings.features_used();
        if self.content_trust.policy_enabled() {
            used.insert(0, Feature::ContentTrust);
        }
        used
    }

    /// The registry's name.
    #[must_use]
    pub fn name(&self) -> &RegistryName {
        &self.id.name
    }

    /// Applies a PATCH to a copy of this registry.
    #[must_use]
    pub fn apply_patch(&self, patch: &RegistryPatch) -> Self {
        let mut next = self.clone();
        if let Some(tags) = &patch.tags {
            next.tags = tags.clone();
        }
        if let Some(sku) = patch.sku {
            next.sku = sku;
        }
        if let Some(identity) = &patch.identity {
            next.identity = Some(identity.clone().keeping_ids_of(self.identity.as_ref()));
        }
        next.settings.apply(patch);
        next
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}
