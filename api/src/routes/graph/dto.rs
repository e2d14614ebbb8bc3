//! The Graph subset's wire shapes: request bodies, and each directory object as Graph
//! returns it (`@odata.type` first), built from the domain's types.

use crate::routes::registries::dto::rfc3339;
use berth_domain::directory::{
    DirectoryObject, DirectoryRole, DirectoryRoleAssignment, Group, NewSecret, PasswordCredential,
    ServicePrincipal, User,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    /// `#microsoft.graph.user`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// Object id.
    pub id: String,
    /// `name@domain`.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Mail nickname.
    pub mail_nickname: String,
    /// Whether the user may sign in.
    pub account_enabled: bool,
}

impl From<&User> for GraphUser {
    fn from(u: &User) -> Self {
        Self {
            odata_type: "#microsoft.graph.user".to_owned(),
            id: u.object_id.to_string(),
            user_principal_name: u.user_principal_name.clone(),
            display_name: u.display_name.clone(),
            mail_nickname: u.mail_nickname.clone(),
            account_enabled: u.account_enabled,
        }
    }
}

/// A password of an application, as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordInfo {
    /// Key id.
    pub key_id: String,
    /// Label.
    pub display_name: Option<String>,
    /// First three characters of the secret.
    pub hint: String,
    /// Start of validity.
    #[schema(format = DateTime)]
    pub start_date_time: String,
    /// End of validity.
    #[schema(format = DateTime)]
    pub end_date_time: String,
    /// Always null.
    pub secret_text: Option<String>,
}

impl From<&PasswordCredential> for PasswordInfo {
    fn from(c: &PasswordCredential) -> Self {
        Self {
            key_id: c.key_id.to_string(),
            display_name: c.display_name.clone(),
            hint: c.hint.clone(),
            start_date_time: rfc3339(c.start),
            end_date_time: rfc3339(c.end),
            secret_text: None,
        }
    }
}

fn passwords(sp: &ServicePrincipal) -> Vec<PasswordInfo> {
    sp.credentials.iter().map(PasswordInfo::from).collect()
}

/// The kind of a service principal: Berth's are all applications'.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum ServicePrincipalType {
    /// The service principal of an application.
    Application,
}

/// A service principal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphServicePrincipal {
    /// `#microsoft.graph.servicePrincipal`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// Object id.
    pub id: String,
    /// The application's id (its client id).
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Names it is known by (its appId, and `http://` URIs).
    pub service_principal_names: Vec<String>,
    /// Whether it may sign in.
    pub account_enabled: bool,
    /// Always `Application`.
    pub service_principal_type: ServicePrincipalType,
    /// Its passwords.
    pub password_credentials: Vec<PasswordInfo>,
}

impl From<&ServicePrincipal> for GraphServicePrincipal {
    fn from(sp: &ServicePrincipal) -> Self {
        Self {
            odata_type: "#microsoft.graph.servicePrincipal".to_owned(),
            id: sp.object_id.to_string(),
            app_id: sp.app_id.to_string(),
            display_name: sp.display_name.clone(),
            service_principal_names: sp.service_principal_names.clone(),
            account_enabled: sp.account_enabled,
            service_principal_type: ServicePrincipalType::Application,
            password_credentials: passwords(sp),
        }
    }
}

/// An application (Berth keeps one per service principal).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphApplication {
    /// `#microsoft.graph.application`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// The application's object id.
    pub id: String,
    /// Its client id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Always empty.
    pub identifier_uris: Vec<String>,
    /// Always empty.
    #[schema(value_type = Vec<Object>)]
    pub key_credentials: Vec<serde_json::Value>,
    /// Its passwords.
    pub password_credentials: Vec<PasswordInfo>,
}

impl From<&ServicePrincipal> for GraphApplication {
    fn from(sp: &ServicePrincipal) -> Self {
        Self {
            odata_type: "#microsoft.graph.application".to_owned(),
            id: sp.application_object_id.to_string(),
            app_id: sp.app_id.to_string(),
            display_name: sp.display_name.clone(),
            identifier_uris: Vec::new(),
            key_credentials: Vec::new(),
            password_credentials: passwords(sp),
        }
    }
}

/// A security group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphGroup {
    /// `#microsoft.graph.group`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Mail nickname.
    pub mail_nickname: String,
    /// Description.
    pub description: Option<String>,
    /// Always true.
    pub security_enabled: bool,
    /// Always false.
    pub mail_enabled: bool,
}

impl From<&Group> for GraphGroup {
    fn from(g: &Group) -> Self {
        Self {
            odata_type: "#microsoft.graph.group".to_owned(),
            id: g.object_id.to_string(),
            display_name: g.display_name.clone(),
            mail_nickname: g.mail_nickname.clone(),
            description: g.description.clone(),
            security_enabled: true,
            mail_enabled: false,
        }
    }
}

/// Any directory object, told apart by `@odata.type`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum GraphObject {
    /// A user.
    User(GraphUser),
    /// A service principal.
    ServicePrincipal(GraphServicePrincipal),
    /// An application.
    Application(GraphApplication),
    /// A group.
    Group(GraphGroup),
}

impl From<&DirectoryObject> for GraphObject {
    fn from(o: &DirectoryObject) -> Self {
        match o {
            DirectoryObject::User(u) => Self::User(u.into()),
            DirectoryObject::ServicePrincipal(sp) => Self::ServicePrincipal(sp.into()),
            DirectoryObject::Group(g) => Self::Group(g.into()),
        }
    }
}

impl GraphObject {
    /// A directory object as Graph shows it.
    #[must_use]
    pub fn of(o: &DirectoryObject) -> Self {
        o.into()
    }

    /// A directory object as an application: Berth makes an application with each service
    /// principal, so a page of service principals is a page of applications.
    #[must_use]
    pub fn application(o: &DirectoryObject) -> Self {
        match o {
            DirectoryObject::ServicePrincipal(sp) => Self::Application(sp.into()),
            other => other.into(),
        }
    }
}

/// A new password: `secretText` is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredentialDto {
    /// Always null.
    pub custom_key_identifier: Option<String>,
    /// Label.
    pub display_name: Option<String>,
    /// End of validity.
    #[schema(format = DateTime)]
    pub end_date_time: String,
    /// First three characters of the secret.
    pub hint: String,
    /// Key id.
    pub key_id: String,
    /// The secret (only in the answer that made it).
    pub secret_text: Option<String>,
    /// Start of validity.
    #[schema(format = DateTime)]
    pub start_date_time: String,
}

impl From<&NewSecret> for PasswordCredentialDto {
    fn from(new: &NewSecret) -> Self {
        let c = &new.credential;
        Self {
            custom_key_identifier: None,
            display_name: c.display_name.clone(),
            end_date_time: rfc3339(c.end),
            hint: c.hint.clone(),
            key_id: c.key_id.to_string(),
            secret_text: Some(new.secret.clone()),
            start_date_time: rfc3339(c.start),
        }
    }
}

/// What a directory role allows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolePermission {
    /// `microsoft.directory/...` actions.
    pub allowed_resource_actions: Vec<String>,
    /// Always null.
    pub condition: Option<String>,
}

/// A directory role (`unifiedRoleDefinition`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphDirectoryRole {
    /// `#microsoft.graph.unifiedRoleDefinition`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// The role's id (its template id).
    pub id: String,
    /// The same id.
    pub template_id: String,
    /// Name.
    pub display_name: String,
    /// What it is for.
    pub description: String,
    /// Always true: Berth has Entra's built-in roles only.
    pub is_built_in: bool,
    /// Always true.
    pub is_enabled: bool,
    /// `1`.
    pub version: String,
    /// What it allows.
    pub role_permissions: Vec<RolePermission>,
}

impl From<&DirectoryRole> for GraphDirectoryRole {
    fn from(r: &DirectoryRole) -> Self {
        Self {
            odata_type: "#microsoft.graph.unifiedRoleDefinition".to_owned(),
            id: r.id.to_string(),
            template_id: r.id.to_string(),
            display_name: r.display_name.to_owned(),
            description: r.description.to_owned(),
            is_built_in: true,
            is_enabled: true,
            version: "1".to_owned(),
            role_permissions: vec![RolePermission {
                allowed_resource_actions: r
                    .allowed_resource_actions
                    .iter()
                    .map(|a| (*a).to_owned())
                    .collect(),
                condition: None,
            }],
        }
    }
}

/// A directory role assignment (`unifiedRoleAssignment`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphDirectoryRoleAssignment {
    /// `#microsoft.graph.unifiedRoleAssignment`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// Its id.
    pub id: String,
    /// The user or service principal holding the role.
    pub principal_id: String,
    /// The role.
    pub role_definition_id: String,
    /// `/`.
    pub directory_scope_id: String,
}

impl From<&DirectoryRoleAssignment> for GraphDirectoryRoleAssignment {
    fn from(a: &DirectoryRoleAssignment) -> Self {
        Self {
            odata_type: "#microsoft.graph.unifiedRoleAssignment".to_owned(),
            id: a.id.to_string(),
            principal_id: a.principal_id.to_string(),
            role_definition_id: a.role_definition_id.to_string(),
            directory_scope_id: a.directory_scope_id.clone(),
        }
    }
}

/// A list in Graph's shape, with `@odata.nextLink` when more follow.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphList {
    /// The objects.
    pub value: Vec<GraphObject>,
    /// The next page, when there is one.
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

impl GraphList {
    /// A whole list (no further page) of objects shown as `show` shows them.
    pub fn of<'a, T: 'a>(
        items: impl IntoIterator<Item = &'a T>,
        show: fn(&T) -> GraphObject,
    ) -> Self {
        Self {
            value: items.into_iter().map(show).collect(),
            next_link: None,
        }
    }
}

/// The directory roles.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphDirectoryRoleList {
    /// The roles.
    pub value: Vec<GraphDirectoryRole>,
}

/// Directory role assignments.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GraphDirectoryRoleAssignmentList {
    /// The assignments.
    pub value: Vec<GraphDirectoryRoleAssignment>,
}

/// `passwordProfile` of a new user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordProfile {
    /// The password.
    pub password: String,
    /// Accepted and ignored.
    #[serde(default)]
    pub force_change_password_next_sign_in: bool,
}

/// The body of `POST /v1.0/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewUser {
    /// `name@domain`.
    pub user_principal_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Accepted; users are enabled.
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// Accepted; derived from the name.
    #[serde(default)]
    pub mail_nickname: Option<String>,
    /// The password.
    pub password_profile: PasswordProfile,
}

/// The body of `POST /v1.0/applications`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewApplication {
    /// Display name.
    pub display_name: String,
}

/// The body of `POST /v1.0/servicePrincipals`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewServicePrincipal {
    /// The application's appId.
    pub app_id: String,
}

/// A password asked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordRequest {
    /// Label.
    pub display_name: Option<String>,
    /// End of validity (RFC 3339); one year when absent, at most ten.
    pub end_date_time: Option<String>,
}

/// The body of `addPassword`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddPassword {
    /// The password asked for.
    #[serde(default)]
    pub password_credential: PasswordRequest,
}

/// The body of `removePassword`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemovePassword {
    /// The password's key id.
    pub key_id: String,
}

/// The body of `POST /v1.0/groups`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewGroup {
    /// Display name.
    pub display_name: String,
    /// Nickname.
    #[serde(default)]
    pub mail_nickname: String,
    /// Description.
    pub description: Option<String>,
}

/// The body of `POST /v1.0/groups/{id}/members/$ref`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberRef {
    /// `https://.../v1.0/directoryObjects/{id}`.
    #[serde(rename = "@odata.id")]
    pub odata_id: String,
}

/// The body of `POST /v1.0/directoryObjects/getByIds`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GetByIds {
    /// Object ids.
    pub ids: Vec<String>,
    /// `user`, `group`, `servicePrincipal`, ... (all when absent).
    #[serde(default)]
    pub types: Vec<String>,
}

/// The body of `POST /v1.0/roleManagement/directory/roleAssignments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewDirectoryRoleAssignment {
    /// The user or service principal that gets the role.
    pub principal_id: String,
    /// The directory role's id (its template id).
    pub role_definition_id: String,
    /// Where it applies: `/` (the whole directory) is the only scope Berth has.
    #[serde(default = "directory_root")]
    pub directory_scope_id: String,
}

fn directory_root() -> String {
    "/".to_owned()
}
