//! Content trust's back end: the trust store (an external Notary server, or the embedded
//! one with its own listener), the catalog of trusted collections, and the wipe that
//! disabling content trust runs.

use super::StartupError;
use super::persistence::Store;
use super::serve::{Bound, bind};
use crate::trust_server::TrustServerState;
use berth_domain::clock::{Clock, SystemClock};
use berth_domain::trust::{TrustStore, TrustWipe, TrustedCollectionCatalog, WipeSettings};
use berth_infra::config::Settings;
use berth_infra::notary::{NotarySettings, NotaryTrustStore};
use berth_infra::persistence::{
    SeaOrmTrustedCollectionCatalog, SeaOrmTufServerKeys, SeaOrmTufStore,
};
use berth_infra::registry_token::TokenServerKeys;
use berth_infra::tuf_crypto::AwsLcTufCrypto;
use berth_notary::EmbeddedTrustServer;
use std::sync::Arc;

/// The trust store content trust uses, if any, and the catalog of its collections.
pub(crate) struct Trust {
    pub(crate) catalog: Arc<dyn TrustedCollectionCatalog>,
    pub(crate) store: Option<Arc<dyn TrustStore>>,
    /// The embedded trust server and its bound listener, when it is the store.
    pub(crate) embedded: Option<(EmbeddedTrustServer, Bound)>,
}

impl Trust {
    /// The configured Notary server, else the embedded trust server (bound to its own
    /// listener), else none: content trust cannot be enabled then.
    ///
    /// # Errors
    /// `Bootstrap` for an unreadable Notary CA file; `Bind` for the trust listener.
    pub(crate) fn build(
        settings: &Settings,
        store: &Store,
        keys: &Arc<TokenServerKeys>,
        clock: &Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let catalog: Arc<dyn TrustedCollectionCatalog> =
            Arc::new(SeaOrmTrustedCollectionCatalog::new(store.database.clone()));
        let (trust_store, embedded) = match &settings.notary {
            Some(_) => (notary_trust_store(settings, keys)?, None),
            None => match settings.trust_server.listen {
                None => (None, None),
                Some(addr) => {
                    let crypto = Arc::new(AwsLcTufCrypto);
                    let server = EmbeddedTrustServer::new(
                        Arc::new(SeaOrmTufStore::new(store.database.clone())),
                        Arc::new(SeaOrmTufServerKeys::new(
                            store.database.clone(),
                            store.sealing.clone(),
                        )),
                        crypto.clone(),
                        crypto,
                        clock.clone(),
                    );
                    let as_store: Arc<dyn TrustStore> = Arc::new(server.clone());
                    (Some(as_store), Some((server, bind(addr)?)))
                }
            },
        };
        Ok(Self {
            catalog,
            store: trust_store,
            embedded,
        })
    }

    /// The wipe disabling content trust runs, with the configured timing.
    pub(crate) fn wipe(&self, settings: &Settings, clock: &Arc<dyn Clock>) -> TrustWipe {
        let timing = settings.trust;
        TrustWipe::new(
            self.store.clone(),
            self.catalog.clone(),
            clock.clone(),
            WipeSettings {
                parallelism: timing.wipe_parallelism as usize,
                token_leeway: time::Duration::seconds(timing.token_leeway_secs.into()),
            },
        )
    }
}

/// What the embedded trust server's handlers reach: tokens of the registry token server
/// for its service, sent back to `<base_url>/oauth2/token` when missing.
pub(crate) fn trust_server_state(
    settings: &Settings,
    server: EmbeddedTrustServer,
    keys: &Arc<TokenServerKeys>,
    base_url: &str,
    metrics: Arc<crate::metrics::Metrics>,
    diagnostics: Arc<dyn berth_domain::diagnostics::DiagnosticSink>,
) -> TrustServerState {
    TrustServerState {
        server,
        metrics,
        diagnostics,
        keys: keys.clone(),
        issuer: settings.registry_token_issuer.clone(),
        service: settings
            .notary_service
            .clone()
            .unwrap_or_else(|| berth_infra::config::EMBEDDED_TRUST_SERVICE.to_owned()),
        realm: format!("{base_url}/oauth2/token"),
        leeway_secs: settings.trust.token_leeway_secs.into(),
        clock: Arc::new(SystemClock),
        issued_since: i64::MIN,
    }
}

/// The trust store content trust uses when a Notary server is configured.
fn notary_trust_store(
    settings: &Settings,
    keys: &Arc<TokenServerKeys>,
) -> Result<Option<Arc<dyn TrustStore>>, StartupError> {
    let (Some(notary), Some(service)) = (&settings.notary, &settings.notary_service) else {
        return Ok(None);
    };
    let ca_pem = notary
        .ca_file
        .as_ref()
        .map(|path| {
            std::fs::read(path).map_err(|e| {
                StartupError::Bootstrap(format!(
                    "cannot read BERTH_NOTARY_CA {}: {e}",
                    path.display()
                ))
            })
        })
        .transpose()?;
    let store = NotaryTrustStore::new(
        NotarySettings {
            url: notary.url.clone(),
            service: service.clone(),
            issuer: settings.registry_token_issuer.clone(),
            ca_pem,
        },
        keys.clone(),
    )
    .map_err(StartupError::Bootstrap)?;
    Ok(Some(Arc::new(store)))
}
