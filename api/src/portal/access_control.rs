//! Access control (IAM), the seed page's second portal step: the role assignments that
//! reach a registry (its own, the inherited ones with where they come from, and its
//! repositories'), **Add › Add role assignment** (a role, then a member, then Review +
//! assign), Remove with a confirmation, and **Check access**: what a user, group or service
//! principal may do here, images included, decided as the token server decides it.
//!
//! Every read and write goes through the use cases of `Microsoft.Authorization`'s routes
//! with the same actions; a control the person cannot use is disabled with the reason.
//! Without JavaScript each step is a plain form; htmx only refreshes the member list as
//! the person types.

use super::registry_page::{RegistryForm, RegistryPage};
use super::{SignedIn, html, see_other};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::authorization::{
    AssignmentFilter, NewAssignment, RbacError, RoleAssignment, RoleDefinition, Scope, ScopeLevel,
};
use berth_domain::directory::DirectoryObject;
use berth_domain::registry::Registry;
use serde::Deserialize;
use uuid::Uuid;

const ASSIGNMENTS_READ: &str = "Microsoft.Authorization/roleAssignments/read";
const ASSIGNMENTS_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
const ASSIGNMENTS_DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";

/// How many directory objects a member search or Check access lists.
const SEARCH_LIMIT: usize = 20;

/// Roles that grant access management or every action: listed apart, as Azure's portal
/// lists its "privileged administrator roles".
const PRIVILEGED: &[&str] = &[
    "Owner",
    "Contributor",
    "User Access Administrator",
    "Role Based Access Control Administrator",
];

/// One role assignment as the page lists it.
struct AssignmentRow {
    name: String,
    scope: String,
    role: String,
    member: String,
    member_detail: String,
    member_type: &'static str,
    scope_label: String,
    /// Why it cannot be removed from this page, when it cannot.
    fixed: Option<String>,
}

/// A directory object a person can pick.
#[derive(Clone)]
struct Member {
    id: String,
    name: String,
    detail: String,
    kind: &'static str,
}

impl Member {
    fn of(object: &DirectoryObject) -> Self {
        let (detail, kind) = match object {
            DirectoryObject::User(u) => (u.user_principal_name.clone(), "User"),
            DirectoryObject::Group(_) => (String::new(), "Group"),
            DirectoryObject::ServicePrincipal(sp) => {
                (format!("appId {}", sp.app_id), "Service principal")
            }
        };
        Self {
            id: object.object_id().to_string(),
            name: object.display_name().to_owned(),
            detail,
            kind,
        }
    }
}

/// One role a person can pick.
struct RoleChoice {
    id: String,
    name: String,
    description: String,
}

/// What Check access found for one member.
struct Access {
    member: Member,
    roles: Vec<String>,
    pull: bool,
    push: bool,
    delete: bool,
    sign: bool,
    sign_note: Option<String>,
    /// Some assignment is for some repositories only (their scope, or a condition).
    per_repository: bool,
}

#[derive(Template)]
#[template(path = "portal/access_control.html")]
struct AccessControlPage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    home: &'a str,
    tab: &'a str,
    rows: Vec<AssignmentRow>,
    unreadable: Option<String>,
    add_reason: Option<String>,
    check: &'a str,
    check_query: String,
    candidates: Vec<Member>,
    access: Option<Access>,
    confirm: Option<AssignmentRow>,
    message: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/add_role_assignment.html")]
struct AddPage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    home: &'a str,
    job_roles: Vec<RoleChoice>,
    privileged_roles: Vec<RoleChoice>,
    role: String,
    query: &'a str,
    members: Vec<Member>,
    member: &'a str,
    review: Option<(RoleChoice, Member)>,
    assignment_name: String,
    role_error: Option<&'static str>,
    member_error: Option<&'static str>,
    message: Option<String>,
    disabled_reason: Option<String>,
}

/// The IAM page's query: `check` (Check access's text), `principal` (the member picked
/// among its results), `added`/`removed` (what was just done).
#[derive(Deserialize, Default)]
pub(crate) struct IamQuery {
    #[serde(default)]
    check: String,
    principal: Option<String>,
    added: Option<String>,
    removed: Option<String>,
}

/// The add page's query: the role picked, the member search text and the member picked,
/// and `step=review`.
#[derive(Deserialize, Default)]
pub(crate) struct AddQuery {
    #[serde(default)]
    role: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    member: String,
    #[serde(default)]
    step: String,
}

/// `GET …/access-control`.
pub(crate) async fn show(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
    Query(query): Query<IamQuery>,
) -> Response {
    let notice = match (&query.added, &query.removed) {
        (Some(role), _) => Some(format!("Added: {role}.")),
        (_, Some(role)) => Some(format!("Removed: {role}.")),
        _ => None,
    };
    let view = View {
        state: &state,
        person: &person,
        registry: &registry,
        path: path.as_str(),
    };
    view.page(StatusCode::OK, &query, None, None, notice).await
}

/// `POST …/access-control/remove`: first the confirmation, then (with `confirm=yes`) the
/// removal, as `DELETE …/roleAssignments/{name}` does it.
pub(crate) async fn remove(
    State(state): State<AppState>,
    RegistryForm {
        page: RegistryPage {
            person,
            registry,
            path,
        },
        form,
    }: RegistryForm,
) -> Response {
    let iam = path.as_str().trim_end_matches("/remove").to_owned();
    let view = View {
        state: &state,
        person: &person,
        registry: &registry,
        path: &iam,
    };
    let (scope, name) = (form.field("scope"), form.field("name"));
    let found = state
        .rbac
        .assignment(scope, name)
        .ok()
        .filter(|a| reaches(&registry, a));
    let Some(found) = found else {
        let message = "That role assignment no longer exists; the list below is current.";
        return view
            .page(
                StatusCode::NOT_FOUND,
                &IamQuery::default(),
                None,
                Some(message.to_owned()),
                None,
            )
            .await;
    };
    if let Err(e) = state.authorize(&person.caller, ASSIGNMENTS_DELETE, scope) {
        let message = e.message().to_owned();
        return view
            .page(
                StatusCode::FORBIDDEN,
                &IamQuery::default(),
                None,
                Some(message),
                None,
            )
            .await;
    }
    if form.field("confirm") != "yes" {
        let row = view.rows(vec![found]).await.pop();
        return view
            .page(StatusCode::OK, &IamQuery::default(), row, None, None)
            .await;
    }
    let role = role_name(&state, &found);
    match state.rbac.delete_assignment(scope, name).await {
        Ok(_) => see_other(&format!("{iam}?{}", query_of(&[("removed", &role)]))),
        Err(e) => {
            let message = crate::error::ApiError::from(e).message().to_owned();
            view.page(
                StatusCode::CONFLICT,
                &IamQuery::default(),
                None,
                Some(message),
                None,
            )
            .await
        }
    }
}

/// `GET …/access-control/add`: Add role assignment, one step after the other (role, member,
/// review); each step is a GET of this page with what was chosen so far.
pub(crate) async fn add(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
    Query(query): Query<AddQuery>,
) -> Response {
    let view = View {
        state: &state,
        person: &person,
        registry: &registry,
        path: path.as_str().trim_end_matches("/add"),
    };
    let reviewing = query.step == "review";
    view.add_page(&query, reviewing, None).await
}

/// `POST …/access-control/add`: Review + assign, as `PUT …/roleAssignments/{name}` does
/// it. The assignment's name was chosen when the review was shown, so sending the form
/// twice makes one assignment.
pub(crate) async fn assign(
    State(state): State<AppState>,
    RegistryForm {
        page: RegistryPage {
            person,
            registry,
            path,
        },
        form,
    }: RegistryForm,
) -> Response {
    let iam = path.as_str().trim_end_matches("/add").to_owned();
    let view = View {
        state: &state,
        person: &person,
        registry: &registry,
        path: &iam,
    };
    let query = AddQuery {
        role: form.field("role").to_owned(),
        member: form.field("member").to_owned(),
        ..AddQuery::default()
    };
    let scope = registry.id.to_string();
    if let Err(e) = state.authorize(&person.caller, ASSIGNMENTS_WRITE, &scope) {
        return view
            .add_page(
                &query,
                true,
                Some((StatusCode::FORBIDDEN, e.message().to_owned())),
            )
            .await;
    }
    let new = NewAssignment {
        scope,
        name: form.field("name").to_owned(),
        role_definition_id: query.role.clone(),
        principal_id: query.member.clone(),
        principal_type: None,
        description: None,
        condition: None,
        condition_version: None,
        created_by: Some(person.caller.object_id),
    };
    match state.rbac.create_assignment(new).await {
        Ok((assignment, _)) => {
            let role = role_name(&state, &assignment);
            see_other(&format!("{iam}?{}", query_of(&[("added", &role)])))
        }
        Err(e) => {
            let refusal = match e {
                RbacError::AssignmentExists(_) => (
                    StatusCode::CONFLICT,
                    "This member already holds this role here: nothing was added.".to_owned(),
                ),
                other => {
                    let error = crate::error::ApiError::assignment_refusal(other);
                    (error.status(), error.message().to_owned())
                }
            };
            view.add_page(&query, true, Some(refusal)).await
        }
    }
}

/// A query string of `pairs`.
fn query_of(pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    query.finish()
}

/// Whether `assignment` reaches `registry`: made at it, above it or at one of its
/// repositories.
fn reaches(registry: &Registry, assignment: &RoleAssignment) -> bool {
    Scope::parse(&registry.id.to_string())
        .is_ok_and(|here| here.is_within(&assignment.scope) || assignment.scope.is_within(&here))
}

/// The name of an assignment's role (its GUID when the role is gone).
fn role_name(state: &AppState, assignment: &RoleAssignment) -> String {
    state
        .rbac
        .role_definition(&assignment.role_definition_id.to_string())
        .map_or_else(|_| assignment.role_definition_id.to_string(), |r| r.name)
}

/// Where an assignment at `scope` applies, said from `here` (a registry), and whether it
/// is inherited from above.
fn describe_scope(scope: &Scope, here: &Scope) -> (String, bool) {
    let last = |s: &Scope| s.as_str().rsplit('/').next().unwrap_or_default().to_owned();
    if scope.key() == here.key() {
        return ("This registry".to_owned(), false);
    }
    match scope.level() {
        ScopeLevel::Root => ("Root “/” (inherited)".to_owned(), true),
        ScopeLevel::Subscription => (format!("Subscription {} (inherited)", last(scope)), true),
        ScopeLevel::ResourceGroup => (format!("Resource group {} (inherited)", last(scope)), true),
        ScopeLevel::Resource => (format!("{} (inherited)", scope.as_str()), true),
        ScopeLevel::Repository => (format!("Repository {}", last(scope)), false),
    }
}

/// A page's context: who, which registry, and the IAM page's path.
struct View<'a> {
    state: &'a AppState,
    person: &'a SignedIn,
    registry: &'a Registry,
    path: &'a str,
}

impl View<'_> {
    fn scope(&self) -> String {
        self.registry.id.to_string()
    }

    fn home(&self) -> &str {
        self.path.trim_end_matches("/access-control")
    }

    /// Rows for `assignments`, with their roles' and members' names.
    async fn rows(&self, assignments: Vec<RoleAssignment>) -> Vec<AssignmentRow> {
        let ids: Vec<Uuid> = assignments.iter().map(|a| a.principal_id).collect();
        let objects = self
            .state
            .directory
            .get_by_ids(&ids)
            .await
            .unwrap_or_default();
        let Ok(here) = Scope::parse(&self.scope()) else {
            return Vec::new();
        };
        let mut rows: Vec<AssignmentRow> = assignments
            .into_iter()
            .map(|a| {
                let member = objects
                    .iter()
                    .find(|o| o.object_id() == a.principal_id)
                    .map_or_else(
                        || Member {
                            id: a.principal_id.to_string(),
                            name: "Unknown (deleted) principal".to_owned(),
                            detail: a.principal_id.to_string(),
                            kind: a.principal_type.as_str(),
                        },
                        Member::of,
                    );
                let (scope_label, inherited) = describe_scope(&a.scope, &here);
                let fixed = if inherited {
                    Some("Inherited: remove it where it was made.".to_owned())
                } else if !self.state.allows(
                    &self.person.caller,
                    ASSIGNMENTS_DELETE,
                    a.scope.as_str(),
                ) {
                    Some(format!(
                        "Removing it needs {ASSIGNMENTS_DELETE} (Owner, User Access Administrator or Role Based Access Control Administrator)."
                    ))
                } else {
                    None
                };
                AssignmentRow {
                    name: a.name.to_string(),
                    scope: a.scope.as_str().to_owned(),
                    role: role_name(self.state, &a),
                    member: member.name,
                    member_detail: member.detail,
                    member_type: member.kind,
                    scope_label,
                    fixed,
                }
            })
            .collect();
        rows.sort_by(|a, b| (&a.role, &a.member).cmp(&(&b.role, &b.member)));
        rows
    }

    /// The IAM page: the assignments, Check access's answer for `query`, the
    /// confirmation of a removal, a refusal `message` or a `notice` of what was done.
    async fn page(
        &self,
        status: StatusCode,
        query: &IamQuery,
        confirm: Option<AssignmentRow>,
        message: Option<String>,
        notice: Option<String>,
    ) -> Response {
        let scope = self.scope();
        let caller = &self.person.caller;
        let (rows, unreadable) = if self.state.allows(caller, ASSIGNMENTS_READ, &scope) {
            match self
                .state
                .rbac
                .list_assignments(&scope, &AssignmentFilter::default())
                .await
            {
                Ok(found) => (self.rows(found).await, None),
                Err(e) => {
                    tracing::error!(error.cause = %e, "the portal cannot list role assignments");
                    (
                        Vec::new(),
                        Some("The role assignments cannot be read right now.".to_owned()),
                    )
                }
            }
        } else {
            (
                Vec::new(),
                Some(format!(
                    "You cannot see the role assignments here: that needs {ASSIGNMENTS_READ}."
                )),
            )
        };
        let add_reason = (!self.state.allows(caller, ASSIGNMENTS_WRITE, &scope)).then(|| {
            format!(
                "Adding a role assignment needs {ASSIGNMENTS_WRITE} (Owner, User Access Administrator or Role Based Access Control Administrator)."
            )
        });
        let (candidates, access) = self.check_access(query).await;
        html(
            status,
            &AccessControlPage {
                frame: super::Frame::of(self.person, "registries"),
                registry: self.registry.name().as_str(),
                home: self.home(),
                tab: "iam",
                rows,
                unreadable,
                add_reason,
                check: query.check.trim(),
                check_query: form_urlencoded::byte_serialize(query.check.trim().as_bytes())
                    .collect(),
                candidates,
                access,
                confirm,
                message,
                notice,
            },
        )
    }

    /// Check access: the members matching `query.check`, and what the one picked (or the
    /// only one found) may do here.
    async fn check_access(&self, query: &IamQuery) -> (Vec<Member>, Option<Access>) {
        let picked = query
            .principal
            .as_deref()
            .and_then(|p| Uuid::parse_str(p).ok());
        let found = match picked {
            Some(id) => self
                .state
                .directory
                .get_by_ids(&[id])
                .await
                .unwrap_or_default(),
            None => self
                .state
                .directory
                .search(&query.check, SEARCH_LIMIT)
                .await
                .unwrap_or_default(),
        };
        let [object] = found.as_slice() else {
            return (found.iter().map(Member::of).collect(), None);
        };
        let id = object.object_id();
        let mut principals = self
            .state
            .directory
            .member_groups(id)
            .await
            .unwrap_or_default();
        principals.push(id);
        // `assignedTo` without reading the member's groups a second time.
        let held: Vec<RoleAssignment> = self
            .state
            .rbac
            .list_assignments(&self.scope(), &AssignmentFilter::default())
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|a| principals.contains(&a.principal_id))
            .collect();
        let Ok(here) = Scope::parse(&self.scope()) else {
            return (Vec::new(), None);
        };
        let mut roles: Vec<String> = held
            .iter()
            .map(|a| {
                let through = if a.principal_id == id {
                    String::new()
                } else {
                    " through a group".to_owned()
                };
                let (at, _) = describe_scope(&a.scope, &here);
                format!("{} at {at}{through}", role_name(self.state, a))
            })
            .collect();
        roles.sort();
        roles.dedup();
        let per_repository = held.iter().any(|a| {
            a.condition.is_some()
                || a.scope.level() == berth_domain::authorization::ScopeLevel::Repository
        });
        let images = self
            .state
            .registry_tokens
            .image_access(&principals, self.registry);
        let sign_note = if images.signer && !images.trust_push_allowed {
            Some(
                "Holds the signing permission, but content trust is not enabled on this registry, so nothing can be signed yet."
                    .to_owned(),
            )
        } else if images.signer && !(images.pull && images.push) {
            Some(
                "Holds the signing permission, but signing also needs pull and push (AcrPush)."
                    .to_owned(),
            )
        } else {
            None
        };
        let access = Access {
            member: Member::of(object),
            roles,
            pull: images.pull,
            push: images.push,
            delete: images.delete,
            sign: images.can_sign(),
            sign_note,
            per_repository,
        };
        (Vec::new(), Some(access))
    }

    /// The add page for what `query` chose so far; `reviewing`: the Review + assign step
    /// (when both a role and a member are chosen); `message`: a refusal.
    async fn add_page(
        &self,
        query: &AddQuery,
        reviewing: bool,
        refusal: Option<(StatusCode, String)>,
    ) -> Response {
        let (refused, message) = refusal.unzip();
        let scope = self.scope();
        let roles = self
            .state
            .rbac
            .role_definitions(&scope, None)
            .unwrap_or_default();
        let choice = |r: &RoleDefinition| RoleChoice {
            id: r.id.to_string(),
            name: r.name.clone(),
            description: r.description.clone(),
        };
        let (privileged, job): (Vec<&RoleDefinition>, Vec<&RoleDefinition>) = roles
            .iter()
            .partition(|r| PRIVILEGED.contains(&r.name.as_str()));
        let role = roles
            .iter()
            .find(|r| r.id.to_string().eq_ignore_ascii_case(query.role.trim()));
        let member = match Uuid::parse_str(query.member.trim()) {
            Ok(id) => self
                .state
                .directory
                .get_by_ids(&[id])
                .await
                .unwrap_or_default()
                .first()
                .map(Member::of),
            Err(_) => None,
        };
        let mut members: Vec<Member> = self
            .state
            .directory
            .search(&query.q, SEARCH_LIMIT)
            .await
            .unwrap_or_default()
            .iter()
            .map(Member::of)
            .collect();
        if let Some(chosen) = &member
            && !members.iter().any(|m| m.id == chosen.id)
        {
            members.insert(0, chosen.clone());
        }
        let role_error = (reviewing && role.is_none()).then_some("Choose a role.");
        let member_error =
            (reviewing && member.is_none()).then_some("Choose a member: search, then pick one.");
        let review = match (reviewing, role, member) {
            (true, Some(role), Some(member)) => Some((choice(role), member)),
            _ => None,
        };
        let status = if let Some(status) = refused {
            status
        } else if role_error.is_some() || member_error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        let caller = &self.person.caller;
        let disabled_reason = (!self.state.allows(caller, ASSIGNMENTS_WRITE, &scope)).then(|| {
            format!(
                "You can look, but not add: adding a role assignment needs {ASSIGNMENTS_WRITE} (Owner, User Access Administrator or Role Based Access Control Administrator)."
            )
        });
        html(
            status,
            &AddPage {
                frame: super::Frame::of(self.person, "registries"),
                registry: self.registry.name().as_str(),
                home: self.home(),
                job_roles: job.into_iter().map(choice).collect(),
                privileged_roles: privileged.into_iter().map(choice).collect(),
                role: role.map(|r| r.id.to_string()).unwrap_or_default(),
                query: &query.q,
                members,
                member: query.member.trim(),
                review,
                assignment_name: Uuid::new_v4().to_string(),
                role_error,
                member_error,
                message,
                disabled_reason,
            },
        )
    }
}
