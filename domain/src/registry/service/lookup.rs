//! Registries by login server, for the token server's hot path: answered from memory for
//! up to a second, and forgotten at once when this process writes.

use super::{RegistryError, RegistryService};
use crate::arm::ProvisioningState;
use crate::registry::Registry;
use std::collections::HashMap;

/// How long a registry looked up by login server is answered from memory. Writes through
/// this process clear it at once; another replica's writes show within this time.
const LOOKUP_TTL: time::Duration = time::Duration::seconds(1);
/// Login servers remembered at most (unknown ones too, so a flood of them cannot reach the
/// store more than once a second each).
const LOOKUP_MAX: usize = 10_000;

/// A remembered lookup: what was found, when, and at which write generation.
type Lookup = (Option<Registry>, time::OffsetDateTime, u64);

/// Registries by login server, for the token server's hot path.
#[derive(Default)]
pub(super) struct LookupCache {
    generation: std::sync::atomic::AtomicU64,
    entries: std::sync::RwLock<HashMap<String, Lookup>>,
}

impl LookupCache {
    pub(super) fn changed(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Bumps the lookup generation when dropped: a write is bracketed by two bumps, so a lookup
/// that raced it cannot keep what it read.
pub(super) struct Changing<'a>(&'a LookupCache);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.changed();
    }
}

impl<'a> Changing<'a> {
    pub(super) fn start(cache: &'a LookupCache) -> Self {
        cache.changed();
        Self(cache)
    }
}

impl RegistryService {
    /// The registry whose login server is `host` (any case), if it exists and is not being
    /// deleted; answered from memory for up to a second (writes through this process clear
    /// it at once).
    ///
    /// # Errors
    /// `Store`.
    pub async fn find_by_login_server(
        &self,
        host: &str,
    ) -> Result<Option<Registry>, RegistryError> {
        use std::sync::atomic::Ordering;
        let host = host.to_ascii_lowercase();
        let now = self.clock.now();
        let generation = self.lookups.generation.load(Ordering::SeqCst);
        if let Some((found, _, _)) = self.lookups.entries.read().ok().and_then(|e| {
            e.get(&host)
                .filter(|(_, at, g)| *g == generation && now - *at < LOOKUP_TTL)
                .cloned()
        }) {
            return Ok(found);
        }
        let found = self.lookup(&host).await?;
        if let Ok(mut entries) = self.lookups.entries.write() {
            if entries.len() >= LOOKUP_MAX {
                entries.clear();
            }
            entries.insert(host, (found.clone(), now, generation));
        }
        Ok(found)
    }

    async fn lookup(&self, host: &str) -> Result<Option<Registry>, RegistryError> {
        let Some(name) = self.naming.registry_name(host) else {
            return Ok(None);
        };
        // The whole login server must be the registry's own (port included): a registry
        // keeps the one it was created with.
        Ok(self.repo.find_by_name(&name).await?.filter(|r| {
            r.provisioning_state != ProvisioningState::Deleting
                && r.login_server.eq_ignore_ascii_case(host)
        }))
    }
}
