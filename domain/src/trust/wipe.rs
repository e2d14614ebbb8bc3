//! The wipe: every trusted collection of one registry deleted from the trust store, and
//! nothing else.
//!
//! A pass reconciles the catalog with the store's own list (a collection the catalog missed
//! is added), deletes every collection of the catalog with bounded parallelism, and, once
//! every push token issued for the registry has expired (plus the store's clock leeway),
//! checks in the store's list that none is left and forgets them. Until then the caller runs another pass
//! later: that pass is the final sweep, and removes whatever a push token issued before the
//! wipe wrote in the meantime. A store that itself refuses trust data for a registry being
//! wiped (the embedded trust server) needs no such wait: the check follows the deletes.
//! Passes are idempotent, so a crash or an outage of the store only delays the end.

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
        let deadline = if store.refuses_trust_data_once_disabled() {
            None
        } else {
            self.catalog
                .push_deadline(registry)
                .await?
                .map(|t| t + self.settings.token_leeway)
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::{ResourceGroupId, ResourceGroupName, SubscriptionId};
    use crate::registry::RegistryName;
    use async_trait::async_trait;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Mutex;

    /// Notary's collections; `down` makes every call fail; `gated` is a store that refuses
    /// trust data itself once content trust is off (the embedded one).
    #[derive(Default)]
    struct Store {
        guns: Mutex<BTreeSet<String>>,
        deletes: Mutex<Vec<String>>,
        down: Mutex<bool>,
        gated: bool,
    }

    impl Store {
        fn check(&self) -> Result<(), TrustStoreError> {
            if *self.down.lock().unwrap_or_else(|e| e.into_inner()) {
                return Err(TrustStoreError("connection refused".to_owned()));
            }
            Ok(())
        }
        fn guns(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
            self.guns.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    #[async_trait]
    impl TrustStore for Store {
        async fn list_collections(&self) -> Result<Vec<String>, TrustStoreError> {
            self.check()?;
            Ok(self.guns().iter().cloned().collect())
        }
        async fn delete_collection(&self, gun: &str) -> Result<(), TrustStoreError> {
            self.check()?;
            self.deletes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(gun.to_owned());
            self.guns().remove(gun);
            Ok(())
        }
        async fn has_collection(&self, gun: &str) -> Result<bool, TrustStoreError> {
            self.check()?;
            Ok(self.guns().contains(gun))
        }
        async fn health(&self) -> Result<(), TrustStoreError> {
            self.check()
        }
        fn refuses_trust_data_once_disabled(&self) -> bool {
            self.gated
        }
    }

    /// The catalog: registry key -> GUN -> push expiry.
    type Rows = BTreeMap<String, BTreeMap<String, Option<OffsetDateTime>>>;

    #[derive(Default)]
    struct Catalog(Mutex<Rows>);

    impl Catalog {
        fn rows(&self) -> std::sync::MutexGuard<'_, Rows> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    #[async_trait]
    impl TrustedCollectionCatalog for Catalog {
        async fn record(
            &self,
            registry: &RegistryId,
            gun: &str,
            push_until: Option<OffsetDateTime>,
        ) -> Result<(), StoreError> {
            let mut rows = self.rows();
            let slot = rows
                .entry(registry.key())
                .or_default()
                .entry(gun.to_owned())
                .or_default();
            *slot = (*slot).max(push_until);
            Ok(())
        }
        async fn record_found(
            &self,
            registry: &RegistryId,
            guns: &[String],
        ) -> Result<(), StoreError> {
            let mut rows = self.rows();
            for gun in guns {
                rows.entry(registry.key())
                    .or_default()
                    .entry(gun.clone())
                    .or_default();
            }
            Ok(())
        }
        async fn list(&self, registry: &RegistryId) -> Result<Vec<String>, StoreError> {
            Ok(self
                .rows()
                .get(&registry.key())
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default())
        }
        async fn push_deadline(
            &self,
            registry: &RegistryId,
        ) -> Result<Option<OffsetDateTime>, StoreError> {
            Ok(self
                .rows()
                .get(&registry.key())
                .and_then(|r| r.values().copied().max().flatten()))
        }
        async fn forget(&self, registry: &RegistryId, guns: &[String]) -> Result<(), StoreError> {
            if let Some(r) = self.rows().get_mut(&registry.key()) {
                for gun in guns {
                    r.remove(gun);
                }
            }
            Ok(())
        }
    }

    struct Fixed(OffsetDateTime);

    impl Clock for Fixed {
        fn now(&self) -> OffsetDateTime {
            self.0
        }
    }

    fn registry(name: &str) -> RegistryId {
        RegistryId {
            resource_group: ResourceGroupId {
                subscription: SubscriptionId::parse("00000000-0000-0000-0000-000000000001")
                    .unwrap_or_else(|e| panic!("{e:?}")),
                name: ResourceGroupName::parse("rg").unwrap_or_else(|e| panic!("{e:?}")),
            },
            name: RegistryName::parse(name).unwrap_or_else(|e| panic!("{e:?}")),
        }
    }

    fn strings(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[tokio::test]
    async fn a_wipe_deletes_exactly_the_registrys_collections_then_sweeps_after_the_last_token() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let store = Arc::new(Store::default());
        store.guns().extend(strings(&[
            "regone.x/app",
            "regone.x/app-b",
            "regone.x/found-only-by-the-changefeed",
            "regone0.x/app",
            "regtwo.x/app",
        ]));
        let catalog = Arc::new(Catalog::default());
        let (one, ten) = (registry("regone"), registry("regone0"));
        catalog
            .record(&one, "regone.x/app", Some(now - Duration::seconds(5)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        catalog
            .record(&one, "regone.x/app-b", None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let settings = WipeSettings {
            parallelism: 4,
            token_leeway: Duration::seconds(60),
        };
        let wipe = |at: OffsetDateTime| {
            TrustWipe::new(
                Some(store.clone() as Arc<dyn TrustStore>),
                catalog.clone(),
                Arc::new(Fixed(at)),
                settings,
            )
        };

        // The store is down: nothing is forgotten, and the cause is told.
        *store.down.lock().unwrap_or_else(|e| e.into_inner()) = true;
        let err = wipe(now).pass(&one, "regone.x").await.err();
        assert!(err.is_some_and(|e| e.to_string().contains("connection refused")));
        assert_eq!(catalog.list(&one).await.unwrap_or_default().len(), 2);
        *store.down.lock().unwrap_or_else(|e| e.into_inner()) = false;

        // A push token expired 5 s ago is accepted 55 s more: first pass, then wait.
        let step = wipe(now).pass(&one, "regone.x").await;
        assert_eq!(
            step.ok(),
            Some(WipeStep::SweepAt(now + Duration::seconds(55)))
        );
        assert_eq!(*store.guns(), strings(&["regone0.x/app", "regtwo.x/app"]));
        // Trust data written meanwhile with that token is taken by the final sweep.
        store.guns().insert("regone.x/app".to_owned());
        let later = now + Duration::seconds(56);
        assert_eq!(
            wipe(later).pass(&one, "regone.x").await.ok(),
            Some(WipeStep::Done)
        );
        assert_eq!(*store.guns(), strings(&["regone0.x/app", "regtwo.x/app"]));
        assert!(catalog.list(&one).await.unwrap_or_default().is_empty());
        assert!(
            store
                .deletes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .all(|g| g.starts_with("regone.x/")),
            "only regone's collections were deleted"
        );
        // Another registry whose name extends regone's keeps its data until its own wipe.
        assert_eq!(
            wipe(later).pass(&ten, "regone0.x").await.ok(),
            Some(WipeStep::Done)
        );
        assert_eq!(*store.guns(), strings(&["regtwo.x/app"]));
        // With no trust server, the wipe says so.
        let none = TrustWipe::new(None, catalog.clone(), Arc::new(Fixed(now)), settings);
        assert!(matches!(
            none.pass(&one, "regone.x").await,
            Err(WipeError::NoTrustStore)
        ));
    }

    #[tokio::test]
    async fn a_store_that_refuses_trust_data_itself_is_wiped_in_one_pass() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let store = Arc::new(Store {
            gated: true,
            ..Store::default()
        });
        store
            .guns()
            .extend(strings(&["regone.x/app", "regtwo.x/app"]));
        let catalog = Arc::new(Catalog::default());
        let one = registry("regone");
        // A push token of the registry is still good for a minute: no matter.
        catalog
            .record(&one, "regone.x/app", Some(now + Duration::seconds(60)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let wipe = TrustWipe::new(
            Some(store.clone() as Arc<dyn TrustStore>),
            catalog.clone(),
            Arc::new(Fixed(now)),
            WipeSettings::default(),
        );
        assert_eq!(wipe.pass(&one, "regone.x").await.ok(), Some(WipeStep::Done));
        assert_eq!(*store.guns(), strings(&["regtwo.x/app"]));
        assert!(catalog.list(&one).await.unwrap_or_default().is_empty());
    }
}
