//! ARM concepts shared by every resource type: names, resource ids, tags, ETags, system data.

mod etag;
mod names;
mod resource_id;
mod tags;

pub use etag::{ETag, Precondition};
pub use names::{Location, NameError, ResourceGroupName, SubscriptionId};
pub use resource_id::{RegistryId, ResourceGroupId};
pub use tags::{Tags, TagsError};

use std::future::Future;
use time::OffsetDateTime;

/// How often a write is tried when concurrent writes keep winning.
const WRITE_ATTEMPTS: u32 = 8;

/// Runs `write` again while it loses a race to a concurrent write (`lost`), provided the
/// caller set no precondition: without `If-Match` a caller asks for last-writer-wins, not
/// for a 409 caused by our optimistic concurrency.
pub(crate) async fn retry_lost_races<T, E, F: Future<Output = Result<T, E>>>(
    precondition: &Precondition,
    lost: impl Fn(&E) -> bool,
    mut write: impl FnMut() -> F,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        match write().await {
            Err(e) if lost(&e) && precondition.is_unconditional() && attempt < WRITE_ATTEMPTS => {
                attempt += 1
            }
            other => return other,
        }
    }
}

/// ARM's `systemData`: who created and last modified a resource, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemData {
    /// Who created the resource.
    pub created_by: String,
    /// The kind of principal that created it (`User`, `Application`...).
    pub created_by_type: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Who last changed it.
    pub last_modified_by: String,
    /// The kind of principal that last changed it.
    pub last_modified_by_type: String,
    /// When it was last changed.
    pub last_modified_at: OffsetDateTime,
}

/// The caller of an operation, as recorded in `systemData`.
///
/// Until authentication exists this is an anonymous placeholder; the Identity issue fills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Display name or object id of the caller.
    pub name: String,
    /// `User`, `Application`, `ManagedIdentity` or `Key`.
    pub kind: String,
}

impl Actor {
    /// The caller used before authentication exists.
    #[must_use]
    pub fn anonymous() -> Self {
        Self {
            name: "anonymous".to_owned(),
            kind: "Application".to_owned(),
        }
    }
}

/// ARM's `provisioningState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisioningState {
    /// Being created.
    Creating,
    /// Being updated.
    Updating,
    /// Being deleted; no change is accepted any more.
    Deleting,
    /// Done.
    Succeeded,
    /// The last operation failed.
    Failed,
    /// The last operation was canceled.
    Canceled,
}

impl ProvisioningState {
    /// The ARM spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "Creating",
            Self::Updating => "Updating",
            Self::Deleting => "Deleting",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
        }
    }

    /// Parses the ARM spelling (case-insensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Creating,
            Self::Updating,
            Self::Deleting,
            Self::Succeeded,
            Self::Failed,
            Self::Canceled,
        ]
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}
