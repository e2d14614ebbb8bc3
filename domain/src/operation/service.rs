//! Runs recorded operations: claim one, do a step of it, record the outcome, or retry with
//! backoff (recording why, so the status shows it).

use super::{
    Operation, OperationFailure, OperationId, OperationKind, OperationRepository, OperationStatus,
};
use crate::arm::RegistryId;
use crate::clock::Clock;
use crate::registry::{
    ContentTrust, Namespace, Registry, RegistryError, RegistryRepository, RegistryService,
    RepositoryStorage,
};
use crate::resource_group::ResourceGroupRepository;
use crate::store::{PageRequest, StoreError};
use crate::trust::{TrustWipe, WipeError, WipeStep};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::seconds(300);

/// Where an operation is after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It has ended.
    Done,
    /// It waits (not a failure) and goes on at this time.
    WaitUntil(OffsetDateTime),
}

/// Operation use cases: reading status, and the worker's steps.
#[derive(Clone)]
pub struct OperationService {
    operations: Arc<dyn OperationRepository>,
    registries: Arc<dyn RegistryRepository>,
    registry_service: RegistryService,
    groups: Arc<dyn ResourceGroupRepository>,
    wipe: TrustWipe,
    storage: Option<Arc<dyn RepositoryStorage>>,
    clock: Arc<dyn Clock>,
    lease: Duration,
}

impl OperationService {
    /// Builds the service. A claimed operation is leased for `lease`; its worker renews the
    /// lease while it works (see [`Self::renew`]), and another worker may take it once the
    /// lease has run out.
    #[must_use]
    pub fn new(
        operations: Arc<dyn OperationRepository>,
        registries: Arc<dyn RegistryRepository>,
        registry_service: RegistryService,
        groups: Arc<dyn ResourceGroupRepository>,
        wipe: TrustWipe,
        clock: Arc<dyn Clock>,
        lease: Duration,
    ) -> Self {
        Self {
            operations,
            registries,
            registry_service,
            groups,
            wipe,
            storage: None,
            clock,
            lease,
        }
    }

    /// The same service, removing a deleted registry's repositories from the data plane's
    /// `storage` before the registry itself (without it, as when Berth is only the token
    /// server of registries run elsewhere, the repositories are not Berth's to remove).
    #[must_use]
    pub fn with_repository_storage(mut self, storage: Arc<dyn RepositoryStorage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The lease of a claimed operation.
    #[must_use]
    pub fn lease(&self) -> Duration {
        self.lease
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

    /// Claims the next due operation for `worker`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn claim_next(&self, worker: &str) -> Result<Option<Operation>, StoreError> {
        self.operations
            .claim_next(worker, self.clock.now(), self.lease)
            .await
    }

    /// Extends `worker`'s lease of `op`; `false` when it has lost it.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn renew(&self, op: &Operation, worker: &str) -> Result<bool, StoreError> {
        self.operations
            .renew(op.id, worker, self.clock.now() + self.lease)
            .await
    }

    /// Claims and runs one due operation as `worker`. Returns whether one was run, so the
    /// caller can loop until there is nothing left.
    ///
    /// # Errors
    /// [`StoreError`] when the claim or the outcome could not be recorded; the lease then
    /// expires and another attempt follows.
    pub async fn run_next(&self, worker: &str) -> Result<bool, StoreError> {
        let Some(op) = self.claim_next(worker).await? else {
            return Ok(false);
        };
        self.run(&op, worker).await?;
        Ok(true)
    }

    /// Runs a step of an operation `worker` has claimed and records where it is: ended, or
    /// due again later (after a wait it asked for, or after a failure, with backoff and the
    /// failure shown in its status; attempts are unbounded, since every step is idempotent
    /// and a store that comes back lets the operation end). Returns the step's failure, for
    /// the worker's log.
    ///
    /// # Errors
    /// [`StoreError`] when the outcome could not be recorded.
    pub async fn run(
        &self,
        op: &Operation,
        worker: &str,
    ) -> Result<Option<OperationFailure>, StoreError> {
        match self.execute(op).await {
            Ok(Step::Done) => {
                self.operations
                    .finish(
                        op.id,
                        worker,
                        OperationStatus::Succeeded,
                        None,
                        self.clock.now(),
                    )
                    .await?;
                Ok(None)
            }
            Ok(Step::WaitUntil(at)) => {
                // A wait clears the last failure off the status: this step went well.
                self.operations.retry_later(op.id, worker, at, None).await?;
                Ok(None)
            }
            Err(failure) => {
                let retry_at = self.clock.now() + backoff(op.attempts);
                self.operations
                    .retry_later(op.id, worker, retry_at, Some(failure.clone()))
                    .await?;
                Ok(Some(failure))
            }
        }
    }

    async fn execute(&self, op: &Operation) -> Result<Step, OperationFailure> {
        match &op.kind {
            OperationKind::DeleteRegistry(id) => match self.registries.get(id).await? {
                None => Ok(Step::Done),
                Some(registry) => self.wipe_then_delete(&registry).await,
            },
            OperationKind::DeleteResourceGroup(group) => {
                let mut waiting: Option<OffsetDateTime> = None;
                let mut after = None;
                loop {
                    let page = PageRequest {
                        top: PageRequest::MAX_TOP,
                        after: after.take(),
                    };
                    let registries = self.registries.list_by_resource_group(group, &page).await?;
                    for registry in &registries.items {
                        if let Step::WaitUntil(at) = self.wipe_then_delete(registry).await? {
                            waiting = Some(waiting.map_or(at, |w| w.max(at)));
                        }
                    }
                    match registries.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
                if let Some(at) = waiting {
                    return Ok(Step::WaitUntil(at));
                }
                self.groups.delete(group).await?;
                Ok(Step::Done)
            }
            OperationKind::DisableContentTrust(id) => {
                let Some(registry) = self.registries.get(id).await? else {
                    // Deleted meanwhile: its deletion wiped the trust data.
                    return Ok(Step::Done);
                };
                if registry.content_trust.wipe() != Some(op.id) {
                    return Ok(Step::Done);
                }
                match self.wipe(&registry.id, &registry.login_server).await? {
                    Step::Done => {
                        self.registry_service
                            .finish_trust_wipe(id, op.id)
                            .await
                            .map_err(registry_failure)?;
                        Ok(Step::Done)
                    }
                    waiting => Ok(waiting),
                }
            }
        }
    }

    /// Deletes a registry after wiping its trust data, when it may have any (content trust
    /// is not off, or the catalog knows a collection of it), and removing its repositories
    /// from the data plane. Each part is idempotent: a retry after a crash or an outage
    /// redoes what is left, and the registry is gone only once all of it is.
    async fn wipe_then_delete(&self, registry: &Registry) -> Result<Step, OperationFailure> {
        let may_have_trust_data = registry.content_trust != ContentTrust::Disabled
            || self.wipe.has_catalogued(&registry.id).await?;
        if may_have_trust_data
            && let waiting @ Step::WaitUntil(_) =
                self.wipe(&registry.id, &registry.login_server).await?
        {
            return Ok(waiting);
        }
        if let Some(storage) = &self.storage {
            storage
                .purge(&Namespace::of(&registry.id.name))
                .await
                .map_err(|e| {
                    OperationFailure::new(
                        "DataPlaneUnavailable",
                        format!(
                            "Deleting the registry's repositories failed ({}); the operation is retried.",
                            e.0
                        ),
                    )
                })?;
        }
        self.registries.delete(&registry.id).await?;
        Ok(Step::Done)
    }

    async fn wipe(&self, id: &RegistryId, login_server: &str) -> Result<Step, OperationFailure> {
        match self.wipe.pass(id, login_server).await {
            Ok(WipeStep::Done) => Ok(Step::Done),
            Ok(WipeStep::SweepAt(at)) => Ok(Step::WaitUntil(at)),
            Err(WipeError::NoTrustStore) => Err(OperationFailure::new(
                "TrustServerNotConfigured",
                "The registry's trust data cannot be deleted: no trust server (Notary) is configured. Configure the one that holds it; the operation is retried.",
            )),
            Err(WipeError::TrustStore(e)) => Err(OperationFailure::new(
                "TrustServerUnavailable",
                format!(
                    "Deleting the registry's trust data failed ({}); the operation is retried.",
                    e.0
                ),
            )),
            Err(WipeError::Store(e)) => Err(e.into()),
        }
    }
}

impl From<StoreError> for OperationFailure {
    fn from(_: StoreError) -> Self {
        // The store's own message stays in the logs: it may name internals.
        Self::new(
            "StoreUnavailable",
            "Berth's database failed during the operation; the operation is retried.",
        )
    }
}

fn registry_failure(e: RegistryError) -> OperationFailure {
    match e {
        RegistryError::Store(s) => s.into(),
        other => OperationFailure::new("OperationStepFailed", other.to_string()),
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
