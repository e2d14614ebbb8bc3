//! Content trust end to end, against Debian's notary-server (on PostgreSQL), the notary
//! CLI, docker-registry and skopeo: ACR's documented rules, the irreversible wipe as a
//! durable long-running operation, and its faults.

use super::trust_contract::signer_in;
use super::*;
use berth_infra::config::EMBEDDED_TRUST_SERVICE;
use berth_tests::fixtures::{access, login_server, set_trust, signed_in, trust};
use berth_tests::notary::{NotaryServer, SERVICE, notary_auth, notary_cli};
use berth_tests::registry::{DockerRegistry, oci_layout, skopeo};
use berth_tests::roles::{ACR_PULL, ACR_PUSH, NULL_USER, SIGNER, assign};
use berth_tests::{Backend, Reply, SpawnOptions, spawn_app_with};
use berth_tests::{jwt_claims, poll};
use std::path::Path;
use std::time::Duration;

const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Which trust store content trust uses: the one contract, two adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Adapter {
    /// `berthd`'s own trust server (the default).
    Embedded,
    /// Debian's notary-server, driven over its HTTP API.
    NotaryServer,
}

/// An app whose content trust uses `adapter`, with extra settings.
pub(super) async fn with_trust(
    backend: Backend,
    adapter: Adapter,
    env: &[(&str, &str)],
) -> TestApp {
    spawn_app_with(
        backend,
        SpawnOptions {
            notary: adapter == Adapter::NotaryServer,
            env: berth_tests::settings(env),
            ..SpawnOptions::default()
        },
    )
    .await
}

/// An app with a notary-server, and extra settings.
async fn with_notary(backend: Backend, env: &[(&str, &str)]) -> TestApp {
    with_trust(backend, Adapter::NotaryServer, env).await
}

fn notary(app: &TestApp) -> &NotaryServer {
    app.notary.as_ref().unwrap()
}

/// The URL of the trust server the app's content trust uses.
pub(super) fn trust_url(app: &TestApp) -> &str {
    app.trust_url
        .as_deref()
        .unwrap_or_else(|| panic!("the app serves no trust server and uses none"))
}

/// The `service` of that trust server, for token requests.
pub(super) fn service(app: &TestApp) -> &'static str {
    if app.notary.is_some() {
        SERVICE
    } else {
        EMBEDDED_TRUST_SERVICE
    }
}

/// The trust server's log, for assertion messages (notary-server's; berthd's own logs go
/// to the test's output).
fn trust_log(app: &TestApp) -> String {
    app.notary
        .as_ref()
        .map(NotaryServer::log)
        .unwrap_or_default()
}

/// The notary CLI's environment: its credentials, and `berthd`'s CA when the token realm
/// is HTTPS (Go reads `SSL_CERT_FILE`).
fn cli_env<'a>(app: &'a TestApp, auth: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("NOTARY_AUTH", auth)];
    if let Some(ca) = app.ca_file.as_deref().and_then(Path::to_str) {
        env.push(("SSL_CERT_FILE", ca));
    }
    env
}

/// `notary init -p` then `addhash -p <gun> <tag>` as the holder of `refresh`, in the trust
/// directory `dir` (kept, so its metadata can be read afterwards).
pub(super) async fn publish(
    app: &TestApp,
    gun: &str,
    tag: &str,
    refresh: &str,
    dir: &Path,
) -> (bool, String) {
    let url = trust_url(app).to_owned();
    let dir = dir.display().to_string();
    let auth = notary_auth(NULL_USER, refresh);
    let env = cli_env(app, &auth);
    let (ok, out, err) = notary_cli(&["-s", &url, "-d", &dir, "init", "-p", gun], &env).await;
    if !ok {
        return (false, format!("init: {out}{err}"));
    }
    let (ok, out, err) = notary_cli(
        &[
            "-s", &url, "-d", &dir, "addhash", "-p", gun, tag, "4", "--sha256", DIGEST,
        ],
        &env,
    )
    .await;
    (ok, format!("addhash: {out}{err}"))
}

/// `notary list <gun>` as the holder of `refresh`: `Some(output)` when it lists, `None` when
/// the server has no trust data for it.
pub(super) async fn list(app: &TestApp, gun: &str, refresh: &str) -> Option<String> {
    let auth = notary_auth(NULL_USER, refresh);
    let (ok, out, err) =
        notary_cli(&["-s", trust_url(app), "list", gun], &cli_env(app, &auth)).await;
    if ok {
        return Some(out);
    }
    assert!(
        out.contains(&format!("does not have trust data for {gun}")),
        "notary list {gun}: {out}{err}"
    );
    None
}

/// The `Azure-AsyncOperation` status of `reply`'s operation, polled until it ends or
/// `within` passes; returns the last status document.
pub(super) async fn follow(app: &TestApp, url: &str, within: Duration) -> Value {
    let status = || async {
        let (status, body) = app.get(url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    let ended = poll(within, Duration::from_millis(250), || async {
        Some(status().await).filter(|body| body["status"] != "InProgress")
    })
    .await;
    match ended {
        Some(body) => body,
        None => status().await,
    }
}

/// The operation's status once it reports a failed attempt (or after 20 s).
pub(super) async fn first_failure(app: &TestApp, url: &str) -> Value {
    let failed = poll(
        Duration::from_secs(20),
        Duration::from_millis(250),
        || async {
            Some(app.get(url).await.1).filter(|status| status["error"]["code"].is_string())
        },
    )
    .await;
    match failed {
        Some(status) => status,
        None => app.get(url).await.1,
    }
}

pub(super) fn operation_url(reply: &Reply) -> String {
    reply
        .header("azure-asyncoperation")
        .unwrap_or_else(|| {
            panic!(
                "no Azure-AsyncOperation: {:?} {:?}",
                reply.headers, reply.body
            )
        })
        .to_owned()
}

/// Uploads TUF metadata files (`role` → JSON) to `gun` as the notary CLI does, with `token`.
async fn upload(app: &TestApp, gun: &str, token: &str, files: &[(&str, Vec<u8>)]) -> StatusCode {
    super::trust_contract::upload_parts(app, gun, token, files)
        .await
        .status
}

/// The seed scenario of ACR's content-trust documentation, with a push token issued before
/// the disable used to write trust data while the wipe runs: the final sweep removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_flow_signs_reads_and_wipes_exactly_one_registry_on_notary_server() {
    documented_flow(Adapter::NotaryServer).await;
}

/// The same on the embedded default: nothing but `berthd` (and the data plane) runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_flow_signs_reads_and_wipes_exactly_one_registry_on_the_embedded_server() {
    documented_flow(Adapter::Embedded).await;
}

async fn documented_flow(adapter: Adapter) {
    let flow = step_two_registries_have_content_trust_and_principals(adapter).await;
    let (distribution, image) = step_an_image_is_pushed_to_the_data_plane(&flow).await;
    step_acr_push_alone_does_not_sign(&flow).await;
    let dir = step_signers_sign_and_readers_read(&flow).await;
    let (early_token, early_claims, files) =
        step_a_push_token_is_issued_before_the_disable(&flow, &dir).await;
    let op = step_the_disable_is_a_long_running_wipe(&flow).await;
    step_the_wipe_removes_what_the_early_token_wrote_back(
        &flow,
        &early_token,
        &early_claims,
        &files,
        &op,
    )
    .await;
    step_only_the_disabled_registrys_trust_data_is_gone(&flow, &image).await;
    // The data plane served the pull above; it stops here.
    drop(distribution);
    step_enabling_again_starts_empty(&flow).await;
}

/// What the steps of [`documented_flow`] share: the app, its two registries with content
/// trust on, their GUNs, and the principals' refresh tokens.
struct Flow {
    app: TestApp,
    adapter: Adapter,
    r1: String,
    app_gun: String,
    app_b_gun: String,
    other_gun: String,
    signer: String,
    signer_refresh: String,
    reader_refresh: String,
    signer2_refresh: String,
    /// Registry 1's login server.
    host1: String,
}

/// Two Premium registries with content trust enabled (not long-running), a signer-to-be
/// (AcrPush), a reader (AcrPull), and a signer of the second registry.
async fn step_two_registries_have_content_trust_and_principals(adapter: Adapter) -> Flow {
    // Push tokens live 5 s; the trust server accepts them 60 s past their expiry (Berth's
    // default leeway, Notary's own), so notary-server's wipe has its final sweep about 65 s
    // after the last one; the embedded server refuses them itself once the disable is in.
    let app = with_trust(
        Backend::Postgres,
        adapter,
        &[("BERTH_TRUST_PUSH_TOKEN_SECS", "5")],
    )
    .await;
    app.create_group("dct").await;
    let (r1, r2) = (
        app.registry_path("dct", "dctreg01"),
        app.registry_path("dct", "dctreg02"),
    );
    for r in [&r1, &r2] {
        let name = r.rsplit('/').next().unwrap();
        app.create_registry("dct", name, "Premium").await;
        let on = set_trust(&app, r, "enabled").await;
        assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
        assert_eq!(
            on.body["properties"]["policies"]["trustPolicy"],
            json!({"type": "Notary", "status": "enabled"})
        );
        assert!(
            on.header("azure-asyncoperation").is_none(),
            "enabling is not long-running"
        );
    }
    let (host1, host2) = (login_server(&app, &r1).await, login_server(&app, &r2).await);
    let (app_gun, app_b_gun, other_gun) = (
        format!("{host1}/app"),
        format!("{host1}/app-b"),
        format!("{host2}/app"),
    );
    let (signer, _, signer_refresh) = signed_in(&app, &r1, ACR_PUSH, "dct-signer").await;
    let (_, _, reader_refresh) = signed_in(&app, &r1, ACR_PULL, "dct-reader").await;
    let signer2_refresh = signer_in(&app, &r2, "dct-signer2").await;
    Flow {
        app,
        adapter,
        r1,
        app_gun,
        app_b_gun,
        other_gun,
        signer,
        signer_refresh,
        reader_refresh,
        signer2_refresh,
        host1,
    }
}

/// An image in registry 1's data plane, pushed by the signer-to-be; returns the registry and
/// the image's reference.
async fn step_an_image_is_pushed_to_the_data_plane(flow: &Flow) -> (DockerRegistry, String) {
    let Flow {
        app,
        signer_refresh,
        ..
    } = flow;
    // An image in registry 1's data plane, pushed by the signer-to-be.
    let distribution = DockerRegistry::start(
        &app.base,
        &flow.host1,
        "berth-token-server",
        &app.data_dir.path().join("registry-token-certs.pem"),
    )
    .await;
    let layout = tempfile::tempdir().unwrap();
    let source = format!("oci:{}:v1", oci_layout(layout.path(), "v1").display());
    let image = format!("docker://{}/app:v1", distribution.address);
    let (ok, err) = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("{NULL_USER}:{signer_refresh}"),
        &source,
        &image,
    ])
    .await;
    assert!(ok, "push: {err}");
    (distribution, image)
}

/// AcrPush alone does not sign: no push scope on the GUN, and the CLI cannot publish.
async fn step_acr_push_alone_does_not_sign(flow: &Flow) {
    let Flow {
        app,
        app_gun,
        signer_refresh,
        reader_refresh,
        ..
    } = flow;
    // AcrPush alone does not sign: no push scope on the GUN, and the CLI cannot publish.
    let t = access(
        app,
        service(app),
        &format!("repository:{app_gun}:pull,push"),
        signer_refresh,
    )
    .await;
    assert_eq!(
        jwt_claims(t.body["access_token"].as_str().unwrap())["access"][0]["actions"],
        json!(["pull"])
    );
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = publish(app, app_gun, "v1", signer_refresh, dir.path()).await;
    assert!(!ok, "AcrPush without AcrImageSigner published: {out}");
    assert_eq!(list(app, app_gun, reader_refresh).await, None);
}

/// With AcrImageSigner (and a new token) the same user signs, another registry's signer signs
/// there, and AcrPull reads the signed tag; returns the signer's trust directory.
async fn step_signers_sign_and_readers_read(flow: &Flow) -> tempfile::TempDir {
    let Flow {
        app,
        r1,
        app_gun,
        app_b_gun,
        other_gun,
        signer,
        signer_refresh,
        reader_refresh,
        signer2_refresh,
        ..
    } = flow;
    // With AcrImageSigner (and a new token), the same user signs; another registry's
    // signer signs there.
    assign(app, r1, SIGNER, signer).await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = publish(app, app_gun, "v1", signer_refresh, dir.path()).await;
    assert!(ok, "{out}\n{}", trust_log(app));
    let (ok, out) = publish(
        app,
        app_b_gun,
        "v1",
        signer_refresh,
        tempfile::tempdir().unwrap().path(),
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out) = publish(
        app,
        other_gun,
        "v1",
        signer2_refresh,
        tempfile::tempdir().unwrap().path(),
    )
    .await;
    assert!(ok, "{out}");
    // AcrPull reads the signed tag.
    let listed = list(app, app_gun, reader_refresh).await.unwrap();
    assert!(listed.contains("v1"), "{listed}");
    dir
}

/// A push token issued before the disable (short-lived), and the metadata the signer
/// published: the token, its claims and the files.
async fn step_a_push_token_is_issued_before_the_disable(
    flow: &Flow,
    dir: &tempfile::TempDir,
) -> (String, Value, Vec<(&'static str, Vec<u8>)>) {
    let Flow {
        app,
        app_gun,
        signer_refresh,
        ..
    } = flow;
    // A push token issued before the disable, and the metadata the signer published.
    let early = access(
        app,
        service(app),
        &format!("repository:{app_gun}:pull,push"),
        signer_refresh,
    )
    .await;
    let early_token = early.body["access_token"].as_str().unwrap().to_owned();
    let early_claims = jwt_claims(&early_token);
    assert_eq!(
        early_claims["access"][0]["actions"],
        json!(["pull", "push"])
    );
    assert!(
        early_claims["exp"].as_i64().unwrap() - early_claims["iat"].as_i64().unwrap() <= 5,
        "trust push tokens are short-lived: {early_claims}"
    );
    let metadata = dir.path().join("tuf").join(app_gun).join("metadata");
    let files: Vec<(&str, Vec<u8>)> = ["root", "targets", "snapshot"]
        .into_iter()
        .map(|role| {
            (
                role,
                std::fs::read(metadata.join(format!("{role}.json")))
                    .unwrap_or_else(|e| panic!("{role}.json in {}: {e}", metadata.display())),
            )
        })
        .collect();
    (early_token, early_claims, files)
}

/// Disable: a long-running operation, with ACR's rules while it runs; returns its status URL.
async fn step_the_disable_is_a_long_running_wipe(flow: &Flow) -> String {
    let Flow {
        app,
        adapter,
        r1,
        app_gun,
        signer_refresh,
        ..
    } = flow;
    let adapter = *adapter;
    // Disable: a long-running operation; the policy shows enabled until the wipe ends.
    let off = set_trust(app, r1, "disabled").await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    let op = operation_url(&off);
    assert!(off.header("retry-after").is_some());
    assert_eq!(off.body["properties"]["provisioningState"], "Updating");
    assert_eq!(
        off.body["properties"]["policies"]["trustPolicy"]["status"],
        "enabled"
    );
    // Meanwhile: enabling is refused, a second disable joins the running wipe, the SKU
    // cannot go below Premium. (The embedded server's wipe, which waits for no token, has
    // ended before a second request could see it run: these are the control plane's rules,
    // the same whatever the store.) And no trust-data push is granted.
    if adapter == Adapter::NotaryServer {
        let again = set_trust(app, r1, "enabled").await;
        assert_eq!(
            (again.status, again.error_code()),
            (StatusCode::CONFLICT, "ContentTrustWipeInProgress"),
            "{:?}",
            again.body
        );
        let twice = set_trust(app, r1, "disabled").await;
        assert_eq!(
            (twice.status, operation_url(&twice)),
            (StatusCode::OK, op.clone())
        );
        let down = app
            .patch(
                &format!("{r1}?api-version={API}"),
                &json!({"sku": {"name": "Standard"}}),
            )
            .await;
        assert_eq!(
            (down.status, down.error_code()),
            (StatusCode::BAD_REQUEST, "SkuDowngradeNotAllowed"),
            "{:?}",
            down.body
        );
    }
    let t = access(
        app,
        service(app),
        &format!("repository:{app_gun}:pull,push"),
        signer_refresh,
    )
    .await;
    assert_eq!(
        jwt_claims(t.body["access_token"].as_str().unwrap())["access"][0]["actions"],
        json!(["pull"])
    );
    op
}

/// The first pass deletes the collections; the early token writes trust data back; the final
/// sweep, once that token is no longer accepted, removes it too.
async fn step_the_wipe_removes_what_the_early_token_wrote_back(
    flow: &Flow,
    early_token: &str,
    early_claims: &Value,
    files: &[(&str, Vec<u8>)],
    op: &str,
) {
    let Flow {
        app,
        adapter,
        app_gun,
        reader_refresh,
        ..
    } = flow;
    let adapter = *adapter;
    // The first pass deletes the collections; then the early token writes trust data back.
    poll(
        Duration::from_secs(30),
        Duration::from_millis(250),
        || async {
            list(app, app_gun, reader_refresh)
                .await
                .is_none()
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        list(app, app_gun, reader_refresh).await,
        None,
        "the first pass did not delete {app_gun}"
    );
    // By now the early token has expired; notary-server still takes it within its leeway.
    let expired_at = early_claims["exp"].as_i64().unwrap();
    berth_tests::clock::passes_second(expired_at + 1).await;
    let replayed = upload(app, app_gun, early_token, files).await;
    match adapter {
        // notary-server keeps a deleted collection's timestamp key in its signer, so the
        // replay is stored again: the final sweep must remove it.
        Adapter::NotaryServer => {
            assert_eq!(replayed, StatusCode::OK, "{}", trust_log(app));
            assert!(
                list(app, app_gun, reader_refresh).await.is_some(),
                "the replayed upload was not stored"
            );
        }
        // The embedded server forgets a deleted collection's keys: metadata signed for the
        // old collection is refused (no timestamp key for its root) and nothing is stored.
        // A valid update would be refused too, at the store: the registry no longer accepts
        // trust data (tuf_store's gated-update test).
        Adapter::Embedded => {
            assert_eq!(replayed, StatusCode::BAD_REQUEST);
            assert_eq!(list(app, app_gun, reader_refresh).await, None);
        }
    }
    let status = follow(app, op, Duration::from_secs(20)).await;
    match adapter {
        Adapter::NotaryServer => assert_eq!(
            status["status"], "InProgress",
            "the wipe must wait for the early token: {status}"
        ),
        // So the wipe need not wait for the early token: it has ended while notary's
        // leeway would still accept it.
        Adapter::Embedded => assert_eq!(
            status["status"], "Succeeded",
            "nothing to wait for: {status}"
        ),
    }

    // The final sweep, once the early token is no longer accepted, removes it too.
    let status = follow(app, op, Duration::from_secs(150)).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
}

/// After the wipe: registry 1's trust data is gone, registry 2's stays, the image stays.
async fn step_only_the_disabled_registrys_trust_data_is_gone(flow: &Flow, image: &str) {
    let Flow {
        app,
        r1,
        app_gun,
        app_b_gun,
        other_gun,
        reader_refresh,
        signer2_refresh,
        ..
    } = flow;
    let (_, registry) = app.get(&format!("{r1}?api-version={API}")).await;
    assert_eq!(
        registry["properties"]["policies"]["trustPolicy"],
        json!({"type": "Notary", "status": "disabled"})
    );
    assert_eq!(registry["properties"]["provisioningState"], "Succeeded");
    for gun in [&app_gun, &app_b_gun] {
        assert_eq!(
            list(app, gun, reader_refresh).await,
            None,
            "{gun} kept trust data"
        );
    }
    let other = list(app, other_gun, signer2_refresh).await;
    assert!(
        other.is_some_and(|o| o.contains("v1")),
        "another registry's trust data must stay"
    );
    let pulled = tempfile::tempdir().unwrap();
    let into = format!("oci:{}:v1", pulled.path().display());
    let (ok, err) = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &format!("{NULL_USER}:{reader_refresh}"),
        image,
        &into,
    ])
    .await;
    assert!(ok, "the image must stay pullable: {err}");
    let (_, catalog) = app
        .get(&format!("{r1}/trustedCollections?api-version={API}"))
        .await;
    assert_eq!(catalog["value"], json!([]));
}

/// Enabling again works, and the collections start empty.
async fn step_enabling_again_starts_empty(flow: &Flow) {
    let Flow {
        app,
        r1,
        app_gun,
        reader_refresh,
        ..
    } = flow;
    // Enabling again works, and the collections start empty.
    let on = set_trust(app, r1, "enabled").await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    assert_eq!(list(app, app_gun, reader_refresh).await, None);
}

/// The trust store down during a wipe: the operation stays in progress, shows why, keeps
/// the policy enabled, and completes once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wipe_outlasts_an_unreachable_notary_server() {
    let mut app = with_notary(
        Backend::Sqlite,
        &[
            ("BERTH_TRUST_PUSH_TOKEN_SECS", "1"),
            ("BERTH_NOTARY_TOKEN_LEEWAY_SECS", "0"),
        ],
    )
    .await;
    app.create_group("flt").await;
    app.create_registry("flt", "fltreg01", "Premium").await;
    let registry = app.registry_path("flt", "fltreg01");
    assert_eq!(
        set_trust(&app, &registry, "enabled").await.status,
        StatusCode::OK
    );
    let gun = format!("{}/app", login_server(&app, &registry).await);
    let refresh = signer_in(&app, &registry, "flt-signer").await;
    let (ok, out) = publish(
        &app,
        &gun,
        "v1",
        &refresh,
        tempfile::tempdir().unwrap().path(),
    )
    .await;
    assert!(ok, "{out}");

    app.notary.as_mut().unwrap().stop().await;
    let off = set_trust(&app, &registry, "disabled").await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    let op = operation_url(&off);
    let reported = first_failure(&app, &op).await;
    assert_eq!(reported["status"], "InProgress", "{reported}");
    assert_eq!(
        reported["error"]["code"], "TrustServerUnavailable",
        "{reported}"
    );
    assert!(
        reported["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retried"),
        "{reported}"
    );
    let (_, current) = app.get(&format!("{registry}?api-version={API}")).await;
    assert_eq!(
        current["properties"]["policies"]["trustPolicy"]["status"], "enabled",
        "nothing is marked done that is not"
    );
    assert_eq!(current["properties"]["provisioningState"], "Updating");

    app.notary.as_mut().unwrap().resume().await;
    let status = follow(&app, &op, Duration::from_secs(90)).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    assert!(status.get("error").is_none(), "{status}");
    assert_eq!(list(&app, &gun, &refresh).await, None);
}

/// Deleting a registry, or its resource group, wipes its trust data first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_registry_or_its_group_wipes_its_trust_data() {
    let app = with_notary(
        Backend::Sqlite,
        &[
            ("BERTH_TRUST_PUSH_TOKEN_SECS", "1"),
            ("BERTH_NOTARY_TOKEN_LEEWAY_SECS", "0"),
        ],
    )
    .await;
    app.create_group("del").await;
    let mut guns = Vec::new();
    for name in ["delreg01", "delreg02"] {
        app.create_registry("del", name, "Premium").await;
        let registry = app.registry_path("del", name);
        assert_eq!(
            set_trust(&app, &registry, "enabled").await.status,
            StatusCode::OK
        );
        let gun = format!("{}/app", login_server(&app, &registry).await);
        let refresh = signer_in(&app, &registry, &format!("{name}-signer")).await;
        let (ok, out) = publish(
            &app,
            &gun,
            "v1",
            &refresh,
            tempfile::tempdir().unwrap().path(),
        )
        .await;
        assert!(ok, "{out}");
        guns.push((gun, refresh));
    }
    let deleted = app
        .delete(&format!(
            "{}?api-version={API}",
            app.registry_path("del", "delreg01")
        ))
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    let status = follow(&app, &operation_url(&deleted), Duration::from_secs(60)).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    assert!(
        !stored(&app, &guns[0].0),
        "the deleted registry's trust data is gone"
    );
    assert!(
        list(&app, &guns[1].0, &guns[1].1).await.is_some(),
        "the other registry keeps its trust data"
    );

    let deleted = app
        .delete(&format!("{}?api-version={RG_API}", app.rg_path("del")))
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    let status = follow(&app, &operation_url(&deleted), Duration::from_secs(60)).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    // No registry is left to read through, so notary's own tables are asked.
    for (gun, _) in &guns {
        assert!(!stored(&app, gun), "{gun} kept trust data");
    }
}

/// Whether notary-server's database holds metadata of `gun`.
fn stored(app: &TestApp, gun: &str) -> bool {
    let schema = &notary(app).schema;
    let output = std::process::Command::new("psql")
        .args(["-X", "-A", "-t", "-d", &berth_tests::postgres_url(), "-c"])
        .arg(format!(
            "SELECT count(*) FROM \"{schema}\".tuf_files WHERE gun = '{gun}'"
        ))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim() != "0"
}

/// Two replicas on one PostgreSQL: every wipe is run by exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_each_wipe_once() {
    let env = [
        ("BERTH_TRUST_PUSH_TOKEN_SECS", "1"),
        ("BERTH_NOTARY_TOKEN_LEEWAY_SECS", "0"),
    ];
    let first = with_notary(Backend::Postgres, &env).await;
    let mut second_env = berth_tests::settings(&env);
    second_env.push(("BERTH_NOTARY_SERVICE".into(), SERVICE.into()));
    second_env.push(("BERTH_NOTARY_URL".into(), notary(&first).url.clone()));
    let second = spawn_app_with(
        Backend::Postgres,
        SpawnOptions {
            env: second_env,
            reuse: Some((first.data_dir.path().to_owned(), first.schema.clone())),
            ..SpawnOptions::default()
        },
    )
    .await;
    first.create_group("rep").await;
    let names = [
        "repreg01", "repreg02", "repreg03", "repreg04", "repreg05", "repreg06",
    ];
    let mut guns = Vec::new();
    let mut last_expiry = 0;
    for name in names {
        first.create_registry("rep", name, "Premium").await;
        let registry = first.registry_path("rep", name);
        assert_eq!(
            set_trust(&first, &registry, "enabled").await.status,
            StatusCode::OK
        );
        let refresh = signer_in(&first, &registry, &format!("{name}-s")).await;
        // A push grant catalogues the collection (nothing needs to be published for it).
        let gun = format!("{}/app", login_server(&first, &registry).await);
        let t = access(
            &first,
            SERVICE,
            &format!("repository:{gun}:push,pull"),
            &refresh,
        )
        .await;
        let claims = jwt_claims(t.body["access_token"].as_str().unwrap());
        assert_eq!(claims["access"][0]["actions"], json!(["push", "pull"]));
        last_expiry = last_expiry.max(claims["exp"].as_i64().unwrap());
        guns.push(gun);
    }
    // Let every push token expire, so each wipe is a single pass: the wipe waits until the
    // last expiry's second has ended; 1.1 s past that expiry, as the fixed wait this replaces
    // left at least.
    berth_tests::clock::reaches(
        Duration::from_secs(u64::try_from(last_expiry).unwrap()) + Duration::from_millis(1100),
    )
    .await;
    let mut ops = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let replica = if i % 2 == 0 { &first } else { &second };
        let off = set_trust(replica, &replica.registry_path("rep", name), "disabled").await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        ops.push((replica, operation_url(&off)));
    }
    for (replica, op) in &ops {
        let status = follow(replica, op, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "Succeeded", "{status}");
    }
    // Each operation was claimed once, and each collection deleted once.
    let rows =
        <berth_infra::persistence::entities::operation::Entity as sea_orm::EntityTrait>::find()
            .all(first.database().await.writer())
            .await
            .unwrap();
    let wipes: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == "DisableContentTrust")
        .collect();
    assert_eq!(wipes.len(), names.len());
    for row in wipes {
        assert_eq!(
            row.attempts, 1,
            "operation {} was claimed {} times",
            row.id, row.attempts
        );
    }
    let log = notary(&first).log();
    for gun in &guns {
        let deletes = log
            .lines()
            .filter(|l| l.contains(&format!("\"msg\":\"trust data deleted for {gun}\"")))
            .count();
        assert_eq!(deletes, 1, "{gun} was deleted {deletes} times:\n{log}");
    }
}

both_backends! {
    async fn unknown_trust_policy_values_are_refused_and_change_nothing(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "badtrust1", "Premium").await;
        let path = format!("{}?api-version={API}", app.registry_path("rg", "badtrust1"));
        for (policy, target) in [
            (json!({"type": "Cosign", "status": "enabled"}), "properties.policies.trustPolicy.type"),
            (json!({"type": "Notary", "status": "on"}), "properties.policies.trustPolicy.status"),
            (json!({"status": 1}), "properties.policies.trustPolicy.status"),
        ] {
            let r = app.patch(&path, &json!({"properties": {"policies": {"trustPolicy": policy}}})).await;
            assert_eq!((r.status, r.error_code()), (StatusCode::BAD_REQUEST, "InvalidRequestContent"), "{policy}: {:?}", r.body);
            if r.body["error"]["target"].is_string() {
                assert_eq!(r.body["error"]["target"], target, "{policy}");
            }
        }
        let (_, after) = app.get(&path).await;
        assert_eq!(after["properties"]["policies"]["trustPolicy"], json!({"type": "Notary", "status": "disabled"}));
    }

}

berth_tests::both_backends_with! {
    SpawnOptions {
        env: vec![("BERTH_TRUST_LISTEN".into(), "off".into())],
        ..SpawnOptions::default()
    };
    async fn enabling_content_trust_without_a_trust_server_names_the_setting(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "nonotary1", "Premium").await;
        let registry = app.registry_path("rg", "nonotary1");
        let refused = set_trust(&app, &registry, "enabled").await;
        assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, "ContentTrustNotConfigured"), "{:?}", refused.body);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("BERTH_NOTARY_URL") && message.contains("BERTH_TRUST_LISTEN"), "{:?}", refused.body);
        let (_, after) = app.get(&format!("{registry}?api-version={API}")).await;
        assert_eq!(after["properties"]["policies"]["trustPolicy"]["status"], "disabled");
        let put = app.put(&format!("{}?api-version={API}", app.registry_path("rg", "nonotary2")),
            &json!({"location": "westus", "sku": {"name": "Premium"}, "properties": {"policies": {"trustPolicy": {"status": "enabled"}}}})).await;
        assert_eq!(put.error_code(), "ContentTrustNotConfigured");
        let (status, _) = app.get(&format!("{}?api-version={API}", app.registry_path("rg", "nonotary2"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "nothing is half-written");
    }
}

/// `berthd` killed with SIGKILL in the middle of a wipe, then started again: it resumes the
/// operation (once the dead worker's lease has run out) and completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wipe_resumes_after_berthd_is_killed() {
    let env = [
        ("BERTH_TRUST_PUSH_TOKEN_SECS", "1"),
        ("BERTH_NOTARY_TOKEN_LEEWAY_SECS", "12"),
        ("BERTH_OPERATION_LEASE_SECS", "3"),
    ];
    let mut app = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            notary: true,
            process: Some(env!("CARGO_BIN_EXE_berthd-e2e").into()),
            env: berth_tests::settings(&env),
            ..SpawnOptions::default()
        },
    )
    .await;
    app.create_group("kil").await;
    app.create_registry("kil", "kilreg01", "Premium").await;
    let registry = app.registry_path("kil", "kilreg01");
    assert_eq!(
        set_trust(&app, &registry, "enabled").await.status,
        StatusCode::OK
    );
    let gun = format!("{}/app", login_server(&app, &registry).await);
    let refresh = signer_in(&app, &registry, "kil-signer").await;
    let (ok, out) = publish(
        &app,
        &gun,
        "v1",
        &refresh,
        tempfile::tempdir().unwrap().path(),
    )
    .await;
    assert!(ok, "{out}");

    let off = set_trust(&app, &registry, "disabled").await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    let op = operation_url(&off);
    // The first pass deletes the collection; the final sweep waits for the signer's token.
    poll(
        Duration::from_secs(10),
        Duration::from_millis(250),
        || async { list(&app, &gun, &refresh).await.is_none().then_some(()) },
    )
    .await;
    let (_, status) = app.get(&op).await;
    assert_eq!(status["status"], "InProgress", "{status}");

    app.kill().await;
    assert!(
        app.client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .is_err(),
        "berthd is down"
    );
    app.restart().await;
    let status = follow(&app, &op, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "Succeeded", "{status}\n{}", app.log());
    let (_, current) = app.get(&format!("{registry}?api-version={API}")).await;
    assert_eq!(
        current["properties"]["policies"]["trustPolicy"]["status"],
        "disabled"
    );
    assert_eq!(list(&app, &gun, &refresh).await, None);
}

berth_tests::both_backends_with! {
    SpawnOptions { notary: true, ..SpawnOptions::default() };

    async fn a_disable_with_a_stale_if_match_starts_no_wipe(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "etagtrst1", "Premium").await;
        let registry = app.registry_path("rg", "etagtrst1");
        let path = format!("{registry}?api-version={API}");
        assert_eq!(set_trust(&app, &registry, "enabled").await.status, StatusCode::OK);
        let current = app.send(reqwest::Method::GET, &path, None, &[]).await;
        let etag = current.header("etag").unwrap().to_owned();
        assert_eq!(app.patch(&path, &json!({"tags": {"v": "1"}})).await.status, StatusCode::OK);
        let stale = app.send(reqwest::Method::PATCH, &path, Some(&trust("disabled")), &[("if-match", &etag)]).await;
        assert_eq!((stale.status, stale.error_code()), (StatusCode::PRECONDITION_FAILED, "PreconditionFailed"), "{:?}", stale.body);
        assert!(stale.header("azure-asyncoperation").is_none());
        let (_, after) = app.get(&path).await;
        assert_eq!((after["properties"]["provisioningState"].as_str(), after["properties"]["policies"]["trustPolicy"]["status"].as_str()), (Some("Succeeded"), Some("enabled")));
        let rows = <berth_infra::persistence::entities::operation::Entity as sea_orm::EntityTrait>::find()
            .all(app.database().await.writer())
            .await
            .unwrap();
        assert!(rows.iter().all(|r| r.kind != "DisableContentTrust"), "no wipe was recorded: {rows:?}");
        // With the current ETag, the disable starts the wipe.
        let fresh = app.send(reqwest::Method::GET, &path, None, &[]).await;
        let etag = fresh.header("etag").unwrap().to_owned();
        let off = app.send(reqwest::Method::PATCH, &path, Some(&trust("disabled")), &[("if-match", &etag)]).await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        let op = operation_url(&off);
        let done = follow(&app, &op, Duration::from_secs(30)).await;
        assert_eq!(done["status"], "Succeeded", "{done}");
    }
}

/// The Notary server over HTTPS: the adapter verifies its certificate against
/// `BERTH_NOTARY_CA`. A `berthd` that does not trust that CA reports why in the
/// operation's status, keeps retrying, and marks nothing done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notary_adapter_verifies_tls_against_the_configured_ca() {
    let quick = [
        ("BERTH_TRUST_PUSH_TOKEN_SECS", "1"),
        ("BERTH_NOTARY_TOKEN_LEEWAY_SECS", "0"),
    ];
    for trusted in [true, false] {
        let mut env = berth_tests::settings(&quick);
        if !trusted {
            // No CA: only the system's roots, which do not know the test CA.
            env.push(("BERTH_NOTARY_CA".into(), String::new()));
        }
        let app = spawn_app_with(
            Backend::Sqlite,
            SpawnOptions {
                notary: true,
                notary_tls: true,
                env,
                ..SpawnOptions::default()
            },
        )
        .await;
        assert!(notary(&app).url.starts_with("https://"));
        app.create_group("tls").await;
        app.create_registry("tls", "tlsreg01", "Premium").await;
        let registry = app.registry_path("tls", "tlsreg01");
        assert_eq!(
            set_trust(&app, &registry, "enabled").await.status,
            StatusCode::OK
        );
        let off = set_trust(&app, &registry, "disabled").await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        let op = operation_url(&off);
        if trusted {
            let status = follow(&app, &op, Duration::from_secs(30)).await;
            assert_eq!(status["status"], "Succeeded", "{status}");
            continue;
        }
        let reported = first_failure(&app, &op).await;
        assert_eq!(
            (
                reported["status"].as_str(),
                reported["error"]["code"].as_str()
            ),
            (Some("InProgress"), Some("TrustServerUnavailable")),
            "{reported}"
        );
        let message = reported["error"]["message"]
            .as_str()
            .unwrap()
            .to_lowercase();
        assert!(
            message.contains("certificate"),
            "the cause is named: {message}"
        );
        let (_, current) = app.get(&format!("{registry}?api-version={API}")).await;
        assert_eq!(
            current["properties"]["policies"]["trustPolicy"]["status"],
            "enabled"
        );
    }
}
