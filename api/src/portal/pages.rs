//! The portal's pages. Each reads through the same use cases as the ARM routes and shows
//! only what the signed-in person may read there.

use super::{SignedIn, html, signed_in};
use crate::routes::registries::readable;
use crate::state::AppState;
use askama::Template;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_domain::registry::Registry;
use berth_domain::store::PageRequest;
use serde::Deserialize;

/// One row of the registry list.
pub(crate) struct RegistryRow {
    link: String,
    name: String,
    group: String,
    subscription: String,
    location: String,
    sku: &'static str,
    login_server: String,
    created: String,
}

impl RegistryRow {
    fn of(registry: &Registry, subscription: &str) -> Self {
        let created = registry.creation_date;
        let id = &registry.id;
        Self {
            link: format!(
                "/portal/registries/{}/{}/{}",
                id.resource_group.subscription, id.resource_group.name, id.name
            ),
            name: registry.id.name.to_string(),
            group: registry.id.resource_group.name.to_string(),
            subscription: subscription.to_owned(),
            location: registry.location.as_str().to_owned(),
            sku: registry.sku.as_str(),
            login_server: registry.login_server.clone(),
            created: format!(
                "{:04}-{:02}-{:02}",
                created.year(),
                u8::from(created.month()),
                created.day()
            ),
        }
    }
}

/// The registry list page.
#[derive(Template)]
#[template(path = "portal/registries.html")]
struct RegistriesPage<'a> {
    user: &'a str,
    csrf: &'a str,
    nav: &'a str,
    filter: &'a str,
    rows: Vec<RegistryRow>,
    /// How many registries match, on every page.
    total: usize,
    /// The first row's number (1-based) and this page's number.
    first: usize,
    page: usize,
    previous: Option<String>,
    next: Option<String>,
}

/// Rows on one page of the list.
const PAGE_SIZE: usize = 100;

/// `?filter=&page=`.
#[derive(Deserialize)]
pub(crate) struct ListQuery {
    filter: Option<String>,
    page: Option<usize>,
}

/// `GET /portal`: every registry the person may read, in every subscription.
pub(crate) async fn registries(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let here = uri.path_and_query().map_or("/portal", |p| p.as_str());
    let person = match signed_in(&state, &headers, here).await {
        Ok(person) => person,
        Err(not) => return not.into_response(),
    };
    let filter = query.filter.unwrap_or_default();
    let rows = match readable_registries(&state, &person, &filter).await {
        Ok(rows) => rows,
        Err(message) => {
            return super::message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Registries cannot be listed",
                &message,
            );
        }
    };
    let total = rows.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let link = |page: usize| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !filter.is_empty() {
            query.append_pair("filter", &filter);
        }
        query.append_pair("page", &page.to_string());
        format!("/portal?{}", query.finish())
    };
    let first = (page - 1) * PAGE_SIZE;
    let rows: Vec<RegistryRow> = rows.into_iter().skip(first).take(PAGE_SIZE).collect();
    html(
        StatusCode::OK,
        &RegistriesPage {
            user: &person.caller.name,
            csrf: &person.session.csrf,
            nav: "registries",
            filter: &filter,
            total,
            first: first + 1,
            page,
            previous: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
            rows,
        },
    )
}

/// The rows of every registry `person` may read whose name contains `filter` (any case).
async fn readable_registries(
    state: &AppState,
    person: &SignedIn,
    filter: &str,
) -> Result<Vec<RegistryRow>, String> {
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::error!(error.cause = %e, "the portal cannot list registries");
        "The registries cannot be read right now. Try again in a moment.".to_owned()
    };
    let wanted = filter.trim().to_ascii_lowercase();
    let mut rows = Vec::new();
    let subscriptions = state
        .subscriptions
        .list()
        .await
        .map_err(|e| unavailable(&e))?;
    for subscription in subscriptions {
        let id = subscription.id.to_string();
        let mut page = PageRequest {
            top: PageRequest::MAX_TOP,
            after: None,
        };
        loop {
            let listed = state
                .registries
                .list_by_subscription(&id, &page)
                .await
                .map_err(|e| unavailable(&e))?;
            rows.extend(
                readable(state, &person.caller, &listed.items)
                    .filter(|r| r.id.name.to_string().to_ascii_lowercase().contains(&wanted))
                    .map(|r| RegistryRow::of(r, &subscription.display_name)),
            );
            match listed.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}
