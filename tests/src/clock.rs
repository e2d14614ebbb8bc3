//! Waiting for the wall clock, for what Berth stamps in whole seconds (a token's `iat` and
//! `exp`, a revocation's time): the test waits until the clock has moved past the second
//! that matters, no longer, instead of sleeping a fixed time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The wall clock, as time since the Unix epoch.
///
/// # Panics
/// When the clock is before 1970.
#[must_use]
pub fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_else(|e| panic!("the clock is before 1970: {e}"))
}

/// The wall clock's current Unix second.
#[must_use]
pub fn unix_second() -> i64 {
    i64::try_from(now().as_secs()).unwrap_or(i64::MAX)
}

/// Waits until the wall clock reads at least `at` (since the Unix epoch).
pub async fn reaches(at: Duration) {
    // The wait is bounded by `at` itself; the poll interval is the clock's resolution here.
    let ready = crate::poll(
        at.saturating_sub(now()) + Duration::from_secs(1),
        Duration::from_millis(10),
        || async { (now() >= at).then_some(()) },
    )
    .await;
    assert!(ready.is_some(), "the wall clock did not reach {at:?}");
}

/// Waits until the wall clock's Unix second is later than `second`.
pub async fn passes_second(second: i64) {
    reaches(Duration::from_secs(u64::try_from(second + 1).unwrap_or(0))).await;
}

/// Waits until the wall clock enters its next whole second: whatever is stamped from now on
/// (a token's `iat`) is later than anything stamped before the call.
pub async fn next_second() {
    passes_second(unix_second()).await;
}
