//! ARM's Activity Log, as `az monitor activity-log list` and the Azure SDKs read it:
//! `GET /subscriptions/{sub}/providers/microsoft.insights/eventtypes/management/values`
//! with a required `$filter` (an `eventTimestamp` range of at most 90 days, and at most one
//! of `resourceGroupName`, `resourceUri`/`resourceId`, `resourceProvider`, `correlationId`,
//! plus `caller` and `status`), `$select`, `$top` and `nextLink` paging, newest first.
//!
//! Reading needs `Microsoft.Insights/eventtypes/values/read` at the subscription, or else
//! at the groups and resources whose events are asked for: a caller sees the events of the
//! scopes it may read the log at, and no others, whatever the filter says.

use crate::arm::odata::{Condition, Filter};
use crate::arm::{ApiVersion, BaseUrl, InsightsVersions, ListQuery};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorResponse};
use crate::routes::params::SubscriptionPath;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use berth_domain::activity::{
    ActivityEvent, ActivityQuery, ActivityStatus, READ_ACTION, Reach, TimeRange,
};
use berth_domain::authorization::{AccessKind, Scope};
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The router of the activity log.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(list_tenant_events))
}

/// A value with its display form.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalizableString {
    /// The value.
    pub value: String,
    /// Its display form.
    pub localized_value: String,
}

impl LocalizableString {
    fn of(value: impl Into<String>) -> Self {
        let value = value.into();
        Self {
            localized_value: value.clone(),
            value,
        }
    }
}

/// The authorization an event's operation passed (or lacked).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SenderAuthorization {
    /// The action.
    pub action: String,
    /// The scope.
    pub scope: String,
}

/// The request an event came from.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequestInfo {
    /// `x-ms-client-request-id`, when the client sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip_address: Option<String>,
    /// The HTTP method.
    pub method: String,
}

/// One event, in ARM's `EventData` shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    /// The authorization of the operation.
    pub authorization: SenderAuthorization,
    /// Who: a user's principal name or an application's appId.
    pub caller: String,
    /// Always `Operation`.
    pub channels: String,
    /// The caller's identity claims that matter here (object id, address).
    pub claims: BTreeMap<String, String>,
    /// The correlation id (`x-ms-correlation-request-id`).
    pub correlation_id: String,
    /// What happened, in words, when the operation name does not say it all.
    pub description: String,
    /// The event's id.
    pub event_data_id: String,
    /// `BeginRequest` or `EndRequest`.
    pub event_name: LocalizableString,
    /// Always `Administrative`.
    pub category: LocalizableString,
    /// When it happened.
    pub event_timestamp: String,
    /// The request.
    pub http_request: HttpRequestInfo,
    /// `{resourceId}/events/{eventDataId}/ticks/{ticks}`.
    pub id: String,
    /// `Informational`, or `Error` for a failure.
    pub level: String,
    /// The operation's id, shared by its events.
    pub operation_id: String,
    /// The operation (the action authorized).
    pub operation_name: LocalizableString,
    /// Details: `statusCode`, `serviceRequestId`, `errorCode`, `missingAction`...
    pub properties: BTreeMap<String, String>,
    /// The resource group, when the resource is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_group_name: Option<String>,
    /// The provider namespace.
    pub resource_provider_name: LocalizableString,
    /// The resource type.
    pub resource_type: LocalizableString,
    /// The resource acted on.
    pub resource_id: String,
    /// `Started`, `Accepted`, `Succeeded` or `Failed`.
    pub status: LocalizableString,
    /// The HTTP status's reason (`Created`, `Forbidden`), when the event is the request's end.
    pub sub_status: LocalizableString,
    /// When it was recorded.
    pub submission_timestamp: String,
    /// The subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// The tenant.
    pub tenant_id: String,
}

/// A page of events.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDataCollection {
    /// The events (only the `$select`ed properties, when it is given).
    pub value: Vec<serde_json::Value>,
    /// The next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// The query of the activity log.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query string, which is read raw")]
struct ActivityLogParams {
    /// `2015-04-01`.
    #[param(rename = "api-version", example = "2015-04-01")]
    api_version: String,
    /// `eventTimestamp ge '<start>' and eventTimestamp le '<end>'` (at most 90 days), and
    /// optionally `and <field> eq '<value>'` for one of `resourceGroupName`, `resourceUri`
    /// (or `resourceId`), `resourceProvider`, `correlationId`, plus `caller` and `status`.
    #[param(rename = "$filter")]
    filter: String,
    /// Comma-separated properties of `EventData` to return.
    #[param(rename = "$select")]
    select: Option<String>,
    /// At most this many events per page (1 to 1000; 100 when absent).
    #[param(rename = "$top")]
    top: Option<u32>,
}

/// The properties `$select` may name.
const SELECTABLE: &[&str] = &[
    "authorization",
    "caller",
    "channels",
    "claims",
    "correlationId",
    "description",
    "eventDataId",
    "eventName",
    "category",
    "eventTimestamp",
    "httpRequest",
    "id",
    "level",
    "operationId",
    "operationName",
    "properties",
    "resourceGroupName",
    "resourceProviderName",
    "resourceType",
    "resourceId",
    "status",
    "subStatus",
    "submissionTimestamp",
    "subscriptionId",
    "tenantId",
];

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// Lists the tenant's own activity-log events (the directory's changes, signing-key
/// rotations), newest first. Needs the read action at the root scope.
#[utoipa::path(get, path = "/providers/Microsoft.Insights/eventtypes/management/values",
    operation_id = "TenantActivityLogs_List", tag = "ActivityLogs", params(ActivityLogParams),
    responses((status = 200, description = "A page of events", body = EventDataCollection), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_tenant_events(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<InsightsVersions>,
    BaseUrl(base): BaseUrl,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventDataCollection>, ApiError> {
    state.authorize(&caller, READ_ACTION, "/")?;
    let list = ListQuery::from_query(raw.as_deref())?;
    let mut query = filter_query(list.filter.as_deref(), None)?;
    query.reach = Reach::All;
    page_of(
        &state,
        &query,
        &list,
        raw.as_deref(),
        &base,
        "",
        version.as_str(),
    )
    .await
}

/// Lists a subscription's activity-log events, newest first.
#[utoipa::path(get, path = "/subscriptions/{subscriptionId}/providers/Microsoft.Insights/eventtypes/management/values",
    operation_id = "ActivityLogs_List", tag = "ActivityLogs", params(SubscriptionPath, ActivityLogParams),
    responses((status = 200, description = "A page of events", body = EventDataCollection), (status = "default", description = "An ARM error response", body = ErrorResponse)))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    version: ApiVersion<InsightsVersions>,
    BaseUrl(base): BaseUrl,
    Path(path): Path<SubscriptionPath>,
    RawQuery(raw): RawQuery,
) -> Result<Json<EventDataCollection>, ApiError> {
    let subscription = state.subscriptions.get(&path.subscription_id).await?;
    let subscription_scope = format!("/subscriptions/{}", subscription.id);
    let reach = reach(&state, &caller, &subscription_scope)?;
    let list = ListQuery::from_query(raw.as_deref())?;
    let mut query = filter_query(list.filter.as_deref(), Some(subscription.id.to_string()))?;
    refuse_unreadable(&state, &caller, &subscription_scope, &reach, &query)?;
    query.reach = reach;
    page_of(
        &state,
        &query,
        &list,
        raw.as_deref(),
        &base,
        &subscription_scope,
        version.as_str(),
    )
    .await
}

/// The page of `query`'s events the query string asks for, in ARM's shape.
async fn page_of(
    state: &AppState,
    query: &ActivityQuery,
    list: &ListQuery,
    raw: Option<&str>,
    base: &str,
    scope: &str,
    version: &str,
) -> Result<Json<EventDataCollection>, ApiError> {
    let select = select(raw)?;
    let page = state.activity.list(query, &list.page).await?;
    let list_path = format!("{scope}/providers/Microsoft.Insights/eventtypes/management/values");
    let next_link = list
        .next_link(base, &list_path, version, page.next.as_deref())
        .map(|link| match &select {
            Some(names) => format!("{link}&$select={}", urlencoding::encode(&names.join(","))),
            None => link,
        });
    let value = page
        .items
        .iter()
        .map(|e| selected(event_data(e, &state.tenant_id), select.as_deref()))
        .collect();
    Ok(Json(EventDataCollection { value, next_link }))
}

/// Where in the subscription the caller may read the log; 403 when nowhere.
fn reach(state: &AppState, caller: &Caller, subscription_scope: &str) -> Result<Reach, ApiError> {
    let scope = Scope::parse(subscription_scope).map_err(|e| bad_request(e.to_string()))?;
    let reach = state
        .rbac
        .reach(&caller.principals, READ_ACTION, AccessKind::Control, &scope);
    if reach == Reach::Within(Vec::new()) {
        state.authorize(caller, READ_ACTION, subscription_scope)?;
    }
    Ok(reach)
}

/// Refuses a filter that names a group or resource outside the caller's reach.
fn refuse_unreadable(
    state: &AppState,
    caller: &Caller,
    subscription_scope: &str,
    reach: &Reach,
    query: &ActivityQuery,
) -> Result<(), ApiError> {
    let Reach::Within(scopes) = reach else {
        return Ok(());
    };
    let named = match (&query.resource_group, &query.resource_id) {
        (Some(group), _) => Some(format!("{subscription_scope}/resourceGroups/{group}")),
        (None, Some(id)) => Some(id.clone()),
        _ => None,
    };
    if let Some(named) = named {
        let key = named.trim_end_matches('/').to_lowercase();
        let overlaps = scopes.iter().any(|s| {
            key == *s || key.starts_with(&format!("{s}/")) || s.starts_with(&format!("{key}/"))
        });
        if !overlaps {
            state.authorize(caller, READ_ACTION, &named)?;
        }
    }
    Ok(())
}

/// Parses `$select`: property names of `EventData`, comma-separated.
fn select(raw: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(text) = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
        .map(|(_, v)| v.into_owned())
    else {
        return Ok(None);
    };
    let mut names = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let Some(name) = SELECTABLE.iter().find(|n| n.eq_ignore_ascii_case(item)) else {
            return Err(bad_request(if item.is_empty() {
                format!("The $select '{text}' is malformed: it names an empty property.")
            } else {
                format!(
                    "The $select names '{item}', which is not a property of an event. Use any of: {}.",
                    SELECTABLE.join(", ")
                )
            }));
        };
        names.push((*name).to_owned());
    }
    Ok(Some(names))
}

fn parse_time(field: &str, text: &str) -> Result<OffsetDateTime, ApiError> {
    let attempts = [
        text.to_owned(),
        format!("{text}Z"),
        format!("{text}T00:00:00Z"),
    ];
    attempts
        .iter()
        .find_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .ok_or_else(|| {
            bad_request(format!(
                "The $filter's {field} value '{text}' is not a date and time (use ISO 8601, as 2026-12-04T10:00:00Z)."
            ))
        })
}

/// Parses a `$filter` into a query of `subscription`'s events (or the tenant's); its reach
/// is set after.
fn filter_query(
    text: Option<&str>,
    subscription: Option<String>,
) -> Result<ActivityQuery, ApiError> {
    const NEEDS_RANGE: &str = "The $filter must give a time range: eventTimestamp ge '<start>' and eventTimestamp le '<end>', at most 90 days apart.";
    let text = text
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| bad_request(NEEDS_RANGE))?;
    let filter =
        Filter::parse(text).map_err(|e| bad_request(format!("The $filter is malformed: {e}.")))?;
    let (mut from, mut to) = (None, None);
    let mut fields: BTreeMap<&'static str, String> = BTreeMap::new();
    for condition in &filter.conditions {
        match condition {
            Condition::Compare { field, op, value }
                if field.eq_ignore_ascii_case("eventTimestamp") =>
            {
                let at = parse_time("eventTimestamp", value)?;
                let slot = if op.starts_with('g') {
                    &mut from
                } else {
                    &mut to
                };
                if slot.replace(at).is_some() {
                    return Err(bad_request(format!(
                        "The $filter gives eventTimestamp {op} twice."
                    )));
                }
            }
            Condition::Eq { field, value } => {
                let known = [
                    ("resourceGroupName", "resourceGroupName"),
                    ("resourceUri", "resourceUri"),
                    ("resourceId", "resourceUri"),
                    ("resourceProvider", "resourceProvider"),
                    ("correlationId", "correlationId"),
                    ("caller", "caller"),
                    ("status", "status"),
                    ("eventChannels", "eventChannels"),
                    ("levels", "levels"),
                ];
                let Some((_, key)) = known.iter().find(|(n, _)| n.eq_ignore_ascii_case(field))
                else {
                    return Err(bad_request(format!(
                        "The $filter field '{field}' is not supported. Filter on eventTimestamp (required), resourceGroupName, resourceUri, resourceProvider, correlationId, caller or status."
                    )));
                };
                if fields.insert(key, value.clone()).is_some() {
                    return Err(bad_request(format!("The $filter gives {field} twice.")));
                }
            }
            Condition::Compare { field, .. } => {
                return Err(bad_request(format!(
                    "The $filter compares '{field}' with an order: only eventTimestamp takes ge, gt, le or lt."
                )));
            }
            Condition::Call { function, .. } => {
                return Err(bad_request(format!(
                    "The $filter calls '{function}', which the activity log does not take."
                )));
            }
            Condition::Any { collection, .. } => {
                return Err(bad_request(format!(
                    "The $filter filters the collection '{collection}', which the activity log does not take."
                )));
            }
        }
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(bad_request(NEEDS_RANGE));
    };
    let range = TimeRange::new(from, to).map_err(|e| bad_request(e.to_string()))?;
    let narrowing = [
        "resourceGroupName",
        "resourceUri",
        "resourceProvider",
        "correlationId",
    ]
    .iter()
    .filter(|k| fields.contains_key(*k))
    .count();
    if narrowing > 1 {
        return Err(bad_request(
            "The $filter may narrow by one of resourceGroupName, resourceUri, resourceProvider and correlationId, not several.",
        ));
    }
    let status = match fields.get("status") {
        Some(s) => Some(ActivityStatus::parse(s).ok_or_else(|| {
            bad_request(format!(
                "The $filter's status '{s}' is not one of Started, Accepted, Succeeded, Failed."
            ))
        })?),
        None => None,
    };
    Ok(ActivityQuery {
        subscription,
        range,
        resource_group: fields.get("resourceGroupName").cloned(),
        resource_id: fields.get("resourceUri").cloned(),
        resource_provider: fields.get("resourceProvider").cloned(),
        correlation_id: fields.get("correlationId").cloned(),
        caller: fields.get("caller").cloned(),
        status,
        reach: Reach::Within(Vec::new()),
    })
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// .NET ticks (100 ns since 0001-01-01), as ARM's event ids carry them.
fn ticks(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos() / 100 + 621_355_968_000_000_000
}

fn event_data(e: &ActivityEvent, tenant: &str) -> EventData {
    let request = &e.request;
    let reason = e
        .http_status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .map(|r| r.replace(' ', ""))
        .unwrap_or_default();
    let mut properties = BTreeMap::from([
        ("eventCategory".to_owned(), "Administrative".to_owned()),
        ("entity".to_owned(), request.resource_id.clone()),
        ("serviceRequestId".to_owned(), request.request_id.clone()),
    ]);
    if !reason.is_empty() {
        properties.insert("statusCode".to_owned(), reason.clone());
    }
    if !e.description.is_empty() {
        properties.insert("message".to_owned(), e.description.clone());
    }
    if let Some(code) = &e.error_code {
        properties.insert("errorCode".to_owned(), code.clone());
    }
    if let Some(action) = &e.missing_action {
        properties.insert("missingAction".to_owned(), action.clone());
    }
    if let Some(trace) = &request.trace_id {
        properties.insert("traceId".to_owned(), trace.clone());
    }
    let mut claims = BTreeMap::new();
    if let Some(oid) = request.caller.object_id {
        claims.insert(
            "http://schemas.microsoft.com/identity/claims/objectidentifier".to_owned(),
            oid.to_string(),
        );
    }
    if let Some(address) = &request.client_address {
        claims.insert("ipaddr".to_owned(), address.clone());
    }
    let begin = e.status == ActivityStatus::Started;
    let subscription = e.subscription();
    EventData {
        authorization: SenderAuthorization {
            action: e
                .missing_action
                .clone()
                .unwrap_or_else(|| request.operation.clone()),
            scope: request.resource_id.clone(),
        },
        caller: request.caller.name.clone(),
        channels: "Operation".to_owned(),
        claims,
        correlation_id: request.correlation_id.clone(),
        description: e.description.clone(),
        event_data_id: e.id.to_string(),
        event_name: LocalizableString {
            value: if begin { "BeginRequest" } else { "EndRequest" }.to_owned(),
            localized_value: if begin {
                "Begin request"
            } else {
                "End request"
            }
            .to_owned(),
        },
        category: LocalizableString::of("Administrative"),
        event_timestamp: timestamp(e.at),
        http_request: HttpRequestInfo {
            client_request_id: request.client_request_id.clone(),
            client_ip_address: request.client_address.clone(),
            method: request.method.clone(),
        },
        id: format!(
            "{}/events/{}/ticks/{}",
            request.resource_id.trim_end_matches('/'),
            e.id,
            ticks(e.at)
        ),
        level: if e.status == ActivityStatus::Failed {
            "Error"
        } else {
            "Informational"
        }
        .to_owned(),
        operation_id: e.operation_id.to_string(),
        operation_name: LocalizableString::of(request.operation.clone()),
        properties,
        resource_group_name: e.resource_group(),
        resource_provider_name: LocalizableString::of(e.resource_provider()),
        resource_type: LocalizableString::of(e.resource_type()),
        resource_id: request.resource_id.clone(),
        status: LocalizableString::of(e.status.as_str()),
        sub_status: LocalizableString::of(reason),
        submission_timestamp: timestamp(e.at),
        subscription_id: subscription,
        tenant_id: tenant.to_owned(),
    }
}

/// The event as JSON, with only the `select`ed properties when there are some.
fn selected(data: EventData, select: Option<&[String]>) -> serde_json::Value {
    let mut value = serde_json::to_value(data).unwrap_or_default();
    if let (Some(names), serde_json::Value::Object(map)) = (select, &mut value) {
        map.retain(|k, _| names.iter().any(|n| n == k));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

    #[test]
    fn the_filter_az_sends_is_read() {
        let q = filter_query(
            Some("eventTimestamp ge 2026-12-04T04:00:00.123456 and eventTimestamp le 2026-12-04T10:00:00.123456 and resourceGroupName eq 'rg1' and caller eq 'admin@berth.local'"),
            Some(SUB.to_owned()),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.resource_group.as_deref(), Some("rg1"));
        assert_eq!(q.caller.as_deref(), Some("admin@berth.local"));
        assert_eq!((q.range.to() - q.range.from()).whole_hours(), 6);
    }

    #[test]
    fn quoted_zoned_timestamps_and_resource_ids_are_read() {
        let q = filter_query(
            Some("eventTimestamp ge '2026-12-04T04:00:00.1234567Z' and eventTimestamp le '2026-12-04T10:00:00+00:00' and resourceId eq '/subscriptions/x/resourceGroups/rg'"),
            Some(SUB.to_owned()),
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            q.resource_id.as_deref(),
            Some("/subscriptions/x/resourceGroups/rg")
        );
    }

    fn refused(filter: Option<&str>) -> String {
        match filter_query(filter, Some(SUB.to_owned())) {
            Ok(_) => panic!("{filter:?} was accepted"),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn bad_filters_are_refused_with_what_is_wrong() {
        assert!(refused(None).contains("time range"));
        assert!(refused(Some("eventTimestamp ge '2026-12-04T00:00:00Z'")).contains("time range"));
        assert!(
            refused(Some("eventTimestamp ge '2026-12-05T00:00:00Z' and eventTimestamp le '2026-12-04T00:00:00Z'"))
                .contains("after the end")
        );
        assert!(
            refused(Some("eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp le '2026-12-04T00:00:00Z'"))
                .contains("at most 90 days")
        );
        assert!(
            refused(Some("eventTimestamp ge '2026-12-01T00:00:00Z' and eventTimestamp le '2026-12-04T00:00:00Z' and level eq 'x'"))
                .contains("not supported")
        );
        assert!(
            refused(Some(
                "eventTimestamp ge 'yesterday' and eventTimestamp le '2026-12-04T00:00:00Z'"
            ))
            .contains("not a date")
        );
        assert!(
            refused(Some("eventTimestamp ge '2026-12-01T00:00:00Z' and eventTimestamp le '2026-12-04T00:00:00Z' and resourceGroupName eq 'a' and correlationId eq 'b'"))
                .contains("not several")
        );
        assert!(
            refused(Some("eventTimestamp ge '2026-12-01T00:00:00Z' and")).contains("malformed")
        );
    }

    #[test]
    fn select_takes_known_properties_only() {
        assert_eq!(
            select(Some("$select=eventTimestamp%20,%20caller")).unwrap_or_else(|e| panic!("{e:?}")),
            Some(vec!["eventTimestamp".to_owned(), "caller".to_owned()])
        );
        assert!(select(Some("$select=caller,,status")).is_err());
        assert!(select(Some("$select=password")).is_err());
        assert_eq!(select(None).unwrap_or_else(|e| panic!("{e:?}")), None);
    }
}
