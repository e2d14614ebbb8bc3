//! What a login server remembers between requests, so that a registry pulled at many
//! requests a second is not looked up, nor its token's ES256 signature checked, on every
//! one of them:
//! - the registry of each login server, for one second, for reads only (a registry deleted
//!   or being deleted may be read at most that much longer; writes always look it up);
//! - each access token verified for a login server, until the earlier of its expiry and a
//!   minute, keyed by the whole token and kept with its audience, so that only the identical
//!   token presented to the same login server is taken without its signature being checked
//!   again.
//!
//! Both are bounded: when full, they are emptied, and refilled by the next requests.

use berth_domain::registry::Registry;
use berth_domain::registry_token::AccessClaims;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a registry is remembered.
const REGISTRY_TTL: Duration = Duration::from_secs(1);
/// How long a verified token is remembered at most.
const TOKEN_TTL: Duration = Duration::from_secs(60);
/// The most entries each map holds.
const MAX_ENTRIES: usize = 4096;

/// The login servers' memory.
#[derive(Default)]
pub(crate) struct LoginCache {
    registries: RwLock<HashMap<String, (Instant, Registry)>>,
    /// By the token itself; with the audience it was verified for.
    tokens: RwLock<HashMap<String, (String, Instant, AccessClaims)>>,
}

impl LoginCache {
    /// The registry remembered for `host`, when it is fresh.
    pub(crate) fn registry(&self, host: &str) -> Option<Registry> {
        let map = self.registries.read().ok()?;
        map.get(host)
            .filter(|(at, _)| at.elapsed() < REGISTRY_TTL)
            .map(|(_, registry)| registry.clone())
    }

    /// Remembers the registry of `host`.
    pub(crate) fn remember_registry(&self, host: &str, registry: &Registry) {
        if let Ok(mut map) = self.registries.write() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(host.to_owned(), (Instant::now(), registry.clone()));
        }
    }

    /// The claims of `token` verified for `audience`, when they are remembered and the
    /// token has not expired (`now`, unix seconds, within `leeway`).
    pub(crate) fn token(
        &self,
        token: &str,
        audience: &str,
        now: i64,
        leeway: i64,
    ) -> Option<AccessClaims> {
        let map = self.tokens.read().ok()?;
        let (verified_for, at, claims) = map.get(token)?;
        let live = verified_for == audience
            && at.elapsed() < TOKEN_TTL
            && now <= claims.exp + leeway
            && now >= claims.nbf - leeway;
        live.then(|| claims.clone())
    }

    /// Remembers `claims`, just verified, of `token` for `audience`.
    pub(crate) fn remember_token(&self, token: &str, audience: &str, claims: &AccessClaims) {
        if let Ok(mut map) = self.tokens.write() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(
                token.to_owned(),
                (audience.to_owned(), Instant::now(), claims.clone()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(nbf: i64, exp: i64) -> AccessClaims {
        AccessClaims {
            jti: "j".to_owned(),
            sub: "s".to_owned(),
            nbf,
            exp,
            iat: nbf,
            iss: "berth-token-server".to_owned(),
            aud: "r.registry.localhost".to_owned(),
            version: "1.0".to_owned(),
            access: Vec::new(),
            roles: Vec::new(),
            grant_type: "refresh_token".to_owned(),
        }
    }

    #[test]
    fn a_token_is_taken_only_for_its_audience_and_while_it_lives() {
        let cache = LoginCache::default();
        cache.remember_token("t1", "r.registry.localhost", &claims(100, 200));
        assert!(cache.token("t1", "r.registry.localhost", 150, 60).is_some());
        assert!(
            cache
                .token("t1", "other.registry.localhost", 150, 60)
                .is_none()
        );
        assert!(cache.token("t2", "r.registry.localhost", 150, 60).is_none());
        assert!(
            cache.token("t1", "r.registry.localhost", 261, 60).is_none(),
            "expired"
        );
        assert!(
            cache.token("t1", "r.registry.localhost", 39, 60).is_none(),
            "not yet valid"
        );
    }

    #[test]
    fn a_full_cache_is_emptied_rather_than_grown() {
        let cache = LoginCache::default();
        for n in 0..=MAX_ENTRIES {
            cache.remember_token(&n.to_string(), "a", &claims(0, 10));
        }
        let held = cache.tokens.read().map(|m| m.len()).unwrap_or(usize::MAX);
        assert!(held <= MAX_ENTRIES, "{held}");
        assert!(cache.token(&MAX_ENTRIES.to_string(), "a", 5, 0).is_some());
    }
}
