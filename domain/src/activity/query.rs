//! What a reader may ask of the activity log, checked once: a bounded time range, at most one
//! of ARM's narrowing fields, and the scopes the reader may see.

use super::{ActivityStatus, MAX_RANGE_DAYS};
use time::{Duration, OffsetDateTime};

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The range ends before it starts.
    #[error("The start time {from} is after the end time {to}.")]
    Inverted {
        /// Start, as given.
        from: String,
        /// End, as given.
        to: String,
    },
    /// The range spans more than [`MAX_RANGE_DAYS`] days.
    #[error("The time range spans {days} days; it may span at most {max} days.")]
    TooLong {
        /// Whole days spanned.
        days: i64,
        /// The limit.
        max: i64,
    },
}

/// A time range of at most [`MAX_RANGE_DAYS`] days, start first (both included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    from: OffsetDateTime,
    to: OffsetDateTime,
}

impl TimeRange {
    /// A range from `from` to `to`.
    ///
    /// # Errors
    /// `Inverted` when `to` is before `from`; `TooLong` over [`MAX_RANGE_DAYS`] days.
    pub fn new(from: OffsetDateTime, to: OffsetDateTime) -> Result<Self, QueryError> {
        if to < from {
            return Err(QueryError::Inverted {
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(QueryError::TooLong {
                days: (to - from).whole_days(),
                max: MAX_RANGE_DAYS,
            });
        }
        Ok(Self { from, to })
    }

    /// The start.
    #[must_use]
    pub fn from(&self) -> OffsetDateTime {
        self.from
    }

    /// The end.
    #[must_use]
    pub fn to(&self) -> OffsetDateTime {
        self.to
    }
}

/// Where beneath the subscription a reader may see events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Everywhere in it.
    All,
    /// At and beneath these scopes only (lowercase keys); empty means nowhere.
    Within(Vec<String>),
}

/// One read of the log: a subscription's events in a time range, narrowed by ARM's fields
/// (each compared case-insensitively) and by what the reader may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityQuery {
    /// The subscription (a GUID), or `None` for the tenant's own events (the directory, the
    /// signing keys).
    pub subscription: Option<String>,
    /// When.
    pub range: TimeRange,
    /// Only this resource group's events.
    pub resource_group: Option<String>,
    /// Only this resource's events (its id, exactly, in any case).
    pub resource_id: Option<String>,
    /// Only this provider's events (`Microsoft.ContainerRegistry`).
    pub resource_provider: Option<String>,
    /// Only this correlation id's events.
    pub correlation_id: Option<String>,
    /// Only this caller's events (as shown: principal name or appId).
    pub caller: Option<String>,
    /// Only events with this status.
    pub status: Option<ActivityStatus>,
    /// What the reader may see.
    pub reach: Reach,
}
