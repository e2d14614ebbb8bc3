//! Create a container registry, as ACR's Create blade does: the resource group (one the
//! person may create registries in, or a new one), the name (checked as it is typed),
//! the location and the SKU. The writes are the ARM PUTs' use cases, with the same
//! authorization; the registry is created with `If-None-Match: *`, so an existing registry
//! is never overwritten, and the same form sent twice makes one registry.

use super::{Form, SignedIn, html, see_other, signed_in};
use crate::routes::registries::{CHECK_NAME, WRITE};
use crate::state::AppState;
use askama::Template;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_domain::arm::{Location, Precondition, ResourceGroupId, Tags};
use berth_domain::registry::{
    NameAvailability, Registry, RegistryDefinition, RegistryError, RegistrySettings, Sku,
};
use berth_domain::resource_group::{ResourceGroupDefinition, ResourceGroupError};
use berth_domain::store::PageRequest;

/// Creating a resource group.
const GROUP_WRITE: &str = "Microsoft.Resources/subscriptions/resourceGroups/write";
/// Where the page is.
const PATH: &str = "/portal/create";
/// A second submission of the same form within this time, by the same person, for the same
/// registry, is that same creation (a double click, a reload).
const RESUBMIT_WINDOW: time::Duration = time::Duration::minutes(10);

/// One option of the resource-group list.
struct GroupChoice {
    /// `{subscription}/{group}`, or `{subscription}/` for a new group there.
    value: String,
    label: String,
}

/// The resource groups of one subscription the person may create registries in.
struct SubscriptionChoice {
    name: String,
    groups: Vec<GroupChoice>,
    /// "Create new" in this subscription, when the person may create groups there.
    new_group: Option<GroupChoice>,
}

/// What the form holds.
#[derive(Default, Clone)]
pub(crate) struct Fields {
    group: String,
    new_group: String,
    name: String,
    location: String,
    sku: String,
}

impl Fields {
    fn from_form(form: &Form) -> Self {
        Self {
            group: form.field("group").to_owned(),
            new_group: form.field("new_group").trim().to_owned(),
            name: form.field("name").trim().to_owned(),
            location: form.field("location").trim().to_owned(),
            sku: form.field("sku").to_owned(),
        }
    }
}

/// A message beside each field that caused one, and one for the whole form.
#[derive(Default)]
struct FieldErrors {
    group: Option<String>,
    name: Option<String>,
    location: Option<String>,
    sku: Option<String>,
    form: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.group.is_some()
            || self.name.is_some()
            || self.location.is_some()
            || self.sku.is_some()
            || self.form.is_some()
    }
}

#[derive(Template)]
#[template(path = "portal/create_registry.html")]
struct CreatePage<'a> {
    frame: super::Frame<'a>,
    subscriptions: Vec<SubscriptionChoice>,
    fields: &'a Fields,
    errors: FieldErrors,
    disabled_reason: Option<String>,
    locations: Vec<String>,
    skus: [(&'static str, &'static str); 3],
    /// What follows `name.` in a login server.
    suffix: String,
}

/// The SKUs with what each is for.
const SKUS: [(&str, &str); 3] = [
    (
        "Basic",
        "For learning and small workloads: the least storage and throughput.",
    ),
    (
        "Standard",
        "For most production workloads: more storage and throughput.",
    ),
    (
        "Premium",
        "For high volume, and the features that need it: content trust (signed images), \
         network rules, geo-replication.",
    ),
];

/// `GET /portal/create`: the empty form.
pub(crate) async fn show(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let here = uri.path_and_query().map_or(PATH, |p| p.as_str());
    let person = match signed_in(&state, &headers, here).await {
        Ok(person) => person,
        Err(not) => return not.into_response(),
    };
    let fields = Fields {
        sku: "Standard".to_owned(),
        ..Fields::default()
    };
    page(
        &state,
        &person,
        &fields,
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /portal/create`: checks every field, then creates the group (when new) and the
/// registry; on any error the form comes back with the message beside its field.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let person = match signed_in(&state, &headers, PATH).await {
        Ok(person) => person,
        Err(not) => return not.into_response(),
    };
    let form = Form::parse(&body);
    if let Err(refused) = person.check_csrf(form.field("csrf")) {
        return *refused;
    }
    let fields = Fields::from_form(&form);
    let checked = match check(&state, &person, &fields).await {
        Ok(checked) => checked,
        Err((status, errors)) => return page(&state, &person, &fields, errors, status).await,
    };
    if let Some(existing) = &checked.existing {
        return see_other(&overview(existing));
    }
    let new_group = match &checked.new_group {
        Some(location) => {
            match make_group(&state, &checked.id.resource_group, location.clone()).await {
                Ok(()) => true,
                Err(message) => {
                    let errors = FieldErrors {
                        group: Some(message),
                        ..FieldErrors::default()
                    };
                    return page(&state, &person, &fields, errors, StatusCode::CONFLICT).await;
                }
            }
        }
        None => false,
    };
    let definition = RegistryDefinition {
        location: checked.location.clone(),
        sku: checked.sku,
        tags: Tags::default(),
        identity: None,
        settings: RegistrySettings::default(),
        content_trust: false,
    };
    let only_new = Precondition::from_headers(None, Some("*"));
    let written = state
        .registries
        .create_or_update(
            checked.id.clone(),
            definition,
            &only_new,
            &person.caller.actor(),
        )
        .await;
    match written {
        Ok(written) => see_other(&overview(&written.registry)),
        Err(e) => {
            if new_group {
                // Nothing half-made: the group made for this registry goes with it.
                let group = &checked.id.resource_group;
                if let Err(cleanup) = state
                    .groups
                    .begin_delete(group, &Precondition::default())
                    .await
                {
                    tracing::warn!(error.cause = %cleanup, group = %group, "cannot remove the group made for a registry that was not created");
                }
            }
            let (status, errors) = write_errors(e, &checked);
            page(&state, &person, &fields, errors, status).await
        }
    }
}

/// The form's answers once each is valid.
struct Checked {
    id: berth_domain::arm::RegistryId,
    location: Location,
    sku: Sku,
    /// The location of the group to create, when the group is new.
    new_group: Option<Location>,
    /// The registry this same form made already (sent twice).
    existing: Option<Registry>,
}

/// Checks every field with the API's rules and the person's authorization; the status and
/// the messages when one fails.
async fn check(
    state: &AppState,
    person: &SignedIn,
    fields: &Fields,
) -> Result<Checked, (StatusCode, FieldErrors)> {
    let mut errors = FieldErrors::default();
    let sku = Sku::parse(&fields.sku)
        .map_err(|e| errors.sku = Some(e))
        .ok();
    let location = Location::parse(&fields.location)
        .map_err(|e| errors.location = Some(e.message))
        .ok();
    let (subscription, group, new) = match fields.group.split_once('/') {
        Some((sub, "")) => (sub, fields.new_group.as_str(), true),
        Some((sub, group)) => (sub, group, false),
        None => ("", "", false),
    };
    let id = if subscription.is_empty() {
        errors.group = Some("Choose a resource group, or create a new one.".to_owned());
        None
    } else if new && group.is_empty() {
        errors.group = Some("Name the new resource group.".to_owned());
        None
    } else {
        match state
            .registries
            .resolve_id(subscription, group, &fields.name)
            .await
        {
            Ok(id) => Some(id),
            Err(RegistryError::InvalidName(e)) => {
                errors.name = Some(e.message);
                None
            }
            Err(e) => {
                errors.group = Some(crate::error::ApiError::from(e).message().to_owned());
                None
            }
        }
    };
    if errors.any() {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, errors));
    }
    let (Some(id), Some(location), Some(sku)) = (id, location, sku) else {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, errors));
    };
    // Authorized before anything is looked up, so that a refusal tells nothing else.
    let mut refusals = vec![state.authorize(&person.caller, WRITE, &id.to_string())];
    if new {
        let group = id.resource_group.to_string();
        refusals.push(state.authorize(&person.caller, GROUP_WRITE, &group));
    }
    if let Some(Err(refused)) = refusals.into_iter().find(Result::is_err) {
        errors.form = Some(refused.message().to_owned());
        return Err((StatusCode::FORBIDDEN, errors));
    }
    if let Some(existing) = same_submission(state, person, &id, sku, &location).await {
        return Ok(Checked {
            existing: Some(existing),
            new_group: None,
            id,
            location,
            sku,
        });
    }
    match state.groups.get(&id.resource_group).await {
        Ok(_) if new => {
            errors.group = Some(format!(
                "A resource group named {} already exists: choose it in the list.",
                id.resource_group.name
            ));
        }
        Err(ResourceGroupError::NotFound(_)) if !new => {
            errors.group = Some(format!(
                "The resource group {} does not exist (any more).",
                id.resource_group.name
            ));
        }
        Ok(_) | Err(ResourceGroupError::NotFound(_)) => {}
        Err(e) => errors.form = Some(crate::error::ApiError::from(e).message().to_owned()),
    }
    errors.name = name_problem(state, &id.name.to_string()).await;
    if errors.any() {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, errors));
    }
    Ok(Checked {
        existing: None,
        new_group: new.then(|| location.clone()),
        id,
        location,
        sku,
    })
}

/// Why `name` cannot be used for a new registry, if it cannot (the API's name check).
async fn name_problem(state: &AppState, name: &str) -> Option<String> {
    match state.registries.check_name_availability(name).await {
        Ok(NameAvailability::Available) => None,
        Ok(NameAvailability::Invalid(message) | NameAvailability::AlreadyExists(message)) => {
            Some(message)
        }
        Err(e) => Some(crate::error::ApiError::from(e).message().to_owned()),
    }
}

/// The registry this same form already made: same person, same place, same SKU and
/// location, a moment ago.
async fn same_submission(
    state: &AppState,
    person: &SignedIn,
    id: &berth_domain::arm::RegistryId,
    sku: Sku,
    location: &Location,
) -> Option<Registry> {
    let existing = state.registries.get(id).await.ok()?;
    let actor = person.caller.actor();
    let recent = time::OffsetDateTime::now_utc() - existing.system_data.created_at;
    (existing.system_data.created_by == actor.name
        && existing.sku == sku
        && existing.location == *location
        && recent < RESUBMIT_WINDOW)
        .then_some(existing)
}

/// Creates the new group `id` in `location` (never over an existing one).
async fn make_group(
    state: &AppState,
    id: &ResourceGroupId,
    location: Location,
) -> Result<(), String> {
    let definition = ResourceGroupDefinition {
        location,
        tags: Tags::default(),
        managed_by: None,
    };
    let only_new = Precondition::from_headers(None, Some("*"));
    match state
        .groups
        .create_or_update(id.clone(), definition, &only_new)
        .await
    {
        Ok(_) => Ok(()),
        Err(ResourceGroupError::PreconditionFailed) => Err(format!(
            "A resource group named {} was just created by someone else: choose it in the list.",
            id.name
        )),
        Err(e) => Err(crate::error::ApiError::from(e).message().to_owned()),
    }
}

/// The status and the field messages of a failed registry write.
fn write_errors(e: RegistryError, checked: &Checked) -> (StatusCode, FieldErrors) {
    let mut errors = FieldErrors::default();
    let status = match e {
        RegistryError::PreconditionFailed | RegistryError::NameNotAvailable(_) => {
            errors.name = Some(format!(
                "The name {} was taken meanwhile: choose another.",
                checked.id.name
            ));
            StatusCode::CONFLICT
        }
        RegistryError::InvalidName(e) => {
            errors.name = Some(e.message);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        RegistryError::LocationMismatch { .. } => {
            errors.location = Some(e.to_string());
            StatusCode::CONFLICT
        }
        RegistryError::ResourceGroup(_) => {
            errors.group = Some(crate::error::ApiError::from(e).message().to_owned());
            StatusCode::CONFLICT
        }
        other => {
            let error = crate::error::ApiError::from(other);
            errors.form = Some(error.message().to_owned());
            error.status()
        }
    };
    (status, errors)
}

/// The Overview of `registry`.
fn overview(registry: &Registry) -> String {
    let id = &registry.id;
    format!(
        "/portal/registries/{}/{}/{}",
        id.resource_group.subscription, id.resource_group.name, id.name
    )
}

/// The form, with `errors`.
async fn page(
    state: &AppState,
    person: &SignedIn,
    fields: &Fields,
    errors: FieldErrors,
    status: StatusCode,
) -> Response {
    let (subscriptions, locations) = match choices(state, person).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error.cause = %e, "the portal cannot list resource groups");
            return super::message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Create container registry",
                "The resource groups cannot be read right now. Try again in a moment.",
            );
        }
    };
    let can_create = subscriptions
        .iter()
        .any(|s| !s.groups.is_empty() || s.new_group.is_some());
    let disabled_reason = (!can_create).then(|| {
        format!(
            "You cannot create a registry: that needs {WRITE} on a resource group (Owner or \
             Contributor), or {GROUP_WRITE} on a subscription to create a group for it."
        )
    });
    let mut fields_shown = fields.clone();
    if fields_shown.location.is_empty() {
        fields_shown.location = locations.first().cloned().unwrap_or_default();
    }
    html(
        status,
        &CreatePage {
            frame: super::Frame::of(person, "registries"),
            subscriptions,
            fields: &fields_shown,
            errors,
            disabled_reason,
            locations,
            skus: SKUS,
            suffix: state.registries.naming().client_suffix(),
        },
    )
}

/// The groups the person may create registries in, by subscription, and the locations
/// those groups are in (then a few common ones) for the location field's suggestions.
async fn choices(
    state: &AppState,
    person: &SignedIn,
) -> Result<(Vec<SubscriptionChoice>, Vec<String>), Box<dyn std::error::Error + Send + Sync>> {
    let mut found = Vec::new();
    let mut locations: Vec<String> = Vec::new();
    for subscription in state.subscriptions.list().await? {
        let id = subscription.id.to_string();
        let mut choice = SubscriptionChoice {
            name: subscription.display_name.clone(),
            groups: Vec::new(),
            new_group: state
                .allows(&person.caller, GROUP_WRITE, &format!("/subscriptions/{id}"))
                .then(|| GroupChoice {
                    value: format!("{id}/"),
                    label: format!("Create new in {}", subscription.display_name),
                }),
        };
        let mut page = PageRequest {
            top: PageRequest::MAX_TOP,
            after: None,
        };
        loop {
            let listed = state.groups.list(&id, &page).await?;
            for group in &listed.items {
                if state.allows(&person.caller, WRITE, &group.id.to_string()) {
                    choice.groups.push(GroupChoice {
                        value: format!("{id}/{}", group.id.name),
                        label: group.id.name.to_string(),
                    });
                    locations.push(group.location.as_str().to_owned());
                }
            }
            match listed.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        if !choice.groups.is_empty() || choice.new_group.is_some() {
            found.push(choice);
        }
    }
    for common in ["westus", "eastus", "westeurope", "northeurope"] {
        locations.push(common.to_owned());
    }
    let mut seen = std::collections::HashSet::new();
    locations.retain(|l| seen.insert(l.clone()));
    Ok((found, locations))
}

/// `?name=&group=` (the group field names the subscription).
#[derive(serde::Deserialize)]
pub(crate) struct NameQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    group: String,
}

#[derive(Template)]
#[template(path = "portal/name_status.html")]
struct NameStatus<'a> {
    name: &'a str,
    problem: Option<String>,
}

/// `GET /portal/create/name?name=`: whether a name can be used, as a fragment the form
/// swaps in while the name is typed (the API's name check; the form checks again).
pub(crate) async fn name_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<NameQuery>,
) -> Response {
    let person = match signed_in(&state, &headers, PATH).await {
        Ok(person) => person,
        Err(not) => return not.into_response(),
    };
    let name = query.name.trim();
    // The API's check needs its action on the subscription; someone who may create a
    // registry in the chosen group learns the same from the create itself.
    let (subscription, group) = query.group.split_once('/').unwrap_or_default();
    let scope = format!("/subscriptions/{subscription}");
    let may_check = state.allows(&person.caller, CHECK_NAME, &scope)
        || (!group.is_empty()
            && state.allows(
                &person.caller,
                WRITE,
                &format!("{scope}/resourceGroups/{group}"),
            ));
    let problem = if name.is_empty() {
        None
    } else if subscription.is_empty() {
        Some("Choose a resource group first: the name is checked there.".to_owned())
    } else if !may_check {
        Some(format!(
            "The name is checked when you create the registry (checking it now needs {CHECK_NAME})."
        ))
    } else {
        name_problem(&state, name).await
    };
    html(StatusCode::OK, &NameStatus { name, problem })
}
