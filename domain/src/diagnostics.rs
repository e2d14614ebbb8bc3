//! Sign-in and registry events, in ACR's diagnostic categories and field names
//! (`ContainerRegistryLoginEvents`, `ContainerRegistryRepositoryEvents`): every token the
//! token server issues or refuses, and every trust-data write and delete. They go to a sink
//! (JSON lines in files kept for a retention period, or standard output for a collector)
//! without slowing the request that made them. An event names who and from where, never a
//! secret: no password, token or key is ever a field of one.

use time::OffsetDateTime;

/// ACR's category of sign-in events.
pub const LOGIN_EVENTS: &str = "ContainerRegistryLoginEvents";
/// ACR's category of repository events.
pub const REPOSITORY_EVENTS: &str = "ContainerRegistryRepositoryEvents";
/// The category of sign-ins at Berth's built-in issuer (management and directory tokens),
/// named as Entra ID names its sign-in logs; the columns are the ones above.
pub const SIGN_IN_EVENTS: &str = "SignInLogs";

/// One event, with the columns ACR's tables have.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiagnosticEvent {
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub time_generated: OffsetDateTime,
    /// [`LOGIN_EVENTS`], [`REPOSITORY_EVENTS`] or [`SIGN_IN_EVENTS`].
    pub category: &'static str,
    /// `Login`, `SignIn`, `Push`, `Pull`, `TrustDataPush`, `TrustDataDelete`...
    pub operation_name: String,
    /// The HTTP status answered (`200`, `401`...).
    pub result_type: String,
    /// What happened, in words (why a token was refused).
    pub result_description: String,
    /// Who: a user's name, an application's appId, a token's name; empty when anonymous.
    pub identity: String,
    /// The login server (or trust service) asked for; the issuer's URL for a sign-in there.
    pub login_server: String,
    /// The client's address.
    pub caller_ip_address: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// How long the request took.
    pub duration_ms: u64,
    /// The request's id (`x-ms-request-id`), to find its log lines.
    pub correlation_id: String,
    /// How a sign-in was made: `password`, `refresh_token`, `access_token`, `basic`,
    /// `anonymous`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// The repository, for repository events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The tag, when a manifest was addressed by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The manifest's digest, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Where events go. Recording never fails and never waits on the sink's I/O.
pub trait DiagnosticSink: Send + Sync {
    /// Queues `event` for the sink.
    fn record(&self, event: DiagnosticEvent);
}

/// A sink that keeps nothing (`BERTH_AUDIT_SINK=off`).
#[derive(Debug, Default)]
pub struct NoSink;

impl DiagnosticSink for NoSink {
    fn record(&self, _event: DiagnosticEvent) {}
}
