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
    frame: super::Frame<'a>,
    filter: &'a str,
    rows: Vec<RegistryRow>,
    /// The first row's number (1-based).
    first: usize,
    /// The first page, when this is another.
    start: Option<String>,
    next: Option<String>,
}

/// Rows on one page of the list.
const PAGE_SIZE: usize = 100;

/// `?filter=&after=&from=`: the name filter, and where a page starts (after the registry
/// whose id is `after`, the `from`th row), as the API pages its lists.
#[derive(Deserialize)]
pub(crate) struct ListQuery {
    filter: Option<String>,
    after: Option<String>,
    from: Option<usize>,
}

/// `GET /portal`: every registry the person may read, in every subscription, a page at a
/// time in the API's order (subscription, resource group, name).
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
    let after = query.after.filter(|a| !a.is_empty());
    let (rows, more) = match readable_registries(&state, &person, &filter, after.as_deref()).await {
        Ok(found) => found,
        Err(message) => {
            return super::message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Registries cannot be listed",
                &message,
            );
        }
    };
    let first = if after.is_some() {
        query.from.unwrap_or(1).max(1)
    } else {
        1
    };
    let link = |after: Option<&str>, from: usize| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !filter.is_empty() {
            query.append_pair("filter", &filter);
        }
        if let Some(after) = after {
            query.append_pair("after", after);
            query.append_pair("from", &from.to_string());
        }
        format!("/portal?{}", query.finish())
    };
    let next = more
        .as_deref()
        .map(|last| link(Some(last), first + rows.len()));
    html(
        StatusCode::OK,
        &RegistriesPage {
            frame: super::Frame::of(&person, "registries"),
            filter: &filter,
            first,
            start: after.is_some().then(|| link(None, 1)),
            next,
            rows,
        },
    )
}

/// A page of the registries `person` may read whose name contains `filter` (any case),
/// after the registry whose id is `after`: its rows, and the id of its last registry when
/// another matches after it. The store is read a page at a time, as the API reads it.
async fn readable_registries(
    state: &AppState,
    person: &SignedIn,
    filter: &str,
    after: Option<&str>,
) -> Result<(Vec<RegistryRow>, Option<String>), String> {
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::error!(error.cause = %e, "the portal cannot list registries");
        "The registries cannot be read right now. Try again in a moment.".to_owned()
    };
    let wanted = filter.trim().to_ascii_lowercase();
    let after = after.map(str::to_ascii_lowercase);
    let mut subscriptions = state
        .subscriptions
        .list()
        .await
        .map_err(|e| unavailable(&e))?;
    subscriptions.sort_by_key(|s| s.id.to_string());
    let mut rows = Vec::new();
    let mut last = None;
    for subscription in subscriptions {
        let id = subscription.id.to_string();
        let prefix = format!("/subscriptions/{}/", id.to_ascii_lowercase());
        let mut page = PageRequest {
            top: u32::try_from(PAGE_SIZE).unwrap_or(PageRequest::DEFAULT_TOP),
            after: None,
        };
        match &after {
            // A later subscription than the page starts in: all of it.
            Some(cursor) if cursor.as_str() < prefix.as_str() => {}
            Some(cursor) if cursor.starts_with(&prefix) => page.after = Some(cursor.clone()),
            Some(_) => continue,
            None => {}
        }
        loop {
            let listed = state
                .registries
                .list_by_subscription(&id, &page)
                .await
                .map_err(|e| unavailable(&e))?;
            let matching = readable(state, &person.caller, &listed.items)
                .filter(|r| r.id.name.to_string().to_ascii_lowercase().contains(&wanted));
            for registry in matching {
                if rows.len() == PAGE_SIZE {
                    return Ok((rows, last));
                }
                rows.push(RegistryRow::of(registry, &subscription.display_name));
                last = Some(registry.id.key());
            }
            match listed.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
    }
    Ok((rows, None))
}
