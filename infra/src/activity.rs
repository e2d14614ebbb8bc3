//! The activity of the request a task serves, carried with the task, so that every write
//! transaction the persistence adapters commit for it carries its records
//! ([`crate::persistence::WriteTxn::commit`]).
//!
//! The driving side opens a [`Recording`] per write request ([`recorded`]) and notes what
//! it learns on the way: who calls ([`note_caller`]) and which action it was authorized or
//! refused ([`note_action`]). The first commit of the request appends its `Started` event and
//! its `Succeeded` (or `Accepted`, when the change started a long-running operation) in
//! the same transaction. When the request ends, [`Recording::finish`] says what still has to
//! be appended on its own: everything, for a request that committed nothing (refused,
//! invalid, failed); its `Failed` end, for one that failed after its change.
//!
//! Work outside a recording (reads, the token server, background jobs) appends nothing here;
//! background jobs append their own events explicitly.

use berth_domain::activity::{ActivityCaller, ActivityEvent, ActivityRequest, ActivityStatus};
use std::future::Future;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use uuid::Uuid;

tokio::task_local! {
    static CURRENT: Arc<Recording>;
}

/// What the driving side knows of a request when it arrives.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// `x-ms-correlation-request-id`.
    pub correlation_id: String,
    /// `x-ms-request-id`.
    pub request_id: String,
    /// `x-ms-client-request-id`.
    pub client_request_id: Option<String>,
    /// The client's address.
    pub client_address: Option<String>,
    /// The W3C trace id of the request.
    pub trace_id: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The ARM operation and resource the request's method and path name, for a request that
    /// fails before any authorization names them (a write to a resource that does not
    /// exist).
    pub by_path: Option<(String, String)>,
}

/// One request's activity, as learned so far.
#[derive(Debug)]
pub struct Recording {
    facts: RequestFacts,
    started_at: OffsetDateTime,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    caller: Option<ActivityCaller>,
    /// The operation: the first action authorized that is not a read, or the one refused.
    operation: Option<(String, String)>,
    /// The action refused, when one was.
    refused: Option<String>,
    /// The operation's id: the long-running operation's when the request started one.
    operation_id: Option<Uuid>,
    /// How the committed records ended (`Succeeded` or `Accepted`), once a commit carried them.
    committed: Option<ActivityStatus>,
    /// What the change did, in words, when the operation name does not say it all.
    description: String,
}

/// Runs `work` with a recording of `facts`, and hands the recording back with its output.
pub async fn recorded<F: Future>(facts: RequestFacts, work: F) -> (F::Output, Arc<Recording>) {
    let recording = Arc::new(Recording {
        facts,
        started_at: OffsetDateTime::now_utc(),
        state: Mutex::new(State::default()),
    });
    let output = CURRENT.scope(Arc::clone(&recording), work).await;
    (output, recording)
}

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> Option<T> {
    CURRENT
        .try_with(|r| r.state.lock().ok().map(|mut s| f(&mut s)))
        .ok()
        .flatten()
}

/// Notes who makes the current request (no-op outside a recording).
pub fn note_caller(caller: ActivityCaller) {
    with_state(|s| s.caller = Some(caller));
}

/// Notes an authorization decision of the current request: the first action allowed that is
/// not a read names the operation; a refused one names it too, and is the missing action.
pub fn note_action(action: &str, scope: &str, allowed: bool) {
    with_state(|s| {
        if !allowed {
            if s.refused.is_none() {
                s.refused = Some(action.to_owned());
                if s.committed.is_none() {
                    s.operation = Some((action.to_owned(), scope.to_owned()));
                }
            }
        } else if s.operation.is_none() && !is_read(action) {
            s.operation = Some((action.to_owned(), scope.to_owned()));
        }
    });
}

fn is_read(action: &str) -> bool {
    action
        .rsplit('/')
        .next()
        .is_some_and(|verb| verb.eq_ignore_ascii_case("read"))
}

/// The current request's activity, when it is a recorded request whose operation and caller
/// are known.
#[must_use]
pub fn current_request() -> Option<ActivityRequest> {
    CURRENT.try_with(|r| r.request()).ok().flatten()
}

/// Says what the current request's change does, in words (content trust enabled, a role
/// assigned), for its records.
pub(crate) fn describe(text: String) {
    with_state(|s| s.description = text);
}

/// Makes `operation_id` the id of the current request's operation (the long-running
/// operation it starts).
pub(crate) fn adopt_operation_id(operation_id: Uuid) {
    with_state(|s| s.operation_id = Some(operation_id));
}

/// The events a commit of the current request must carry: its start and its end (`Accepted`
/// when `accepted`), unless an earlier commit carried them.
pub(crate) fn events_for_commit(accepted: bool) -> Vec<ActivityEvent> {
    CURRENT
        .try_with(|r| {
            let Some(request) = r.request() else {
                return Vec::new();
            };
            let Ok(s) = r.state.lock() else {
                return Vec::new();
            };
            if s.committed.is_some() {
                return Vec::new();
            }
            let end = if accepted {
                ActivityStatus::Accepted
            } else {
                ActivityStatus::Succeeded
            };
            let (start, end) = r.start_and_end(&s, &request, end);
            vec![start, end]
        })
        .unwrap_or_default()
}

/// Notes that a commit carried the events [`events_for_commit`] gave.
pub(crate) fn committed(events: &[ActivityEvent]) {
    if let Some(last) = events.last() {
        let (status, id) = (last.status, last.operation_id);
        with_state(|s| {
            s.committed = Some(status);
            s.operation_id = Some(id);
        });
    }
}

impl Recording {
    /// The request's `Started` event and its end (`status`, now), with one operation id and
    /// the change's description.
    fn start_and_end(
        &self,
        s: &State,
        request: &ActivityRequest,
        status: ActivityStatus,
    ) -> (ActivityEvent, ActivityEvent) {
        let id = s.operation_id.unwrap_or_else(Uuid::new_v4);
        let mut start = ActivityEvent::of(request, id, ActivityStatus::Started, self.started_at);
        let mut end = ActivityEvent::of(request, id, status, OffsetDateTime::now_utc());
        start.description.clone_from(&s.description);
        end.description.clone_from(&s.description);
        (start, end)
    }

    fn request(&self) -> Option<ActivityRequest> {
        self.request_of(false)
    }

    /// The request's activity; with `by_path`, named by its method and path when no
    /// authorization named it.
    fn request_of(&self, by_path: bool) -> Option<ActivityRequest> {
        let s = self.state.lock().ok()?;
        let named = s.operation.clone();
        let (operation, resource_id) = if by_path {
            named.or_else(|| self.facts.by_path.clone())?
        } else {
            named?
        };
        Some(ActivityRequest {
            operation,
            resource_id,
            caller: s.caller.clone()?,
            correlation_id: self.facts.correlation_id.clone(),
            request_id: self.facts.request_id.clone(),
            client_request_id: self.facts.client_request_id.clone(),
            client_address: self.facts.client_address.clone(),
            trace_id: self.facts.trace_id.clone(),
            method: self.facts.method.clone(),
            started_at: self.started_at,
        })
    }

    /// What is left to append once the request answered `http_status` (with ARM's
    /// `error_code` when it failed): nothing when its commit carried it all; its end when it
    /// failed after a commit; its start and end when it committed nothing.
    #[must_use]
    pub fn finish(&self, http_status: u16, error_code: Option<String>) -> Vec<ActivityEvent> {
        let failed = http_status >= 400;
        // The common end: a write whose commit carried its records; nothing is built for it.
        if !failed && self.state.lock().is_ok_and(|s| s.committed.is_some()) {
            return Vec::new();
        }
        // A failure before any authorization is named by the request's path; a success that
        // authorized no write changed nothing and is not recorded.
        let Some(request) = self.request_of(failed) else {
            return Vec::new();
        };
        let Ok(s) = self.state.lock() else {
            return Vec::new();
        };
        let status = if failed {
            ActivityStatus::Failed
        } else {
            ActivityStatus::Succeeded
        };
        let (start, mut end) = self.start_and_end(&s, &request, status);
        end.http_status = Some(http_status);
        if failed {
            end.error_code = error_code;
            end.missing_action.clone_from(&s.refused);
        }
        if s.committed.is_some() {
            vec![end]
        } else {
            vec![start, end]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RequestFacts {
        RequestFacts {
            correlation_id: "corr".to_owned(),
            request_id: "req".to_owned(),
            client_request_id: None,
            client_address: Some("127.0.0.1".to_owned()),
            trace_id: None,
            method: "PUT".to_owned(),
            by_path: Some((
                "Microsoft.ContainerRegistry/registries/write".to_owned(),
                "/s/r".to_owned(),
            )),
        }
    }

    fn caller() -> ActivityCaller {
        ActivityCaller {
            object_id: None,
            name: "admin@berth.local".to_owned(),
            kind: "User".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_read_does_not_name_the_operation_but_the_write_after_it_does() {
        let ((), recording) = recorded(facts(), async {
            note_caller(caller());
            note_action("Microsoft.ContainerRegistry/registries/read", "/s", true);
            note_action("Microsoft.ContainerRegistry/registries/write", "/s/r", true);
            let events = events_for_commit(false);
            assert_eq!(events.len(), 2);
            assert_eq!(events[0].status, ActivityStatus::Started);
            assert_eq!(events[1].status, ActivityStatus::Succeeded);
            assert_eq!(
                events[1].request.operation,
                "Microsoft.ContainerRegistry/registries/write"
            );
            committed(&events);
            assert!(
                events_for_commit(false).is_empty(),
                "one commit carries them"
            );
        })
        .await;
        assert!(recording.finish(200, None).is_empty());
        let after_failure = recording.finish(500, Some("InternalServerError".to_owned()));
        assert_eq!(after_failure.len(), 1);
        assert_eq!(after_failure[0].status, ActivityStatus::Failed);
    }

    #[tokio::test]
    async fn a_refusal_is_recorded_with_the_missing_action() {
        let ((), recording) = recorded(facts(), async {
            note_caller(caller());
            note_action("Microsoft.Authorization/roleAssignments/write", "/s", false);
        })
        .await;
        let events = recording.finish(403, Some("AuthorizationFailed".to_owned()));
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].missing_action.as_deref(),
            Some("Microsoft.Authorization/roleAssignments/write")
        );
        assert_eq!(events[1].error_code.as_deref(), Some("AuthorizationFailed"));
        assert_eq!(events[0].operation_id, events[1].operation_id);
    }

    #[tokio::test]
    async fn a_failure_before_any_authorization_is_named_by_its_path() {
        let ((), recording) = recorded(facts(), async {
            note_caller(caller());
        })
        .await;
        let events = recording.finish(404, Some("ResourceNotFound".to_owned()));
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].request.operation,
            "Microsoft.ContainerRegistry/registries/write"
        );
        assert_eq!(events[1].request.resource_id, "/s/r");
        assert_eq!(events[1].error_code.as_deref(), Some("ResourceNotFound"));
        assert!(
            recording.finish(200, None).is_empty(),
            "a success that authorized no write changed nothing"
        );
        let ((), anonymous) = recorded(facts(), async {}).await;
        assert!(
            anonymous.finish(401, None).is_empty(),
            "no caller, no record"
        );
    }

    #[tokio::test]
    async fn nothing_is_recorded_outside_a_recording_or_without_an_operation() {
        note_caller(caller());
        assert!(events_for_commit(false).is_empty());
        let ((), recording) = recorded(facts(), async {
            note_caller(caller());
            note_action("Microsoft.ContainerRegistry/registries/read", "/s", true);
        })
        .await;
        assert!(recording.finish(200, None).is_empty());
    }
}
