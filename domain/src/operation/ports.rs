//! Ports of the operations context.

use super::{Operation, OperationFailure, OperationId, OperationStatus};
use crate::store::StoreError;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

/// Durable store of operations. Operations are *inserted* by the repositories whose state
/// change starts them, in the same transaction.
#[async_trait]
pub trait OperationRepository: Send + Sync {
    /// Reads one operation.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get(&self, id: OperationId) -> Result<Option<Operation>, StoreError>;

    /// The in-progress operation acting on the resource whose case-insensitive id is `target`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find_in_progress(&self, target: &str) -> Result<Option<Operation>, StoreError>;

    /// Claims the oldest in-progress operation that is due and not leased by a live worker,
    /// leasing it to `owner` until `now + lease`. At most one worker holds a lease.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn claim_next(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Option<Operation>, StoreError>;

    /// Ends an operation held by `owner` with a terminal status.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn finish(
        &self,
        id: OperationId,
        owner: &str,
        status: OperationStatus,
        error: Option<OperationFailure>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Gives the operation back for another attempt no sooner than `retry_at`, recording
    /// why the attempt failed (`None`: it did not fail, it waits).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn retry_later(
        &self,
        id: OperationId,
        owner: &str,
        retry_at: OffsetDateTime,
        last_error: Option<OperationFailure>,
    ) -> Result<(), StoreError>;

    /// Extends `owner`'s lease of a running operation to `until`; `false` when `owner` no
    /// longer holds it (it expired and another worker took it).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn renew(
        &self,
        id: OperationId,
        owner: &str,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// Wakes the background worker when new work was recorded (so it need not wait for its tick).
pub trait OperationSignal: Send + Sync {
    /// Signals that an operation is waiting.
    fn notify(&self);
}
