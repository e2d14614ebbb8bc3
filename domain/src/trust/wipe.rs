//! The wipe: every trusted collection of one registry deleted from the trust store, and
//! nothing else.
//!
//! A pass reconciles the catalog with the store's own list (a collection the catalog missed
//! is added), deletes every collection of the catalog with bounded parallelism, and, once
//! every push token issued for the registry has expired (plus the store's clock leeway),
//! checks in the store's list that none is left and forgets them. Until then the caller runs another pass
//! later: that pass is the final sweep, and removes whatever a push token issued before the
//! wipe wrote in the meantime. Passes are idempotent, so a crash or an outage of the store
//! only delays the end.

use super::{TrustStore, TrustStoreError, TrustedCollectionCatalog};
use crate::arm::RegistryId;
use crate::clock::Clock;
use crate::store::StoreError;
use futures_util::{StreamExt, stream};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// How a wipe runs.
#[derive(Debug, Clone, Copy)]
pub struct WipeSettings {
    /// Collections deleted at once.
    pub parallelism: usize,
    /// How long after its `exp` the trust store still accepts a token (Notary: 60 s).
    pub token_leeway: Duration,
}

impl Default for WipeSettings {
    fn default() -> Self {
        Self {
            parallelism: 16,
            token_leeway: Duration::seconds(60),
        }
    }
}

/// Where a wipe is after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WipeStep {
    /// Every collection is gone and no push token of the registry is still accepted.
    Done,
    /// Everything known is deleted; the final sweep runs at this time, when the last push
    /// token issued before the wipe is no longer accepted.
    SweepAt(OffsetDateTime),
}

/// Why a pass did not end.
#[derive(Debug, thiserror::Error)]
pub enum WipeError {
    /// No trust store is configured.
    #[error("no trust server is configured, so the trust data cannot be deleted")]
    NoTrustStore,
    /// The trust store failed.
    #[error(transparent)]
    TrustStore(#[from] TrustStoreError),
    /// Berth's own store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The wipe use case.
#[derive(Clone)]
pub struct TrustWipe {
    store: Option<Arc<dyn TrustStore>>,
    catalog: Arc<dyn TrustedCollectionCatalog>,
    clock: Arc<dyn Clock>,
    settings: WipeSettings,
}

impl TrustWipe {
    /// Builds the use case; `store` is `None` when no trust server is configured.
    #[must_use]
    pub fn new(
        store: Option<Arc<dyn TrustStore>>,
        catalog: Arc<dyn TrustedCollectionCatalog>,
        clock: Arc<dyn Clock>,
        settings: WipeSettings,
    ) -> Self {
        Self {
            store,
            catalog,
            clock,
            settings: WipeSettings {
                parallelism: settings.parallelism.max(1),
                ..settings
            },
        }
    }

    /// Whether a trust store is configured.
    #[must_use]
    pub fn available(&self) -> bool {
        self.store.is_some()
    }

    /// Whether the catalog knows of any collection of the registry.
    ///
    /// # Errors
    /// `Store`.
    pub async fn has_catalogued(&self, registry: &RegistryId) -> Result<bool, StoreError> {
        Ok(!self.catalog.list(registry).await?.is_empty())
    }

    /// One pass over the registry whose login server is `login_server`.
    ///
    /// # Errors
    /// [`WipeError`]; nothing is forgotten from the catalog then, and a later pass redoes
    /// the work.
    pub async fn pass(
        &self,
        registry: &RegistryId,
        login_server: &str,
    ) -> Result<WipeStep, WipeError> {
        let store = self.store.as_ref().ok_or(WipeError::NoTrustStore)?;
        // Every push token of the registry was recorded before it was issued, and none is
        // issued once the wipe has begun: the deadline read now is final.
        let deadline = self
            .catalog
            .push_deadline(registry)
            .await?
            .map(|t| t + self.settings.token_leeway);
        let prefix = format!("{}/", login_server.to_ascii_lowercase());
        let of_registry = |guns: Vec<String>| -> Vec<String> {
            guns.into_iter()
                .filter(|gun| gun.to_ascii_lowercase().starts_with(&prefix))
                .collect()
        };
        let found = of_registry(store.list_collections().await?);
        self.catalog.record_found(registry, &found).await?;
        let guns = self.catalog.list(registry).await?;
        self.each(
            &guns,
            |gun| async move { store.delete_collection(&gun).await },
        )
        .await?;
        if let Some(at) = deadline
            && self.clock.now() < at
        {
            return Ok(WipeStep::SweepAt(at));
        }
        // The check: the store's own list, read again, holds none of the registry's
        // collections (one listing instead of a read per collection).
        let left = of_registry(store.list_collections().await?);
        if let Some(gun) = left.first() {
            return Err(WipeError::TrustStore(TrustStoreError(format!(
                "{} collection(s) still have trust data after deletion, e.g. {gun}",
                left.len()
            ))));
        }
        self.catalog.forget(registry, &guns).await?;
        Ok(WipeStep::Done)
    }

    /// Runs `work` on every collection, `parallelism` at a time; fails with the first
    /// failure (and how many failed) once all have been tried.
    async fn each<F, Fut>(&self, guns: &[String], work: F) -> Result<(), TrustStoreError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<(), TrustStoreError>>,
    {
        let failures: Vec<TrustStoreError> = stream::iter(guns.iter().cloned().map(work))
            .buffer_unordered(self.settings.parallelism)
            .filter_map(|r| async move { r.err() })
            .collect()
            .await;
        let count = failures.len();
        match failures.into_iter().next_back() {
            None => Ok(()),
            Some(only) if count == 1 => Err(only),
            Some(last) => Err(TrustStoreError(format!(
                "{count} of {} collections failed; the last: {}",
                guns.len(),
                last.0
            ))),
        }
    }
}
