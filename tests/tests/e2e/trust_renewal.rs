//! The embedded trust server over time and across replicas, never mocked: a `berthd` run
//! 15 days in the past under libfaketime signs a timestamp that has expired by the time a
//! real-time `berthd` starts on the same data, which renews it when it is read (as
//! notary-server's `GetOrCreateTimestamp` does); and two `berthd` replicas on one
//! PostgreSQL schema serve one trust store: one collection, one server-managed snapshot
//! key, one timestamp key however many first requests race, one changefeed.

use super::content_trust::{list, service, trust_url};
use super::trust_clients::openssl_with;
use super::trust_contract::{Cli, digest, signer_in, tags, trusted_registry};
use super::*;
use berth_infra::persistence::SeaOrmTufStore;
use berth_notary::encoding::sha256_hex;
use berth_notary::{RoleName, StoredTufFile, TufMetadataStore, TufSelector};
use berth_tests::fixtures::{access, signed_in};
use berth_tests::notary::notary_auth;
use berth_tests::roles::{ACR_PULL, NULL_USER};
use berth_tests::{Backend, SpawnOptions, spawn_app_with};
use berth_tests::{jwt_claims, poll};
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The root passphrase `notary_cli` gives the CLI: an imported root key is encrypted with it.
const NOTARY_ROOT_PASSPHRASE: &str = "berth-tests-root";
/// How far in the past the first `berthd` runs: more than a timestamp's 14 days.
const SHIFT: Duration = Duration::days(15);
/// How close two instants must be to count as the same (test steps take seconds).
const SLACK: Duration = Duration::minutes(10);

/// Debian's libfaketime preload library (package `libfaketime`, pulled in by `faketime`).
///
/// # Panics
/// When it is not installed: the test fails, never skips.
fn libfaketime() -> PathBuf {
    let mut dirs = vec![PathBuf::from("/usr/local/lib/faketime")];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(entries.flatten().map(|e| e.path().join("faketime")));
    }
    dirs.push(PathBuf::from("/usr/lib/faketime"));
    dirs.into_iter()
        .map(|dir| dir.join("libfaketime.so.1"))
        .find(|lib| lib.is_file())
        .unwrap_or_else(|| {
            panic!(
                "libfaketime.so.1 is not installed (looked in /usr/lib/*/faketime/): \
                 ./scripts/test installs it (Debian's faketime package)"
            )
        })
}

/// The environment that runs a dynamically linked program `offset` from real time
/// (libfaketime's relative `FAKETIME`, e.g. `-15d`), its monotonic clock left alone so
/// that timers and timeouts keep working.
fn faked(offset: &str) -> Vec<(String, String)> {
    vec![
        ("LD_PRELOAD".into(), libfaketime().display().to_string()),
        ("FAKETIME".into(), offset.into()),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ]
}

/// `berthd` as a process of its own (so that it runs under libfaketime, and restarts).
fn berthd() -> Option<PathBuf> {
    Some(env!("CARGO_BIN_EXE_berthd-e2e").into())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A root key for `gun` (ECDSA P-256, encrypted as notary imports it) and a certificate
/// of it made 16 days in the past, valid for ten years, in `dir`.
///
/// The notary CLI (Go, on real time) would make the certificate itself, valid from now:
/// a `berthd` living 15 days in the past refuses that root ("unable to retrieve valid
/// leaf certificates"), as notary-server would. Here openssl runs under libfaketime.
fn backdated_root(gun: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let (plain, key, cert, config) = (
        dir.join("root-plain.pem"),
        dir.join("root.pem"),
        dir.join("root.crt"),
        dir.join("root.cnf"),
    );
    // A leaf certificate (notary ignores CA certificates as roots) named after the GUN.
    std::fs::write(
        &config,
        format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = leaf\nprompt = no\n\
             [dn]\nCN = {gun}\n\
             [leaf]\nbasicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage = codeSigning\n"
        ),
    )
    .unwrap();
    openssl_with(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            path(&plain),
        ],
        &[],
    );
    // PKCS#8 with PBES2, AES-256-CBC and PBKDF2 over HMAC-SHA1, the one PRF notary 0.7
    // knows, under the CLI's root passphrase.
    let pass = format!("pass:{NOTARY_ROOT_PASSPHRASE}");
    openssl_with(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-v2prf",
            "hmacWithSHA1",
            "-passout",
            &pass,
            "-in",
            path(&plain),
            "-out",
            path(&key),
        ],
        &[],
    );
    openssl_with(
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            path(&plain),
            "-sha256",
            "-days",
            "3650",
            "-config",
            path(&config),
            "-out",
            path(&cert),
        ],
        &faked("-16d"),
    );
    (key, cert)
}

/// The trust server's answer to GET `file` of `gun` with a token of `refresh` for
/// `actions`: status and raw bytes.
async fn fetch(
    app: &TestApp,
    gun: &str,
    refresh: &str,
    actions: &str,
    file: &str,
) -> (StatusCode, Vec<u8>) {
    let t = access(
        app,
        service(app),
        &format!("repository:{gun}:{actions}"),
        refresh,
    )
    .await;
    let token = t.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no {actions} token for {gun}: {:?}", t.body));
    let r = app
        .client
        .get(format!("{}/v2/{gun}/_trust/{file}", trust_url(app)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status(), r.bytes().await.unwrap().to_vec())
}

/// TUF metadata `file` (`timestamp.json`…) of `gun` as served to the holder of a pull
/// token of `refresh`; its raw bytes and JSON.
async fn served(app: &TestApp, gun: &str, refresh: &str, file: &str) -> (Vec<u8>, Value) {
    let (status, bytes) = fetch(app, gun, refresh, "pull", &format!("tuf/{file}")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "GET {file} of {gun}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let json = serde_json::from_slice(&bytes).unwrap();
    (bytes, json)
}

/// `signed.expires` of TUF metadata.
fn expires(metadata: &Value) -> OffsetDateTime {
    let text = metadata["signed"]["expires"]
        .as_str()
        .unwrap_or_else(|| panic!("no expires: {metadata}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("expires {text}: {e}"))
}

/// Whether `instant` is within [`SLACK`] of `expected`.
fn about(instant: OffsetDateTime, expected: OffsetDateTime) -> bool {
    (instant - expected).abs() < SLACK
}

/// The key IDs of the signatures of TUF metadata.
fn signing_keys(metadata: &Value) -> Vec<String> {
    metadata["signatures"]
        .as_array()
        .unwrap_or_else(|| panic!("no signatures: {metadata}"))
        .iter()
        .map(|s| s["keyid"].as_str().unwrap().to_owned())
        .collect()
}

/// The key IDs a root gives `role`.
fn root_key_ids(root: &Value, role: &str) -> Vec<String> {
    root["signed"]["roles"][role]["keyids"]
        .as_array()
        .unwrap_or_else(|| panic!("no {role} role: {root}"))
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect()
}

/// The current timestamp of `gun` as stored in the app's database (what `berthd` serves
/// unless it renews it).
async fn stored_timestamp(app: &TestApp, gun: &str) -> StoredTufFile {
    SeaOrmTufStore::new(app.database().await)
        .get(gun, &RoleName::Timestamp, &TufSelector::Current)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no timestamp of {gun} is stored"))
}

berth_tests::per_backend! {
    /// A `berthd` 15 days in the past publishes; a `berthd` in real time on the same data
    /// serves the collection with a renewed timestamp.
    async fn expired_server_signed_metadata_is_renewed_when_read(backend) {
        renewal(backend).await;
    }
}

async fn renewal(backend: Backend) {
    let mut past = step_a_berthd_15_days_in_the_past_issues_what_is_dated_then(backend).await;
    let (registry, login) = trusted_registry(&past, "renewreg1").await;
    let gun = format!("{login}/app");
    let signer_refresh = signer_in(&past, &registry, "renew-signer").await;
    let (_, _, reader) = signed_in(&past, &registry, ACR_PULL, "renew-reader").await;
    let owner =
        step_the_signer_publishes_v1_with_a_backdated_root(&past, &gun, &signer_refresh).await;
    let old = step_the_timestamp_signed_then_is_served_as_is(&past, &gun, &reader).await;
    step_the_notary_cli_in_real_time_refuses_that_timestamp(&past, &owner, &gun, &reader).await;
    step_stopped_the_stored_timestamp_is_the_expired_one(&mut past, &gun, &old).await;
    let present = step_a_berthd_in_real_time_starts_on_the_same_data(backend, &past).await;
    let reader =
        step_reading_renews_the_timestamp_once(&present, &past, &registry, &gun, &old).await;
    step_clients_list_and_publish_again(&present, &registry, &gun, &reader, owner).await;
}

/// When a token was issued (its `iat`).
fn issued_at(token: &str) -> OffsetDateTime {
    let iat = jwt_claims(token)["iat"]
        .as_i64()
        .unwrap_or_else(|| panic!("no iat: {token}"));
    OffsetDateTime::from_unix_timestamp(iat).unwrap()
}

/// A berthd 15 days in the past: what it issues is dated then.
async fn step_a_berthd_15_days_in_the_past_issues_what_is_dated_then(backend: Backend) -> TestApp {
    let past = spawn_app_with(
        backend,
        SpawnOptions {
            process: berthd(),
            env: faked("-15d"),
            ..SpawnOptions::default()
        },
    )
    .await;
    let issued = issued_at(&past.management_token);
    assert!(
        about(issued, OffsetDateTime::now_utc() - SHIFT),
        "berthd under libfaketime (FAKETIME=-15d) issued a token at {issued}, not 15 days ago:\n{}",
        past.log()
    );
    past
}

/// The signer publishes tag v1 in one go (its root certificate made in the past too).
/// Returns its CLI, whose trust directory the later steps go on with.
async fn step_the_signer_publishes_v1_with_a_backdated_root(
    past: &TestApp,
    gun: &str,
    signer_refresh: &str,
) -> Cli {
    let owner = Cli::new(past, signer_refresh);
    let (key, cert) = backdated_root(gun, owner.dir.path());
    owner
        .ok(&[
            "init",
            "--rootkey",
            path(&key),
            "--rootcert",
            path(&cert),
            gun,
        ])
        .await;
    owner
        .ok(&["addhash", gun, "v1", "4", "--sha256", &digest(1)])
        .await;
    let out = owner.ok(&["publish", gun]).await;
    assert!(out.contains("Successfully published changes"), "{out}");
    owner
}

/// The timestamp the berthd in the past signed and served, and the timestamp keys its root
/// names.
struct OldTimestamp {
    timestamp_keys: Vec<String>,
    old_bytes: Vec<u8>,
    old: Value,
    old_version: i64,
    old_expiry: OffsetDateTime,
}

/// berthd signed the timestamp at its time: valid for 14 days from 15 days ago, so expired
/// a day ago in real time, though berthd, living in the past, serves it as is.
async fn step_the_timestamp_signed_then_is_served_as_is(
    past: &TestApp,
    gun: &str,
    reader: &str,
) -> OldTimestamp {
    let (_, root) = served(past, gun, reader, "root.json").await;
    let timestamp_keys = root_key_ids(&root, "timestamp");
    let (old_bytes, old) = served(past, gun, reader, "timestamp.json").await;
    let old_version = old["signed"]["version"].as_i64().unwrap();
    let old_expiry = expires(&old);
    assert!(
        about(
            old_expiry,
            OffsetDateTime::now_utc() - SHIFT + Duration::days(14)
        ),
        "the timestamp berthd signed 15 days ago expires at {old_expiry}: {old}"
    );
    assert_eq!(signing_keys(&old), timestamp_keys, "{old}");
    OldTimestamp {
        timestamp_keys,
        old_bytes,
        old,
        old_version,
        old_expiry,
    }
}

/// The notary CLI runs in real time (not under libfaketime, which could not reach a Go
/// binary's clock anyway): it refuses that timestamp, to read and to publish.
async fn step_the_notary_cli_in_real_time_refuses_that_timestamp(
    past: &TestApp,
    owner: &Cli,
    gun: &str,
    reader: &str,
) {
    let (ok, out) = Cli::new(past, reader).run(&["list", gun]).await;
    assert!(
        !ok && out.contains("timestamp expired"),
        "a fresh reader: {out}"
    );
    let (ok, out) = owner
        .run(&["addhash", "-p", gun, "v2", "4", "--sha256", &digest(2)])
        .await;
    assert!(
        !ok && out.contains("timestamp expired"),
        "the signer's next publish: {out}"
    );
}

/// Stopped: the stored timestamp is the one served, written 15 days ago, expired now.
async fn step_stopped_the_stored_timestamp_is_the_expired_one(
    past: &mut TestApp,
    gun: &str,
    old: &OldTimestamp,
) {
    past.kill().await;
    let stored = stored_timestamp(past, gun).await;
    assert_eq!(
        (stored.version, stored.data.as_slice()),
        (old.old_version, old.old_bytes.as_slice())
    );
    assert!(
        about(stored.stored_at, OffsetDateTime::now_utc() - SHIFT),
        "{:?}",
        stored.stored_at
    );
    assert!(
        old.old_expiry < OffsetDateTime::now_utc(),
        "the stored timestamp had not expired"
    );
}

/// The same data, in real time: a berthd that issues what is dated now.
async fn step_a_berthd_in_real_time_starts_on_the_same_data(
    backend: Backend,
    past: &TestApp,
) -> TestApp {
    let present = spawn_app_with(
        backend,
        SpawnOptions {
            process: berthd(),
            reuse: Some((past.data_dir.path().to_owned(), past.schema.clone())),
            ..SpawnOptions::default()
        },
    )
    .await;
    let issued = issued_at(&present.management_token);
    assert!(
        about(issued, OffsetDateTime::now_utc()),
        "issued at {issued}"
    );
    present
}

/// Reading timestamp.json renews it: a newer version, valid for 14 days from now, signed by
/// the same key and naming the same snapshot, stored, and served again as is. Returns the
/// refresh token of a reader signed in again.
async fn step_reading_renews_the_timestamp_once(
    present: &TestApp,
    past: &TestApp,
    registry: &str,
    gun: &str,
    old: &OldTimestamp,
) -> String {
    let OldTimestamp {
        timestamp_keys,
        old,
        old_version,
        old_expiry,
        ..
    } = old;
    // Tokens issued in the past have long expired: sign in again.
    let (_, _, reader) = signed_in(present, registry, ACR_PULL, "renew-reader-2").await;
    let (new_bytes, new) = served(present, gun, &reader, "timestamp.json").await;
    let new_version = new["signed"]["version"].as_i64().unwrap();
    let new_expiry = expires(&new);
    assert!(
        new_version > *old_version,
        "the expired timestamp (version {old_version}, expired at {old_expiry}) was served \
         again, not renewed: {new}"
    );
    assert!(
        about(new_expiry, OffsetDateTime::now_utc() + Duration::days(14)),
        "the renewed timestamp expires at {new_expiry}, not in 14 days: {new}"
    );
    assert_eq!(
        &signing_keys(&new),
        timestamp_keys,
        "signed by the same timestamp key: {new}"
    );
    assert_eq!(
        new["signed"]["meta"]["snapshot"], old["signed"]["meta"]["snapshot"],
        "it names the same snapshot (the signer's, valid for 3 years)"
    );
    let stored = stored_timestamp(past, gun).await;
    assert_eq!(
        (stored.version, stored.data),
        (new_version, new_bytes.clone())
    );
    // Renewed once: the next read serves the same file.
    assert_eq!(
        served(present, gun, &reader, "timestamp.json").await.0,
        new_bytes
    );
    reader
}

/// A fresh AcrPull client verifies everything from the root down, and lists v1; the signer
/// (signed in again) publishes the change its refused publish staged.
async fn step_clients_list_and_publish_again(
    present: &TestApp,
    registry: &str,
    gun: &str,
    reader: &str,
    owner: Cli,
) {
    let listed = list(present, gun, reader).await.unwrap_or_default();
    assert_eq!(
        tags(&listed),
        vec![("v1".to_owned(), "targets".to_owned())],
        "{listed}"
    );
    let signer_refresh = signer_in(present, registry, "renew-signer-2").await;
    let owner = Cli {
        url: trust_url(present).to_owned(),
        auth: notary_auth(NULL_USER, &signer_refresh),
        ..owner
    };
    owner.ok(&["publish", gun]).await;
    let listed = list(present, gun, reader).await.unwrap_or_default();
    assert_eq!(
        tags(&listed),
        vec![
            ("v1".to_owned(), "targets".to_owned()),
            ("v2".to_owned(), "targets".to_owned())
        ],
        "{listed}"
    );
}

/// A changefeed page of `gun` through `app`: its records.
async fn changefeed(app: &TestApp, gun: &str, refresh: &str) -> Vec<Value> {
    let (status, bytes) = fetch(app, gun, refresh, "pull", "changefeed?records=100").await;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "changefeed of {gun}: {body}");
    body["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records: {body}"))
        .clone()
}

/// `<role>.key` of `gun` through `app` (it needs push and pull).
async fn server_key(app: &TestApp, gun: &str, refresh: &str, role: &str) -> Value {
    let (status, bytes) = fetch(app, gun, refresh, "push,pull", &format!("tuf/{role}.key")).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "GET {role}.key of {gun}: {body}");
    body
}

/// Waits (3 s at most) until `app`'s token server grants `actions` of `scope` to the
/// holder of `refresh`, as it does once it sees the role assignments made through another
/// replica.
async fn granted_by(app: &TestApp, scope: &str, refresh: &str, actions: &[&str]) {
    let last = &std::cell::RefCell::new(Value::Null);
    let grant = || async move {
        let t = access(app, service(app), scope, refresh).await;
        assert_eq!(t.status, StatusCode::OK, "{scope}: {:?}", t.body);
        let claims = jwt_claims(t.body["access_token"].as_str().unwrap());
        let granted = claims["access"][0]["actions"] == json!(actions);
        *last.borrow_mut() = claims;
        granted.then_some(())
    };
    let wait = std::time::Duration::from_secs(3);
    if poll(wait, std::time::Duration::from_millis(100), grant)
        .await
        .is_some()
    {
        return;
    }
    let last = last.borrow();
    panic!(
        "{} did not grant {actions:?} of {scope} within 3 s of the role assignments made \
         through the other replica; it issued {last}",
        app.base
    );
}

/// Whether `root` gives `role` the key `key` (a `<role>.key` answer).
fn names_key(root: &Value, role: &str, key: &Value) -> bool {
    root_key_ids(root, role)
        .iter()
        .any(|id| root["signed"]["keys"][id]["keyval"]["public"] == key["keyval"]["public"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgresql_serve_one_trust_store() {
    let (a, b) = step_two_replicas_share_one_schema_and_data_directory().await;
    let c = step_roles_assigned_through_a_reach_b(&a, &b).await;
    let through_a = step_published_through_a_is_listed_through_b(&a, &b, &c).await;
    let feed_before =
        step_a_signs_with_the_snapshot_key_rotated_in_through_b(&a, &b, &c, through_a).await;
    step_bs_changefeed_has_as_publish(&a, &b, &c, &feed_before).await;
    step_racing_first_requests_get_one_timestamp_key(&a, &b, &c).await;
}

/// Two replicas of one deployment, B started on A's schema and data directory; each serves
/// a trust server of its own.
async fn step_two_replicas_share_one_schema_and_data_directory() -> (TestApp, TestApp) {
    let a = spawn_app_with(Backend::Postgres, SpawnOptions::default()).await;
    let b = spawn_app_with(
        Backend::Postgres,
        SpawnOptions {
            reuse: Some((a.data_dir.path().to_owned(), a.schema.clone())),
            ..SpawnOptions::default()
        },
    )
    .await;
    assert_ne!(trust_url(&a), trust_url(&b), "two trust servers");
    // One deployment: one schema and one data directory, whose secrets key seals the
    // trust server's keys.
    assert_eq!(a.owner, b.owner);
    (a, b)
}

/// What the steps of [`two_replicas_on_one_postgresql_serve_one_trust_store`] share besides
/// the two replicas: the registry's login server, the collection, and the refresh tokens
/// of its signer and of a reader.
struct Collection {
    login: String,
    gun: String,
    signer_refresh: String,
    reader: String,
}

/// A registry with content trust, a signer and a reader, made through A. Role assignments
/// made through A reach B within a second (each replica refreshes its authorization index
/// from the shared database); B's token server then takes the refresh tokens A issued,
/// since both have the same token keys.
async fn step_roles_assigned_through_a_reach_b(a: &TestApp, b: &TestApp) -> Collection {
    let (registry, login) = trusted_registry(a, "replreg01").await;
    let gun = format!("{login}/app");
    let signer_refresh = signer_in(a, &registry, "repl-signer").await;
    let (_, _, reader) = signed_in(a, &registry, ACR_PULL, "repl-reader").await;
    granted_by(b, &format!("repository:{gun}:*"), &signer_refresh, &["*"]).await;
    granted_by(b, &format!("repository:{gun}:pull"), &reader, &["pull"]).await;
    Collection {
        login,
        gun,
        signer_refresh,
        reader,
    }
}

/// Published through A, listed by a fresh AcrPull client through B. Returns the signer's
/// CLI through A.
async fn step_published_through_a_is_listed_through_b(
    a: &TestApp,
    b: &TestApp,
    c: &Collection,
) -> Cli {
    let gun = &c.gun;
    let through_a = Cli::new(a, &c.signer_refresh);
    through_a.ok(&["init", "-p", gun]).await;
    through_a
        .ok(&["addhash", "-p", gun, "v1", "4", "--sha256", &digest(1)])
        .await;
    let listed = list(b, gun, &c.reader).await.unwrap_or_default();
    assert_eq!(
        tags(&listed),
        vec![("v1".to_owned(), "targets".to_owned())],
        "{listed}"
    );
    through_a
}

/// The snapshot key handed to the server through B; A then signs with that one key, and
/// both replicas hand it out. Returns B's changefeed from before A's publish.
async fn step_a_signs_with_the_snapshot_key_rotated_in_through_b(
    a: &TestApp,
    b: &TestApp,
    c: &Collection,
    through_a: Cli,
) -> Vec<Value> {
    let Collection {
        gun,
        signer_refresh,
        reader,
        ..
    } = c;
    let v1 = ("v1".to_owned(), "targets".to_owned());
    let v2 = ("v2".to_owned(), "targets".to_owned());
    let through_b = Cli {
        url: trust_url(b).to_owned(),
        ..through_a
    };
    through_b
        .ok(&["key", "rotate", gun, "snapshot", "-r"])
        .await;
    let through_a = Cli {
        url: trust_url(a).to_owned(),
        ..through_b
    };
    let feed_before = changefeed(b, gun, reader).await;
    through_a
        .ok(&["addhash", "-p", gun, "v2", "4", "--sha256", &digest(2)])
        .await;
    let listed = list(b, gun, reader).await.unwrap_or_default();
    assert_eq!(tags(&listed), vec![v1, v2], "{listed}");
    let key_a = server_key(a, gun, signer_refresh, "snapshot").await;
    let key_b = server_key(b, gun, signer_refresh, "snapshot").await;
    assert_eq!(
        key_a, key_b,
        "the replicas hand out different snapshot keys"
    );
    let (_, root) = served(b, gun, reader, "root.json").await;
    assert!(
        names_key(&root, "snapshot", &key_a),
        "the root names the server's snapshot key: {root} / {key_a}"
    );
    let (_, snapshot) = served(a, gun, reader, "snapshot.json").await;
    assert_eq!(
        signing_keys(&snapshot),
        root_key_ids(&root, "snapshot"),
        "A signed the snapshot with the key rotated in through B: {snapshot}"
    );
    feed_before
}

/// B's changefeed has A's publish: one new record, the timestamp A serves.
async fn step_bs_changefeed_has_as_publish(
    a: &TestApp,
    b: &TestApp,
    c: &Collection,
    feed_before: &[Value],
) {
    let feed = changefeed(b, &c.gun, &c.reader).await;
    assert_eq!(
        feed.len(),
        feed_before.len() + 1,
        "one publish, one record: {feed:?}"
    );
    let (timestamp_bytes, timestamp) = served(a, &c.gun, &c.reader, "timestamp.json").await;
    let record = feed.last().unwrap();
    assert_eq!(
        (
            record["GUN"].as_str(),
            record["Category"].as_str(),
            record["Version"].as_i64(),
            record["SHA256"].as_str(),
        ),
        (
            Some(c.gun.as_str()),
            Some("update"),
            timestamp["signed"]["version"].as_i64(),
            Some(sha256_hex(&timestamp_bytes).as_str()),
        ),
        "{record}"
    );
}

/// 16 concurrent first GET timestamp.key of `fresh` with `token`, 8 on each replica: which
/// replica answered, its status and its body.
async fn race_for_the_timestamp_key(
    a: &TestApp,
    b: &TestApp,
    fresh: &str,
    token: &str,
) -> Vec<(&'static str, StatusCode, Value)> {
    let mut racing = tokio::task::JoinSet::new();
    for i in 0..16 {
        let replica = if i % 2 == 0 { "A" } else { "B" };
        let url = format!(
            "{}/v2/{fresh}/_trust/tuf/timestamp.key",
            trust_url(if i % 2 == 0 { a } else { b })
        );
        let (client, token) = (a.client.clone(), token.to_owned());
        racing.spawn(async move {
            let r = client.get(url).bearer_auth(token).send().await.unwrap();
            let status = r.status();
            (
                replica,
                status,
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        });
    }
    racing.join_all().await
}

/// Each distinct public key among `answers`, with the replicas that answered it.
fn distinct_keys<'a>(
    answers: &'a [(&'static str, StatusCode, Value)],
) -> Vec<(String, Vec<&'a str>)> {
    let mut keys: Vec<(String, Vec<&str>)> = Vec::new();
    for (replica, _, body) in answers {
        let public = body["keyval"]["public"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match keys.iter_mut().find(|(key, _)| *key == public) {
            Some((_, by)) => by.push(replica),
            None => keys.push((public, vec![replica])),
        }
    }
    keys
}

/// The server keys of `gun` in the app's database: role, generation and key id.
async fn held_keys(app: &TestApp, gun: &str) -> Vec<(String, i64, String)> {
    let rows =
        <berth_infra::persistence::entities::tuf_server_key::Entity as sea_orm::EntityTrait>::find(
        )
        .all(app.database().await.writer())
        .await
        .unwrap();
    rows.into_iter()
        .filter(|row| row.gun == gun)
        .map(|row| (row.role, row.generation, row.key_id))
        .collect()
}

/// The first requests for a new collection's timestamp key, racing on both replicas: one
/// key for all of them, as notary-server's GetOrCreateTimestampKey gives.
async fn step_racing_first_requests_get_one_timestamp_key(
    a: &TestApp,
    b: &TestApp,
    c: &Collection,
) {
    let signer_refresh = &c.signer_refresh;
    let fresh = format!("{}/fresh", c.login);
    let t = access(
        a,
        service(a),
        &format!("repository:{fresh}:push,pull"),
        signer_refresh,
    )
    .await;
    let token = t.body["access_token"].as_str().unwrap().to_owned();
    let answers = race_for_the_timestamp_key(a, b, &fresh, &token).await;
    for (replica, status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{replica}: {body}");
    }
    let keys = distinct_keys(&answers);
    let held = held_keys(a, &fresh).await;
    assert!(
        keys.len() == 1 && held.len() == 1,
        "16 concurrent first GET timestamp.key of {fresh} (8 on each replica) were answered \
         with {} different keys, and {} keys are stored (role, generation, key id): {held:?}\n\
         keys and the replicas that answered them: {keys:?}\n\
         Expected one get-or-create key, as EmbeddedTrustServer::key documents (the held key \
         the root names, else the newest held key, else a new one): a request that found no \
         held key makes one with SeaOrmTufServerKeys::create, which numbers it after the \
         newest generation it reads then, so a key a concurrent request stored in between \
         does not conflict and a second (third…) key is stored and answered.",
        keys.len(),
        held.len(),
    );
    for replica in [a, b] {
        let key = server_key(replica, &fresh, signer_refresh, "timestamp").await;
        assert_eq!(
            key["keyval"]["public"],
            keys[0].0.as_str(),
            "{}",
            replica.base
        );
    }
}
