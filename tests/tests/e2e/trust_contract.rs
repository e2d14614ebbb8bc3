//! The trust-store adapter contract: every scenario runs against the embedded trust server
//! (berthd's own Notary v1 API, on SQLite and on PostgreSQL) and against Debian's
//! `notary-server` (on PostgreSQL, token auth pointing at `berthd`), with the real `notary`
//! CLI, and must give the same observable results: Berth's tokens accepted exactly as far as
//! the caller's roles go, the CLI's whole life cycle (publish, remove, a server-managed
//! snapshot, delegations, delete), tampered uploads refused alike with nothing changed, and
//! the `TrustStore` port listing, checking and deleting exactly one collection.

use super::content_trust::{Adapter, list, service, trust_url, with_trust};
use super::*;
use berth_domain::trust::TrustStore;
use berth_tests::Backend;
use berth_tests::fixtures::{access, login_server, set_trust, signed_in};
use berth_tests::jwt_claims;
use berth_tests::notary::{notary_auth, notary_cli};
use berth_tests::roles::{ACR_PULL, ACR_PUSH, NULL_USER, SIGNER, assign};
use std::sync::Arc;

/// A scenario for each adapter: the embedded server on both databases, notary-server.
macro_rules! contract {
    ($(async fn $name:ident($adapter:ident, $backend:ident) $body:block)*) => {$(
        mod $name {
            use super::*;

            async fn run($adapter: Adapter, $backend: Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded_sqlite() {
                run(Adapter::Embedded, Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded_postgres() {
                run(Adapter::Embedded, Backend::Postgres).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn notary_server() {
                run(Adapter::NotaryServer, Backend::Sqlite).await;
            }
        }
    )*};
}

/// A principal with AcrPush and AcrImageSigner on `registry`, signed in: its registry
/// refresh token.
pub(super) async fn signer_in(app: &TestApp, registry: &str, name: &str) -> String {
    let (object, _, refresh) = signed_in(app, registry, ACR_PUSH, name).await;
    assign(app, registry, SIGNER, &object).await;
    refresh
}

/// A Premium registry of `app` with content trust on; its path and login server.
pub(super) async fn trusted_registry(app: &TestApp, name: &str) -> (String, String) {
    app.create_group("ctr").await;
    app.create_registry("ctr", name, "Premium").await;
    let registry = app.registry_path("ctr", name);
    let on = set_trust(app, &registry, "enabled").await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    let login = login_server(app, &registry).await;
    (registry, login)
}

/// The `notary` CLI as one principal, against the app's trust server, in a trust directory
/// of its own (kept between commands).
pub(super) struct Cli {
    pub(super) url: String,
    pub(super) auth: String,
    pub(super) dir: tempfile::TempDir,
}

impl Cli {
    pub(super) fn new(app: &TestApp, refresh: &str) -> Self {
        Self {
            url: trust_url(app).to_owned(),
            auth: notary_auth(NULL_USER, refresh),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `notary -s <url> -d <dir> args…`: success and stdout+stderr.
    pub(super) async fn run(&self, args: &[&str]) -> (bool, String) {
        let dir = self.dir.path().display().to_string();
        let mut all = vec!["-s", self.url.as_str(), "-d", dir.as_str()];
        all.extend_from_slice(args);
        let (ok, out, err) = notary_cli(&all, &[("NOTARY_AUTH", self.auth.as_str())]).await;
        (ok, format!("{out}{err}"))
    }

    pub(super) async fn ok(&self, args: &[&str]) -> String {
        let (ok, out) = self.run(args).await;
        assert!(ok, "notary {args:?}: {out}");
        out
    }
}

/// The tags `notary list` prints, with their role.
pub(super) fn tags(listing: &str) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = listing
        .lines()
        .skip_while(|l| !l.starts_with("NAME"))
        .skip(2)
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields.len() == 4).then(|| (fields[0].to_owned(), fields[3].to_owned()))
        })
        .collect();
    tags.sort();
    tags
}

pub(super) fn digest(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

contract! {
    async fn berth_tokens_are_accepted_for_reads_as_roles_allow(adapter, backend) {
        let app = with_trust(backend, adapter, &[]).await;
        let (registry, login) = trusted_registry(&app, "trustreg1").await;
        let root = RootOf::new(&app, format!("{login}/app"));
        let (_, _, reader) = signed_in(&app, &registry, ACR_PULL, "notary-reader").await;
        let (_, _, stranger) = signed_in(&app, &registry, "", "notary-stranger").await;
        step_without_a_token_the_challenge_names_berths_realm(&app, &root).await;
        step_acr_pull_gets_a_pull_token_the_trust_server_accepts(&app, &root, &reader).await;
        step_without_a_role_the_token_grants_nothing_and_is_refused(&app, &root, &stranger).await;
        step_an_anonymous_token_grants_nothing(&app, &root).await;
        step_the_notary_cli_gets_past_auth_only_with_a_role(&app, &root, &reader, &stranger).await;
    }

    async fn signed_collections_are_catalogued_and_the_store_deletes_exactly_one(adapter, backend) {
        let app = with_trust(backend, adapter, &[]).await;
        let url = trust_url(&app).to_owned();
        let (guns, refreshes) = step_two_registries_have_content_trust_and_a_signer_each(&app).await;
        step_each_signer_publishes_its_registrys_two_collections(&url, &guns, &refreshes).await;
        step_berth_catalogued_every_collection_per_registry(&app, &guns).await;
        step_the_store_lists_deletes_exactly_one_and_checks(&app, adapter, &guns).await;
        step_the_notary_cli_finds_only_the_deleted_collection_gone(&url, &guns, &refreshes).await;
    }

    async fn the_notary_cli_publishes_removes_rotates_delegates_and_deletes(adapter, backend) {
        let app = with_trust(backend, adapter, &[]).await;
        let (registry, login) = trusted_registry(&app, "clireg01").await;
        let gun = format!("{login}/team/app");
        let signer_refresh = signer_in(&app, &registry, "cli-signer").await;
        let (_, _, reader_refresh) = signed_in(&app, &registry, ACR_PULL, "cli-reader").await;
        let (_, _, pusher_refresh) = signed_in(&app, &registry, ACR_PUSH, "cli-pusher").await;
        let owner = Cli::new(&app, &signer_refresh);
        let g = gun.as_str();
        let listed = |expected: &[(&str, &str)]| {
            let expected: Vec<(String, String)> = expected
                .iter()
                .map(|(t, r)| ((*t).to_owned(), (*r).to_owned()))
                .collect();
            let (app, reader) = (&app, reader_refresh.as_str());
            async move {
                // A fresh client, as AcrPull: it verifies everything from the root down.
                let out = list(app, g, reader).await.unwrap_or_default();
                assert_eq!(tags(&out), expected, "{out}");
            }
        };

        // Publish: init with the first tag, then one staged tag with `publish`.
        owner.ok(&["init", "-p", g]).await;
        owner.ok(&["addhash", "-p", g, "v1", "4", "--sha256", &digest(1)]).await;
        owner.ok(&["addhash", g, "v2", "4", "--sha256", &digest(2)]).await;
        owner.ok(&["publish", g]).await;
        listed(&[("v1", "targets"), ("v2", "targets")]).await;

        // Remove a tag.
        owner.ok(&["remove", "-p", g, "v1"]).await;
        listed(&[("v2", "targets")]).await;

        // Hand the snapshot key to the server: later publishes are signed by it.
        owner.ok(&["key", "rotate", g, "snapshot", "-r"]).await;
        owner.ok(&["addhash", "-p", g, "v3", "4", "--sha256", &digest(3)]).await;
        listed(&[("v2", "targets"), ("v3", "targets")]).await;
        let t = access(&app, service(&app), &format!("repository:{gun}:push,pull"), &signer_refresh).await;
        let token = t.body["access_token"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {token}");
        let headers = [("authorization", bearer.as_str())];
        let base = format!("{}/v2/{gun}/_trust/tuf", trust_url(&app));
        let key = app.send_as(reqwest::Method::GET, &format!("{base}/snapshot.key"), None, &headers).await;
        assert_eq!(key.status, StatusCode::OK, "{:?}", key.body);
        let root = app.send_as(reqwest::Method::GET, &format!("{base}/root.json"), None, &headers).await;
        let snapshot_ids = root.body["signed"]["roles"]["snapshot"]["keyids"].as_array().unwrap().clone();
        let keys = root.body["signed"]["keys"].as_object().unwrap();
        assert!(
            snapshot_ids.iter().any(|id| keys[id.as_str().unwrap()]["keyval"]["public"] == key.body["keyval"]["public"]),
            "the root names the server's snapshot key: {:?} / {:?}", root.body, key.body
        );

        // A delegation: targets/releases, with a key and certificate of its own.
        let certs = tempfile::tempdir().unwrap();
        let (key_pem, cert_pem) = (certs.path().join("releases.key"), certs.path().join("releases.crt"));
        for args in [
            vec!["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key_pem.to_str().unwrap()],
            vec!["req", "-x509", "-new", "-key", key_pem.to_str().unwrap(), "-sha256", "-days", "30",
                 "-subj", "/CN=releases", "-out", cert_pem.to_str().unwrap()],
        ] {
            let status = std::process::Command::new("openssl").args(&args).output().unwrap();
            assert!(status.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&status.stderr));
        }
        owner.ok(&["delegation", "add", "-p", g, "targets/releases", cert_pem.to_str().unwrap(), "--all-paths"]).await;
        owner.ok(&["key", "import", key_pem.to_str().unwrap(), "-r", "targets/releases", "-g", g]).await;
        owner.ok(&["addhash", "-p", g, "v4", "4", "--sha256", &digest(4), "--roles", "targets/releases"]).await;
        listed(&[("v2", "targets"), ("v3", "targets"), ("v4", "targets/releases")]).await;
        // The store tells the same (the portal's Repositories read it): each tag, its role,
        // the digest signed, and the key that signed the role's file.
        let store = trust_store(&app, adapter).await;
        let signed = store.signed_tags(g).await.unwrap().unwrap();
        let seen: Vec<(String, String, String, u64)> = signed.iter().map(|s| (s.tag.clone(), s.role.clone(), s.digest.clone(), s.size)).collect();
        let expected = |n: u8, tag: &str, role: &str| (tag.to_owned(), role.to_owned(), format!("sha256:{}", digest(n)), 4);
        assert_eq!(seen, [expected(2, "v2", "targets"), expected(3, "v3", "targets"), expected(4, "v4", "targets/releases")]);
        assert!(signed.iter().all(|s| s.key_ids.len() == 1), "{signed:?}");
        assert_ne!(signed[0].key_ids, signed[2].key_ids, "targets and targets/releases have keys of their own");
        assert_eq!(store.signed_tags(&format!("{login}/team/none")).await.unwrap(), None);

        // AcrPull cannot sign, nor can AcrPush without AcrImageSigner, even with the keys.
        let reader = Cli::new(&app, &reader_refresh);
        let (ok, out) = reader.run(&["init", "-p", &format!("{login}/team/other")]).await;
        assert!(!ok, "AcrPull initialised a collection: {out}");
        let pusher = Cli { auth: notary_auth(NULL_USER, &pusher_refresh), ..owner };
        let (ok, out) = pusher.run(&["addhash", "-p", g, "v5", "4", "--sha256", &digest(5)]).await;
        assert!(!ok, "AcrPush alone published: {out}");
        listed(&[("v2", "targets"), ("v3", "targets"), ("v4", "targets/releases")]).await;

        // Delete the collection on the server.
        let owner = Cli { auth: notary_auth(NULL_USER, &signer_refresh), ..pusher };
        owner.ok(&["delete", g, "--remote"]).await;
        assert_eq!(list(&app, g, &reader_refresh).await, None);
        assert_eq!(store.signed_tags(g).await.unwrap(), None, "nothing signed is left");
    }

    async fn tampered_uploads_are_refused_alike_and_change_nothing(adapter, backend) {
        let app = with_trust(backend, adapter, &[]).await;
        let (registry, login) = trusted_registry(&app, "tampreg1").await;
        let gun = format!("{login}/app");
        let signer_refresh = signer_in(&app, &registry, "tamp-signer").await;
        let (_, _, reader_refresh) = signed_in(&app, &registry, ACR_PULL, "tamp-reader").await;
        let published = step_the_signer_publishes_v1(&app, &gun, &signer_refresh).await;
        let t = access(&app, service(&app), &format!("repository:{gun}:push,pull"), &signer_refresh).await;
        let token = t.body["access_token"].as_str().unwrap().to_owned();
        let before = timestamp_of(&app, &gun, &token).await;
        step_tampered_uploads_are_refused_alike(&app, &gun, &token, &published).await;
        step_an_upload_that_is_not_multipart_is_refused(&app, &gun, &token).await;
        let after = timestamp_of(&app, &gun, &token).await;
        step_nothing_changed(&app, &gun, &reader_refresh, &before, &after).await;
    }

    async fn the_changefeed_pages_as_notary_does(adapter, backend) {
        let app = with_trust(backend, adapter, &[]).await;
        let (registry, login) = trusted_registry(&app, "feedreg1").await;
        let gun = format!("{login}/app");
        let signer_refresh = signer_in(&app, &registry, "feed-signer").await;
        let owner = Cli::new(&app, &signer_refresh);
        owner.ok(&["init", "-p", &gun]).await;
        owner.ok(&["addhash", "-p", &gun, "v1", "4", "--sha256", &digest(1)]).await;
        let t = access(&app, service(&app), &format!("repository:{gun}:pull"), &signer_refresh).await;
        let token = t.body["access_token"].as_str().unwrap().to_owned();
        let feed = |query: &str| {
            let url = format!("{}/v2/{gun}/_trust/changefeed{query}", trust_url(&app));
            let (app, token) = (&app, token.clone());
            async move {
                let r = app.client.get(url).bearer_auth(token).send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, all) = feed("?records=10").await;
        assert_eq!(status, StatusCode::OK, "{all}");
        let records = all["records"].as_array().unwrap();
        assert_eq!(all["count"], records.len());
        assert_eq!(records.len(), 2, "init and addhash each published: {all}");
        for record in records {
            assert_eq!((record["GUN"].as_str(), record["Category"].as_str()), (Some(gun.as_str()), Some("update")));
            assert!(record["ID"].is_string() && record["SHA256"].as_str().is_some_and(|h| h.len() == 64), "{record}");
        }
        let (_, latest) = feed("?change_id=-1&records=-1").await;
        assert_eq!(latest["records"], json!([records[1]]));
        let (_, after) = feed(&format!("?change_id={}&records=10", records[0]["ID"].as_str().unwrap())).await;
        assert_eq!(after["records"], json!([records[1]]));
        let (status, refused) = feed("").await;
        assert_eq!((status, refused["errors"][0]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETERS")), "{refused}");
        let (status, refused) = feed("?records=10&change_id=x").await;
        assert_eq!((status, refused["errors"][0]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETERS")), "{refused}");
    }
}

/// The collection [`berth_tokens_are_accepted_for_reads_as_roles_allow`] reads: its GUN,
/// the pull scope of it, and the URL of its root.json on the trust server.
struct RootOf {
    gun: String,
    scope: String,
    root: String,
}

impl RootOf {
    fn new(app: &TestApp, gun: String) -> Self {
        let url = trust_url(app);
        Self {
            scope: format!("repository:{gun}:pull"),
            root: format!("{url}/v2/{gun}/_trust/tuf/root.json"),
            gun,
        }
    }

    /// GET root.json, with `token` as the bearer token when there is one.
    async fn get(&self, app: &TestApp, token: Option<String>) -> berth_tests::Reply {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("authorization", b.as_str()))
            .collect();
        app.send_as(reqwest::Method::GET, &self.root, None, &headers)
            .await
    }
}

/// No token: notary's challenge names Berth's realm, the notary service and the scope.
async fn step_without_a_token_the_challenge_names_berths_realm(app: &TestApp, root: &RootOf) {
    let challenge = root.get(app, None).await;
    assert_eq!(challenge.status, StatusCode::UNAUTHORIZED);
    let expected = format!(
        "Bearer realm=\"{}/oauth2/token\",service=\"{}\",scope=\"{}\"",
        app.base,
        service(app),
        root.scope
    );
    assert_eq!(
        challenge.header("www-authenticate"),
        Some(expected.as_str())
    );
}

/// (a) AcrPull: a pull token notary accepts. Nothing is published, hence 404, not 401.
async fn step_acr_pull_gets_a_pull_token_the_trust_server_accepts(
    app: &TestApp,
    root: &RootOf,
    reader: &str,
) {
    let t = access(app, service(app), &root.scope, reader).await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        jwt_claims(&token)["access"],
        json!([{"type": "repository", "name": root.gun, "actions": ["pull"]}])
    );
    let read = root.get(app, Some(token)).await;
    assert_ne!(
        read.status,
        StatusCode::UNAUTHORIZED,
        "the trust server refused Berth's token: {:?}",
        read.body
    );
    assert_eq!(
        (read.status, read.body["errors"][0]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("METADATA_NOT_FOUND")),
        "{:?}",
        read.body
    );
}

/// (b) No role: a valid token that grants nothing, which notary refuses.
async fn step_without_a_role_the_token_grants_nothing_and_is_refused(
    app: &TestApp,
    root: &RootOf,
    stranger: &str,
) {
    let t = access(app, service(app), &root.scope, stranger).await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_claims(&token)["access"], json!([]));
    let refused = root.get(app, Some(token)).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        refused.body
    );
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|h| h.contains("error=\"insufficient_scope\"")),
        "{:?}",
        refused.headers
    );
}

/// (c) Anonymous, as the notary CLI asks first: 200 with empty access, never a 401.
async fn step_an_anonymous_token_grants_nothing(app: &TestApp, root: &RootOf) {
    let anonymous = app
        .send_as(
            reqwest::Method::GET,
            &format!(
                "/oauth2/token?service={}&scope={}",
                service(app),
                urlencoding::encode(&root.scope)
            ),
            None,
            &[],
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::OK, "{:?}", anonymous.body);
    let token = anonymous.body["token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_claims(&token)["access"], json!([]));
    assert_eq!(
        root.get(app, Some(token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// The notary CLI, with the refresh token as `az acr login` hands it to Docker: it gets
/// past auth (anonymous first, then with NOTARY_AUTH) and finds no trust data. Without a
/// role, the same command is refused.
async fn step_the_notary_cli_gets_past_auth_only_with_a_role(
    app: &TestApp,
    root: &RootOf,
    reader: &str,
    stranger: &str,
) {
    let (url, gun) = (trust_url(app), root.gun.as_str());
    let (ok, out, err) = notary_cli(
        &["-s", url, "list", gun],
        &[("NOTARY_AUTH", &notary_auth(NULL_USER, reader))],
    )
    .await;
    assert!(!ok, "nothing is published: {out}{err}");
    assert!(
        out.contains(&format!("does not have trust data for {gun}")),
        "{out}{err}"
    );
    assert!(!out.contains("not authorized"), "{out}{err}");
    let (ok, out, err) = notary_cli(
        &["-s", url, "list", gun],
        &[("NOTARY_AUTH", &notary_auth(NULL_USER, stranger))],
    )
    .await;
    assert!(!ok);
    assert!(out.contains("not authorized"), "{out}{err}");
}

/// Two Premium registries with content trust on and a signer each: their GUNs (two a
/// registry, `app` and `app-b`), and the signers' refresh tokens.
async fn step_two_registries_have_content_trust_and_a_signer_each(
    app: &TestApp,
) -> (Vec<String>, Vec<String>) {
    app.create_group("cat").await;
    let mut guns = Vec::new();
    let mut refreshes = Vec::new();
    for name in ["catreg001", "catreg002"] {
        app.create_registry("cat", name, "Premium").await;
        let registry = app.registry_path("cat", name);
        let on = app.patch(&format!("{registry}?api-version={API}"), &json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}})).await;
        assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
        let refresh = signer_in(app, &registry, &format!("{name}-signer")).await;
        let login = login_server(app, &registry).await;
        guns.push(format!("{login}/app"));
        guns.push(format!("{login}/app-b"));
        refreshes.push(refresh);
    }
    (guns, refreshes)
}

/// Each signer initialises and publishes its registry's two collections with the CLI.
async fn step_each_signer_publishes_its_registrys_two_collections(
    url: &str,
    guns: &[String],
    refreshes: &[String],
) {
    for (i, gun) in guns.iter().enumerate() {
        let trust_dir = tempfile::tempdir().unwrap();
        let dir = trust_dir.path().display().to_string();
        let auth = notary_auth(NULL_USER, &refreshes[i / 2]);
        let env = [("NOTARY_AUTH", auth.as_str())];
        let (ok, out, err) = notary_cli(&["-s", url, "-d", &dir, "init", "-p", gun], &env).await;
        assert!(ok, "init {gun}: {out} {err}");
        let digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let (ok, out, err) = notary_cli(
            &[
                "-s", url, "-d", &dir, "addhash", "-p", gun, "v1", "1234", "--sha256", digest,
            ],
            &env,
        )
        .await;
        assert!(ok, "addhash {gun}: {out} {err}");
    }
}

/// Berth catalogued every collection it gave a trust-data push for, per registry.
async fn step_berth_catalogued_every_collection_per_registry(app: &TestApp, guns: &[String]) {
    let rows = <berth_infra::persistence::entities::trusted_collection::Entity as sea_orm::EntityTrait>::find()
        .all(app.database().await.writer())
        .await
        .unwrap();
    let first_key = app.registry_path("cat", "catreg001").to_lowercase();
    let mut first: Vec<String> = rows
        .iter()
        .filter(|r| r.registry_key == first_key)
        .map(|r| r.gun.clone())
        .collect();
    first.sort();
    assert_eq!(first, guns[..2].to_vec());
    assert_eq!(rows.len(), 4, "{rows:?}");
    let (status, listed) = app
        .get(&format!(
            "{}/trustedCollections?api-version={API}",
            app.registry_path("cat", "catreg001")
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed["value"],
        json!([{"gun": guns[0], "repository": "app"}, {"gun": guns[1], "repository": "app-b"}])
    );
}

/// The adapter behind the port: it lists, deletes exactly one GUN, and checks.
async fn step_the_store_lists_deletes_exactly_one_and_checks(
    app: &TestApp,
    adapter: Adapter,
    guns: &[String],
) {
    let store = trust_store(app, adapter).await;
    store.health().await.unwrap();
    let mut listed = store.list_collections().await.unwrap();
    listed.sort();
    let mut expected = guns.to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    for gun in guns {
        assert!(store.has_collection(gun).await.unwrap(), "{gun}");
    }
    store.delete_collection(&guns[0]).await.unwrap();
    store.delete_collection(&guns[0]).await.unwrap();
    assert!(!store.has_collection(&guns[0]).await.unwrap(), "deleted");
    for gun in &guns[1..] {
        assert!(
            store.has_collection(gun).await.unwrap(),
            "{gun} must survive the deletion of {}",
            guns[0]
        );
    }
    assert!(!store.list_collections().await.unwrap().contains(&guns[0]));
}

/// The notary CLI finds no trust data for the deleted collection, and v1 in the other of
/// its registry.
async fn step_the_notary_cli_finds_only_the_deleted_collection_gone(
    url: &str,
    guns: &[String],
    refreshes: &[String],
) {
    let reader = notary_auth(NULL_USER, &refreshes[0]);
    let (_, out, _) = notary_cli(
        &["-s", url, "list", &guns[0]],
        &[("NOTARY_AUTH", reader.as_str())],
    )
    .await;
    assert!(out.contains("does not have trust data"), "{out}");
    let (ok, out, _) = notary_cli(
        &["-s", url, "list", &guns[1]],
        &[("NOTARY_AUTH", reader.as_str())],
    )
    .await;
    assert!(ok && out.contains("v1"), "{out}");
}

/// The metadata files of a published collection, as the notary CLI keeps them.
struct Published {
    root: Vec<u8>,
    targets: Vec<u8>,
    snapshot: Vec<u8>,
}

/// The signer initialises `gun` and publishes v1 with the CLI; returns the CLI's copy of
/// the files it uploaded.
async fn step_the_signer_publishes_v1(app: &TestApp, gun: &str, signer_refresh: &str) -> Published {
    let owner = Cli::new(app, signer_refresh);
    owner.ok(&["init", "-p", gun]).await;
    owner
        .ok(&["addhash", "-p", gun, "v1", "4", "--sha256", &digest(1)])
        .await;
    let metadata = owner.dir.path().join("tuf").join(gun).join("metadata");
    let file = |role: &str| std::fs::read(metadata.join(format!("{role}.json"))).unwrap();
    Published {
        root: file("root"),
        targets: file("targets"),
        snapshot: file("snapshot"),
    }
}

/// `gun`'s timestamp.json as the trust server serves it to `token`: its bytes (as the HTTP
/// client gives them, which a failed assertion prints as text).
async fn timestamp_of(app: &TestApp, gun: &str, token: &str) -> impl PartialEq + std::fmt::Debug {
    let r = app
        .client
        .get(format!(
            "{}/v2/{gun}/_trust/tuf/timestamp.json",
            trust_url(app)
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap()
}

/// Metadata parts (`filename` → bytes) of one upload.
type Parts<'a> = Vec<(&'a str, Vec<u8>)>;

/// The targets file with a signature byte changed; with a space inside (its signed part
/// intact, its checksum no longer the snapshot's).
fn forged_and_spaced(targets: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut forged: Value = serde_json::from_slice(targets).unwrap();
    let sig = forged["signatures"][0]["sig"].as_str().unwrap().to_owned();
    let flipped = match sig.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &sig[1..]),
    };
    forged["signatures"][0]["sig"] = json!(flipped);
    let forged = serde_json::to_vec(&forged).unwrap();
    let spaced = [b"{ ".as_slice(), &targets[1..]].concat();
    (forged, spaced)
}

/// Each tampered upload of `published`: what it is, its parts, and the error code it is
/// refused with.
fn tampered(published: &Published) -> Vec<(&'static str, Parts<'static>, &'static str)> {
    let Published {
        root,
        targets,
        snapshot,
    } = published;
    let (forged, spaced) = forged_and_spaced(targets);
    vec![
        (
            "a replay of the published files",
            vec![
                ("root", root.clone()),
                ("targets", targets.clone()),
                ("snapshot", snapshot.clone()),
            ],
            "VERSION",
        ),
        (
            "a forged signature",
            vec![("targets", forged), ("snapshot", snapshot.clone())],
            "INVALID_UPDATE",
        ),
        (
            "a checksum that is not the snapshot's",
            vec![("targets", spaced), ("snapshot", snapshot.clone())],
            "INVALID_UPDATE",
        ),
        (
            "an unknown role",
            vec![("nonsense", targets.clone())],
            "INVALID_ROLE",
        ),
        (
            "a part without a file name",
            vec![("", targets.clone())],
            "NO_FILENAME",
        ),
        (
            "JSON that does not parse",
            vec![("targets", b"{\"signed\":".to_vec())],
            "MALFORMED_JSON",
        ),
    ]
}

/// Every tampered upload is refused with a 400 and its own error code.
async fn step_tampered_uploads_are_refused_alike(
    app: &TestApp,
    gun: &str,
    token: &str,
    published: &Published,
) {
    for (what, parts, code) in tampered(published) {
        let refused = upload_parts(app, gun, token, &parts).await;
        assert_eq!(
            (refused.status, refused.body["errors"][0]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{what}: {:?}",
            refused.body
        );
    }
}

/// An upload that is not multipart is refused as malformed.
async fn step_an_upload_that_is_not_multipart_is_refused(app: &TestApp, gun: &str, token: &str) {
    let not_multipart = app
        .client
        .post(format!("{}/v2/{gun}/_trust/tuf/", trust_url(app)))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_multipart.status(), StatusCode::BAD_REQUEST);
    let body: Value = not_multipart.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "MALFORMED_UPLOAD");
}

/// Nothing changed: the same timestamp (`after` the refused uploads as `before`), the same
/// tag.
async fn step_nothing_changed<T: PartialEq + std::fmt::Debug>(
    app: &TestApp,
    gun: &str,
    reader_refresh: &str,
    before: &T,
    after: &T,
) {
    assert_eq!(after, before, "a refused upload changed the timestamp");
    let out = list(app, gun, reader_refresh).await.unwrap();
    assert_eq!(
        tags(&out),
        vec![("v1".to_owned(), "targets".to_owned())],
        "{out}"
    );
}

/// Uploads metadata parts (`filename` → bytes) to `gun` as the notary CLI does, with `token`.
pub(super) async fn upload_parts(
    app: &TestApp,
    gun: &str,
    token: &str,
    parts: &[(&str, Vec<u8>)],
) -> berth_tests::Reply {
    let boundary = format!("berth{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let response = app
        .client
        .post(format!("{}/v2/{gun}/_trust/tuf/", trust_url(app)))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    berth_tests::Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body: serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null),
    }
}

/// The embedded server bounds an upload (notary-server has no bound): a larger one is 413
/// and stores nothing; an upload within the bound still publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_upload_is_refused_by_the_embedded_server() {
    let app = with_trust(
        Backend::Sqlite,
        Adapter::Embedded,
        &[("BERTH_TRUST_MAX_UPLOAD_BYTES", "16384")],
    )
    .await;
    let (registry, login) = trusted_registry(&app, "bigreg01").await;
    let gun = format!("{login}/app");
    let signer_refresh = signer_in(&app, &registry, "big-signer").await;
    let t = access(
        &app,
        service(&app),
        &format!("repository:{gun}:push,pull"),
        &signer_refresh,
    )
    .await;
    let token = t.body["access_token"].as_str().unwrap().to_owned();
    let refused = upload_parts(&app, &gun, &token, &[("root", vec![b' '; 20_000])]).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{:?}",
        refused.body
    );
    assert_eq!(refused.body["errors"][0]["code"], "MALFORMED_UPLOAD");
    let owner = Cli::new(&app, &signer_refresh);
    assert_eq!(
        list(&app, &gun, &signer_refresh).await,
        None,
        "nothing was stored"
    );
    owner.ok(&["init", "-p", &gun]).await;
    owner
        .ok(&["addhash", "-p", &gun, "v1", "4", "--sha256", &digest(1)])
        .await;
    assert!(list(&app, &gun, &signer_refresh).await.is_some());
}

/// The adapter the app's content trust uses, behind the `TrustStore` port: notary-server
/// driven over HTTP with Berth's own tokens, or the embedded server over the app's database.
async fn trust_store(app: &TestApp, adapter: Adapter) -> Arc<dyn TrustStore> {
    match adapter {
        Adapter::NotaryServer => {
            use berth_infra::notary::{NotarySettings, NotaryTrustStore};
            let bundle = tempfile::tempdir().unwrap();
            let sealing =
                berth_infra::sealing::AesGcmBox::from_config(None, app.data_dir.path()).unwrap();
            let keys = berth_infra::registry_token::TokenServerKeys::open(
                app.database().await,
                Arc::new(sealing),
                &bundle.path().join("certs.pem"),
            )
            .await
            .unwrap();
            Arc::new(
                NotaryTrustStore::new(
                    NotarySettings {
                        url: trust_url(app).to_owned(),
                        service: service(app).into(),
                        issuer: "berth-token-server".into(),
                        ca_pem: None,
                    },
                    Arc::new(keys),
                )
                .unwrap(),
            )
        }
        Adapter::Embedded => {
            use berth_infra::persistence::{SeaOrmTufServerKeys, SeaOrmTufStore};
            let db = app.database().await;
            let secrets = Arc::new(
                berth_infra::sealing::AesGcmBox::from_config(None, app.data_dir.path()).unwrap(),
            );
            let crypto = Arc::new(berth_infra::tuf_crypto::AwsLcTufCrypto);
            Arc::new(berth_notary::EmbeddedTrustServer::new(
                Arc::new(SeaOrmTufStore::new(db.clone())),
                Arc::new(SeaOrmTufServerKeys::new(db, secrets)),
                crypto.clone(),
                crypto,
                Arc::new(berth_domain::clock::SystemClock),
            ))
        }
    }
}
