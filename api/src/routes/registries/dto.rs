//! Wire types of `Microsoft.ContainerRegistry/registries`, and their conversion from and to
//! the domain. Strings on the wire, parsed into domain types here.

use crate::error::ApiError;
use crate::routes::wire::{self, EnabledState, NetworkRuleBypassOptions, ProvisioningState};
use berth_domain::arm::{Location, Tags};
use berth_domain::registry::{
    DomainNameLabelScope, Encryption, EndpointProtocol, Identity, IdentityType, KeyVaultProperties,
    NetworkRuleBypass, NetworkRuleSet, PoliciesPatch, Registry, RegistryDefinition, RegistryPatch,
    RegistrySettings, RoleAssignmentMode, Sku, UserAssignedIdentity,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

// ------------------------------------------------------------------ shared pieces

/// The SKU of a registry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SkuDto {
    /// `Basic`, `Standard` or `Premium`.
    #[schema(example = "Premium")]
    pub name: String,
    /// The tier (read-only; equal to `name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

/// A status toggle, as policies spell it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StatusPolicy {
    /// `enabled` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Content trust.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TrustPolicyDto {
    /// Always `Notary`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `enabled` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Retention of untagged manifests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicyDto {
    /// Days to keep (0–365).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// When the policy last changed (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub last_updated_time: Option<String>,
    /// `enabled` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Soft delete (preview api-versions).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoftDeletePolicyDto {
    /// Days to keep deleted artifacts (1–90).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i64>,
    /// When the policy last changed (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub last_updated_time: Option<String>,
    /// `enabled` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The registry's policies.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoliciesDto {
    /// Quarantine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine_policy: Option<StatusPolicy>,
    /// Content trust (Premium only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_policy: Option<TrustPolicyDto>,
    /// Retention (Premium only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<RetentionPolicyDto>,
    /// Export.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_policy: Option<StatusPolicy>,
    /// Entra tokens with the ARM audience.
    #[serde(
        rename = "azureADAuthenticationAsArmPolicy",
        skip_serializing_if = "Option::is_none"
    )]
    pub azure_ad_authentication_as_arm_policy: Option<StatusPolicy>,
    /// Soft delete (preview api-versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soft_delete_policy: Option<SoftDeletePolicyDto>,
}

/// An IP rule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IpRuleDto {
    /// Always `Allow`.
    #[serde(default = "allow")]
    pub action: String,
    /// An IPv4 address or CIDR range.
    pub value: String,
}

fn allow() -> String {
    "Allow".to_owned()
}

/// Network rules.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRuleSetDto {
    /// `Allow` or `Deny`.
    pub default_action: String,
    /// IP rules.
    #[serde(default)]
    pub ip_rules: Vec<IpRuleDto>,
}

/// Customer-managed key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyVaultPropertiesDto {
    /// Key URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_identifier: Option<String>,
    /// Client id of the identity that reads the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// Encryption at rest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionDto {
    /// `enabled` or `disabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The key, when enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_vault_properties: Option<KeyVaultPropertiesDto>,
}

/// A user-assigned identity.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentityDto {
    /// Principal id (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Client id (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Managed identity.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDto {
    /// Principal id of the system-assigned identity (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Tenant of the system-assigned identity (read-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// `SystemAssigned`, `UserAssigned`, `SystemAssigned, UserAssigned` or `None`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// User-assigned identities by ARM id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_assigned_identities: Option<BTreeMap<String, UserIdentityDto>>,
}

// ------------------------------------------------------------------ requests

/// The settable properties of a registry (PUT and PATCH bodies). Read-only properties sent
/// in a PUT are ignored, as ARM does; a PATCH that names one is refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryPropertiesInput {
    /// Admin user.
    pub admin_user_enabled: Option<bool>,
    /// Network rules (Premium).
    pub network_rule_set: Option<NetworkRuleSetDto>,
    /// Policies; a PATCH merges them one policy and one field at a time.
    pub policies: Option<PoliciesDto>,
    /// Encryption (Premium).
    pub encryption: Option<EncryptionDto>,
    /// Dedicated data endpoints (Premium).
    pub data_endpoint_enabled: Option<bool>,
    /// `Enabled` or `Disabled`.
    pub public_network_access: Option<String>,
    /// `AzureServices` or `None`.
    pub network_rule_bypass_options: Option<String>,
    /// Whether tasks may bypass network rules.
    pub network_rule_bypass_allowed_for_tasks: Option<bool>,
    /// `Enabled` or `Disabled`; PUT at creation only.
    pub zone_redundancy: Option<String>,
    /// Anonymous pull (Standard and Premium).
    pub anonymous_pull_enabled: Option<bool>,
    /// `AbacRepositoryPermissions` or `LegacyRegistryPermissions`.
    pub role_assignment_mode: Option<String>,
    /// `Enabled` or `Disabled` (preview).
    pub regional_endpoints: Option<String>,
    /// `IPv4` or `IPv4AndIPv6` (preview).
    pub endpoint_protocol: Option<String>,
    /// `Enabled` or `Disabled` (preview).
    pub metadata_search: Option<String>,
    /// Domain-name label reuse scope (preview).
    pub auto_generated_domain_name_label_scope: Option<String>,
}

/// The body of a registry PUT.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RegistryCreateBody {
    /// Region (required; immutable).
    #[schema(example = "westus", required = true, nullable = false)]
    pub location: Option<String>,
    /// Tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// SKU (required).
    #[schema(required = true, nullable = false)]
    pub sku: Option<SkuDto>,
    /// Managed identity.
    pub identity: Option<IdentityDto>,
    /// Properties.
    pub properties: Option<RegistryPropertiesInput>,
}

/// The body of a registry PATCH (RegistryUpdateParameters).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RegistryUpdateBody {
    /// New tags (replace all).
    pub tags: Option<BTreeMap<String, String>>,
    /// New SKU.
    pub sku: Option<SkuDto>,
    /// New identity.
    pub identity: Option<IdentityDto>,
    /// Properties to change.
    pub properties: Option<RegistryPropertiesInput>,
}

/// Properties a PATCH may not name, with the reason.
const READ_ONLY: &[(&str, &str)] = &[
    ("loginServer", "read-only"),
    ("creationDate", "read-only"),
    ("provisioningState", "read-only"),
    ("status", "read-only"),
    ("dataEndpointHostNames", "read-only"),
    ("privateEndpointConnections", "read-only"),
    ("regionalEndpointHostNames", "read-only"),
    ("zoneRedundancy", "set only when the registry is created"),
];

const TOP_READ_ONLY: &[&str] = &["id", "name", "type", "systemData", "location"];

/// Parses a PATCH body, refusing read-only and immutable properties by name.
///
/// # Errors
/// `InvalidRequestContent` naming the property.
pub fn parse_update(body: Value) -> Result<RegistryUpdateBody, ApiError> {
    let Value::Object(top) = &body else {
        return Err(ApiError::invalid_content(
            "The request content must be a JSON object.",
        ));
    };
    if let Some(key) = TOP_READ_ONLY.iter().find(|k| top.contains_key(**k)) {
        let why = if *key == "location" {
            "immutable"
        } else {
            "read-only"
        };
        return Err(ApiError::invalid_content(format!(
            "The property '{key}' is {why} and cannot be changed with PATCH."
        ))
        .with_target(*key));
    }
    if let Some(Value::Object(props)) = top.get("properties")
        && let Some((key, why)) = READ_ONLY.iter().find(|(k, _)| props.contains_key(*k))
    {
        return Err(ApiError::invalid_content(format!(
            "The property 'properties.{key}' is {why} and cannot be changed with PATCH."
        ))
        .with_target(format!("properties.{key}")));
    }
    serde_json::from_value(body).map_err(|e| {
        ApiError::invalid_content(format!(
            "The request content was invalid and could not be deserialized: {e}."
        ))
    })
}

fn bad(target: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_content(message).with_target(target.to_owned())
}

fn parse_with<T>(
    target: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| parse(v).map_err(|m| bad(target, format!("Invalid value for '{target}': {m}"))))
        .transpose()
}

/// `enabled`/`disabled` in any case.
fn toggle(target: &str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    parse_with(target, value, |v| match v.to_ascii_lowercase().as_str() {
        "enabled" => Ok(true),
        "disabled" => Ok(false),
        _ => Err(format!(
            "the value '{v}' is not valid; allowed values: enabled, disabled."
        )),
    })
}

fn days(
    target: &str,
    value: Option<i64>,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<u16>, ApiError> {
    value
        .map(|d| {
            if range.contains(&d) {
                u16::try_from(d).map_err(|_| bad(target, "out of range"))
            } else {
                Err(bad(
                    target,
                    format!(
                        "'{target}' must be between {} and {}; {d} was given.",
                        range.start(),
                        range.end()
                    ),
                ))
            }
        })
        .transpose()
}

/// Parses a SKU object.
fn sku(dto: Option<&SkuDto>) -> Result<Option<Sku>, ApiError> {
    parse_with("sku.name", dto.map(|s| s.name.as_str()), Sku::parse)
}

fn tags(map: Option<BTreeMap<String, String>>) -> Result<Option<Tags>, ApiError> {
    map.map(|m| Tags::parse(m).map_err(|e| bad("tags", e.0)))
        .transpose()
}

fn identity(dto: Option<&IdentityDto>, tenant: &str) -> Result<Option<Identity>, ApiError> {
    let Some(dto) = dto else { return Ok(None) };
    let kind = parse_with(
        "identity.type",
        Some(dto.kind.as_deref().unwrap_or("None")),
        IdentityType::parse,
    )?
    .unwrap_or(IdentityType::None);
    let system = matches!(
        kind,
        IdentityType::SystemAssigned | IdentityType::SystemAndUserAssigned
    );
    let user_ids: Vec<&String> = dto
        .user_assigned_identities
        .iter()
        .flat_map(BTreeMap::keys)
        .collect();
    let wants_user = matches!(
        kind,
        IdentityType::UserAssigned | IdentityType::SystemAndUserAssigned
    );
    if wants_user && user_ids.is_empty() {
        return Err(bad(
            "identity.userAssignedIdentities",
            "A UserAssigned identity needs userAssignedIdentities.",
        ));
    }
    Ok(Some(Identity {
        kind,
        principal_id: system.then(|| uuid::Uuid::new_v4().to_string()),
        tenant_id: system.then(|| tenant.to_owned()),
        user_assigned: if wants_user {
            user_ids
                .into_iter()
                .map(|id| UserAssignedIdentity {
                    resource_id: id.clone(),
                    principal_id: uuid::Uuid::new_v4().to_string(),
                    client_id: uuid::Uuid::new_v4().to_string(),
                })
                .collect()
        } else {
            Vec::new()
        },
    }))
}

fn network_rules(dto: Option<&NetworkRuleSetDto>) -> Result<Option<NetworkRuleSet>, ApiError> {
    let Some(dto) = dto else { return Ok(None) };
    let default_allow = match dto.default_action.to_ascii_lowercase().as_str() {
        "allow" => true,
        "deny" => false,
        other => {
            return Err(bad(
                "properties.networkRuleSet.defaultAction",
                format!("'{other}' is not Allow or Deny."),
            ));
        }
    };
    let mut ip_rules = Vec::with_capacity(dto.ip_rules.len());
    for rule in &dto.ip_rules {
        if !rule.action.eq_ignore_ascii_case("Allow") || !is_ipv4_or_cidr(&rule.value) {
            return Err(bad(
                "properties.networkRuleSet.ipRules",
                format!(
                    "The IP rule '{}' is invalid: use action 'Allow' and an IPv4 address or CIDR range.",
                    rule.value
                ),
            ));
        }
        ip_rules.push(rule.value.clone());
    }
    Ok(Some(NetworkRuleSet {
        default_allow,
        ip_rules,
    }))
}

fn is_ipv4_or_cidr(value: &str) -> bool {
    let (addr, prefix) = value
        .split_once('/')
        .map_or((value, None), |(a, p)| (a, Some(p)));
    addr.parse::<std::net::Ipv4Addr>().is_ok()
        && prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= 32))
}

fn encryption(dto: Option<&EncryptionDto>) -> Result<Option<Encryption>, ApiError> {
    let Some(dto) = dto else { return Ok(None) };
    let enabled = toggle("properties.encryption.status", dto.status.as_deref())?.unwrap_or(false);
    let key_vault = dto
        .key_vault_properties
        .as_ref()
        .map(|k| KeyVaultProperties {
            key_identifier: k.key_identifier.clone(),
            identity: k.identity.clone(),
        });
    if enabled
        && key_vault
            .as_ref()
            .is_none_or(|k| k.key_identifier.is_none())
    {
        return Err(bad(
            "properties.encryption.keyVaultProperties.keyIdentifier",
            "Encryption needs a key identifier.",
        ));
    }
    Ok(Some(Encryption { enabled, key_vault }))
}

fn policies(dto: Option<&PoliciesDto>) -> Result<PoliciesPatch, ApiError> {
    let Some(p) = dto else {
        return Ok(PoliciesPatch::default());
    };
    if let Some(kind) = p.trust_policy.as_ref().and_then(|t| t.kind.as_deref())
        && !kind.eq_ignore_ascii_case("Notary")
    {
        return Err(bad(
            "properties.policies.trustPolicy.type",
            format!("The trust policy type '{kind}' is not supported; use 'Notary'."),
        ));
    }
    let status = |target: &str, s: Option<&StatusPolicy>| {
        toggle(target, s.and_then(|s| s.status.as_deref()))
    };
    let retention = p.retention_policy.as_ref();
    let soft_delete = p.soft_delete_policy.as_ref();
    Ok(PoliciesPatch {
        quarantine_enabled: status(
            "properties.policies.quarantinePolicy.status",
            p.quarantine_policy.as_ref(),
        )?,
        trust_enabled: toggle(
            "properties.policies.trustPolicy.status",
            p.trust_policy.as_ref().and_then(|t| t.status.as_deref()),
        )?,
        retention_enabled: toggle(
            "properties.policies.retentionPolicy.status",
            retention.and_then(|r| r.status.as_deref()),
        )?,
        retention_days: days(
            "properties.policies.retentionPolicy.days",
            retention.and_then(|r| r.days),
            0..=365,
        )?,
        export_enabled: status(
            "properties.policies.exportPolicy.status",
            p.export_policy.as_ref(),
        )?,
        aad_as_arm_enabled: status(
            "properties.policies.azureADAuthenticationAsArmPolicy.status",
            p.azure_ad_authentication_as_arm_policy.as_ref(),
        )?,
        soft_delete_enabled: toggle(
            "properties.policies.softDeletePolicy.status",
            soft_delete.and_then(|s| s.status.as_deref()),
        )?,
        soft_delete_retention_days: days(
            "properties.policies.softDeletePolicy.retentionDays",
            soft_delete.and_then(|s| s.retention_days),
            1..=90,
        )?,
    })
}

/// Turns the settable parts of a body into a domain patch.
fn patch(
    tags_in: Option<BTreeMap<String, String>>,
    sku_in: Option<&SkuDto>,
    identity_in: Option<&IdentityDto>,
    props: Option<&RegistryPropertiesInput>,
    tenant: &str,
) -> Result<RegistryPatch, ApiError> {
    let empty = RegistryPropertiesInput::default();
    let p = props.unwrap_or(&empty);
    Ok(RegistryPatch {
        tags: tags(tags_in)?,
        sku: sku(sku_in)?,
        identity: identity(identity_in, tenant)?,
        admin_user_enabled: p.admin_user_enabled,
        network_rule_set: network_rules(p.network_rule_set.as_ref())?,
        policies: policies(p.policies.as_ref())?,
        encryption: encryption(p.encryption.as_ref())?,
        data_endpoint_enabled: p.data_endpoint_enabled,
        public_network_access: toggle(
            "properties.publicNetworkAccess",
            p.public_network_access.as_deref(),
        )?,
        network_rule_bypass: parse_with(
            "properties.networkRuleBypassOptions",
            p.network_rule_bypass_options.as_deref(),
            NetworkRuleBypass::parse,
        )?,
        network_rule_bypass_allowed_for_tasks: p.network_rule_bypass_allowed_for_tasks,
        anonymous_pull_enabled: p.anonymous_pull_enabled,
        role_assignment_mode: parse_with(
            "properties.roleAssignmentMode",
            p.role_assignment_mode.as_deref(),
            RoleAssignmentMode::parse,
        )?,
        regional_endpoints: toggle(
            "properties.regionalEndpoints",
            p.regional_endpoints.as_deref(),
        )?,
        endpoint_protocol: parse_with(
            "properties.endpointProtocol",
            p.endpoint_protocol.as_deref(),
            EndpointProtocol::parse,
        )?,
        metadata_search: toggle("properties.metadataSearch", p.metadata_search.as_deref())?,
    })
}

impl RegistryCreateBody {
    /// The desired state the PUT describes: defaults, overlaid with what the body sets.
    ///
    /// # Errors
    /// `InvalidRequestContent` naming the offending property.
    pub fn into_definition(self, tenant: &str) -> Result<RegistryDefinition, ApiError> {
        let location = self
            .location
            .as_deref()
            .ok_or_else(|| bad("location", "The property 'location' is required."))?;
        let location = Location::parse(location).map_err(|e| bad("location", e.message))?;
        let sku =
            sku(self.sku.as_ref())?.ok_or_else(|| bad("sku", "The property 'sku' is required."))?;
        let props = self.properties.as_ref();
        let zone_redundancy = toggle(
            "properties.zoneRedundancy",
            props.and_then(|p| p.zone_redundancy.as_deref()),
        )?;
        let label_scope = parse_with(
            "properties.autoGeneratedDomainNameLabelScope",
            props.and_then(|p| p.auto_generated_domain_name_label_scope.as_deref()),
            DomainNameLabelScope::parse,
        )?;
        let patch = patch(None, None, self.identity.as_ref(), props, tenant)?;
        let mut settings = RegistrySettings::default();
        settings.apply(&patch);
        settings.zone_redundancy = zone_redundancy.unwrap_or(false);
        settings.preview.auto_generated_domain_name_label_scope = label_scope;
        Ok(RegistryDefinition {
            location,
            sku,
            tags: tags(self.tags)?.unwrap_or_default(),
            identity: patch.identity,
            settings,
            content_trust: patch.policies.trust_enabled.unwrap_or(false),
        })
    }
}

impl RegistryUpdateBody {
    /// The domain patch.
    ///
    /// # Errors
    /// `InvalidRequestContent` naming the offending property.
    pub fn into_patch(self, tenant: &str) -> Result<RegistryPatch, ApiError> {
        patch(
            self.tags,
            self.sku.as_ref(),
            self.identity.as_ref(),
            self.properties.as_ref(),
            tenant,
        )
    }
}

// ------------------------------------------------------------------ responses

/// ARM's `systemData`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemDataDto {
    /// Creator.
    pub created_by: String,
    /// Creator kind.
    pub created_by_type: String,
    /// Creation time (RFC 3339).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Last modifier.
    pub last_modified_by: String,
    /// Last modifier kind.
    pub last_modified_by_type: String,
    /// Last modification time (RFC 3339).
    #[schema(format = DateTime)]
    pub last_modified_at: String,
}

/// A registry's properties, as returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryProperties {
    /// `<name>.<suffix>`.
    pub login_server: String,
    /// Creation time (RFC 3339).
    #[schema(format = DateTime)]
    pub creation_date: String,
    /// `Succeeded`, `Deleting`, ...
    pub provisioning_state: ProvisioningState,
    /// Status (always null).
    #[schema(value_type = Option<Object>)]
    pub status: Option<Value>,
    /// Admin user.
    pub admin_user_enabled: bool,
    /// Network rules.
    pub network_rule_set: NetworkRuleSetDto,
    /// Policies.
    pub policies: PoliciesDto,
    /// Encryption.
    pub encryption: EncryptionDto,
    /// Dedicated data endpoints.
    pub data_endpoint_enabled: bool,
    /// Data endpoint host names.
    pub data_endpoint_host_names: Vec<String>,
    /// Private endpoint connections.
    #[schema(value_type = Vec<Object>)]
    pub private_endpoint_connections: Vec<Value>,
    /// `Enabled` or `Disabled`.
    pub public_network_access: EnabledState,
    /// `AzureServices` or `None`.
    pub network_rule_bypass_options: NetworkRuleBypassOptions,
    /// Task bypass.
    pub network_rule_bypass_allowed_for_tasks: bool,
    /// `Enabled` or `Disabled`.
    pub zone_redundancy: EnabledState,
    /// Anonymous pull.
    pub anonymous_pull_enabled: bool,
    /// Role assignment mode.
    pub role_assignment_mode: wire::RoleAssignmentMode,
    /// Regional endpoints (preview api-versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regional_endpoints: Option<String>,
    /// Regional endpoint host names (preview api-versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regional_endpoint_host_names: Option<Vec<String>>,
    /// Endpoint protocol (preview api-versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_protocol: Option<String>,
    /// Metadata search (preview api-versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_search: Option<String>,
    /// Domain-name label scope (preview api-versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_generated_domain_name_label_scope: Option<String>,
}

/// A registry resource.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryResource {
    /// ARM id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `Microsoft.ContainerRegistry/registries`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Region.
    pub location: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// SKU.
    pub sku: SkuDto,
    /// Managed identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityDto>,
    /// Who made and changed it.
    pub system_data: SystemDataDto,
    /// Properties.
    pub properties: RegistryProperties,
}

/// A page of registries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryList {
    /// The registries.
    pub value: Vec<RegistryResource>,
    /// The next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// RFC 3339 text of a time.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn status_text(on: bool) -> Option<String> {
    Some(if on { "enabled" } else { "disabled" }.to_owned())
}

fn enabled_text(on: bool) -> String {
    if on { "Enabled" } else { "Disabled" }.to_owned()
}

impl RegistryResource {
    /// The wire form of a registry; `preview` adds the preview api-versions' properties.
    #[must_use]
    pub fn from_domain(r: &Registry, preview: bool) -> Self {
        let s = &r.settings;
        let p = &s.policies;
        let policies = PoliciesDto {
            quarantine_policy: Some(StatusPolicy {
                status: status_text(p.quarantine_enabled),
            }),
            trust_policy: Some(TrustPolicyDto {
                kind: Some("Notary".to_owned()),
                status: status_text(r.content_trust.policy_enabled()),
            }),
            retention_policy: Some(RetentionPolicyDto {
                days: Some(i64::from(p.retention.days)),
                last_updated_time: p.retention.last_updated.map(rfc3339),
                status: status_text(p.retention.enabled),
            }),
            export_policy: Some(StatusPolicy {
                status: status_text(p.export_enabled),
            }),
            azure_ad_authentication_as_arm_policy: Some(StatusPolicy {
                status: status_text(p.aad_as_arm_enabled),
            }),
            soft_delete_policy: preview.then(|| SoftDeletePolicyDto {
                retention_days: Some(i64::from(p.soft_delete.retention_days)),
                last_updated_time: p.soft_delete.last_updated.map(rfc3339),
                status: status_text(p.soft_delete.enabled),
            }),
        };
        let identity = r.identity.as_ref().map(|i| IdentityDto {
            principal_id: i.principal_id.clone(),
            tenant_id: i.tenant_id.clone(),
            kind: Some(i.kind.as_str().to_owned()),
            user_assigned_identities: (!i.user_assigned.is_empty()).then(|| {
                i.user_assigned
                    .iter()
                    .map(|u| {
                        (
                            u.resource_id.clone(),
                            UserIdentityDto {
                                principal_id: Some(u.principal_id.clone()),
                                client_id: Some(u.client_id.clone()),
                            },
                        )
                    })
                    .collect()
            }),
        });
        Self {
            id: r.id.to_string(),
            name: r.name().to_string(),
            kind: berth_domain::registry::PROVIDER.to_owned(),
            location: r.location.as_str().to_owned(),
            tags: r.tags.as_map().clone(),
            sku: SkuDto {
                name: r.sku.as_str().to_owned(),
                tier: Some(r.sku.as_str().to_owned()),
            },
            identity,
            system_data: SystemDataDto {
                created_by: r.system_data.created_by.clone(),
                created_by_type: r.system_data.created_by_type.clone(),
                created_at: rfc3339(r.system_data.created_at),
                last_modified_by: r.system_data.last_modified_by.clone(),
                last_modified_by_type: r.system_data.last_modified_by_type.clone(),
                last_modified_at: rfc3339(r.system_data.last_modified_at),
            },
            properties: RegistryProperties {
                login_server: r.login_server.clone(),
                creation_date: rfc3339(r.creation_date),
                provisioning_state: r.provisioning_state.into(),
                status: None,
                admin_user_enabled: s.admin_user_enabled,
                network_rule_set: NetworkRuleSetDto {
                    default_action: if s.network_rule_set.default_allow {
                        "Allow"
                    } else {
                        "Deny"
                    }
                    .to_owned(),
                    ip_rules: s
                        .network_rule_set
                        .ip_rules
                        .iter()
                        .map(|v| IpRuleDto {
                            action: allow(),
                            value: v.clone(),
                        })
                        .collect(),
                },
                policies,
                encryption: EncryptionDto {
                    status: status_text(s.encryption.enabled),
                    key_vault_properties: s.encryption.key_vault.as_ref().map(|k| {
                        KeyVaultPropertiesDto {
                            key_identifier: k.key_identifier.clone(),
                            identity: k.identity.clone(),
                        }
                    }),
                },
                data_endpoint_enabled: s.data_endpoint_enabled,
                data_endpoint_host_names: Vec::new(),
                private_endpoint_connections: Vec::new(),
                public_network_access: s.public_network_access.into(),
                network_rule_bypass_options: s.network_rule_bypass.into(),
                network_rule_bypass_allowed_for_tasks: s.network_rule_bypass_allowed_for_tasks,
                zone_redundancy: s.zone_redundancy.into(),
                anonymous_pull_enabled: s.anonymous_pull_enabled,
                role_assignment_mode: s.role_assignment_mode.into(),
                regional_endpoints: preview.then(|| enabled_text(s.preview.regional_endpoints)),
                regional_endpoint_host_names: preview.then(Vec::new),
                endpoint_protocol: preview.then(|| {
                    s.preview
                        .endpoint_protocol
                        .unwrap_or(EndpointProtocol::IPv4)
                        .as_str()
                        .to_owned()
                }),
                metadata_search: preview.then(|| enabled_text(s.preview.metadata_search)),
                auto_generated_domain_name_label_scope: if preview {
                    s.preview
                        .auto_generated_domain_name_label_scope
                        .map(|d| d.as_str().to_owned())
                } else {
                    None
                },
            },
        }
    }
}
