//! The background work of a replica: the operation worker (deletions, content-trust wipes),
//! woken by a signal and by a tick, running each claimed operation under a renewed lease;
//! and the refresher that keeps in-memory snapshots in step with other replicas' writes.

use berth_domain::authorization::RbacService;
use berth_domain::directory::{DirectoryAdmin, DirectoryService};
use berth_domain::operation::{OperationService, OperationSignal};
use berth_infra::jwt::JwtSigner;
use berth_infra::registry_token::TokenServerKeys;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Wakes the operation worker.
pub(crate) struct NotifySignal(pub(crate) Arc<Notify>);

impl OperationSignal for NotifySignal {
    fn notify(&self) {
        self.0.notify_one();
    }
}

/// Stops the operation worker when the application goes away (a dropped `JoinHandle` would
/// leave it running).
pub(crate) struct WorkerGuard(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs recorded operations: drains what is due, then waits for a signal or a tick (the
/// tick picks up retries, and work recorded by other replicas).
pub(crate) async fn run_worker(operations: OperationService, notify: Arc<Notify>, worker: String) {
    loop {
        loop {
            match operations.claim_next(&worker).await {
                Ok(Some(op)) => run_leased(&operations, &op, &worker).await,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error.cause = %e, "cannot claim an operation; retrying");
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), notify.notified()).await;
    }
}

/// Runs a step of a claimed operation while renewing its lease; stops the step if the lease
/// is lost (another worker has taken the operation over).
async fn run_leased(
    operations: &OperationService,
    op: &berth_domain::operation::Operation,
    worker: &str,
) {
    let every = Duration::from_millis(
        u64::try_from(operations.lease().whole_milliseconds() / 3).unwrap_or(1000),
    );
    let renew = async {
        loop {
            tokio::time::sleep(every).await;
            match operations.renew(op, worker).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error.cause = %e, operation.id = %op.id, "cannot renew the lease")
                }
            }
        }
    };
    tokio::select! {
        outcome = operations.run(op, worker) => match outcome {
            Ok(None) => {}
            Ok(Some(failure)) => tracing::warn!(
                operation.id = %op.id,
                error.code = %failure.code,
                error.message = %failure.message,
                "operation step failed; it will be retried"
            ),
            Err(e) => tracing::warn!(operation.id = %op.id, error.cause = %e, "cannot record an operation's outcome; it will be retried"),
        },
        () = renew => tracing::warn!(operation.id = %op.id, "lost the lease of an operation; another worker runs it"),
    }
}

/// Keeps the authorization index and the principal cache in step with writes made through
/// other replicas (within a second), and the signing keys with a rotation (within a minute).
pub(crate) async fn refresh_snapshots(
    rbac: RbacService,
    directory: DirectoryService,
    directory_admin: DirectoryAdmin,
    signer: Arc<JwtSigner>,
    token_keys: Arc<TokenServerKeys>,
) {
    for tick in 1u64.. {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if tick % 120 == 0 {
            if let Err(e) = signer.reload().await {
                tracing::warn!(error.cause = %e, "cannot reload the signing keys");
            }
            if let Err(e) = token_keys.reload().await {
                tracing::warn!(error.cause = %e, "cannot reload the registry token keys");
            }
        }
        match rbac.refresh().await {
            Ok(true) => report_unreadable_conditions(&rbac),
            Ok(false) => {}
            Err(e) => tracing::warn!(error.cause = %e, "cannot refresh the authorization index"),
        }
        if let Err(e) = directory.refresh().await {
            tracing::warn!(error.cause = %e, "cannot refresh the principal cache");
        }
        if let Err(e) = directory_admin.refresh().await {
            tracing::warn!(error.cause = %e, "cannot refresh the directory role assignments");
        }
    }
}

/// Logs every stored role assignment whose condition the index refused: it grants no data
/// action until an administrator deletes or rewrites it.
pub(crate) fn report_unreadable_conditions(rbac: &RbacService) {
    for (name, why) in rbac.unreadable_conditions() {
        tracing::warn!(
            role_assignment = %name,
            error.cause = %why,
            "a stored role assignment has a condition that cannot be read: it grants no data action until it is rewritten"
        );
    }
}

/// Prunes the activity log's records older than `days`, now and every hour. Replicas may
/// all do it: every chain's head is locked while one does, and the next finds nothing to
/// prune.
pub(crate) async fn prune_activity(log: Arc<dyn berth_domain::activity::ActivityLog>, days: u32) {
    loop {
        let before = time::OffsetDateTime::now_utc() - time::Duration::days(days.into());
        match log.prune(before).await {
            Ok(0) => {}
            Ok(deleted) => {
                tracing::info!(
                    records = deleted,
                    retention.days = days,
                    "pruned the activity log"
                )
            }
            Err(e) => tracing::warn!(error.cause = %e, "cannot prune the activity log"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
