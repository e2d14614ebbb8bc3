//! Access keys: the registry's admin user, as ACR's blade shows it. The admin user is
//! turned on and off with the registry's ETag (the ARM PATCH of `adminUserEnabled`); its
//! passwords are shown only in answer to a POST (never in a URL, never cached) and only to
//! someone with `listCredentials`; one is regenerated after a confirmation, with
//! `regenerateCredential`. The same use cases and actions as the API's.

use super::registry_page::{RegistryForm, RegistryPage};
use super::{SignedIn, html, see_other};
use crate::routes::registries::WRITE;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::arm::Precondition;
use berth_domain::registry::{Registry, RegistryError, RegistryPatch};

const LIST_CREDENTIALS: &str = "Microsoft.ContainerRegistry/registries/listCredentials/action";
const REGENERATE: &str = "Microsoft.ContainerRegistry/registries/regenerateCredential/action";

#[derive(Template)]
#[template(path = "portal/access_keys.html")]
struct AccessKeysPage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    home: &'a str,
    tab: &'a str,
    action: &'a str,
    login_server: &'a str,
    etag: &'a str,
    enabled: bool,
    toggle_reason: Option<String>,
    show_reason: Option<String>,
    regenerate_reason: Option<String>,
    passwords: Vec<(String, String)>,
    confirm: Option<String>,
    message: Option<String>,
}

/// `GET …/access-keys`.
pub(crate) async fn show(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
) -> Response {
    Keys {
        state: &state,
        person: &person,
        path: path.as_str(),
    }
    .page(StatusCode::OK, &registry, Vec::new(), None, None)
}

/// `POST …/access-keys`: `action` is `enable`, `disable`, `show` or `regenerate` (with
/// `name`, and `confirm=yes` once confirmed).
pub(crate) async fn act(
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
    let keys = Keys {
        state: &state,
        person: &person,
        path: path.as_str(),
    };
    let id = registry.id.to_string();
    let refused =
        |status, message: String| keys.page(status, &registry, Vec::new(), None, Some(message));
    match form.field("action") {
        action @ ("enable" | "disable") => {
            if let Err(e) = state.authorize(&person.caller, WRITE, &id) {
                return refused(StatusCode::FORBIDDEN, e.message().to_owned());
            }
            let patch = RegistryPatch {
                admin_user_enabled: Some(action == "enable"),
                ..RegistryPatch::default()
            };
            let etag = format!("\"{}\"", form.field("etag").replace('"', ""));
            let precondition = Precondition::from_headers(Some(&etag), None);
            match state
                .registries
                .update(&registry.id, &patch, &precondition, &person.caller.actor())
                .await
            {
                Ok(_) => see_other(path.as_str()),
                Err(e) => keys.failed(&registry, e).await,
            }
        }
        "show" => {
            if let Err(e) = state.authorize(&person.caller, LIST_CREDENTIALS, &id) {
                return refused(StatusCode::FORBIDDEN, e.message().to_owned());
            }
            match state.admin_users.list(&registry.id).await {
                Ok(credentials) => {
                    keys.page(StatusCode::OK, &registry, credentials.passwords, None, None)
                }
                Err(e) => keys.failed(&registry, e).await,
            }
        }
        "regenerate" => {
            if let Err(e) = state.authorize(&person.caller, REGENERATE, &id) {
                return refused(StatusCode::FORBIDDEN, e.message().to_owned());
            }
            let name = form.field("name");
            if !matches!(name, "password" | "password2") {
                return refused(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Choose password or password2 to regenerate.".to_owned(),
                );
            }
            if form.field("confirm") != "yes" {
                return keys.page(
                    StatusCode::OK,
                    &registry,
                    Vec::new(),
                    Some(name.to_owned()),
                    None,
                );
            }
            match state.admin_users.regenerate(&registry.id, name).await {
                Ok(credentials) => {
                    keys.page(StatusCode::OK, &registry, credentials.passwords, None, None)
                }
                Err(e) => keys.failed(&registry, e).await,
            }
        }
        _ => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Nothing was asked for: use one of the page's buttons.".to_owned(),
        ),
    }
}

/// The page's context.
struct Keys<'a> {
    state: &'a AppState,
    person: &'a SignedIn,
    path: &'a str,
}

impl Keys<'_> {
    /// Why the person cannot do what `action` allows, if they cannot.
    fn reason(&self, registry: &Registry, action: &str, what: &str) -> Option<String> {
        let allowed = self
            .state
            .allows(&self.person.caller, action, &registry.id.to_string());
        (!allowed).then(|| format!("{what} needs {action} (Owner or Contributor)."))
    }

    /// The page after `e`, with the registry as it is now.
    async fn failed(&self, registry: &Registry, e: RegistryError) -> Response {
        let (status, message) = super::write_refusal(e, "nothing was saved");
        let current = self
            .state
            .registries
            .get(&registry.id)
            .await
            .unwrap_or_else(|_| registry.clone());
        self.page(status, &current, Vec::new(), None, Some(message))
    }

    fn page(
        &self,
        status: StatusCode,
        registry: &Registry,
        passwords: Vec<(String, String)>,
        confirm: Option<String>,
        message: Option<String>,
    ) -> Response {
        let enabled = registry.settings.admin_user_enabled;
        let off = || Some("The admin user is disabled: enable it first.".to_owned());
        html(
            status,
            &AccessKeysPage {
                frame: super::Frame::of(self.person, "registries"),
                registry: registry.name().as_str(),
                home: self.path.trim_end_matches("/access-keys"),
                tab: "keys",
                action: self.path,
                login_server: &registry.login_server,
                etag: registry.etag.as_str(),
                enabled,
                toggle_reason: self.reason(registry, WRITE, "Turning the admin user on or off"),
                show_reason: self
                    .reason(registry, LIST_CREDENTIALS, "Showing the passwords")
                    .or_else(|| if enabled { None } else { off() }),
                regenerate_reason: self
                    .reason(registry, REGENERATE, "Regenerating a password")
                    .or_else(|| if enabled { None } else { off() }),
                passwords,
                confirm,
                message,
            },
        )
    }
}
