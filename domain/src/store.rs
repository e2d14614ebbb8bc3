//! What every storage port may fail with, and the paging types lists share.

/// The store could not do what was asked (down, timed out, or holding data it cannot read).
/// The text is for logs, never for response bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StoreError(pub String);

/// Which page of a list to read: keyset paging on the resources' case-insensitive ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items.
    pub top: u32,
    /// Start after this key (from the previous page's `next`).
    pub after: Option<String>,
}

impl PageRequest {
    /// The largest page a caller may ask for.
    pub const MAX_TOP: u32 = 1000;
    /// The page size when the caller names none.
    pub const DEFAULT_TOP: u32 = 100;
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// The key to continue after, when there are more.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `top + 1` rows read in key order: the extra row says there is more.
    pub fn from_overfetch(mut rows: Vec<T>, top: u32, key: impl Fn(&T) -> String) -> Self {
        let top = top as usize;
        let next = if rows.len() > top {
            rows.truncate(top);
            rows.last().map(&key)
        } else {
            None
        };
        Self { items: rows, next }
    }
}

/// Whether the store answers, for readiness probes.
#[async_trait::async_trait]
pub trait Readiness: Send + Sync {
    /// Succeeds when the store can be used now.
    ///
    /// # Errors
    /// [`StoreError`] saying why it cannot.
    async fn ready(&self) -> Result<(), StoreError>;
}
