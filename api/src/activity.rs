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
        // The answer stands (what it reports happened, or did not); the missing record
        // is an operator's concern.
        tracing::error!(error = %e, "the activity log could not record a request's end");
    }
    response
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
    }
}
