//! The activity log's driving side: every write request (any method but GET, HEAD and
//! OPTIONS) runs inside a recording ([`berth_infra::activity`]) that the authorization step
//! fills (who, which action, where) and whose records the persistence adapters commit with
//! the change. What is left when the request ends (a refusal, a failure, a request that
//! changed nothing) is appended here.

use crate::arm::{
    CLIENT_REQUEST_ID, CORRELATION_ID, REQUEST_ID, TRACEPARENT, header_text, trace_id_of,
};
use crate::error::ErrorCode;
use crate::routes::token_server::ClientAddress;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method};
use axum::middleware::Next;
use axum::response::Response;
use berth_infra::activity::{RequestFacts, recorded};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether write requests are recorded: always, but in the activity benchmark's baseline.
static RECORDING: AtomicBool = AtomicBool::new(true);

/// Stops recording write requests, for the baseline of the activity benchmark
/// (`examples/unrecorded.rs`, run by `bench/activity.sh`): the same berthd, but that no
/// write commits a record. Nothing in berthd's configuration reaches this; a deployment
/// never calls it.
#[doc(hidden)]
pub fn unrecorded_for_the_activity_benchmark() {
    RECORDING.store(false, Ordering::Relaxed);
}

/// Records the activity of a write request.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || !RECORDING.load(Ordering::Relaxed)
    {
        return next.run(req).await;
    }
    let facts = facts(&req, &state);
    let (response, recording) = recorded(facts, next.run(req)).await;
    let code = response
        .extensions()
        .get::<ErrorCode>()
        .map(|c| c.0.clone());
    let events = recording.finish(response.status().as_u16(), code);
    if !events.is_empty()
        && let Err(e) = state.activity.append(&events).await
    {
        // The answer stands (what it reports happened, or did not); the record is tried
        // again meanwhile, as a database that failed once (a restart, a failover) often
        // answers a moment later.
        tracing::warn!(error = %e, "the activity log could not record a request's end: retrying");
        tokio::spawn(append_again(state.activity.clone(), events));
    }
    response
}

/// How long [`append_again`] waits before each further try: 21 s in all.
const RETRY_DELAYS: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(250),
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(4),
    std::time::Duration::from_secs(16),
];

/// Appends `events`, whose first append failed (in a transaction that was rolled back),
/// after each of [`RETRY_DELAYS`] until one succeeds; after the last, the records are lost
/// and the log says so.
async fn append_again(
    activity: std::sync::Arc<dyn berth_domain::activity::ActivityLog>,
    events: Vec<berth_domain::activity::ActivityEvent>,
) {
    let mut last = None;
    for (tries, delay) in RETRY_DELAYS.iter().enumerate() {
        tokio::time::sleep(*delay).await;
        match activity.append(&events).await {
            Ok(()) => {
                tracing::info!(
                    retries = tries + 1,
                    "the activity log recorded a request's end after retrying"
                );
                return;
            }
            Err(e) => last = Some(e),
        }
    }
    let operation = events.first().map(|e| e.request.operation.as_str());
    tracing::error!(
        error = last.map(|e| e.to_string()),
        operation,
        records = events.len(),
        "the activity log could not record a request's end: its records are lost"
    );
}

/// What the request says of itself (the ids `request_ids` set or passed on).
fn facts(req: &Request, state: &AppState) -> RequestFacts {
    let header = |name: &HeaderName| header_text(req.headers(), name.as_str());
    let present = |text: String| (!text.is_empty()).then_some(text);
    RequestFacts {
        correlation_id: header(&CORRELATION_ID),
        request_id: header(&REQUEST_ID),
        client_request_id: present(header(&CLIENT_REQUEST_ID)),
        client_address: Some(ClientAddress::of(req.extensions(), req.headers(), state).0),
        trace_id: trace_id_of(&header(&TRACEPARENT)).map(str::to_owned),
        method: req.method().to_string(),
        by_path: arm_operation(req.method(), req.uri().path()),
    }
}

/// The ARM operation a write names by its method and path, as Azure's activity log names
/// it: the provider namespace and resource types of the path, then `write` (PUT, PATCH),
/// `delete`, or for a POST the action the path ends with. `None` for paths that are not
/// ARM resources (the directory, sign-in, the portal).
fn arm_operation(method: &Method, path: &str) -> Option<(String, String)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if !matches!(segments.first(), Some(first) if first.eq_ignore_ascii_case("subscriptions") || first.eq_ignore_ascii_case("providers"))
        || segments.iter().any(|s| s.is_empty())
    {
        return None;
    }
    // The namespace is the last `providers/{namespace}`; before any, Microsoft.Resources.
    let (namespace, types_from) = match segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    {
        Some(i) if i + 1 < segments.len() => (segments[i + 1].to_owned(), i + 2),
        Some(_) => return None,
        None => ("Microsoft.Resources".to_owned(), 0),
    };
    // With no namespace, `subscriptions/{id}/resourceGroups/{name}` are the types.
    let tail = &segments[types_from..];
    let mut types: Vec<&str> = tail.iter().step_by(2).copied().collect();
    let ends_with_type = tail.len() % 2 == 1;
    let verb = match *method {
        Method::PUT | Method::PATCH if !ends_with_type => "write".to_owned(),
        Method::DELETE if !ends_with_type => "delete".to_owned(),
        Method::POST if ends_with_type => {
            let action = types.pop()?;
            format!("{action}/action")
        }
        _ => return None,
    };
    if types.is_empty() {
        return None;
    }
    let resource = if ends_with_type {
        segments[..segments.len() - 1].join("/")
    } else {
        segments.join("/")
    };
    Some((
        format!("{namespace}/{}/{verb}", types.join("/")),
        format!("/{resource}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_named_by_its_path_as_arm_names_it() {
        let sub = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590";
        let registry =
            format!("{sub}/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r");
        for (method, path, operation, resource) in [
            (
                Method::PATCH,
                registry.clone(),
                "Microsoft.ContainerRegistry/registries/write",
                registry.clone(),
            ),
            (
                Method::DELETE,
                registry.clone(),
                "Microsoft.ContainerRegistry/registries/delete",
                registry.clone(),
            ),
            (
                Method::POST,
                format!("{registry}/regenerateCredential"),
                "Microsoft.ContainerRegistry/registries/regenerateCredential/action",
                registry.clone(),
            ),
            (
                Method::PUT,
                format!("{registry}/scopeMaps/m"),
                "Microsoft.ContainerRegistry/registries/scopeMaps/write",
                format!("{registry}/scopeMaps/m"),
            ),
            (
                Method::PUT,
                format!("{sub}/resourceGroups/g"),
                "Microsoft.Resources/subscriptions/resourceGroups/write",
                format!("{sub}/resourceGroups/g"),
            ),
            (
                Method::PUT,
                format!("{sub}/providers/Microsoft.Authorization/roleAssignments/a"),
                "Microsoft.Authorization/roleAssignments/write",
                format!("{sub}/providers/Microsoft.Authorization/roleAssignments/a"),
            ),
        ] {
            assert_eq!(
                arm_operation(&method, &path),
                Some((operation.to_owned(), resource)),
                "{method} {path}"
            );
        }
        for (method, path) in [
            (Method::POST, "/v1.0/applications"),
            (Method::POST, "/organizations/oauth2/v2.0/token"),
            (Method::PUT, "/subscriptions/s/resourceGroups"),
            (Method::POST, &*registry),
            (Method::PUT, "/subscriptions/s/providers"),
            (Method::PUT, "/subscriptions//resourceGroups/g"),
        ] {
            assert_eq!(arm_operation(&method, path), None, "{method} {path}");
        }
    }
}
