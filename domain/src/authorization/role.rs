//! Role definitions, and Azure's built-in roles that matter to a container registry, with
//! their real GUIDs, names, descriptions and permissions.

use super::{AccessKind, Permission, RbacError, Scope};
use uuid::Uuid;

/// Built-in or custom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// Defined by Azure (and by Berth, identically).
    BuiltIn,
    /// Defined by a user.
    Custom,
}

impl RoleKind {
    /// ARM's spelling (`BuiltInRole`, `CustomRole`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BuiltIn => "BuiltInRole",
            Self::Custom => "CustomRole",
        }
    }
}

/// A role definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    /// Its GUID (the ARM resource name).
    pub id: Uuid,
    /// `roleName`.
    pub name: String,
    /// Description.
    pub description: String,
    /// Built-in or custom.
    pub kind: RoleKind,
    /// Permission blocks.
    pub permissions: Vec<Permission>,
    /// Where it may be assigned.
    pub assignable_scopes: Vec<Scope>,
}

impl RoleDefinition {
    /// A custom role as a PUT at scope `at` defines it: its id is the GUID of the URL, and a
    /// role that names no assignable scope is assignable where it is defined, as in ARM.
    ///
    /// # Errors
    /// `Invalid` for an id that is not a GUID, `InvalidScope` for a malformed scope.
    pub fn custom(
        id: &str,
        at: &str,
        name: String,
        description: String,
        permissions: Vec<Permission>,
        assignable_scopes: Vec<String>,
    ) -> Result<Self, RbacError> {
        let id = Uuid::parse_str(id).map_err(|_| RbacError::Invalid {
            target: "roleDefinitionId",
            message: "The role definition id must be a GUID.".to_owned(),
        })?;
        let scopes = if assignable_scopes.is_empty() {
            vec![at.to_owned()]
        } else {
            assignable_scopes
        };
        let assignable_scopes = scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            id,
            name,
            description,
            kind: RoleKind::Custom,
            permissions,
            assignable_scopes,
        })
    }

    /// Whether the role grants `action`. No ARM role grants a directory action, not even
    /// through `*`: only directory roles do.
    #[must_use]
    pub fn grants(&self, action: &str, kind: AccessKind) -> bool {
        !crate::directory::roles::is_directory_action(action)
            && self.permissions.iter().any(|p| p.grants(action, kind))
    }

    /// Refuses a custom role listing a `Microsoft.Directory/...` action: the directory is
    /// managed through directory roles, which no ARM role can stand in for.
    ///
    /// # Errors
    /// The offending action.
    pub fn names_no_directory_action(&self) -> Result<(), String> {
        self.permissions
            .iter()
            .flat_map(|p| p.actions.iter().chain(&p.data_actions))
            .find(|a| crate::directory::roles::is_directory_action(a))
            .map_or(Ok(()), |a| Err(a.clone()))
    }

    /// Whether the role may be assigned at `scope`.
    #[must_use]
    pub fn assignable_at(&self, scope: &Scope) -> bool {
        self.assignable_scopes.iter().any(|s| scope.is_within(s))
    }

    /// Whether the role is seen from `scope`: a built-in everywhere, a custom role where it
    /// is assignable and above any of its assignable scopes, as ARM lists and reads them.
    #[must_use]
    pub fn visible_at(&self, scope: &Scope) -> bool {
        self.kind == RoleKind::BuiltIn
            || self.assignable_at(scope)
            || self.assignable_scopes.iter().any(|s| s.is_within(scope))
    }
}

const CR: &str = "Microsoft.ContainerRegistry/registries";

fn builtin(id: &str, name: &str, description: &str, permission: Permission) -> RoleDefinition {
    RoleDefinition {
        id: Uuid::parse_str(id).unwrap_or_default(),
        name: name.to_owned(),
        description: description.to_owned(),
        kind: RoleKind::BuiltIn,
        permissions: vec![permission],
        assignable_scopes: vec![Scope::root()],
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn cr(suffixes: &[&str]) -> Vec<String> {
    suffixes.iter().map(|s| format!("{CR}/{s}")).collect()
}

fn allow(actions: Vec<String>, data_actions: Vec<String>) -> Permission {
    Permission {
        actions,
        data_actions,
        ..Permission::default()
    }
}

/// The built-in Owner role's GUID, as Azure publishes it.
pub const OWNER_ROLE_ID: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

/// Azure's built-in roles for registries and access management (GUIDs and permissions as
/// Azure publishes them).
#[must_use]
pub fn built_in_roles() -> Vec<RoleDefinition> {
    let repo = |ops: &[&str]| {
        ops.iter()
            .map(|o| format!("{CR}/repositories/{o}"))
            .collect::<Vec<_>>()
    };
    vec![
        builtin(
            OWNER_ROLE_ID,
            "Owner",
            "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
            allow(strings(&["*"]), Vec::new()),
        ),
        builtin(
            "b24988ac-6180-42a0-ab88-20f7382dd24c",
            "Contributor",
            "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
            Permission {
                actions: strings(&["*"]),
                not_actions: strings(&[
                    "Microsoft.Authorization/*/Delete",
                    "Microsoft.Authorization/*/Write",
                    "Microsoft.Authorization/elevateAccess/Action",
                    "Microsoft.Blueprint/blueprintAssignments/write",
                    "Microsoft.Blueprint/blueprintAssignments/delete",
                    "Microsoft.Compute/galleries/share/action",
                    "Microsoft.Purview/consents/write",
                    "Microsoft.Purview/consents/delete",
                    "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
                    "Microsoft.Subscription/cancel/action",
                    "Microsoft.Subscription/enable/action",
                ]),
                ..Permission::default()
            },
        ),
        builtin(
            "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "Reader",
            "View all resources, but does not allow you to make any changes.",
            allow(strings(&["*/read"]), Vec::new()),
        ),
        builtin(
            "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
            "User Access Administrator",
            "Lets you manage user access to Azure resources.",
            allow(
                strings(&["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"]),
                Vec::new(),
            ),
        ),
        builtin(
            "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
            "Role Based Access Control Administrator",
            "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.",
            allow(
                strings(&[
                    "Microsoft.Authorization/roleAssignments/write",
                    "Microsoft.Authorization/roleAssignments/delete",
                    "*/read",
                    "Microsoft.Support/*",
                ]),
                Vec::new(),
            ),
        ),
        builtin(
            "8311e382-0749-4cb8-b61a-304f252e45ec",
            "AcrPush",
            "acr push",
            allow(cr(&["pull/read", "push/write"]), Vec::new()),
        ),
        builtin(
            "7f951dda-4ed3-4680-a7ca-43fe172d538d",
            "AcrPull",
            "acr pull",
            allow(cr(&["pull/read"]), Vec::new()),
        ),
        builtin(
            "c2f4ef07-c644-48eb-af81-4b1b4947fb11",
            "AcrDelete",
            "acr delete",
            allow(cr(&["artifacts/delete"]), Vec::new()),
        ),
        builtin(
            "6cef56e8-d556-48e5-a04f-b8e64114680f",
            "AcrImageSigner",
            "acr image signer",
            allow(cr(&["sign/write"]), cr(&["trustedCollections/write"])),
        ),
        builtin(
            "cdda3590-29a3-44f6-95f2-9f980659eb04",
            "AcrQuarantineReader",
            "acr quarantine data reader",
            allow(cr(&["quarantine/read"]), cr(&["quarantinedArtifacts/read"])),
        ),
        builtin(
            "c8d4ff99-41c3-41a8-9f60-21dfdad59608",
            "AcrQuarantineWriter",
            "acr quarantine data writer",
            allow(
                cr(&["quarantine/read", "quarantine/write"]),
                cr(&["quarantinedArtifacts/read", "quarantinedArtifacts/write"]),
            ),
        ),
        builtin(
            "b93aa761-3e63-49ed-ac28-beffa264f7ac",
            "Container Registry Repository Reader",
            "Allows for read access to Azure Container Registry repositories, but excluding catalog listing.",
            allow(Vec::new(), repo(&["content/read", "metadata/read"])),
        ),
        builtin(
            "2a1e307c-b015-4ebd-883e-5b7698a07328",
            "Container Registry Repository Writer",
            "Allows for read and write access to Azure Container Registry repositories, but excluding catalog listing.",
            allow(
                Vec::new(),
                repo(&[
                    "content/read",
                    "metadata/read",
                    "content/write",
                    "metadata/write",
                ]),
            ),
        ),
        builtin(
            "2efddaa5-3f1f-4df3-97df-af3f13818f4c",
            "Container Registry Repository Contributor",
            "Allows for read, write, and delete access to Azure Container Registry repositories, but excluding catalog listing.",
            allow(
                Vec::new(),
                repo(&[
                    "content/read",
                    "metadata/read",
                    "content/write",
                    "metadata/write",
                    "content/delete",
                    "metadata/delete",
                ]),
            ),
        ),
        builtin(
            "bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7",
            "Container Registry Repository Catalog Lister",
            "Allows for listing all repositories in an Azure Container Registry.",
            allow(Vec::new(), cr(&["catalog/read"])),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> RoleDefinition {
        built_in_roles()
            .into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no role {name}"))
    }

    #[test]
    fn built_in_guids_are_azures() {
        let ids: Vec<(String, String)> = built_in_roles()
            .into_iter()
            .map(|r| (r.name, r.id.to_string()))
            .collect();
        assert!(ids.contains(&(
            "AcrImageSigner".into(),
            "6cef56e8-d556-48e5-a04f-b8e64114680f".into()
        )));
        assert!(ids.contains(&(
            "Owner".into(),
            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635".into()
        )));
        assert!(
            built_in_roles().iter().all(|r| !r.id.is_nil()),
            "every GUID parses"
        );
    }

    #[test]
    fn only_roles_carrying_the_data_action_sign() {
        let sign = "Microsoft.ContainerRegistry/registries/trustedCollections/write";
        assert!(role("AcrImageSigner").grants(sign, AccessKind::Data));
        for name in ["Owner", "Contributor", "AcrPush", "Reader"] {
            assert!(
                !role(name).grants(sign, AccessKind::Data),
                "{name} does not sign"
            );
        }
    }

    #[test]
    fn contributor_cannot_assign_roles_but_owner_and_uaa_can() {
        let write = "Microsoft.Authorization/roleAssignments/write";
        assert!(role("Owner").grants(write, AccessKind::Control));
        assert!(role("User Access Administrator").grants(write, AccessKind::Control));
        assert!(role("Role Based Access Control Administrator").grants(write, AccessKind::Control));
        assert!(!role("Contributor").grants(write, AccessKind::Control));
        assert!(role("Contributor").grants(
            "Microsoft.ContainerRegistry/registries/write",
            AccessKind::Control
        ));
        assert!(role("Reader").grants(
            "Microsoft.ContainerRegistry/registries/read",
            AccessKind::Control
        ));
        assert!(!role("Reader").grants(
            "Microsoft.ContainerRegistry/registries/write",
            AccessKind::Control
        ));
    }
}
