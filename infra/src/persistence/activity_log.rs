//! The activity log in SQL: events chained in order of commit under a keyed hash, listed by
//! the indexes the migration made, and verified from the chain's base to its head.
//!
//! Chaining: each row's `hash` is HMAC-SHA256, under a key derived from the secrets key,
//! of the previous row's hash, the row's `seq` and its `data`. Appending locks the chain's
//! head row (`FOR UPDATE` on PostgreSQL; SQLite has one writer) until the transaction
//! commits, so rows are chained in the order their transactions commit, whichever replica
//! writes them. Editing, deleting or inserting a row with SQL breaks the chain at that row,
//! and only the holder of the key could mend it.

use super::entities::activity::{chain, event};
use super::{Database, store_error};
use async_trait::async_trait;
use aws_lc_rs::hmac;
use berth_domain::activity::{
    ActivityEvent, ActivityLog, ActivityQuery, ActivityStatus, ChainReport, Reach,
};
use berth_domain::store::{Page, PageRequest, StoreError};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use std::sync::Arc;
use tracing::instrument;

/// The key records are chained under.
#[derive(Clone)]
pub struct ActivityChainKey(Arc<hmac::Key>);

impl std::fmt::Debug for ActivityChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActivityChainKey")
    }
}

impl ActivityChainKey {
    /// Derives the chain key from the secrets key.
    #[must_use]
    pub fn derive(secret: &[u8]) -> Self {
        let master = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&master, b"berth/activity-chain/v1");
        Self(Arc::new(hmac::Key::new(
            hmac::HMAC_SHA256,
            derived.as_ref(),
        )))
    }

    fn link(&self, previous: &str, seq: i64, data: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(previous.as_bytes());
        ctx.update(b"\n");
        ctx.update(seq.to_string().as_bytes());
        ctx.update(b"\n");
        ctx.update(data.as_bytes());
        hex::encode(ctx.sign().as_ref())
    }
}

fn micros(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// The filter columns of an event, as its row keeps them.
struct Columns {
    subscription: Option<String>,
    resource_group: Option<String>,
    resource_key: String,
    provider: String,
    correlation_id: String,
    caller: String,
    status: String,
    event_time: i64,
}

impl Columns {
    fn of(e: &ActivityEvent) -> Self {
        Self {
            subscription: e.subscription().map(|s| s.to_ascii_lowercase()),
            resource_group: e.resource_group().map(|s| s.to_lowercase()),
            resource_key: e.request.resource_id.to_lowercase(),
            provider: e.resource_provider().to_lowercase(),
            correlation_id: e.request.correlation_id.to_lowercase(),
            caller: e.request.caller.name.to_lowercase(),
            status: e.status.as_str().to_owned(),
            event_time: micros(e.at),
        }
    }

    fn matches(&self, row: &event::Model) -> bool {
        self.subscription == row.subscription
            && self.resource_group == row.resource_group
            && self.resource_key == row.resource_key
            && self.provider == row.provider
            && self.correlation_id == row.correlation_id
            && self.caller == row.caller
            && self.status == row.status
            && self.event_time == row.event_time
    }
}

/// Appends `events` to the chain inside the caller's transaction, holding the chain's head
/// until that transaction ends.
///
/// # Errors
/// [`StoreError`] when the store fails or an event cannot be written as JSON.
pub(crate) async fn append_chained(
    conn: &impl ConnectionTrait,
    key: &ActivityChainKey,
    events: &[ActivityEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let head = chain::Entity::find_by_id(1)
        .lock_exclusive()
        .one(conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| StoreError("the activity chain has no head row".to_owned()))?;
    let (mut seq, mut previous) = (head.seq, head.hash);
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        seq += 1;
        let data = serde_json::to_string(e)
            .map_err(|err| StoreError(format!("an activity event is not JSON: {err}")))?;
        let hash = key.link(&previous, seq, &data);
        let c = Columns::of(e);
        rows.push(event::ActiveModel {
            seq: Set(seq),
            event_id: Set(e.id.to_string()),
            event_time: Set(c.event_time),
            subscription: Set(c.subscription),
            resource_group: Set(c.resource_group),
            resource_key: Set(c.resource_key),
            provider: Set(c.provider),
            correlation_id: Set(c.correlation_id),
            caller: Set(c.caller),
            status: Set(c.status),
            data: Set(data),
            hash: Set(hash.clone()),
        });
        previous = hash;
    }
    event::Entity::insert_many(rows)
        .exec(conn)
        .await
        .map_err(store_error)?;
    chain::Entity::update_many()
        .col_expr(chain::Column::Seq, Expr::value(seq))
        .col_expr(chain::Column::Hash, Expr::value(previous))
        .filter(chain::Column::Id.eq(1))
        .exec(conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// The activity log over the database, chained under the database's key
/// ([`Database::with_activity_chain`]).
#[derive(Debug, Clone)]
pub struct SeaOrmActivityLog {
    db: Database,
}

impl SeaOrmActivityLog {
    /// The log over `db`.
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE` prefix.
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("/%");
    out
}

fn cursor(row: &event::Model) -> String {
    format!("{}:{}", row.event_time, row.seq)
}

fn parse_cursor(text: &str) -> Option<(i64, i64)> {
    let (t, s) = text.split_once(':')?;
    Some((t.parse().ok()?, s.parse().ok()?))
}

fn event_from_row(row: &event::Model) -> Result<ActivityEvent, StoreError> {
    serde_json::from_str(&row.data)
        .map_err(|e| StoreError(format!("activity event {} is unreadable: {e}", row.seq)))
}

#[async_trait]
impl ActivityLog for SeaOrmActivityLog {
    #[instrument(skip_all, err, fields(events = events.len()))]
    async fn append(&self, events: &[ActivityEvent]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().await?;
        txn.append(events).await?;
        txn.commit().await
    }

    #[instrument(skip_all, err)]
    async fn list(
        &self,
        query: &ActivityQuery,
        page: &PageRequest,
    ) -> Result<Page<ActivityEvent>, StoreError> {
        let mut cond = Condition::all()
            .add(match &query.subscription {
                Some(sub) => event::Column::Subscription.eq(sub.to_ascii_lowercase()),
                None => event::Column::Subscription.is_null(),
            })
            .add(event::Column::EventTime.gte(micros(query.range.from())))
            .add(event::Column::EventTime.lte(micros(query.range.to())));
        if let Some(group) = &query.resource_group {
            cond = cond.add(event::Column::ResourceGroup.eq(group.to_lowercase()));
        }
        if let Some(id) = &query.resource_id {
            cond = cond.add(event::Column::ResourceKey.eq(id.trim_end_matches('/').to_lowercase()));
        }
        if let Some(provider) = &query.resource_provider {
            cond = cond.add(event::Column::Provider.eq(provider.to_lowercase()));
        }
        if let Some(correlation) = &query.correlation_id {
            cond = cond.add(event::Column::CorrelationId.eq(correlation.to_lowercase()));
        }
        if let Some(caller) = &query.caller {
            cond = cond.add(event::Column::Caller.eq(caller.to_lowercase()));
        }
        if let Some(status) = query.status {
            cond = cond.add(event::Column::Status.eq(status.as_str()));
        }
        if let Reach::Within(scopes) = &query.reach {
            let mut any = Condition::any();
            for scope in scopes {
                any = any.add(event::Column::ResourceKey.eq(scope.as_str())).add(
                    event::Column::ResourceKey.like(LikeExpr::new(like_prefix(scope)).escape('\\')),
                );
            }
            // An empty `any` is true in sea-query: nowhere must match nothing.
            cond = if scopes.is_empty() {
                cond.add(event::Column::Seq.lt(0))
            } else {
                cond.add(any)
            };
        }
        if let Some(after) = &page.after {
            let (t, s) = parse_cursor(after)
                .ok_or_else(|| StoreError("the page cursor is unreadable".to_owned()))?;
            cond = cond.add(
                Condition::any().add(event::Column::EventTime.lt(t)).add(
                    Condition::all()
                        .add(event::Column::EventTime.eq(t))
                        .add(event::Column::Seq.lt(s)),
                ),
            );
        }
        // The narrowing field leads the order too (it is one value, so the order is the
        // same): the planner then takes the index that field leads, with no statistics.
        let lead = [
            (query.resource_id.is_some(), event::Column::ResourceKey),
            (query.correlation_id.is_some(), event::Column::CorrelationId),
            (query.resource_group.is_some(), event::Column::ResourceGroup),
            (query.caller.is_some(), event::Column::Caller),
            (query.resource_provider.is_some(), event::Column::Provider),
        ]
        .into_iter()
        .find_map(|(given, column)| given.then_some(column));
        let mut find = event::Entity::find().filter(cond);
        if let Some(column) = lead {
            find = find.order_by_desc(column);
        }
        let rows = find
            .order_by_desc(event::Column::EventTime)
            .order_by_desc(event::Column::Seq)
            .limit(u64::from(page.top) + 1)
            .all(self.db.reader())
            .await
            .map_err(store_error)?;
        let page = Page::from_overfetch(rows, page.top, cursor);
        Ok(Page {
            items: page
                .items
                .iter()
                .map(event_from_row)
                .collect::<Result<_, _>>()?,
            next: page.next,
        })
    }

    #[instrument(skip_all, err)]
    async fn verify(&self) -> Result<ChainReport, StoreError> {
        let key = self.db.activity_chain()?;
        let head = chain::Entity::find_by_id(1)
            .one(self.db.reader())
            .await
            .map_err(store_error)?
            .ok_or_else(|| StoreError("the activity chain has no head row".to_owned()))?;
        let (mut expected, mut previous) = (head.base_seq + 1, head.base_hash.clone());
        let mut checked = 0u64;
        loop {
            let rows = event::Entity::find()
                .filter(event::Column::Seq.gte(expected))
                .order_by_asc(event::Column::Seq)
                .limit(1000)
                .all(self.db.reader())
                .await
                .map_err(store_error)?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let broken = |seq, event: Option<&str>, reason: &str| ChainReport::Broken {
                    seq,
                    event: event.and_then(|e| uuid::Uuid::parse_str(e).ok()),
                    reason: reason.to_owned(),
                };
                if row.seq > head.seq {
                    return Ok(broken(
                        row.seq,
                        Some(&row.event_id),
                        "the record is beyond the chain's head: it was added outside Berth",
                    ));
                }
                if row.seq != expected {
                    return Ok(broken(
                        expected,
                        None,
                        "the record is missing: it was deleted",
                    ));
                }
                if key.link(&previous, row.seq, &row.data) != row.hash {
                    return Ok(broken(
                        row.seq,
                        Some(&row.event_id),
                        "the record is not as it was written: it was edited, or its hash was",
                    ));
                }
                let readable = event_from_row(&row).ok();
                let consistent = readable.as_ref().is_some_and(|e| {
                    Columns::of(e).matches(&row) && e.id.to_string() == row.event_id
                });
                if !consistent {
                    return Ok(broken(
                        row.seq,
                        Some(&row.event_id),
                        "the record's columns differ from its sealed data: they were edited",
                    ));
                }
                previous = row.hash;
                expected += 1;
                checked += 1;
            }
        }
        if expected - 1 != head.seq || previous != head.hash {
            return Ok(ChainReport::Broken {
                seq: expected,
                event: None,
                reason: format!(
                    "the chain ends at {} but its head says {}: the last records were deleted",
                    expected - 1,
                    head.seq
                ),
            });
        }
        Ok(ChainReport::Intact { records: checked })
    }
}

/// The events of a long-running operation's step, from the request that started it (kept on
/// its row), or none when it has no such request.
pub(crate) fn operation_step(
    activity: Option<&str>,
    operation_id: uuid::Uuid,
    status: ActivityStatus,
    description: String,
    error_code: Option<String>,
    at: time::OffsetDateTime,
) -> Vec<ActivityEvent> {
    let Some(request) = activity.and_then(|a| serde_json::from_str(a).ok()) else {
        return Vec::new();
    };
    let mut event = ActivityEvent::of(&request, operation_id, status, at);
    event.description = description;
    event.error_code = error_code;
    vec![event]
}

#[cfg(test)]
mod tests {
    use super::super::migration::CHAIN_ORIGIN;
    use super::*;

    #[test]
    fn a_like_prefix_escapes_wildcards_and_adds_the_separator() {
        assert_eq!(
            like_prefix("/subscriptions/a/resourcegroups/r_1%"),
            "/subscriptions/a/resourcegroups/r\\_1\\%/%"
        );
    }

    #[test]
    fn a_link_depends_on_every_input_and_the_key() {
        let k = ActivityChainKey::derive(&[1; 32]);
        let base = k.link(CHAIN_ORIGIN, 1, "{}");
        assert_ne!(base, k.link(CHAIN_ORIGIN, 2, "{}"));
        assert_ne!(base, k.link(CHAIN_ORIGIN, 1, "{ }"));
        assert_ne!(base, k.link(&base, 1, "{}"));
        assert_ne!(
            base,
            ActivityChainKey::derive(&[2; 32]).link(CHAIN_ORIGIN, 1, "{}")
        );
        assert_eq!(base.len(), 64);
    }
}
