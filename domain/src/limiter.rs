//! Limits on failed sign-ins, shared by the built-in issuer and the registry token server.
//!
//! A [`FailureLimiter`] counts failures per key in a fixed window: after too many, the key is
//! refused (429) until its window ends, whatever it sends, so passwords cannot be guessed at
//! speed. A [`SignInLimiter`] keeps two of them: one per subject (the user or credential
//! named) and one per client address with a higher threshold, so one client's failures do
//! not lock out another subject signing in from the same address (a NAT, a proxy) until
//! the address as a whole looks like an attack.
//!
//! Counters live in memory per replica, bounded in number. When the bound is reached,
//! expired windows go first, then the keys with the fewest failures (oldest first); a
//! blocked key goes only when every key left is blocked. Flooding the limiter with fresh
//! keys therefore cannot clear a victim's count.

use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// Keys tracked at once per limiter.
const MAX_KEYS: usize = 100_000;

/// One key's failures in its current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    failures: u32,
    since: OffsetDateTime,
}

/// Failed attempts per key.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    max_keys: usize,
    keys: Mutex<HashMap<String, Window>>,
}

impl FailureLimiter {
    /// Allows `max_failures` failures per `window` per key.
    #[must_use]
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            max_keys: MAX_KEYS,
            keys: Mutex::default(),
        }
    }

    /// Seconds the key must wait, when it is blocked.
    #[must_use]
    pub fn blocked(&self, key: &str, now: OffsetDateTime) -> Option<i64> {
        let keys = self.keys.lock().ok()?;
        let w = keys.get(key)?;
        let ends = w.since + self.window;
        (w.failures >= self.max_failures && ends > now).then(|| (ends - now).whole_seconds().max(1))
    }

    /// Counts a failure.
    pub fn failed(&self, key: &str, now: OffsetDateTime) {
        let Ok(mut keys) = self.keys.lock() else {
            return;
        };
        if keys.len() >= self.max_keys && !keys.contains_key(key) {
            self.evict(&mut keys, now);
        }
        let entry = keys.entry(key.to_owned()).or_insert(Window {
            failures: 0,
            since: now,
        });
        if entry.since + self.window <= now {
            *entry = Window {
                failures: 0,
                since: now,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }

    /// Forgets a key's failures (it signed in).
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.remove(key);
        }
    }

    /// Makes room for new keys: expired windows first, then a tenth of the bound, taking
    /// unblocked keys with the fewest failures (oldest first) before any blocked one, and of
    /// blocked ones those whose block ends soonest. Evicting a batch keeps the sort rare.
    fn evict(&self, keys: &mut HashMap<String, Window>, now: OffsetDateTime) {
        let window = self.window;
        keys.retain(|_, w| w.since + window > now);
        if keys.len() < self.max_keys {
            return;
        }
        let excess = keys.len() + 1 - self.max_keys;
        let batch = excess.max(self.max_keys / 10).min(keys.len());
        let max = self.max_failures;
        let mut order: Vec<(bool, u32, OffsetDateTime, &String)> = keys
            .iter()
            .map(|(k, w)| (w.failures >= max, w.failures, w.since, k))
            .collect();
        order.sort_unstable_by_key(|&(locked, failures, since, _)| (locked, failures, since));
        let doomed: Vec<String> = order
            .into_iter()
            .take(batch)
            .map(|(_, _, _, k)| k.clone())
            .collect();
        for key in doomed {
            keys.remove(&key);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or_default()
    }
}

/// Failures counted per subject and per client address.
#[derive(Debug)]
pub struct SignInLimiter {
    subjects: FailureLimiter,
    addresses: FailureLimiter,
}

impl SignInLimiter {
    /// Allows `per_subject` failures per subject and `per_address` (set it well above
    /// `per_subject`) per client address, per `window`.
    #[must_use]
    pub fn new(per_subject: u32, per_address: u32, window: Duration) -> Self {
        Self {
            subjects: FailureLimiter::new(per_subject, window),
            addresses: FailureLimiter::new(per_address, window),
        }
    }

    /// Seconds to wait when the subject (compared case-insensitively) or the address is
    /// blocked: the longer of the two.
    #[must_use]
    pub fn blocked(&self, subject: &str, address: &str, now: OffsetDateTime) -> Option<i64> {
        let subject = self.subjects.blocked(&subject.to_lowercase(), now);
        let address = self.addresses.blocked(address, now);
        subject.max(address)
    }

    /// Counts a failure against both the subject and the address.
    pub fn failed(&self, subject: &str, address: &str, now: OffsetDateTime) {
        self.subjects.failed(&subject.to_lowercase(), now);
        self.addresses.failed(address, now);
    }

    /// Forgets the subject's failures (it signed in); the address keeps its count, so an
    /// attacker cannot reset it by signing in with an account of their own between guesses.
    pub fn succeeded(&self, subject: &str) {
        self.subjects.succeeded(&subject.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_blocked_after_too_many_failures_until_the_window_ends() {
        let limiter = FailureLimiter::new(3, Duration::seconds(60));
        let t0 = OffsetDateTime::UNIX_EPOCH;
        for i in 0..3 {
            assert_eq!(limiter.blocked("a", t0), None, "after {i} failures");
            limiter.failed("a", t0 + Duration::seconds(i));
        }
        assert_eq!(limiter.blocked("a", t0 + Duration::seconds(10)), Some(50));
        assert_eq!(limiter.blocked("b", t0), None, "per client");
        assert_eq!(limiter.blocked("a", t0 + Duration::seconds(61)), None);
        limiter.failed("a", t0 + Duration::seconds(61));
        assert_eq!(
            limiter.blocked("a", t0 + Duration::seconds(62)),
            None,
            "a new window"
        );
        limiter.succeeded("a");
        assert_eq!(limiter.blocked("a", t0 + Duration::seconds(62)), None);
    }

    #[test]
    fn flooding_the_limiter_with_fresh_keys_does_not_clear_a_blocked_victim() {
        let limiter = FailureLimiter::new(3, Duration::seconds(60));
        let t0 = OffsetDateTime::UNIX_EPOCH;
        for _ in 0..3 {
            limiter.failed("victim", t0);
        }
        // A key one failure short of a block, counted before the flood.
        limiter.failed("almost", t0);
        limiter.failed("almost", t0);
        for i in 0..(MAX_KEYS + 50_000) {
            limiter.failed(&format!("flood-{i}"), t0 + Duration::seconds(1));
        }
        assert!(limiter.tracked() <= MAX_KEYS, "the bound holds");
        assert!(
            limiter
                .blocked("victim", t0 + Duration::seconds(2))
                .is_some(),
            "the victim's block survives the flood"
        );
        limiter.failed("almost", t0 + Duration::seconds(2));
        assert!(
            limiter
                .blocked("almost", t0 + Duration::seconds(2))
                .is_some(),
            "keys with more failures outlive the flood's single ones"
        );
    }

    #[test]
    fn expired_windows_are_evicted_before_anything_live() {
        let limiter = FailureLimiter {
            max_keys: 10,
            ..FailureLimiter::new(2, Duration::seconds(60))
        };
        let t0 = OffsetDateTime::UNIX_EPOCH;
        limiter.failed("live", t0 + Duration::seconds(100));
        for i in 0..9 {
            limiter.failed(&format!("old-{i}"), t0);
        }
        limiter.failed("new", t0 + Duration::seconds(100));
        limiter.failed("live", t0 + Duration::seconds(100));
        assert_eq!(limiter.tracked(), 2, "only the expired keys went");
        assert!(
            limiter
                .blocked("live", t0 + Duration::seconds(100))
                .is_some()
        );
    }

    #[test]
    fn when_every_key_is_blocked_the_block_ending_soonest_goes_first() {
        let limiter = FailureLimiter {
            max_keys: 10,
            ..FailureLimiter::new(1, Duration::seconds(60))
        };
        let t0 = OffsetDateTime::UNIX_EPOCH;
        for i in 0..10 {
            limiter.failed(&format!("k{i}"), t0 + Duration::seconds(i));
        }
        limiter.failed("newest", t0 + Duration::seconds(20));
        let now = t0 + Duration::seconds(20);
        assert!(
            limiter.blocked("k0", now).is_none(),
            "the oldest block went"
        );
        assert!(limiter.blocked("k9", now).is_some());
        assert!(limiter.blocked("newest", now).is_some());
    }

    #[test]
    fn one_subjects_failures_do_not_block_another_from_the_same_address() {
        let limiter = SignInLimiter::new(3, 10, Duration::seconds(60));
        let t0 = OffsetDateTime::UNIX_EPOCH;
        for _ in 0..3 {
            limiter.failed("Alice@Example.com", "10.0.0.1", t0);
        }
        assert!(
            limiter
                .blocked("alice@example.com", "10.0.0.2", t0)
                .is_some()
        );
        assert!(limiter.blocked("bob@example.com", "10.0.0.1", t0).is_none());
        for i in 0..7 {
            limiter.failed(&format!("u{i}"), "10.0.0.1", t0);
        }
        assert!(
            limiter.blocked("bob@example.com", "10.0.0.1", t0).is_some(),
            "the address bucket trips at its own, higher threshold"
        );
        assert!(limiter.blocked("bob@example.com", "10.0.0.2", t0).is_none());
        limiter.succeeded("ALICE@example.com");
        assert!(
            limiter
                .blocked("alice@example.com", "10.0.0.2", t0)
                .is_none()
        );
        assert!(
            limiter
                .blocked("alice@example.com", "10.0.0.1", t0)
                .is_some(),
            "a success does not reset the address"
        );
    }
}
