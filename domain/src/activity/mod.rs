//! The activity log: what was done to the control plane, by whom, from where, and how it
//! ended, as ARM's Activity Log tells it (`az monitor activity-log list`).
//!
//! A write and its records are one: the persistence adapters append a request's records in
//! the transaction of its change, so no change exists without its record and no record
//! without its change. A request that changes nothing (refused, invalid, failed) is
//! recorded after it ends. Records are chained in order of commit, each sealing the one
//! before it, so that deleting or editing one is found by [`ActivityLog::verify`].
//!
//! Reading is by subscription and time range (at most [`MAX_RANGE_DAYS`] days), narrowed by
//! the fields ARM filters on; a caller sees the events of the scopes it may read the log at,
//! and no others.

mod query;

pub use query::{ActivityQuery, QueryError, Reach, TimeRange};

use crate::store::{Page, PageRequest, StoreError};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

/// The action that reads the activity log (Reader has it, through `*/read`).
pub const READ_ACTION: &str = "Microsoft.Insights/eventtypes/values/read";

/// The longest time range one query may span.
pub const MAX_RANGE_DAYS: i64 = 90;

/// The operation of a prune of the activity log (by its retention, or `berthd audit prune`).
pub const PRUNE_ACTION: &str = "Berth/activityLog/prune/action";

/// The scope a prune's record names.
pub const ACTIVITY_LOG_SCOPE: &str = "/providers/Berth/activityLog";

/// Where an event is in an operation's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ActivityStatus {
    /// The request arrived (ARM's `BeginRequest`).
    Started,
    /// A long-running operation was accepted; its end comes later.
    Accepted,
    /// It ended well.
    Succeeded,
    /// It ended badly: refused, invalid, or failed.
    Failed,
}

impl ActivityStatus {
    /// The name ARM gives it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "Started",
            Self::Accepted => "Accepted",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }

    /// Parses ARM's name, in any case.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Started, Self::Accepted, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActivityCaller {
    /// The caller's object id, when it has one (Berth itself does not).
    pub object_id: Option<Uuid>,
    /// The name ARM shows as `caller`: a user's principal name, an application's appId.
    pub name: String,
    /// `User`, `Application`, or `Berth` for the service's own work.
    pub kind: String,
}

impl ActivityCaller {
    /// Berth itself, for work no person asked for at that moment (a wipe's steps).
    #[must_use]
    pub fn berth() -> Self {
        Self {
            object_id: None,
            name: "berth".to_owned(),
            kind: "Berth".to_owned(),
        }
    }
}

/// What is known of a request before it is done: kept for the records of its operation,
/// including those a long-running operation writes later.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActivityRequest {
    /// The operation ARM names (`Microsoft.ContainerRegistry/registries/write`), which is the
    /// action authorized.
    pub operation: String,
    /// The scope acted on (a resource id).
    pub resource_id: String,
    /// Who.
    pub caller: ActivityCaller,
    /// `x-ms-correlation-request-id` (the client's, or one made for the request).
    pub correlation_id: String,
    /// The request's own id (`x-ms-request-id`).
    pub request_id: String,
    /// `x-ms-client-request-id`, when the client sent one.
    pub client_request_id: Option<String>,
    /// The peer's address (or the one a trusted proxy named).
    pub client_address: Option<String>,
    /// The W3C trace the request belongs to (the trace id of its `traceparent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// When the request arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
}

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActivityEvent {
    /// The event's own id (`eventDataId`).
    pub id: Uuid,
    /// The operation's id: the same for every event of one operation.
    pub operation_id: Uuid,
    /// The request the operation came from.
    pub request: ActivityRequest,
    /// Where in its life the operation is.
    pub status: ActivityStatus,
    /// The HTTP status answered, when the event is the request's end.
    pub http_status: Option<u16>,
    /// ARM's error code of a failure (`AuthorizationFailed`, `Conflict`...).
    pub error_code: Option<String>,
    /// For a refusal: the action the caller lacked.
    pub missing_action: Option<String>,
    /// What happened, in words, when the operation name does not say it all (a wipe's steps).
    pub description: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl ActivityEvent {
    /// An event of `request`'s operation.
    #[must_use]
    pub fn of(
        request: &ActivityRequest,
        operation_id: Uuid,
        status: ActivityStatus,
        at: OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            operation_id,
            request: request.clone(),
            status,
            http_status: None,
            error_code: None,
            missing_action: None,
            description: String::new(),
            at,
        }
    }

    /// The subscription the event belongs to (lowercase GUID), from its resource id; `None`
    /// for tenant-level events (the directory, the issuer's keys).
    #[must_use]
    pub fn subscription(&self) -> Option<String> {
        segment_after(&self.request.resource_id, "subscriptions")
    }

    /// The resource group, when the resource is in one (as written).
    #[must_use]
    pub fn resource_group(&self) -> Option<String> {
        segment_after(&self.request.resource_id, "resourcegroups")
    }

    /// The resource provider's namespace (`Microsoft.ContainerRegistry`): the last
    /// `providers/{namespace}` of the resource id, or the operation's first segment.
    #[must_use]
    pub fn resource_provider(&self) -> String {
        let id = &self.request.resource_id;
        let segments: Vec<&str> = id.split('/').collect();
        segments
            .iter()
            .rposition(|s| s.eq_ignore_ascii_case("providers"))
            .and_then(|i| segments.get(i + 1))
            .map_or_else(
                || {
                    self.request
                        .operation
                        .split('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                },
                |s| (*s).to_owned(),
            )
    }

    /// The resource type (`Microsoft.ContainerRegistry/registries`): the operation's name
    /// without its verb.
    #[must_use]
    pub fn resource_type(&self) -> String {
        let op = &self.request.operation;
        let mut parts: Vec<&str> = op.split('/').collect();
        if parts.len() > 2 {
            parts.pop();
            if parts.len() > 2 && op.ends_with("/action") {
                parts.pop();
            }
        }
        parts.join("/")
    }
}

fn segment_after(id: &str, name: &str) -> Option<String> {
    let mut segments = id.split('/');
    segments.by_ref().find(|s| s.eq_ignore_ascii_case(name))?;
    segments.next().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// What [`ActivityLog::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    /// Every record is where it was written, as it was written.
    Intact {
        /// How many records were checked.
        records: u64,
    },
    /// The first record that is not as written, or missing.
    Broken {
        /// Its position in the chain.
        seq: i64,
        /// Its event id, when the row is there.
        event: Option<Uuid>,
        /// What is wrong with it.
        reason: String,
    },
}

/// The activity log's store.
#[async_trait]
pub trait ActivityLog: Send + Sync {
    /// Appends `events`, chained, in a transaction of their own (for requests that changed
    /// nothing, and the later steps of long-running operations).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; nothing is appended then.
    async fn append(&self, events: &[ActivityEvent]) -> Result<(), StoreError>;

    /// A page of the events `query` selects, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(
        &self,
        query: &ActivityQuery,
        page: &PageRequest,
    ) -> Result<Page<ActivityEvent>, StoreError>;

    /// Deletes the records older than `before` (every record written before the first one at
    /// or after it: in each chain, a run from its start), moves each chain's start past them
    /// and records that it did, in one transaction. Returns how many were deleted (none:
    /// nothing is written).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn prune(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Checks the whole chain, from its first record (or the last one pruned) to its head.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn verify(&self) -> Result<ChainReport, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(resource_id: &str, operation: &str) -> ActivityEvent {
        let request = ActivityRequest {
            operation: operation.to_owned(),
            resource_id: resource_id.to_owned(),
            caller: ActivityCaller::berth(),
            correlation_id: "c".to_owned(),
            request_id: "r".to_owned(),
            client_request_id: None,
            client_address: None,
            trace_id: None,
            method: "PUT".to_owned(),
            started_at: OffsetDateTime::UNIX_EPOCH,
        };
        ActivityEvent::of(
            &request,
            Uuid::nil(),
            ActivityStatus::Started,
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn an_event_names_its_subscription_group_provider_and_type() {
        let e = event(
            "/subscriptions/AB/resourceGroups/Rg1/providers/Microsoft.ContainerRegistry/registries/r1",
            "Microsoft.ContainerRegistry/registries/write",
        );
        assert_eq!(e.subscription().as_deref(), Some("AB"));
        assert_eq!(e.resource_group().as_deref(), Some("Rg1"));
        assert_eq!(e.resource_provider(), "Microsoft.ContainerRegistry");
        assert_eq!(e.resource_type(), "Microsoft.ContainerRegistry/registries");
    }

    #[test]
    fn an_action_and_a_group_have_their_types_too() {
        let e = event(
            "/subscriptions/ab/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r1",
            "Microsoft.ContainerRegistry/registries/regenerateCredential/action",
        );
        assert_eq!(e.resource_type(), "Microsoft.ContainerRegistry/registries");
        let g = event(
            "/subscriptions/ab/resourcegroups/rg",
            "Microsoft.Resources/subscriptions/resourcegroups/write",
        );
        assert_eq!(g.resource_provider(), "Microsoft.Resources");
        assert_eq!(
            g.resource_type(),
            "Microsoft.Resources/subscriptions/resourcegroups"
        );
        let tenant = event("/", "microsoft.directory/users/create");
        assert_eq!(tenant.subscription(), None);
        assert_eq!(tenant.resource_provider(), "microsoft.directory");
    }

    #[test]
    fn statuses_read_back_in_any_case() {
        for s in [
            ActivityStatus::Started,
            ActivityStatus::Accepted,
            ActivityStatus::Succeeded,
            ActivityStatus::Failed,
        ] {
            assert_eq!(ActivityStatus::parse(&s.as_str().to_lowercase()), Some(s));
        }
        assert_eq!(ActivityStatus::parse("done"), None);
    }
}
