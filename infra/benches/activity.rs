//! Benchmark of the activity log, in one run, on a SQLite file and (when
//! `BERTH_BENCH_POSTGRES_URL` is set) on PostgreSQL:
//! 1. what the record adds to a control-plane write: a resource group's update (its row
//!    rewritten in a write transaction, as a PATCH does) inside a request's recording, so
//!    that the commit appends and chains its Started and Succeeded events, against the same
//!    update outside any recording (no record), interleaved in blocks; goal: >= 0.9x;
//! 2. listing 100 events out of 1,000,000 (80 days, 50 groups, 20 callers) with each filter
//!    ARM takes, through the port berthd's handler calls; goal: p99 < 50 ms.
//!
//! Run with `cargo bench -p berth-infra --bench activity` (bench/activity.sh runs it);
//! `BERTH_BENCH_LIST=off` measures the write only, `BERTH_BENCH_SQLITE=off` PostgreSQL only.

use berth_domain::activity::{
    ActivityCaller, ActivityEvent, ActivityLog, ActivityQuery, ActivityRequest, ActivityStatus,
    Reach, TimeRange,
};
use berth_domain::arm::{ETag, Location, ResourceGroupId, ResourceGroupName, SubscriptionId, Tags};
use berth_domain::resource_group::{ResourceGroup, ResourceGroupRepository};
use berth_domain::store::PageRequest;
use berth_domain::subscription::{Subscription, SubscriptionRepository};
use berth_infra::activity::{RequestFacts, note_action, note_caller, recorded};
use berth_infra::persistence::{
    ActivityChainKey, Database, DatabaseTarget, SeaOrmActivityLog, SeaOrmResourceGroupRepository,
    SeaOrmSubscriptionRepository,
};
use std::time::Instant;
use time::{Duration, OffsetDateTime};

const BLOCKS: usize = 10;
const PER_BLOCK: usize = 200;
const EVENTS: usize = 1_000_000;

/// The events seeded (`BERTH_BENCH_EVENTS`, for a quicker look; 1,000,000 by default).
fn events() -> usize {
    std::env::var("BERTH_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(EVENTS)
}
const QUERIES: usize = 200;

type Error = Box<dyn std::error::Error>;

/// The query of a filter's `i`th run.
type QueryOf<'a> = Box<dyn Fn(usize) -> ActivityQuery + 'a>;

fn facts() -> RequestFacts {
    RequestFacts {
        correlation_id: uuid::Uuid::new_v4().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        client_request_id: None,
        client_address: Some("127.0.0.1".to_owned()),
        trace_id: None,
        method: "PATCH".to_owned(),
        by_path: None,
    }
}

fn caller(i: usize) -> ActivityCaller {
    ActivityCaller {
        object_id: Some(uuid::Uuid::from_u128(i as u128 + 1)),
        name: format!("user-{i}@berth.local"),
        kind: "User".to_owned(),
    }
}

async fn update_cost(db: &Database, sub: SubscriptionId) -> Result<(f64, f64), Error> {
    let subs = SeaOrmSubscriptionRepository::new(db.clone());
    subs.insert_if_absent(&Subscription {
        id: sub,
        display_name: "bench".to_owned(),
        tenant_id: uuid::Uuid::new_v4(),
        state: "Enabled".to_owned(),
    })
    .await?;
    let groups = SeaOrmResourceGroupRepository::new(db.clone());
    let id = ResourceGroupId {
        subscription: sub,
        name: ResourceGroupName::parse("patched")?,
    };
    let mut group = ResourceGroup {
        id: id.clone(),
        location: Location::parse("westus")?,
        tags: Tags::default(),
        managed_by: None,
        provisioning_state: berth_domain::arm::ProvisioningState::Succeeded,
        etag: ETag::generate(),
    };
    groups.insert(&group).await?;
    let scope = id.to_string();
    let (mut with, mut without) = (0.0, 0.0);
    for block in 0..BLOCKS * 2 {
        let recording = block % 2 == 0;
        let start = Instant::now();
        for _ in 0..PER_BLOCK {
            let expected = group.etag.clone();
            group.etag = ETag::generate();
            if recording {
                let (done, _) = recorded(facts(), async {
                    note_caller(caller(0));
                    note_action(
                        "Microsoft.Resources/subscriptions/resourceGroups/write",
                        &scope,
                        true,
                    );
                    groups.update(&group, &expected).await
                })
                .await;
                done?;
            } else {
                groups.update(&group, &expected).await?;
            }
        }
        let micros = start.elapsed().as_secs_f64() * 1e6 / PER_BLOCK as f64;
        if recording {
            with += micros / BLOCKS as f64;
        } else {
            without += micros / BLOCKS as f64;
        }
    }
    Ok((with, without))
}

async fn seed(
    log: &SeaOrmActivityLog,
    sub: SubscriptionId,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let span = Duration::days(80).whole_seconds();
    let mut batch = Vec::with_capacity(2000);
    for i in 0..events() {
        let group = i % 50;
        let request = ActivityRequest {
            operation: "Microsoft.ContainerRegistry/registries/write".to_owned(),
            resource_id: format!(
                "/subscriptions/{sub}/resourceGroups/rg-{group}/providers/Microsoft.ContainerRegistry/registries/reg{}",
                i % 500
            ),
            caller: caller(i % 20),
            correlation_id: format!("corr-{}", i / 2),
            request_id: uuid::Uuid::new_v4().to_string(),
            client_request_id: None,
            client_address: Some("10.0.0.1".to_owned()),
            trace_id: None,
            method: "PATCH".to_owned(),
            started_at: now,
        };
        // Spread over 80 days, in no particular order of time.
        let at = now - Duration::seconds((i as i64 * 7919) % span);
        let status = if i % 2 == 0 {
            ActivityStatus::Started
        } else {
            ActivityStatus::Succeeded
        };
        batch.push(ActivityEvent::of(
            &request,
            uuid::Uuid::new_v4(),
            status,
            at,
        ));
        if batch.len() == 2000 {
            log.append(&batch).await?;
            batch.clear();
        }
    }
    log.append(&batch).await?;
    Ok(())
}

fn p(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

async fn list_cost(
    log: &SeaOrmActivityLog,
    sub: SubscriptionId,
    now: OffsetDateTime,
) -> Result<Vec<(String, f64, f64)>, Error> {
    let base = ActivityQuery {
        subscription: Some(sub.to_string()),
        range: TimeRange::new(now - Duration::days(90), now)?,
        resource_group: None,
        resource_id: None,
        resource_provider: None,
        correlation_id: None,
        caller: None,
        status: None,
        reach: Reach::All,
    };
    let cases: Vec<(&str, QueryOf<'_>)> = vec![
        ("time range only", Box::new(|_| base.clone())),
        (
            "resourceGroupName",
            Box::new(|i| ActivityQuery {
                resource_group: Some(format!("RG-{}", i % 50)),
                ..base.clone()
            }),
        ),
        (
            "resourceUri",
            Box::new(|i| ActivityQuery {
                resource_id: Some(format!(
                    "/subscriptions/{sub}/resourceGroups/rg-{}/providers/Microsoft.ContainerRegistry/registries/reg{}",
                    i % 50,
                    i % 500
                )),
                ..base.clone()
            }),
        ),
        (
            "resourceProvider",
            Box::new(|_| ActivityQuery {
                resource_provider: Some("Microsoft.ContainerRegistry".to_owned()),
                ..base.clone()
            }),
        ),
        (
            "correlationId",
            Box::new(|i| ActivityQuery {
                correlation_id: Some(format!("corr-{}", i * 2477 % 500_000)),
                ..base.clone()
            }),
        ),
        (
            "caller",
            Box::new(|i| ActivityQuery {
                caller: Some(format!("user-{}@berth.local", i % 20)),
                ..base.clone()
            }),
        ),
        (
            "a group's reader (reach)",
            Box::new(|i| ActivityQuery {
                reach: Reach::Within(vec![format!(
                    "/subscriptions/{sub}/resourcegroups/rg-{}",
                    i % 50
                )]),
                ..base.clone()
            }),
        ),
    ];
    let page = PageRequest {
        top: 100,
        after: None,
    };
    let mut out = Vec::new();
    for (name, query) in cases {
        let mut times = Vec::with_capacity(QUERIES);
        for i in 0..QUERIES {
            let q = query(i);
            let start = Instant::now();
            let found = log.list(&q, &page).await?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(found);
        }
        times.sort_by(f64::total_cmp);
        out.push((name.to_owned(), p(&times, 0.5), p(&times, 0.99)));
    }
    Ok(out)
}

async fn run(label: &str, target: DatabaseTarget) -> Result<(), Error> {
    let key = ActivityChainKey::derive(&[7; 32]);
    let db = Database::open(&target).await?.with_activity_chain(key);
    db.seal_migrated_chain_heads().await?;
    let sub = SubscriptionId::parse(&uuid::Uuid::new_v4().to_string())?;
    let (with, without) = update_cost(&db, sub).await?;
    println!("## {label}");
    println!("| write | µs per update | throughput vs no record (goal >= 0.90) |");
    println!("|---|---|---|");
    println!("| update, no record (baseline) | {without:.1} | 1.00 |");
    println!(
        "| update, Started + Succeeded chained in its transaction | {with:.1} | {:.2} |",
        without / with
    );
    if std::env::var("BERTH_BENCH_LIST").as_deref() == Ok("off") {
        println!();
        return Ok(());
    }
    let log = SeaOrmActivityLog::new(db.clone());
    let now = OffsetDateTime::now_utc();
    let seeding = Instant::now();
    seed(&log, sub, now).await?;
    // What autovacuum does after a bulk load (and SQLite's `PRAGMA optimize`): the planner
    // then knows how selective each column is.
    {
        use sea_orm::ConnectionTrait;
        let analyze = if matches!(target, DatabaseTarget::Postgres { .. }) {
            "ANALYZE activity_events"
        } else {
            "PRAGMA optimize"
        };
        db.writer().execute_unprepared(analyze).await?;
    }
    println!();
    let events = events();
    println!(
        "{events} events seeded (chained) in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );
    println!("| list 100 of {events}, {QUERIES} queries | p50 ms | p99 ms (goal < 50) |");
    println!("|---|---|---|");
    for (name, p50, p99) in list_cost(&log, sub, now).await? {
        println!("| {name} | {p50:.2} | {p99:.2} |");
    }
    println!();
    // The hourly prune when nothing is due (every record is within 80 days): every append
    // waits while it runs. Against the read the prune made before it went through the
    // primary key: each chain's first record inside the period, by event time.
    let before = now - Duration::days(90);
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let start = Instant::now();
        use sea_orm::ConnectionTrait;
        let backend = db.reader().get_database_backend();
        db.reader()
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                "SELECT chain, MIN(position) FROM activity_events WHERE event_time >= $1 GROUP BY chain",
                [i64::try_from(before.unix_timestamp_nanos() / 1000)?.into()],
            ))
            .await?;
        old.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        let pruned = log.prune(before).await?;
        new.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(pruned, 0, "nothing is older than 90 days");
    }
    old.sort_by(f64::total_cmp);
    new.sort_by(f64::total_cmp);
    println!(
        "prune with nothing due over {events} events, median of 5: {:.2} ms (the read it made before: {:.2} ms)",
        p(&new, 0.5),
        p(&old, 0.5)
    );
    println!();
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    if std::env::var("BERTH_BENCH_SQLITE").as_deref() != Ok("off") {
        run(
            "SQLite (file, WAL)",
            DatabaseTarget::Sqlite(dir.path().join("bench.db")),
        )
        .await?;
    }
    if let Ok(url) = std::env::var("BERTH_BENCH_POSTGRES_URL") {
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let result = run(
            "PostgreSQL",
            DatabaseTarget::Postgres {
                url: url.clone(),
                schema: Some(schema.clone()),
            },
        )
        .await;
        let db = Database::open(&DatabaseTarget::Postgres { url, schema: None }).await?;
        use sea_orm::ConnectionTrait;
        db.writer()
            .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await?;
        result?;
    }
    Ok(())
}
