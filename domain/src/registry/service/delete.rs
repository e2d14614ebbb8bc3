//! Deleting a registry: a long-running operation a second request joins.

use super::{RegistryError, RegistryService, lookup::Changing};
use crate::arm::{Precondition, ProvisioningState, RegistryId, retry_lost_races};
use crate::operation::{Operation, OperationKind};
use crate::resource_group::DeleteOutcome;

impl RegistryService {
    /// Starts deleting a registry; a second request joins the running deletion.
    ///
    /// # Errors
    /// `PreconditionFailed`, `Conflict`, `Store`.
    pub async fn begin_delete(
        &self,
        id: &RegistryId,
        precondition: &Precondition,
    ) -> Result<DeleteOutcome, RegistryError> {
        let _changing = Changing::start(&self.lookups);
        retry_lost_races(
            precondition,
            |e| matches!(e, RegistryError::Conflict),
            || self.try_begin_delete(id, precondition),
        )
        .await
    }

    async fn try_begin_delete(
        &self,
        id: &RegistryId,
        precondition: &Precondition,
    ) -> Result<DeleteOutcome, RegistryError> {
        let Some(current) = self.repo.get(id).await? else {
            return Ok(DeleteOutcome::NotFound);
        };
        if !precondition.allows(Some(&current.etag)) {
            return Err(RegistryError::PreconditionFailed);
        }
        if current.provisioning_state == ProvisioningState::Deleting {
            let running = self.operations.find_in_progress(&id.key()).await?;
            let group = self
                .operations
                .find_in_progress(&id.resource_group.key())
                .await?;
            if let Some(op) = running.or(group) {
                return Ok(DeleteOutcome::Started(op));
            }
        }
        let operation = Operation::start(
            OperationKind::DeleteRegistry(current.id.clone()),
            self.clock.now(),
        );
        self.repo
            .begin_delete(&current.id, &current.etag, &operation)
            .await
            .map_err(|e| self.write_error(e, id))?;
        self.signal.notify();
        Ok(DeleteOutcome::Started(operation))
    }
}
