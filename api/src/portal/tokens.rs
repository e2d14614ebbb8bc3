//! Repository permissions, as ACR's blade has them: **Tokens** (a name, a scope map, two
//! passwords; a password's value is shown once, in the answer that made it) and **Scope
//! maps** (lists of repository actions). The same use cases, rules and actions as the
//! ARM routes of `tokens`, `scopeMaps` and `generateCredentials`.

use super::registry_page::{RegistryForm, RegistryPage};
use super::{Form, SignedIn, html, see_other};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::registry::{
    GeneratedPassword, Registry, RegistryError, RepositoryToken, ScopeMap,
};

const MAPS_WRITE: &str = "Microsoft.ContainerRegistry/registries/scopeMaps/write";
const MAPS_DELETE: &str = "Microsoft.ContainerRegistry/registries/scopeMaps/delete";
const TOKENS_WRITE: &str = "Microsoft.ContainerRegistry/registries/tokens/write";
const TOKENS_DELETE: &str = "Microsoft.ContainerRegistry/registries/tokens/delete";
const GENERATE: &str = "Microsoft.ContainerRegistry/registries/generateCredentials/action";

/// One token as listed.
struct TokenRow {
    name: String,
    scope_map: String,
    enabled: bool,
    created: String,
    passwords: Vec<(String, String)>,
}

impl TokenRow {
    fn of(token: &RepositoryToken) -> Self {
        Self {
            name: token.name.clone(),
            scope_map: token.scope_map.clone(),
            enabled: token.enabled,
            created: day(token.creation_date),
            passwords: token
                .passwords
                .iter()
                .map(|p| {
                    let expiry = p.expiry.map_or_else(
                        || "never expires".to_owned(),
                        |e| format!("expires {}", day(e)),
                    );
                    (
                        p.name.clone(),
                        format!("made {}, {expiry}", day(p.creation_time)),
                    )
                })
                .collect(),
        }
    }
}

fn day(at: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        at.year(),
        u8::from(at.month()),
        at.day()
    )
}

/// A confirmation the page asks for: what, of which token or map.
struct Confirm {
    action: &'static str,
    name: String,
    /// The password to regenerate, for `generate`.
    password: String,
    question: String,
    consequence: String,
}

/// What a post leaves on the page.
#[derive(Default)]
struct Outcome {
    status: Option<StatusCode>,
    message: Option<String>,
    /// The field a message belongs to (`name`, `actions`, `scope_map`), else the form's.
    field: Option<&'static str>,
    confirm: Option<Confirm>,
    /// A token's new passwords, shown this once.
    shown: Option<(String, Vec<GeneratedPassword>)>,
    /// What was typed, kept when the form comes back.
    typed: Typed,
}

impl Outcome {
    /// Asks `question` (then `consequence`) before `action` on `name` (and `password`).
    fn ask(
        action: &'static str,
        name: &str,
        password: &str,
        question: String,
        consequence: &str,
    ) -> Self {
        Self {
            confirm: Some(Confirm {
                action,
                name: name.to_owned(),
                password: password.to_owned(),
                question,
                consequence: consequence.to_owned(),
            }),
            ..Self::default()
        }
    }

    /// `message` beside `field`, answered with `status`; the form keeps what was `typed`.
    fn refused(
        status: StatusCode,
        message: String,
        field: &'static str,
        typed: Typed,
    ) -> Box<Self> {
        Box::new(Self {
            status: Some(status),
            message: Some(message),
            field: Some(field),
            typed,
            ..Self::default()
        })
    }
}

/// The expiries a new token's passwords may have, in days (none: they never expire).
const EXPIRIES: [i64; 3] = [30, 90, 365];

/// The create forms' fields.
#[derive(Default)]
struct Typed {
    name: String,
    scope_map: String,
    /// Days until a new token's passwords expire (`""`: never).
    expiry: String,
    description: String,
    actions: String,
}

#[derive(Template)]
#[template(path = "portal/tokens.html")]
struct TokensPage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    home: &'a str,
    tab: &'a str,
    action: &'a str,
    login_server: &'a str,
    tokens: Vec<TokenRow>,
    maps: Vec<String>,
    write_reason: Option<String>,
    delete_reason: Option<String>,
    generate_reason: Option<String>,
    outcome: Outcome,
}

#[derive(Template)]
#[template(path = "portal/scope_maps.html")]
struct ScopeMapsPage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    home: &'a str,
    tab: &'a str,
    action: &'a str,
    maps: Vec<ScopeMap>,
    editing: bool,
    write_reason: Option<String>,
    delete_reason: Option<String>,
    outcome: Outcome,
}

/// The page's context.
struct Here<'a> {
    state: &'a AppState,
    person: &'a SignedIn,
    registry: &'a Registry,
    path: &'a str,
}

impl Here<'_> {
    /// Why the person cannot `action`, if they cannot.
    fn reason(&self, action: &str, what: &str) -> Option<String> {
        let allowed = self
            .state
            .allows(&self.person.caller, action, &self.registry.id.to_string());
        (!allowed).then(|| format!("{what} needs {action} (Owner or Contributor)."))
    }

    /// Refused with `AuthorizationFailed`'s message unless the person may `action`.
    fn authorize(&self, action: &str) -> Result<(), Box<Outcome>> {
        self.state
            .authorize(&self.person.caller, action, &self.registry.id.to_string())
            .map_err(|e| {
                Box::new(Outcome {
                    status: Some(StatusCode::FORBIDDEN),
                    message: Some(e.message().to_owned()),
                    ..Outcome::default()
                })
            })
    }

    fn home(&self) -> &str {
        self.path
            .trim_end_matches("/tokens")
            .trim_end_matches("/scope-maps")
    }

    async fn tokens_page(&self, outcome: Outcome) -> Response {
        let id = &self.registry.id;
        let (tokens, maps) = match (
            self.state.scope_maps.tokens(id).await,
            self.state.scope_maps.list(id).await,
        ) {
            (Ok(tokens), Ok(maps)) => (tokens, maps),
            (Err(e), _) | (_, Err(e)) => return unavailable(&e),
        };
        html(
            outcome.status.unwrap_or(StatusCode::OK),
            &TokensPage {
                frame: super::Frame::of(self.person, "registries"),
                registry: self.registry.name().as_str(),
                home: self.home(),
                tab: "tokens",
                action: self.path,
                login_server: &self.registry.login_server,
                tokens: tokens.iter().map(TokenRow::of).collect(),
                maps: maps.into_iter().map(|m| m.name).collect(),
                write_reason: self.reason(TOKENS_WRITE, "Creating or changing a token"),
                delete_reason: self.reason(TOKENS_DELETE, "Deleting a token"),
                generate_reason: self.reason(GENERATE, "Generating a password"),
                outcome,
            },
        )
    }

    async fn maps_page(&self, editing: bool, outcome: Outcome) -> Response {
        let maps = match self.state.scope_maps.list(&self.registry.id).await {
            Ok(maps) => maps,
            Err(e) => return unavailable(&e),
        };
        html(
            outcome.status.unwrap_or(StatusCode::OK),
            &ScopeMapsPage {
                frame: super::Frame::of(self.person, "registries"),
                registry: self.registry.name().as_str(),
                home: self.home(),
                tab: "scope-maps",
                action: self.path,
                maps,
                editing,
                write_reason: self.reason(MAPS_WRITE, "Creating or changing a scope map"),
                delete_reason: self.reason(MAPS_DELETE, "Deleting a scope map"),
                outcome,
            },
        )
    }
}

fn unavailable(e: &RegistryError) -> Response {
    tracing::error!(error.cause = %e, "the portal cannot read tokens or scope maps");
    super::message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Tokens and scope maps cannot be read",
        "They cannot be read right now. Try again in a moment.",
    )
}

/// A failed write: the use case's message, beside its field when it names one.
fn failed(e: RegistryError, typed: Typed) -> Outcome {
    let field = match &e {
        RegistryError::InvalidValue { target, .. } => match target.as_str() {
            "scopeMapName" | "tokenName" => Some("name"),
            "scopeMap" | "scopeMapId" => Some("scope_map"),
            t if t.contains("actions") => Some("actions"),
            _ => None,
        },
        _ => None,
    };
    let error = crate::error::ApiError::from(e);
    Outcome {
        status: Some(if error.status() == StatusCode::NOT_FOUND {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }),
        message: Some(error.message().to_owned()),
        field,
        typed,
        ..Outcome::default()
    }
}

/// `GET …/tokens`.
pub(crate) async fn tokens(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
) -> Response {
    let here = Here {
        state: &state,
        person: &person,
        registry: &registry,
        path: path.as_str(),
    };
    here.tokens_page(Outcome::default()).await
}

/// `POST …/tokens`: `action` is `create` (`name`, `scope_map`), `enable`, `disable`,
/// `generate` (`name`, `password`, then `confirm=yes`) or `delete` (`name`, then
/// `confirm=yes`).
pub(crate) async fn act_on_token(
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
    let here = Here {
        state: &state,
        person: &person,
        registry: &registry,
        path: path.as_str(),
    };
    match token_action(&here, &form).await {
        Ok(None) => see_other(path.as_str()),
        Ok(Some(outcome)) => here.tokens_page(outcome).await,
        Err(outcome) => here.tokens_page(*outcome).await,
    }
}

/// What a token post does: `None` when done and the list is to be shown again.
async fn token_action(here: &Here<'_>, form: &Form) -> Result<Option<Outcome>, Box<Outcome>> {
    let maps = &here.state.scope_maps;
    let id = &here.registry.id;
    let name = form.field("name").trim();
    match form.field("action") {
        "create" => {
            here.authorize(TOKENS_WRITE)?;
            let typed = Typed {
                name: name.to_owned(),
                scope_map: form.field("scope_map").to_owned(),
                expiry: form.field("expiry").to_owned(),
                ..Typed::default()
            };
            let expiry = match typed.expiry.as_str() {
                "" => None,
                days => match days.parse::<i64>() {
                    Ok(days) if EXPIRIES.contains(&days) => {
                        Some(time::OffsetDateTime::now_utc() + time::Duration::days(days))
                    }
                    _ => {
                        let message =
                            "Choose when the passwords expire: never, or in 30, 90 or 365 days.";
                        return Err(Outcome::refused(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            message.to_owned(),
                            "expiry",
                            typed,
                        ));
                    }
                },
            };
            if maps.token(id, name).await.is_ok() {
                return Err(Outcome::refused(
                    StatusCode::CONFLICT,
                    format!(
                        "A token named {name} exists already (was this form sent twice?). Its passwords are not shown again: generate a new one below if needed."
                    ),
                    "name",
                    typed,
                ));
            }
            if typed.scope_map.is_empty() {
                return Err(Outcome::refused(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Choose a scope map.".to_owned(),
                    "scope_map",
                    typed,
                ));
            }
            let map = typed.scope_map.clone();
            let (token, _) = maps
                .put_token(id, name, Some(&map), Some(true))
                .await
                .map_err(|e| Box::new(failed(e, typed)))?;
            if here.authorize(GENERATE).is_err() {
                return Ok(None);
            }
            let (user, passwords) = maps
                .generate_credentials(id, &token.name, None, expiry)
                .await
                .map_err(|e| Box::new(failed(e, Typed::default())))?;
            Ok(Some(Outcome {
                shown: Some((user, passwords)),
                ..Outcome::default()
            }))
        }
        action @ ("enable" | "disable") => {
            here.authorize(TOKENS_WRITE)?;
            maps.put_token(id, name, None, Some(action == "enable"))
                .await
                .map_err(|e| Box::new(failed(e, Typed::default())))?;
            Ok(None)
        }
        "generate" => {
            here.authorize(GENERATE)?;
            let password = form.field("password");
            if form.field("confirm") != "yes" {
                let consequence = format!(
                    "Whoever signs in as {name} with the current {password} will be refused from now on. The other password keeps working. The new one is shown once."
                );
                let question = format!("Generate a new {password} for {name}?");
                return Ok(Some(Outcome::ask(
                    "generate",
                    name,
                    password,
                    question,
                    &consequence,
                )));
            }
            let (user, passwords) = maps
                .generate_credentials(id, name, Some(password), None)
                .await
                .map_err(|e| Box::new(failed(e, Typed::default())))?;
            Ok(Some(Outcome {
                shown: Some((user, passwords)),
                ..Outcome::default()
            }))
        }
        "delete" => {
            here.authorize(TOKENS_DELETE)?;
            if form.field("confirm") != "yes" {
                return Ok(Some(Outcome::ask(
                    "delete",
                    name,
                    "",
                    format!("Delete the token {name}?"),
                    "It can no longer sign in; this cannot be undone.",
                )));
            }
            maps.delete_token(id, name)
                .await
                .map_err(|e| Box::new(failed(e, Typed::default())))?;
            Ok(None)
        }
        _ => Err(Box::new(nothing_asked())),
    }
}

fn nothing_asked() -> Outcome {
    Outcome {
        status: Some(StatusCode::UNPROCESSABLE_ENTITY),
        message: Some("Nothing was asked for: use one of the page's buttons.".to_owned()),
        ..Outcome::default()
    }
}

/// `?edit=`: the scope map to edit.
#[derive(serde::Deserialize)]
pub(crate) struct EditQuery {
    edit: Option<String>,
}

/// `GET …/scope-maps` (`?edit=name` fills the form with that map).
pub(crate) async fn scope_maps(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
    Query(query): Query<EditQuery>,
) -> Response {
    let here = Here {
        state: &state,
        person: &person,
        registry: &registry,
        path: path.as_str(),
    };
    let Some(edit) = query.edit else {
        return here.maps_page(false, Outcome::default()).await;
    };
    match state.scope_maps.get(&registry.id, &edit).await {
        Ok(map) if !map.system => {
            let typed = Typed {
                name: map.name,
                description: map.description.unwrap_or_default(),
                actions: map.actions.join("\n"),
                ..Typed::default()
            };
            here.maps_page(
                true,
                Outcome {
                    typed,
                    ..Outcome::default()
                },
            )
            .await
        }
        Ok(map) => {
            let outcome = Outcome {
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                message: Some(format!(
                    "The system scope map {} cannot be changed.",
                    map.name
                )),
                ..Outcome::default()
            };
            here.maps_page(false, outcome).await
        }
        Err(e) => here.maps_page(false, failed(e, Typed::default())).await,
    }
}

/// `POST …/scope-maps`: `action` is `save` (`name`, `description`, `actions` one per line)
/// or `delete` (`name`, then `confirm=yes`).
pub(crate) async fn act_on_scope_map(
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
    let here = Here {
        state: &state,
        person: &person,
        registry: &registry,
        path: path.as_str(),
    };
    let editing = form.field("editing") == "yes";
    match scope_map_action(&here, &form).await {
        Ok(None) => see_other(path.as_str()),
        Ok(Some(outcome)) => here.maps_page(false, outcome).await,
        Err(outcome) => here.maps_page(editing, *outcome).await,
    }
}

async fn scope_map_action(here: &Here<'_>, form: &Form) -> Result<Option<Outcome>, Box<Outcome>> {
    let maps = &here.state.scope_maps;
    let id = &here.registry.id;
    let name = form.field("name").trim();
    match form.field("action") {
        "save" => {
            here.authorize(MAPS_WRITE)?;
            let typed = Typed {
                name: name.to_owned(),
                description: form.field("description").trim().to_owned(),
                actions: form.field("actions").to_owned(),
                ..Typed::default()
            };
            let actions: Vec<String> = typed
                .actions
                .lines()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
            if actions.is_empty() {
                let message = "List at least one action, such as repositories/app/content/read.";
                return Err(Outcome::refused(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    message.to_owned(),
                    "actions",
                    typed,
                ));
            }
            let description = (!typed.description.is_empty()).then(|| typed.description.clone());
            if form.field("editing") != "yes"
                && let Ok(existing) = maps.get(id, name).await
            {
                if existing.actions == actions && existing.description == description {
                    // The same form sent twice.
                    return Ok(None);
                }
                return Err(Outcome::refused(
                    StatusCode::CONFLICT,
                    format!(
                        "A scope map named {} exists already: edit it, or choose another name.",
                        existing.name
                    ),
                    "name",
                    typed,
                ));
            }
            maps.put(id, name, description, actions)
                .await
                .map_err(|e| Box::new(failed(e, typed)))?;
            Ok(None)
        }
        "delete" => {
            here.authorize(MAPS_DELETE)?;
            if form.field("confirm") != "yes" {
                return Ok(Some(Outcome::ask(
                    "delete",
                    name,
                    "",
                    format!("Delete the scope map {name}?"),
                    "This cannot be undone.",
                )));
            }
            maps.delete(id, name)
                .await
                .map_err(|e| Box::new(failed(e, Typed::default())))?;
            Ok(None)
        }
        _ => Err(Box::new(nothing_asked())),
    }
}
