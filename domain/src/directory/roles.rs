//! Directory roles, as Microsoft Entra ID has them: a second family of roles, separate
//! from ARM's. Changing the directory (users, applications and their credentials, groups and
//! their members, directory role assignments) takes one of these; no ARM role grants it,
//! not even Owner's `*`, since a password added to a privileged application, or a seat in a
//! privileged group, is that application's or group's ARM access.
//!
//! The built-ins carry Entra's real template ids and `microsoft.directory/...` resource
//! actions (the subset Berth's Graph routes perform), so that `az rest` against
//! `roleManagement/directory` finds the roles it knows.

use crate::authorization::matches;
use uuid::Uuid;

/// The only directory scope Berth has: the whole tenant.
pub const DIRECTORY_ROOT: &str = "/";

/// Resource actions of the directory writes Berth performs, as Entra names them.
pub mod actions {
    /// `POST /users`.
    pub const USERS_CREATE: &str = "microsoft.directory/users/create";
    /// `DELETE /users/{id}`.
    pub const USERS_DELETE: &str = "microsoft.directory/users/delete";
    /// `POST /applications`.
    pub const APPLICATIONS_CREATE: &str = "microsoft.directory/applications/create";
    /// `PATCH /applications/{id}`.
    pub const APPLICATIONS_UPDATE: &str = "microsoft.directory/applications/basic/update";
    /// `DELETE /applications/{id}`.
    pub const APPLICATIONS_DELETE: &str = "microsoft.directory/applications/delete";
    /// `addPassword` and `removePassword`.
    pub const APPLICATIONS_CREDENTIALS: &str =
        "microsoft.directory/applications/credentials/update";
    /// `POST /servicePrincipals`.
    pub const SERVICE_PRINCIPALS_CREATE: &str = "microsoft.directory/servicePrincipals/create";
    /// `DELETE /servicePrincipals/{id}`.
    pub const SERVICE_PRINCIPALS_DELETE: &str = "microsoft.directory/servicePrincipals/delete";
    /// `POST /groups`.
    pub const GROUPS_CREATE: &str = "microsoft.directory/groups/create";
    /// `DELETE /groups/{id}`.
    pub const GROUPS_DELETE: &str = "microsoft.directory/groups/delete";
    /// `members/$ref`, both ways.
    pub const GROUPS_MEMBERS: &str = "microsoft.directory/groups/members/update";
    /// Creating and deleting directory role assignments.
    pub const ROLE_ASSIGNMENTS: &str = "microsoft.directory/roleAssignments/allProperties/allTasks";
}

/// Whether `action` (or an action pattern) names the directory's namespace, which only
/// directory roles grant. ARM spells it `Microsoft.Directory/...`, Entra
/// `microsoft.directory/...`.
#[must_use]
pub fn is_directory_action(action: &str) -> bool {
    action
        .get(..MICROSOFT_DIRECTORY.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(MICROSOFT_DIRECTORY))
}

const MICROSOFT_DIRECTORY: &str = "microsoft.directory";

/// A built-in directory role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRole {
    /// Entra's template id (also its id: Berth has no custom directory roles).
    pub id: Uuid,
    /// Display name.
    pub display_name: &'static str,
    /// Description.
    pub description: &'static str,
    /// `rolePermissions[0].allowedResourceActions`.
    pub allowed_resource_actions: Vec<&'static str>,
}

impl DirectoryRole {
    /// Whether the role grants `action` (wildcards and case as in RBAC).
    #[must_use]
    pub fn grants(&self, action: &str) -> bool {
        self.allowed_resource_actions
            .iter()
            .any(|pattern| matches(pattern, action))
    }
}

/// Global Administrator's template id.
pub const GLOBAL_ADMINISTRATOR: Uuid = Uuid::from_u128(0x62e90394_69f5_4237_9190_012177145e10);
/// Privileged Role Administrator's template id.
pub const PRIVILEGED_ROLE_ADMINISTRATOR: Uuid =
    Uuid::from_u128(0xe8611ab8_c189_46e8_94e1_60213ab1f814);
/// User Administrator's template id.
pub const USER_ADMINISTRATOR: Uuid = Uuid::from_u128(0xfe930be7_5e62_47db_91af_98c3a49a38b1);
/// Application Administrator's template id.
pub const APPLICATION_ADMINISTRATOR: Uuid = Uuid::from_u128(0x9b895d92_2cd3_44c7_9d02_a6ac2d5ea5c3);
/// Groups Administrator's template id.
pub const GROUPS_ADMINISTRATOR: Uuid = Uuid::from_u128(0xfdd7a751_b60b_444a_984c_02652fe8fa1c);

/// Entra's built-in directory roles that Berth's directory can use, with their real template
/// ids and the resource actions of theirs that Berth performs.
#[must_use]
pub fn built_in_directory_roles() -> Vec<DirectoryRole> {
    use actions::{
        APPLICATIONS_CREATE, APPLICATIONS_CREDENTIALS, APPLICATIONS_DELETE, APPLICATIONS_UPDATE,
        GROUPS_CREATE, GROUPS_DELETE, GROUPS_MEMBERS, ROLE_ASSIGNMENTS, SERVICE_PRINCIPALS_CREATE,
        SERVICE_PRINCIPALS_DELETE, USERS_CREATE, USERS_DELETE,
    };
    const SP_CREDENTIALS: &str = "microsoft.directory/servicePrincipals/credentials/update";
    const GROUPS_BASIC: &str = "microsoft.directory/groups/basic/update";
    const GROUPS_OWNERS: &str = "microsoft.directory/groups/owners/update";
    vec![
        DirectoryRole {
            id: GLOBAL_ADMINISTRATOR,
            display_name: "Global Administrator",
            description: "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
            allowed_resource_actions: vec!["microsoft.directory/*"],
        },
        DirectoryRole {
            id: PRIVILEGED_ROLE_ADMINISTRATOR,
            display_name: "Privileged Role Administrator",
            description: "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.",
            allowed_resource_actions: vec![
                ROLE_ASSIGNMENTS,
                "microsoft.directory/roleDefinitions/allProperties/allTasks",
            ],
        },
        DirectoryRole {
            id: USER_ADMINISTRATOR,
            display_name: "User Administrator",
            description: "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
            allowed_resource_actions: vec![
                USERS_CREATE,
                USERS_DELETE,
                "microsoft.directory/users/basic/update",
                "microsoft.directory/users/password/update",
                GROUPS_CREATE,
                GROUPS_DELETE,
                GROUPS_MEMBERS,
                GROUPS_BASIC,
                GROUPS_OWNERS,
            ],
        },
        DirectoryRole {
            id: APPLICATION_ADMINISTRATOR,
            display_name: "Application Administrator",
            description: "Can create and manage all aspects of app registrations and enterprise apps.",
            allowed_resource_actions: vec![
                APPLICATIONS_CREATE,
                APPLICATIONS_DELETE,
                APPLICATIONS_UPDATE,
                APPLICATIONS_CREDENTIALS,
                SERVICE_PRINCIPALS_CREATE,
                SERVICE_PRINCIPALS_DELETE,
                SP_CREDENTIALS,
            ],
        },
        DirectoryRole {
            id: GROUPS_ADMINISTRATOR,
            display_name: "Groups Administrator",
            description: "Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups activity and audit reports.",
            allowed_resource_actions: vec![
                GROUPS_CREATE,
                GROUPS_DELETE,
                GROUPS_MEMBERS,
                GROUPS_BASIC,
                GROUPS_OWNERS,
            ],
        },
    ]
}

/// A directory role held by a user or service principal, tenant-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRoleAssignment {
    /// Its id.
    pub id: Uuid,
    /// Who holds it (a user or service principal; groups hold no directory role here, since
    /// Berth has no role-assignable groups).
    pub principal_id: Uuid,
    /// The role's template id.
    pub role_definition_id: Uuid,
    /// Where it applies: always [`DIRECTORY_ROOT`].
    pub directory_scope_id: String,
    /// When it was made.
    pub created_on: time::OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn built_in_directory_roles_have_entras_template_ids_once_each() {
        let roles = built_in_directory_roles();
        let ids: HashSet<Uuid> = roles.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), roles.len());
        for (id, name) in [
            (
                "62e90394-69f5-4237-9190-012177145e10",
                "Global Administrator",
            ),
            (
                "e8611ab8-c189-46e8-94e1-60213ab1f814",
                "Privileged Role Administrator",
            ),
            ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
            (
                "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
                "Application Administrator",
            ),
            (
                "fdd7a751-b60b-444a-984c-02652fe8fa1c",
                "Groups Administrator",
            ),
        ] {
            let role = roles.iter().find(|r| r.id.to_string() == id);
            assert_eq!(role.map(|r| r.display_name), Some(name));
        }
    }

    #[test]
    fn each_administrator_manages_only_its_own_objects() {
        let roles = built_in_directory_roles();
        let role = |id| {
            roles
                .iter()
                .find(|r| r.id == id)
                .cloned()
                .unwrap_or_else(|| panic!("{id}"))
        };
        let (global, privileged, users, apps, groups) = (
            role(GLOBAL_ADMINISTRATOR),
            role(PRIVILEGED_ROLE_ADMINISTRATOR),
            role(USER_ADMINISTRATOR),
            role(APPLICATION_ADMINISTRATOR),
            role(GROUPS_ADMINISTRATOR),
        );
        assert!(global.grants(actions::ROLE_ASSIGNMENTS) && global.grants(actions::USERS_CREATE));
        assert!(
            privileged.grants(actions::ROLE_ASSIGNMENTS)
                && !privileged.grants(actions::USERS_CREATE)
        );
        assert!(
            users.grants(actions::USERS_CREATE) && !users.grants(actions::APPLICATIONS_CREDENTIALS)
        );
        assert!(
            apps.grants(actions::APPLICATIONS_CREDENTIALS) && !apps.grants(actions::GROUPS_MEMBERS)
        );
        assert!(groups.grants(actions::GROUPS_MEMBERS) && !groups.grants(actions::USERS_CREATE));
        for role in [&privileged, &users, &apps, &groups] {
            assert!(
                !role.grants(actions::ROLE_ASSIGNMENTS) || role.id == PRIVILEGED_ROLE_ADMINISTRATOR
            );
        }
    }

    #[test]
    fn directory_actions_are_recognized_in_either_spelling() {
        assert!(is_directory_action("Microsoft.Directory/users/write"));
        assert!(is_directory_action("microsoft.directory/*"));
        assert!(is_directory_action("MICROSOFT.DIRECTORY*"));
        assert!(!is_directory_action("*"));
        assert!(!is_directory_action(
            "Microsoft.Authorization/roleAssignments/write"
        ));
        assert!(!is_directory_action("Micro"));
    }
}
