//! The ARM resources' use cases: subscriptions (the deployment's own made on first start),
//! resource groups and registries.

use super::StartupError;
use super::persistence::Store;
use berth_domain::clock::Clock;
use berth_domain::operation::OperationSignal;
use berth_domain::registry::RegistryService;
use berth_domain::resource_group::ResourceGroupService;
use berth_domain::subscription::{Subscription, SubscriptionService};
use berth_infra::config::Settings;
use std::sync::Arc;

/// The resource use cases, and the deployment's subscription.
pub(crate) struct Resources {
    pub(crate) subscriptions: SubscriptionService,
    pub(crate) groups: ResourceGroupService,
    pub(crate) registries: RegistryService,
    pub(crate) subscription: Subscription,
}

impl Resources {
    /// Builds the use cases and makes sure the deployment has its subscription (and tenant):
    /// the configured ones, else those of an earlier start, else new ones.
    ///
    /// # Errors
    /// `Bootstrap` when the store fails.
    pub(crate) async fn build(
        settings: &Settings,
        store: &Store,
        signal: &Arc<dyn OperationSignal>,
        clock: &Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let subscriptions = SubscriptionService::new(store.subscriptions.clone());
        let groups = ResourceGroupService::new(
            subscriptions.clone(),
            store.groups.clone(),
            store.operations.clone(),
            signal.clone(),
            clock.clone(),
        );
        let registries = RegistryService::new(
            groups.clone(),
            store.registries.clone(),
            store.operations.clone(),
            signal.clone(),
            clock.clone(),
            settings.login_servers.clone(),
            settings.notary.is_some() || settings.trust_server.listen.is_some(),
        );
        let existing = subscriptions
            .list()
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        let tenant = settings
            .tenant_id
            .or_else(|| existing.first().map(|s| s.tenant_id))
            .unwrap_or_else(uuid::Uuid::new_v4);
        let subscription = subscriptions
            .bootstrap(settings.subscription_id, tenant)
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        tracing::debug!(subscription.id = %subscription.id, tenant.id = %subscription.tenant_id, "subscription ready");
        Ok(Self {
            subscriptions,
            groups,
            registries,
            subscription,
        })
    }
}
