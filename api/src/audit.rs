//! What a sign-in or repository event tells of its request, taken when it arrives (who calls
//! from where, with which client, under which request id, since when), and the event made
//! from it once the request is answered. The token server, the trust server and the login
//! servers share it.

use axum::http::{HeaderMap, StatusCode};
use berth_domain::diagnostics::DiagnosticEvent;

/// The request side of an event.
#[derive(Debug, Clone)]
pub struct EventFacts {
    client: String,
    user_agent: String,
    request_id: String,
    started: std::time::Instant,
}

impl EventFacts {
    /// The facts of a request from `client` with `headers`, starting now.
    #[must_use]
    pub fn of(headers: &HeaderMap, client: String) -> Self {
        Self {
            client,
            user_agent: crate::arm::header_text(headers, "user-agent"),
            request_id: crate::arm::header_text(headers, "x-ms-request-id"),
            started: std::time::Instant::now(),
        }
    }

    /// The event of `category` for the request, answered `status` now: `operation` by
    /// `identity` at `login_server`, described as `description`, with no grant, repository,
    /// tag or digest (the caller sets those that apply).
    #[must_use]
    pub fn event(
        &self,
        category: &'static str,
        operation: &str,
        status: StatusCode,
        description: String,
        identity: String,
        login_server: &str,
    ) -> DiagnosticEvent {
        DiagnosticEvent {
            time_generated: time::OffsetDateTime::now_utc(),
            category,
            operation_name: operation.to_owned(),
            result_type: status.as_u16().to_string(),
            result_description: description,
            identity,
            login_server: login_server.to_owned(),
            caller_ip_address: self.client.clone(),
            user_agent: self.user_agent.clone(),
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            correlation_id: self.request_id.clone(),
            grant: None,
            repository: None,
            tag: None,
            digest: None,
        }
    }
}

/// A status's reason as an event's description (`Created`, `Not Found`).
#[must_use]
pub fn reason(status: StatusCode) -> String {
    status.canonical_reason().unwrap_or_default().to_owned()
}
