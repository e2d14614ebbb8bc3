//! Subscriptions: the top of the ARM hierarchy. The bootstrap creates one at first start.

use crate::arm::SubscriptionId;
use crate::store::StoreError;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// Display name.
    pub display_name: String,
    /// The tenant (directory) it belongs to.
    pub tenant_id: Uuid,
    /// `Enabled`, `Disabled`, `Warned`, `PastDue` or `Deleted`.
    pub state: String,
}

/// Stores subscriptions.
#[async_trait]
pub trait SubscriptionRepository: Send + Sync {
    /// All subscriptions, by id.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(&self) -> Result<Vec<Subscription>, StoreError>;

    /// One subscription.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get(&self, id: SubscriptionId) -> Result<Option<Subscription>, StoreError>;

    /// Inserts a subscription unless one with its id exists (then does nothing).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn insert_if_absent(&self, subscription: &Subscription) -> Result<(), StoreError>;
}

/// Errors of the subscription use cases.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// No such subscription.
    #[error("The subscription '{0}' could not be found.")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Subscription use cases. Every ARM request checks its subscription, so the ones seen are
/// kept in memory: subscriptions are only ever added (at bootstrap), never changed here.
#[derive(Clone)]
pub struct SubscriptionService {
    repo: Arc<dyn SubscriptionRepository>,
    known: Arc<RwLock<HashMap<SubscriptionId, Subscription>>>,
}

impl SubscriptionService {
    /// Builds the service.
    #[must_use]
    pub fn new(repo: Arc<dyn SubscriptionRepository>) -> Self {
        Self {
            repo,
            known: Arc::default(),
        }
    }

    /// Makes sure a deployment has its subscription: the configured id if given, else the
    /// one kept from an earlier start, else a new GUID. Returns the default subscription.
    ///
    /// # Errors
    /// [`SubscriptionError::Store`] when the store fails.
    pub async fn bootstrap(
        &self,
        configured: Option<SubscriptionId>,
        tenant_id: Uuid,
    ) -> Result<Subscription, SubscriptionError> {
        let existing = self.repo.list().await?;
        let id = match (configured, existing.first()) {
            (Some(id), _) => id,
            (None, Some(first)) => return Ok(first.clone()),
            (None, None) => SubscriptionId::generate(),
        };
        if let Some(found) = existing.iter().find(|s| s.id == id) {
            return Ok(found.clone());
        }
        let subscription = Subscription {
            id,
            display_name: "Berth".to_owned(),
            tenant_id,
            state: "Enabled".to_owned(),
        };
        self.repo.insert_if_absent(&subscription).await?;
        Ok(subscription)
    }

    /// Lists subscriptions.
    ///
    /// # Errors
    /// [`SubscriptionError::Store`] when the store fails.
    pub async fn list(&self) -> Result<Vec<Subscription>, SubscriptionError> {
        Ok(self.repo.list().await?)
    }

    /// Reads one subscription; unknown or malformed ids are not found.
    ///
    /// # Errors
    /// [`SubscriptionError::NotFound`], or `Store`.
    pub async fn get(&self, id: &str) -> Result<Subscription, SubscriptionError> {
        let parsed =
            SubscriptionId::parse(id).map_err(|_| SubscriptionError::NotFound(id.to_owned()))?;
        if let Some(known) = self.known.read().ok().and_then(|k| k.get(&parsed).cloned()) {
            return Ok(known);
        }
        let found = self
            .repo
            .get(parsed)
            .await?
            .ok_or_else(|| SubscriptionError::NotFound(id.to_owned()))?;
        if let Ok(mut known) = self.known.write() {
            known.insert(parsed, found.clone());
        }
        Ok(found)
    }

    /// Checks that a subscription exists, returning its parsed id.
    ///
    /// # Errors
    /// [`SubscriptionError::NotFound`], or `Store`.
    pub async fn require(&self, id: &str) -> Result<SubscriptionId, SubscriptionError> {
        self.get(id).await.map(|s| s.id)
    }
}
