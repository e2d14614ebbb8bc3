//! A limit on failed sign-ins per client: after too many within a window, the client is
//! refused (429) until the window ends, whatever it sends, so passwords cannot be guessed
//! at speed. Kept in memory per replica.

use std::collections::HashMap;
use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

/// Clients tracked at once; beyond it the oldest windows are dropped first.
const MAX_CLIENTS: usize = 100_000;

/// Failed attempts per client key.
#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    clients: Mutex<HashMap<String, (u32, OffsetDateTime)>>,
}

impl FailureLimiter {
    /// Allows `max_failures` failures per `window`.
    #[must_use]
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            clients: Mutex::default(),
        }
    }

    /// Seconds the client must wait, when it is blocked.
    #[must_use]
    pub fn blocked(&self, client: &str, now: OffsetDateTime) -> Option<i64> {
        let clients = self.clients.lock().ok()?;
        let (failures, since) = clients.get(client)?;
        let ends = *since + self.window;
        (*failures >= self.max_failures && ends > now).then(|| (ends - now).whole_seconds().max(1))
    }

    /// Counts a failure.
    pub fn failed(&self, client: &str, now: OffsetDateTime) {
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        if clients.len() >= MAX_CLIENTS {
            let window = self.window;
            clients.retain(|_, (_, since)| *since + window > now);
            if clients.len() >= MAX_CLIENTS {
                clients.clear();
            }
        }
        let entry = clients.entry(client.to_owned()).or_insert((0, now));
        if entry.1 + self.window <= now {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// Forgets a client's failures (it signed in).
    pub fn succeeded(&self, client: &str) {
        if let Ok(mut clients) = self.clients.lock() {
            clients.remove(client);
        }
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
}
