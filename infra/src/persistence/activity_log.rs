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
use super::migration::CHAIN_MOVED;
use super::{Database, store_error};
use async_trait::async_trait;
use aws_lc_rs::hmac;
use berth_domain::activity::{
    ACTIVITY_LOG_SCOPE, ActivityCaller, ActivityEvent, ActivityLog, ActivityQuery, ActivityRequest,
    ActivityStatus, ChainReport, PRUNE_ACTION, Reach,
};
use berth_domain::store::{Page, PageRequest, StoreError};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IsolationLevel,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
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

    /// The seal of the chain's start: only the key's holder can move it.
    fn base_mac(&self, seq: i64, hash: &str) -> String {
        self.link("berth/activity-chain/base", seq, hash)
    }

    /// The seal of `chain`'s head: only the key's holder can move it, back over deleted
    /// records for one.
    fn head_mac(&self, chain: i32, head: &ChainHead) -> String {
        self.link(
            &format!("berth/activity-chain/head/{chain}"),
            head.position,
            &head.hash,
        )
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

/// A position in a chain: a record's `position` and `hash` (the head's, or the base's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainHead {
    position: i64,
    hash: String,
}

/// The chains this process appends to, each with the head it last committed there, so the
/// next records are chained without reading the head first. A write transaction leases a
/// chain no other transaction of this process holds ([`Chains::lease`]), so within a process
/// writers never wait for one another's head. A head may still be stale (another replica or
/// process wrote to that chain since): the append then finds it moved and reads it.
#[derive(Debug)]
pub(crate) struct Chains {
    /// The chains free to lease, the most recently returned last.
    free: std::sync::Mutex<Vec<(i32, Option<ChainHead>)>>,
    count: i32,
}

impl Chains {
    /// `count` chains, 1 to `count`, in an order that starts at a random chain, so that
    /// replicas mostly lease different ones.
    pub(crate) fn new(count: i32) -> Self {
        let count = count.max(1);
        let first = random_below(count);
        let free = (0..count)
            .map(|i| ((first + i) % count + 1, None))
            .collect();
        Self {
            free: std::sync::Mutex::new(free),
            count,
        }
    }

    /// How many chains there are.
    pub(crate) fn count(&self) -> i32 {
        self.count
    }

    /// A chain for one transaction: a free one, else (more transactions than chains) one that
    /// another transaction holds, with its head unknown, so the append waits for its lock.
    pub(crate) fn lease(self: &Arc<Self>) -> Lease {
        let taken = self.free.lock().ok().and_then(|mut free| free.pop());
        let (chain, committed, pooled) = match taken {
            Some((chain, head)) => (chain, head, true),
            None => (random_below(self.count) + 1, None, false),
        };
        Lease {
            chain,
            committed,
            pending: None,
            pooled,
            chains: Arc::clone(self),
        }
    }
}

/// A number from 0 to `n` - 1, at random (`n` >= 1).
fn random_below(n: i32) -> i32 {
    i32::try_from(uuid::Uuid::new_v4().as_u128() % u128::from(n.unsigned_abs())).unwrap_or(0)
}

/// A chain leased by one write transaction. Dropped, it goes back to the free chains with the
/// head its transaction committed, or the one it had when the transaction did not commit.
#[derive(Debug)]
pub(crate) struct Lease {
    chain: i32,
    committed: Option<ChainHead>,
    /// The head after this transaction's records, until it commits.
    pending: Option<ChainHead>,
    pooled: bool,
    chains: Arc<Chains>,
}

impl Lease {
    /// Notes that the transaction committed: its records' head is the chain's.
    pub(crate) fn committed(mut self) {
        if let Some(head) = self.pending.take() {
            self.committed = Some(head);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.pooled
            && let Ok(mut free) = self.chains.free.lock()
        {
            free.push((self.chain, self.committed.take()));
        }
    }
}

/// The rows of `events`, chained in `chain` after `head`. `seq` is the position on SQLite
/// (one chain); PostgreSQL assigns it.
fn chain_rows(
    key: &ActivityChainKey,
    chain: i32,
    head: &ChainHead,
    events: &[ActivityEvent],
) -> Result<Vec<event::Model>, StoreError> {
    let (mut position, mut previous) = (head.position, head.hash.clone());
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        position += 1;
        let data = serde_json::to_string(e)
            .map_err(|err| StoreError(format!("an activity event is not JSON: {err}")))?;
        let hash = key.link(&previous, position, &data);
        let c = Columns::of(e);
        previous.clone_from(&hash);
        rows.push(event::Model {
            seq: position,
            event_id: e.id.to_string(),
            event_time: c.event_time,
            subscription: c.subscription,
            resource_group: c.resource_group,
            resource_key: c.resource_key,
            provider: c.provider,
            correlation_id: c.correlation_id,
            caller: c.caller,
            status: c.status,
            data,
            hash,
            chain,
            position,
        });
    }
    Ok(rows)
}

/// The head after `rows`.
fn last_of(rows: &[event::Model]) -> Option<ChainHead> {
    rows.last().map(|r| ChainHead {
        position: r.position,
        hash: r.hash.clone(),
    })
}

/// The columns PostgreSQL's append writes (`seq` comes from its sequence).
const COLUMNS: &str = "chain, position, event_id, event_time, subscription, resource_group, \
                       resource_key, provider, correlation_id, caller, status, data, hash";

/// Appends `events` to the leased chain inside the caller's transaction, holding that chain's
/// head until the transaction ends; the lease keeps the new head for when it commits.
///
/// When the lease knows the head, the rows are chained after it and written in one statement
/// that also checks and advances the head: on PostgreSQL an insert whose data-modifying `WITH`
/// moves the head row only if it is still where the lease says (locking it); on SQLite an
/// insert the migration's triggers check and follow. When the head has moved (or is not
/// known), it is read (`FOR UPDATE` on PostgreSQL) and the rows chained after it.
///
/// # Errors
/// [`StoreError`] when the store fails or an event cannot be written as JSON.
pub(crate) async fn append_chained(
    conn: &impl ConnectionTrait,
    key: &ActivityChainKey,
    lease: &mut Lease,
    events: &[ActivityEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    if let Some(head) = lease.pending.clone().or_else(|| lease.committed.clone())
        && let Some(after) = append_after(conn, key, lease.chain, &head, events).await?
    {
        lease.pending = Some(after);
        return Ok(());
    }
    let head = chain::Entity::find_by_id(lease.chain)
        .lock_exclusive()
        .one(conn)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            StoreError(format!(
                "the activity log has no head row for chain {}",
                lease.chain
            ))
        })?;
    let head = ChainHead {
        position: head.seq,
        hash: head.hash,
    };
    // The head was just read, and locked, in this transaction: it cannot have moved.
    let after = append_after(conn, key, lease.chain, &head, events)
        .await?
        .ok_or_else(|| {
            StoreError("the activity chain's head moved within a transaction".to_owned())
        })?;
    lease.pending = Some(after);
    Ok(())
}

/// Chains `events` in `chain` after `head` and writes them in one statement that checks
/// and moves the head; the new head, or `None` (nothing written) when the head is no longer
/// `head`.
async fn append_after(
    conn: &impl ConnectionTrait,
    key: &ActivityChainKey,
    chain: i32,
    head: &ChainHead,
    events: &[ActivityEvent],
) -> Result<Option<ChainHead>, StoreError> {
    let rows = chain_rows(key, chain, head, events)?;
    let Some(after) = last_of(&rows) else {
        return Ok(Some(head.clone()));
    };
    let moved = SealedMove {
        chain,
        seal: key.head_mac(chain, &after),
        after,
    };
    let appended = if conn.get_database_backend() == DbBackend::Postgres {
        append_after_postgres(conn, head, &moved, &rows).await?
    } else {
        insert_followed(conn, &moved, &rows).await?
    };
    Ok(appended.then_some(moved.after))
}

/// Where an append moves a chain's head (`after`, the last of its rows), with that head's
/// seal.
struct SealedMove {
    chain: i32,
    after: ChainHead,
    seal: String,
}

/// Seals every chain head without a seal, as it is (M0020); how many it sealed.
pub(crate) async fn seal_unsealed_heads(
    conn: &impl ConnectionTrait,
    key: &ActivityChainKey,
) -> Result<u64, StoreError> {
    let unsealed = chain::Entity::find()
        .filter(chain::Column::HeadMac.eq(""))
        .all(conn)
        .await
        .map_err(store_error)?;
    let mut sealed = 0;
    for head in unsealed {
        let seal = key.head_mac(
            head.id,
            &ChainHead {
                position: head.seq,
                hash: head.hash.clone(),
            },
        );
        // Unless an append moved (and sealed) it meanwhile.
        sealed += chain::Entity::update_many()
            .col_expr(chain::Column::HeadMac, Expr::value(seal))
            .filter(chain::Column::Id.eq(head.id))
            .filter(chain::Column::Seq.eq(head.seq))
            .filter(chain::Column::Hash.eq(head.hash))
            .filter(chain::Column::HeadMac.eq(""))
            .exec(conn)
            .await
            .map_err(store_error)?
            .rows_affected;
    }
    Ok(sealed)
}

/// SQLite: inserts `rows` in one statement, which the triggers refuse when the rows do not
/// follow their chain's head (false: nothing was written) and otherwise make the head, then
/// seals the head where `moved` says.
async fn insert_followed(
    conn: &impl ConnectionTrait,
    moved: &SealedMove,
    rows: &[event::Model],
) -> Result<bool, StoreError> {
    let tuple = format!("({})", vec!["?"; 14].join(", "));
    let sql = format!(
        "INSERT INTO activity_events (seq, {COLUMNS}) VALUES {}",
        vec![tuple; rows.len()].join(", ")
    );
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 14);
    for r in rows {
        values.push(r.seq.into());
        values.extend(row_values(r));
    }
    let inserted = conn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await
        .map_err(store_error);
    match inserted {
        Ok(_) => {}
        Err(e) if e.0.contains(CHAIN_MOVED) => return Ok(false),
        Err(e) => return Err(e),
    }
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "UPDATE activity_chain SET head_mac = ? WHERE id = ? AND seq = ?",
        [
            moved.seal.clone().into(),
            moved.chain.into(),
            moved.after.position.into(),
        ],
    ))
    .await
    .map_err(store_error)?;
    Ok(true)
}

/// A row's values in the order of [`COLUMNS`].
fn row_values(r: &event::Model) -> [sea_orm::Value; 13] {
    [
        r.chain.into(),
        r.position.into(),
        r.event_id.clone().into(),
        r.event_time.into(),
        r.subscription.clone().into(),
        r.resource_group.clone().into(),
        r.resource_key.clone().into(),
        r.provider.clone().into(),
        r.correlation_id.clone().into(),
        r.caller.clone().into(),
        r.status.clone().into(),
        r.data.clone().into(),
        r.hash.clone().into(),
    ]
}

/// PostgreSQL: moves the chain's head from `head` where `moved` says (the last of `rows`),
/// sealed, and inserts `rows`, in one statement, or does nothing when the head is no longer
/// `head` (false). The head row stays locked until the transaction ends; a writer waiting
/// for it sees the head moved.
async fn append_after_postgres(
    conn: &impl ConnectionTrait,
    head: &ChainHead,
    moved: &SealedMove,
    rows: &[event::Model],
) -> Result<bool, StoreError> {
    let mut values: Vec<sea_orm::Value> = vec![
        moved.after.position.into(),
        moved.after.hash.clone().into(),
        head.position.into(),
        moved.chain.into(),
        moved.seal.clone().into(),
    ];
    let mut tuples = Vec::with_capacity(rows.len());
    for r in rows {
        let first = values.len() + 1;
        tuples.push(format!(
            "({})",
            (first..first + 13)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        values.extend(row_values(r));
    }
    let sql = format!(
        "WITH head AS (UPDATE activity_chain SET seq = $1, hash = $2, head_mac = $5 \
         WHERE id = $4 AND seq = $3 RETURNING id) INSERT INTO activity_events ({COLUMNS}) \
         SELECT v.* FROM head, (VALUES {}) AS v({COLUMNS}) ORDER BY v.position",
        tuples.join(", ")
    );
    let done = conn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .map_err(store_error)?;
    Ok(done.rows_affected() == rows.len() as u64)
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

    #[instrument(skip_all, err, fields(before = %before))]
    async fn prune(&self, before: time::OffsetDateTime) -> Result<u64, StoreError> {
        let key = self.db.activity_chain()?.clone();
        let txn = self.db.begin_write().await?;
        // Every chain's head, locked: appends wait until the prune commits.
        let heads = chain::Entity::find()
            .order_by_asc(chain::Column::Id)
            .lock_exclusive()
            .all(&txn)
            .await
            .map_err(store_error)?;
        // Where the period starts in the rows' order: the first row inside it. In each chain
        // `seq` grows with the position (a chain's next record is inserted only once the one
        // before it committed, its head held), so the rows before it are, in every chain, a
        // run from the chain's start. Found through the primary key, reading only the rows
        // that go: every append waits for this prune.
        let cut: Option<i64> = event::Entity::find()
            .select_only()
            .column(event::Column::Seq)
            .filter(event::Column::EventTime.gte(micros(before)))
            .order_by_asc(event::Column::Seq)
            .limit(1)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(store_error)?;
        let before_cut = || match cut {
            Some(cut) => event::Column::Seq.lt(cut),
            None => event::Column::Seq.is_not_null(),
        };
        // Each chain's last row before it.
        let lasts: Vec<(i32, Option<i64>)> = event::Entity::find()
            .select_only()
            .column(event::Column::Chain)
            .column_as(event::Column::Seq.max(), "last")
            .filter(before_cut())
            .group_by(event::Column::Chain)
            .into_tuple()
            .all(&txn)
            .await
            .map_err(store_error)?;
        let mut moved = Vec::new();
        for head in heads {
            let Some(seq) = lasts
                .iter()
                .find(|(chain, _)| *chain == head.id)
                .and_then(|(_, last)| *last)
            else {
                continue;
            };
            let last = event::Entity::find_by_id(seq)
                .one(&txn)
                .await
                .map_err(store_error)?
                .ok_or_else(|| StoreError(format!("activity record {seq} vanished")))?;
            let through = last.position;
            chain::Entity::update_many()
                .col_expr(chain::Column::BaseSeq, Expr::value(through))
                .col_expr(chain::Column::BaseHash, Expr::value(last.hash.clone()))
                .col_expr(
                    chain::Column::BaseMac,
                    Expr::value(key.base_mac(through, &last.hash)),
                )
                .filter(chain::Column::Id.eq(head.id))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            moved.push(format!(
                "chain {} now starts after its record {through}",
                head.id
            ));
        }
        if moved.is_empty() {
            return Ok(0);
        }
        let deleted = event::Entity::delete_many()
            .filter(before_cut())
            .exec(&txn)
            .await
            .map_err(store_error)?
            .rows_affected;
        let mut record = berth_record(PRUNE_ACTION, ACTIVITY_LOG_SCOPE, "PRUNE");
        let before = before
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        record.description = format!(
            "{deleted} records from before {before} were deleted; {}.",
            moved.join(", ")
        );
        txn.append(&[record]).await?;
        txn.commit().await?;
        Ok(deleted)
    }

    #[instrument(skip_all, err)]
    async fn verify(&self) -> Result<ChainReport, StoreError> {
        let key = self.db.activity_chain()?;
        // One snapshot for the heads and every record, so that writes committing meanwhile
        // (berthd keeps serving) are not taken for records added outside Berth: PostgreSQL's
        // repeatable read; SQLite's read transaction (WAL) from its first read.
        let reader = self.db.reader();
        let snapshot = if reader.get_database_backend() == DbBackend::Postgres {
            reader
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await
        } else {
            reader.begin().await
        }
        .map_err(store_error)?;
        let heads = chain::Entity::find()
            .order_by_asc(chain::Column::Id)
            .all(&snapshot)
            .await
            .map_err(store_error)?;
        let broken = |seq, event: Option<&str>, reason: String| ChainReport::Broken {
            seq,
            event: event.and_then(|e| uuid::Uuid::parse_str(e).ok()),
            reason,
        };
        let expected_chains = self.db.chain_count();
        let ids: Vec<i32> = heads.iter().map(|h| h.id).collect();
        if ids != (1..=expected_chains).collect::<Vec<_>>() {
            return Ok(broken(
                0,
                None,
                format!(
                    "the log has {expected_chains} chains, but their heads are {ids:?}: a head \
                     was deleted or added outside Berth"
                ),
            ));
        }
        // Per chain: the position expected next and the hash it must follow.
        let mut chains = std::collections::HashMap::new();
        for head in &heads {
            if head.base_seq > 0 && key.base_mac(head.base_seq, &head.base_hash) != head.base_mac {
                return Ok(broken(
                    head.base_seq + 1,
                    None,
                    "the chain's start was moved outside Berth: the records before it may \
                     have been deleted"
                        .to_owned(),
                ));
            }
            chains.insert(head.id, (head, head.base_seq + 1, head.base_hash.clone()));
        }
        let (mut after, mut checked) = (i64::MIN, 0u64);
        loop {
            let rows = event::Entity::find()
                .filter(event::Column::Seq.gt(after))
                .order_by_asc(event::Column::Seq)
                .limit(1000)
                .all(&snapshot)
                .await
                .map_err(store_error)?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.seq;
            for row in rows {
                let Some((head, expected, previous)) = chains.get_mut(&row.chain) else {
                    return Ok(broken(
                        row.seq,
                        Some(&row.event_id),
                        format!(
                            "the record names chain {}, which does not exist: it was added \
                             outside Berth",
                            row.chain
                        ),
                    ));
                };
                if row.position > head.seq {
                    return Ok(broken(
                        row.seq,
                        Some(&row.event_id),
                        "the record is beyond its chain's head: it was added outside Berth"
                            .to_owned(),
                    ));
                }
                if row.position != *expected {
                    let reason = if row.position > *expected {
                        format!(
                            "record {expected} of chain {} before it is missing: it was deleted",
                            row.chain
                        )
                    } else {
                        "the record is out of its place in its chain: it was added or moved \
                         outside Berth"
                            .to_owned()
                    };
                    return Ok(broken(row.seq, Some(&row.event_id), reason));
                }
                if key.link(previous, row.position, &row.data) != row.hash {
                    return Ok(broken(
                        row.seq,
                        Some(&row.event_id),
                        "the record is not as it was written: it was edited, or its hash was"
                            .to_owned(),
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
                        "the record's columns differ from its sealed data: they were edited"
                            .to_owned(),
                    ));
                }
                *previous = row.hash;
                *expected += 1;
                checked += 1;
            }
        }
        for head in &heads {
            let Some((_, expected, previous)) = chains.get(&head.id) else {
                continue;
            };
            let end = ChainHead {
                position: *expected - 1,
                hash: previous.clone(),
            };
            if end.position != head.seq || end.hash != head.hash {
                return Ok(broken(
                    *expected,
                    None,
                    format!(
                        "chain {} ends at its record {} but its head says {}: the last records \
                         were deleted",
                        head.id,
                        *expected - 1,
                        head.seq
                    ),
                ));
            }
            if key.head_mac(head.id, &end) != head.head_mac {
                return Ok(broken(
                    *expected,
                    None,
                    format!(
                        "chain {}'s head was moved outside Berth (it ends at its record {}): \
                         the records after it may have been deleted",
                        head.id, end.position
                    ),
                ));
            }
        }
        Ok(ChainReport::Intact { records: checked })
    }
}

/// A record Berth makes of its own work (`operation` on `resource_id` by `berth`, now,
/// succeeded), with ids of its own.
fn berth_record(operation: &str, resource_id: &str, method: &str) -> ActivityEvent {
    let now = time::OffsetDateTime::now_utc();
    let request = ActivityRequest {
        operation: operation.to_owned(),
        resource_id: resource_id.to_owned(),
        caller: ActivityCaller::berth(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        client_request_id: None,
        client_address: None,
        trace_id: None,
        method: method.to_owned(),
        started_at: now,
    };
    ActivityEvent::of(
        &request,
        uuid::Uuid::new_v4(),
        ActivityStatus::Succeeded,
        now,
    )
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

    fn event() -> ActivityEvent {
        berth_record(
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/g",
            "PUT",
        )
    }

    /// Records written before M0019 (one chain, positions in `seq`) verify after it and
    /// M0020 (whose process seals the heads), and new ones chain after them; on a SQLite file
    /// and on PostgreSQL (a schema of its own at `BERTH_TEST_POSTGRES_URL`, as the test
    /// command sets it), each from M0018 as it landed (no `base_mac`) and from the development
    /// build of M0018 that added `base_mac`.
    #[tokio::test]
    async fn records_written_before_the_chains_verify_and_are_followed_after_m0019() {
        use super::super::migration::Migrator;
        use super::super::{Database, DatabaseTarget};
        use sea_orm_migration::MigratorTrait;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = std::env::var("BERTH_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let key = ActivityChainKey::derive(&[7; 32]);
        for (target, sealed_start) in [false, true].into_iter().flat_map(|sealed| {
            let schema = format!("m0019_{}", uuid::Uuid::new_v4().simple());
            [
                (
                    DatabaseTarget::Sqlite(dir.path().join(format!("{schema}.db"))),
                    sealed,
                ),
                (
                    DatabaseTarget::Postgres {
                        url: url.clone(),
                        schema: Some(schema),
                    },
                    sealed,
                ),
            ]
        }) {
            // The database as M0018 left it, with two records chained then.
            let conn = match &target {
                DatabaseTarget::Sqlite(path) => {
                    sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
                        .await
                }
                DatabaseTarget::Postgres { url, schema } => {
                    let admin = sea_orm::Database::connect(url.as_str())
                        .await
                        .unwrap_or_else(|e| {
                            panic!("PostgreSQL at {url} (set BERTH_TEST_POSTGRES_URL): {e}")
                        });
                    let schema = schema.clone().unwrap_or_default();
                    admin
                        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    let mut options = sea_orm::ConnectOptions::new(url.clone());
                    options.set_schema_search_path(schema);
                    sea_orm::Database::connect(options).await
                }
            }
            .unwrap_or_else(|e| panic!("{e}"));
            // Every migration before M0019.
            let before_m0019 = Migrator::migrations()
                .iter()
                .position(|m| m.name() == "m0019_activity_chains")
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or_else(|| panic!("no migration m0019_activity_chains"));
            Migrator::up(&conn, Some(before_m0019))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            if sealed_start {
                conn.execute_unprepared(
                    "ALTER TABLE activity_chain ADD COLUMN base_mac varchar NOT NULL DEFAULT ''",
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            }
            let origin = ChainHead {
                position: 0,
                hash: CHAIN_ORIGIN.to_owned(),
            };
            let rows =
                chain_rows(&key, 1, &origin, &[event(), event()]).unwrap_or_else(|e| panic!("{e}"));
            let backend = conn.get_database_backend();
            for r in &rows {
                let sql = "INSERT INTO activity_events (seq, event_id, event_time, subscription, \
                           resource_group, resource_key, provider, correlation_id, caller, \
                           status, data, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                           $11, $12)";
                // M0018's columns: `seq`, then today's but for `chain` and `position`.
                let mut values: Vec<sea_orm::Value> = vec![r.seq.into()];
                values.extend(row_values(r).into_iter().skip(2));
                conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            if backend == DbBackend::Postgres {
                // M0018's PostgreSQL append moved the head in its statement.
                conn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    "UPDATE activity_chain SET seq = 2, hash = $1 WHERE id = 1",
                    [rows[1].hash.clone().into()],
                ))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            }
            conn.close().await.unwrap_or_else(|e| panic!("{e}"));
            // berthd after the upgrade: the old records verify and a new one follows them.
            let db = Database::open(&target)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .with_activity_chain(key.clone());
            // It applied M0020, so it seals every head, as they are.
            assert_eq!(
                db.seal_migrated_chain_heads()
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
                u64::try_from(db.chain_count()).unwrap_or_default(),
                "{target:?}"
            );
            let log = SeaOrmActivityLog::new(db.clone());
            log.append(&[event()])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                log.verify().await.unwrap_or_else(|e| panic!("{e}")),
                ChainReport::Intact { records: 3 },
                "{target:?}, base_mac before M0019: {sealed_start}"
            );
            if let DatabaseTarget::Postgres {
                url,
                schema: Some(schema),
            } = &target
            {
                let admin = sea_orm::Database::connect(url.as_str())
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                admin
                    .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
}
