//! The portal's sessions, kept on the server: a browser holds only a random token (in an
//! HttpOnly cookie); the store keeps the token's hash, whose person it is, the session's
//! CSRF token and its times, so that any replica resumes it and signing out ends it
//! everywhere.
//!
//! A session ends when it has been idle for [`IDLE_TIMEOUT`], when it is
//! [`ABSOLUTE_TIMEOUT`] old however busy, when its person signs out, and at the first
//! request after its person was deleted or disabled (the person is looked up on every
//! request, as a bearer token's caller is, and handed to the page).

use crate::clock::Clock;
use crate::identity::Caller;
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a session may sit unused.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// How long a session lives at most.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(8);
/// How stale `last_seen` may get before a request writes it again (not every request
/// writes).
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// A session as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The hash of the browser's token (the store's key).
    pub key: String,
    /// The person.
    pub object_id: Uuid,
    /// The token every state-changing form carries.
    pub csrf: String,
    /// When it was opened.
    pub created_at: OffsetDateTime,
    /// When it was last used.
    pub last_seen: OffsetDateTime,
}

impl Session {
    /// Whether it has ended by time at `now`.
    #[must_use]
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        now - self.last_seen >= IDLE_TIMEOUT || now - self.created_at >= ABSOLUTE_TIMEOUT
    }

    /// Whether `presented` is this session's CSRF token (compared in constant time).
    #[must_use]
    pub fn csrf_matches(&self, presented: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Where sessions are kept, and the randomness and hashing they need.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Keeps a new session.
    ///
    /// # Errors
    /// `StoreError` when it cannot be kept.
    async fn insert(&self, session: &Session) -> Result<(), StoreError>;

    /// The session under `key`.
    ///
    /// # Errors
    /// `StoreError` when the store fails.
    async fn get(&self, key: &str) -> Result<Option<Session>, StoreError>;

    /// Records a use at `at`.
    ///
    /// # Errors
    /// `StoreError` when the store fails.
    async fn touch(&self, key: &str, at: OffsetDateTime) -> Result<(), StoreError>;

    /// Ends the session under `key` (nothing when there is none).
    ///
    /// # Errors
    /// `StoreError` when the store fails.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// A new random token (at least 256 bits, URL-safe).
    ///
    /// # Errors
    /// `StoreError` when there is no randomness.
    fn random_token(&self) -> Result<String, StoreError>;

    /// The key a token is kept under (a one-way hash of it).
    fn key_of(&self, token: &str) -> String;
}

/// An external OpenID Connect provider people may sign in to the portal with: the
/// authorization-code flow with PKCE, the portal being the provider's confidential client.
/// The access token redeemed is then verified and mapped to a person exactly as the API
/// verifies the provider's tokens (it must be one of the trusted providers).
#[async_trait]
pub trait ExternalSignIn: Send + Sync {
    /// Its name on the sign-in page.
    fn name(&self) -> &str;

    /// Where to send the browser: the provider's authorization endpoint, asking for a code
    /// for `redirect_uri` with `state` and the S256 `code_challenge`.
    ///
    /// # Errors
    /// Why the provider cannot be reached or described itself wrongly.
    async fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<String, String>;

    /// Redeems `code` with the PKCE `code_verifier`: the access token for Berth's API.
    ///
    /// # Errors
    /// The provider's refusal, or why it cannot be reached.
    async fn redeem(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<String, String>;
}

/// Finds who a session's person is now.
#[async_trait]
pub trait SessionPeople: Send + Sync {
    /// The caller `object_id` is, or `None` when it was deleted or disabled.
    ///
    /// # Errors
    /// `StoreError` when the directory fails.
    async fn caller(&self, object_id: Uuid) -> Result<Option<Caller>, StoreError>;
}

/// The session use cases.
#[derive(Clone)]
pub struct SessionService {
    store: Arc<dyn SessionStore>,
    people: Arc<dyn SessionPeople>,
    clock: Arc<dyn Clock>,
}

impl SessionService {
    /// Builds the service.
    #[must_use]
    pub fn new(
        store: Arc<dyn SessionStore>,
        people: Arc<dyn SessionPeople>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            people,
            clock,
        }
    }

    /// Opens a session for `object_id`; returns the browser's token and the session.
    ///
    /// # Errors
    /// `StoreError` when it cannot be kept.
    pub async fn open(&self, object_id: Uuid) -> Result<(String, Session), StoreError> {
        let token = self.store.random_token()?;
        let now = self.clock.now();
        let session = Session {
            key: self.store.key_of(&token),
            object_id,
            csrf: self.store.random_token()?,
            created_at: now,
            last_seen: now,
        };
        self.store.insert(&session).await?;
        Ok((token, session))
    }

    /// The live session of a browser's `token` and who its person is now: `None` when
    /// there is none, or it has ended by time or because its person may no longer sign in
    /// (it is then deleted).
    ///
    /// # Errors
    /// `StoreError` when the store or the directory fails.
    pub async fn resume(&self, token: &str) -> Result<Option<(Session, Caller)>, StoreError> {
        let key = self.store.key_of(token);
        let Some(session) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let caller = if session.expired(now) {
            None
        } else {
            self.people.caller(session.object_id).await?
        };
        let Some(caller) = caller else {
            self.store.delete(&key).await?;
            return Ok(None);
        };
        if now - session.last_seen >= TOUCH_EVERY {
            self.store.touch(&key, now).await?;
        }
        Ok(Some((session, caller)))
    }

    /// Ends the session of `token` (sign-out).
    ///
    /// # Errors
    /// `StoreError` when the store fails.
    pub async fn close(&self, token: &str) -> Result<(), StoreError> {
        self.store.delete(&self.store.key_of(token)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

    #[derive(Default)]
    struct Store {
        rows: Mutex<HashMap<String, Session>>,
        next: AtomicI64,
    }

    #[async_trait]
    impl SessionStore for Store {
        async fn insert(&self, session: &Session) -> Result<(), StoreError> {
            self.rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(session.key.clone(), session.clone());
            Ok(())
        }
        async fn get(&self, key: &str) -> Result<Option<Session>, StoreError> {
            Ok(self
                .rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(key)
                .cloned())
        }
        async fn touch(&self, key: &str, at: OffsetDateTime) -> Result<(), StoreError> {
            if let Some(s) = self
                .rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(key)
            {
                s.last_seen = at;
            }
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
            Ok(())
        }
        fn random_token(&self) -> Result<String, StoreError> {
            Ok(format!(
                "token-{}",
                self.next.fetch_add(1, Ordering::SeqCst)
            ))
        }
        fn key_of(&self, token: &str) -> String {
            format!("hash({token})")
        }
    }

    struct People(AtomicBool);

    #[async_trait]
    impl SessionPeople for People {
        async fn caller(&self, object_id: Uuid) -> Result<Option<Caller>, StoreError> {
            Ok(self.0.load(Ordering::SeqCst).then(|| Caller {
                object_id,
                principals: vec![object_id],
                name: "person@berth.local".to_owned(),
                kind: "User",
                issued_at: None,
            }))
        }
    }

    struct Now(AtomicI64);

    impl Clock for Now {
        fn now(&self) -> OffsetDateTime {
            OffsetDateTime::UNIX_EPOCH + Duration::seconds(self.0.load(Ordering::SeqCst))
        }
    }

    fn service() -> (SessionService, Arc<Store>, Arc<People>, Arc<Now>) {
        let store = Arc::new(Store::default());
        let people = Arc::new(People(AtomicBool::new(true)));
        let now = Arc::new(Now(AtomicI64::new(1_000_000)));
        let service = SessionService::new(store.clone(), people.clone(), now.clone());
        (service, store, people, now)
    }

    fn ok<T>(r: Result<T, StoreError>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_session_lives_while_used_until_its_absolute_end() {
        let (service, store, _, now) = service();
        let (token, session) = ok(service.open(Uuid::new_v4()).await);
        assert_ne!(session.key, token, "the store keeps a hash, not the token");
        assert_ne!(session.csrf, token);
        // Used every 29 minutes, it lives on: for eight hours.
        for _ in 0..16 {
            now.0.fetch_add(29 * 60, Ordering::SeqCst);
            assert!(ok(service.resume(&token).await).is_some());
        }
        now.0.fetch_add(29 * 60, Ordering::SeqCst);
        assert!(
            ok(service.resume(&token).await).is_none(),
            "eight hours at most"
        );
        assert!(
            store
                .rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
        );
    }

    #[tokio::test]
    async fn an_idle_session_ends_and_sign_out_ends_one_at_once() {
        let (service, _, _, now) = service();
        let (idle, _) = ok(service.open(Uuid::new_v4()).await);
        now.0.fetch_add(30 * 60, Ordering::SeqCst);
        assert!(ok(service.resume(&idle).await).is_none());

        let (token, _) = ok(service.open(Uuid::new_v4()).await);
        ok(service.close(&token).await);
        assert!(ok(service.resume(&token).await).is_none());
        assert!(ok(service.resume("never-issued").await).is_none());
    }

    #[tokio::test]
    async fn a_person_who_may_no_longer_sign_in_loses_the_session_at_the_next_request() {
        let (service, store, people, _) = service();
        let (token, _) = ok(service.open(Uuid::new_v4()).await);
        people.0.store(false, Ordering::SeqCst);
        assert!(ok(service.resume(&token).await).is_none());
        people.0.store(true, Ordering::SeqCst);
        assert!(ok(service.resume(&token).await).is_none(), "it stays ended");
        assert!(
            store
                .rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
        );
    }

    #[test]
    fn the_csrf_token_must_match_exactly() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let session = Session {
            key: "k".to_owned(),
            object_id: Uuid::nil(),
            csrf: "abc123".to_owned(),
            created_at: at,
            last_seen: at,
        };
        assert!(session.csrf_matches("abc123"));
        for forged in ["abc124", "abc12", "abc1234", ""] {
            assert!(!session.csrf_matches(forged), "{forged}");
        }
    }
}
