//! Long-running operations: recorded durably with the state change that starts them,
//! claimed by exactly one worker (lease in the database), retried with backoff, and
//! visible through ARM's operation-status resources.

mod ports;
mod service;

pub use ports::{OperationRepository, OperationSignal};
pub use service::{OperationService, Step};

use crate::arm::{RegistryId, ResourceGroupId, SubscriptionId};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// An operation's id (a GUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct OperationId(Uuid);

impl OperationId {
    /// A new id.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// The GUID.
    #[must_use]
    pub fn as_uuid(self) -> Uuid {
        self.0
    }

    /// Parses an id from a URL.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Uuid::parse_str(s).ok().map(Self)
    }
}

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationKind {
    /// Delete a registry, after wiping its trust data.
    DeleteRegistry(RegistryId),
    /// Delete a resource group and every registry in it (each wiped first).
    DeleteResourceGroup(ResourceGroupId),
    /// Disable content trust: wipe every trusted collection of the registry, then show the
    /// policy as disabled.
    DisableContentTrust(RegistryId),
}

impl OperationKind {
    /// The subscription the operation belongs to.
    #[must_use]
    pub fn subscription(&self) -> SubscriptionId {
        match self {
            Self::DeleteRegistry(id) | Self::DisableContentTrust(id) => {
                id.resource_group.subscription
            }
            Self::DeleteResourceGroup(id) => id.subscription,
        }
    }

    /// The lowercase id of what the operation acts on: at most one operation of a kind runs
    /// per target. Disabling content trust acts on the registry's trust policy, so that it
    /// and the registry's deletion are told apart.
    #[must_use]
    pub fn target_key(&self) -> String {
        match self {
            Self::DeleteRegistry(id) => id.key(),
            Self::DeleteResourceGroup(id) => id.key(),
            Self::DisableContentTrust(id) => trust_policy_key(id),
        }
    }

    /// Whether the operation acts on (or, through its resource group, deletes) `registry`.
    #[must_use]
    pub fn concerns(&self, registry: &RegistryId) -> bool {
        match self {
            Self::DeleteRegistry(id) | Self::DisableContentTrust(id) => id.key() == registry.key(),
            Self::DeleteResourceGroup(group) => group.key() == registry.resource_group.key(),
        }
    }
}

/// The target key of a registry's trust policy.
#[must_use]
pub fn trust_policy_key(registry: &RegistryId) -> String {
    format!("{}/policies/trustpolicy", registry.key())
}

/// ARM's operation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    /// Still running (or waiting for a retry).
    InProgress,
    /// Done.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Stopped before it finished.
    Canceled,
}

impl OperationStatus {
    /// The ARM spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
        }
    }

    /// Parses the stored spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::InProgress,
            Self::Succeeded,
            Self::Failed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Whether the operation has ended.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        self != Self::InProgress
    }
}

/// Why an operation failed (or, while it is retried, why its last attempt failed), as ARM
/// shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationFailure {
    /// ARM error code.
    pub code: String,
    /// Message for the caller.
    pub message: String,
}

impl OperationFailure {
    /// A failure with `code` and `message`.
    #[must_use]
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// A long-running operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Its id.
    pub id: OperationId,
    /// What it does.
    pub kind: OperationKind,
    /// Where it is.
    pub status: OperationStatus,
    /// Why it failed, when it did; while in progress, why the last attempt failed.
    pub error: Option<OperationFailure>,
    /// When it was started.
    pub started_at: OffsetDateTime,
    /// When it ended.
    pub ended_at: Option<OffsetDateTime>,
    /// How many times a worker tried it.
    pub attempts: u32,
}

impl Operation {
    /// A new operation, in progress from `now`.
    #[must_use]
    pub fn start(kind: OperationKind, now: OffsetDateTime) -> Self {
        Self {
            id: OperationId::generate(),
            kind,
            status: OperationStatus::InProgress,
            error: None,
            started_at: now,
            ended_at: None,
            attempts: 0,
        }
    }
}
