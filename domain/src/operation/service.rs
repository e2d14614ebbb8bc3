//! Runs recorded operations: claim one, do it, record the outcome, or retry with backoff.

use super::{Operation, OperationId, OperationKind, OperationRepository, OperationStatus};
use crate::clock::Clock;
use crate::registry::RegistryRepository;
use crate::resource_group::ResourceGroupRepository;
use crate::store::{PageRequest, StoreError};
use std::sync::Arc;
use time::Duration;

/// How long a claimed operation stays leased to its worker before another may take it.
const LEASE: Duration = Duration::seconds(60);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::seconds(300);

/// Operation use cases: reading status, and the worker's step.
#[derive(Clone)]
pub struct OperationService {
    operations: Arc<dyn OperationRepository>,
    registries: Arc<dyn RegistryRepository>,
    groups: Arc<dyn ResourceGroupRepository>,
    clock: Arc<dyn Clock>,
}

impl OperationService {
    /// Builds the service.
    #[must_use]
    pub fn new(
        operations: Arc<dyn OperationRepository>,
        registries: Arc<dyn RegistryRepository>,
        groups: Arc<dyn ResourceGroupRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            operations,
            registries,
            groups,
            clock,
        }
    }

    /// Reads an operation by its id text; a malformed id is simply not found.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn get(&self, id: &str) -> Result<Option<Operation>, StoreError> {
        match OperationId::parse(id) {
            Some(id) => self.operations.get(id).await,
            None => Ok(None),
        }
    }

    /// Claims and runs one due operation as `worker`. Returns whether one was run, so the
    /// caller can loop until there is nothing left.
    ///
    /// # Errors
    /// [`StoreError`] when the claim or the outcome could not be recorded; the lease then
    /// expires and another attempt follows.
    pub async fn run_next(&self, worker: &str) -> Result<bool, StoreError> {
        let Some(op) = self
            .operations
            .claim_next(worker, self.clock.now(), LEASE)
            .await?
        else {
            return Ok(false);
        };
        match self.execute(&op.kind).await {
            Ok(()) => {
                self.operations
                    .finish(
                        op.id,
                        worker,
                        OperationStatus::Succeeded,
                        None,
                        self.clock.now(),
                    )
                    .await?;
            }
            Err(e) => {
                // Attempts are unbounded: the work is idempotent, and a store that comes
                // back lets the operation end.
                let retry_at = self.clock.now() + backoff(op.attempts);
                self.operations.retry_later(op.id, worker, retry_at).await?;
                return Err(e);
            }
        }
        Ok(true)
    }

    async fn execute(&self, kind: &OperationKind) -> Result<(), StoreError> {
        match kind {
            OperationKind::DeleteRegistry(id) => self.registries.delete(id).await,
            OperationKind::DeleteResourceGroup(group) => {
                loop {
                    let page = PageRequest {
                        top: PageRequest::MAX_TOP,
                        after: None,
                    };
                    let registries = self.registries.list_by_resource_group(group, &page).await?;
                    if registries.items.is_empty() {
                        break;
                    }
                    for registry in registries.items {
                        self.registries.delete(&registry.id).await?;
                    }
                }
                self.groups.delete(group).await
            }
        }
    }
}

/// Exponential backoff: 1 s, 2 s, 4 s ... capped at five minutes.
fn backoff(attempts: u32) -> Duration {
    let secs = 1_i64 << attempts.min(9);
    Duration::seconds(secs).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::seconds(1));
        assert_eq!(backoff(3), Duration::seconds(8));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
