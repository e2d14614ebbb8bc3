//! Real clients against the embedded trust server (`berthd`'s own Notary v1 API), on SQLite
//! and on PostgreSQL: the `notary` CLI with keys that are not ECDSA (an RSA root, an RSA
//! delegation, an Ed25519 targets key) read back by a fresh AcrPull client, a tampered RSA
//! signature refused; and Docker's `docker trust` (the commands that need no daemon) over
//! HTTPS, with the refresh tokens `az acr login` leaves in Docker's config.

use super::content_trust::{Adapter, list, service, trust_url, with_trust};
use super::trust_contract::{Cli, digest, signer_in, tags, trusted_registry, upload_parts};
use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_tests::fixtures::{access, signed_in};
use berth_tests::notary::{notary_auth, notary_cli};
use berth_tests::roles::{ACR_PULL, ACR_PUSH, NULL_USER};
use berth_tests::{Backend, SpawnOptions, spawn_app_with};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The root passphrase `notary_cli` gives the CLI: an imported root key is encrypted with it.
const NOTARY_ROOT_PASSPHRASE: &str = "berth-tests-root";
const DOCKER_ROOT_PASSPHRASE: &str = "berth-docker-root";
const DOCKER_REPOSITORY_PASSPHRASE: &str = "berth-docker-repository";

/// A collection to sign on the embedded server: its GUN (`<login server>/app`), the notary
/// CLI of an AcrPush + AcrImageSigner principal, and an AcrPull principal's refresh token.
struct Collection {
    app: TestApp,
    gun: String,
    owner: Cli,
    signer: String,
    reader: String,
}

impl Collection {
    async fn new(backend: Backend, registry: &str) -> Self {
        let app = with_trust(backend, Adapter::Embedded, &[]).await;
        let (registry, login) = trusted_registry(&app, registry).await;
        let signer = signer_in(&app, &registry, "keys-signer").await;
        let (_, _, reader) = signed_in(&app, &registry, ACR_PULL, "keys-reader").await;
        Self {
            owner: Cli::new(&app, &signer),
            gun: format!("{login}/app"),
            app,
            signer,
            reader,
        }
    }

    /// The tags a fresh notary client lists as AcrPull, verifying everything from the root.
    async fn listed(&self) -> Vec<(String, String)> {
        let out = list(&self.app, &self.gun, &self.reader)
            .await
            .unwrap_or_default();
        tags(&out)
    }

    /// `role`'s metadata as the trust server serves it to the AcrPull principal.
    async fn served(&self, role: &str) -> Value {
        let scope = format!("repository:{}:pull", self.gun);
        let t = access(&self.app, service(&self.app), &scope, &self.reader).await;
        let token = t.body["access_token"].as_str().unwrap();
        let url = format!(
            "{}/v2/{}/_trust/tuf/{role}.json",
            trust_url(&self.app),
            self.gun
        );
        let r = self
            .app
            .client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {role}.json");
        r.json().await.unwrap()
    }
}

/// The key types of `keyids` in a `keys` map of TUF metadata.
fn key_types(keys: &Value, keyids: &Value) -> Vec<String> {
    keyids
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            keys[id.as_str().unwrap()]["keytype"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The methods of a metadata file's signatures.
fn methods(metadata: &Value) -> Vec<&str> {
    metadata["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["method"].as_str().unwrap())
        .collect()
}

/// The key types of delegation `role` in a targets file.
fn delegation_key_types(targets: &Value, role: &str) -> Vec<String> {
    let delegations = &targets["signed"]["delegations"];
    let found = delegations["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == role)
        .unwrap_or_else(|| panic!("no delegation {role}: {targets}"));
    key_types(&delegations["keys"], &found["keyids"])
}

/// Runs Debian's `openssl`; its stdout.
fn openssl(args: &[&str]) -> Vec<u8> {
    openssl_with(args, &[])
}

/// Runs Debian's `openssl` with `env` (e.g. under libfaketime); its stdout.
pub(super) fn openssl_with(args: &[&str], env: &[(String, String)]) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The DER inside a PEM file of one block.
fn pem_body(file: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(file).unwrap();
    let base64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(base64).unwrap()
}

/// An RSA key and a self-signed certificate of it (`releases.key`, `releases.crt` in `dir`),
/// added to the collection as delegation `targets/releases`, whose key the owner imports.
async fn rsa_releases(c: &Collection, dir: &Path) -> PathBuf {
    let (key, cert) = (dir.join("releases.key"), dir.join("releases.crt"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        path(&key),
        "-out",
        path(&cert),
        "-days",
        "3650",
        "-subj",
        "/CN=releases",
        "-sha256",
    ]);
    let g = c.gun.as_str();
    c.owner
        .ok(&[
            "delegation",
            "add",
            "-p",
            g,
            "targets/releases",
            path(&cert),
            "--all-paths",
        ])
        .await;
    c.owner
        .ok(&[
            "key",
            "import",
            path(&key),
            "-r",
            "targets/releases",
            "-g",
            g,
        ])
        .await;
    key
}

/// `(tag, role)` pairs, for comparing with [`Collection::listed`].
fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(t, r)| ((*t).to_owned(), (*r).to_owned()))
        .collect()
}

// Scenarios on the embedded trust server, on each database.
berth_tests::per_backend! {
    async fn a_collection_whose_root_key_is_rsa_is_published_and_verified_by_a_fresh_reader(backend) {
        let c = Collection::new(backend, "rsaroot01").await;
        let g = c.gun.as_str();
        // notary makes only ECDSA keys (`key generate rsa`: "Algorithm not allowed") but imports
        // an RSA root, encrypted only: PKCS#8 with PBES2, AES-256-CBC and PBKDF2 over
        // HMAC-SHA1, the one PRF notary 0.7 knows, under the CLI's root passphrase.
        let keys = tempfile::tempdir().unwrap();
        let (plain, root) = (keys.path().join("root.pem"), keys.path().join("root-encrypted.pem"));
        openssl(&["genrsa", "-out", path(&plain), "2048"]);
        let pass = format!("pass:{NOTARY_ROOT_PASSPHRASE}");
        openssl(&[
            "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA1", "-passout", &pass,
            "-in", path(&plain), "-out", path(&root),
        ]);

        let out = c.owner.ok(&["init", "--rootkey", path(&root), "-p", g]).await;
        assert!(out.contains("Root key found"), "{out}");
        c.owner.ok(&["addhash", "-p", g, "v1", "4", "--sha256", &digest(1)]).await;
        c.owner.ok(&["addhash", g, "v2", "4", "--sha256", &digest(2)]).await;
        c.owner.ok(&["publish", g]).await;
        assert_eq!(c.listed().await, pairs(&[("v1", "targets"), ("v2", "targets")]));

        // The server holds a root whose root role is that RSA key (as a certificate the CLI
        // made), signed with RSA-PSS.
        let served = c.served("root").await;
        let signed = &served["signed"];
        assert_eq!(key_types(&signed["keys"], &signed["roles"]["root"]["keyids"]), ["rsa-x509"], "{served}");
        assert_eq!(methods(&served), ["rsapss"], "{served}");
    }

    async fn a_delegation_whose_key_is_rsa_signs_tags_a_fresh_reader_verifies(backend) {
        let c = Collection::new(backend, "rsadeleg1").await;
        let g = c.gun.as_str();
        c.owner.ok(&["init", "-p", g]).await;
        let keys = tempfile::tempdir().unwrap();
        rsa_releases(&c, keys.path()).await;
        c.owner
            .ok(&["addhash", "-p", g, "v1", "4", "--sha256", &digest(1), "--roles", "targets/releases"])
            .await;
        c.owner.ok(&["addhash", "-p", g, "v2", "4", "--sha256", &digest(2)]).await;
        assert_eq!(c.listed().await, pairs(&[("v1", "targets/releases"), ("v2", "targets")]));

        let targets = c.served("targets").await;
        assert_eq!(delegation_key_types(&targets, "targets/releases"), ["rsa-x509"], "{targets}");
        let releases = c.served("targets/releases").await;
        assert_eq!(methods(&releases), ["rsapss"], "{releases}");
    }

    async fn an_ed25519_targets_key_signs_tags_a_fresh_reader_verifies(backend) {
        let c = Collection::new(backend, "edtarget1").await;
        let g = c.gun.as_str();
        c.owner.ok(&["init", "-p", g]).await;
        // notary neither makes Ed25519 keys nor imports OpenSSL's PKCS#8 form of one ("invalid
        // key pem block"); it imports its own: an "ED25519 PRIVATE KEY" block holding the
        // public key, then Go's 64-byte private key (seed, then public key again).
        let keys = tempfile::tempdir().unwrap();
        let pem = keys.path().join("ed25519.pem");
        openssl(&["genpkey", "-algorithm", "ed25519", "-out", path(&pem)]);
        let private = openssl(&["pkey", "-in", path(&pem), "-outform", "DER"]);
        let public = openssl(&["pkey", "-in", path(&pem), "-pubout", "-outform", "DER"]);
        let (seed, public) = (&private[private.len() - 32..], &public[public.len() - 32..]);
        let notary_form = STANDARD.encode([public, seed, public].concat());
        let notary_pem = keys.path().join("ed25519-notary.pem");
        std::fs::write(
            &notary_pem,
            format!("-----BEGIN ED25519 PRIVATE KEY-----\n{notary_form}\n-----END ED25519 PRIVATE KEY-----\n"),
        )
        .unwrap();

        c.owner.ok(&["key", "rotate", g, "targets", "-k", path(&notary_pem)]).await;
        c.owner.ok(&["addhash", "-p", g, "v1", "4", "--sha256", &digest(1)]).await;
        assert_eq!(c.listed().await, pairs(&[("v1", "targets")]));

        let root = c.served("root").await;
        let signed = &root["signed"];
        assert_eq!(key_types(&signed["keys"], &signed["roles"]["targets"]["keyids"]), ["ed25519"], "{root}");
        let targets = c.served("targets").await;
        assert_eq!(methods(&targets), ["eddsa"], "{targets}");
    }

    async fn a_tampered_rsa_signature_is_refused_and_changes_nothing(backend) {
        let c = Collection::new(backend, "rsatamp01").await;
        let g = c.gun.as_str();
        c.owner.ok(&["init", "-p", g]).await;
        // The server signs snapshots: one delegation file is then a whole update.
        c.owner.ok(&["key", "rotate", g, "snapshot", "-r"]).await;
        let keys = tempfile::tempdir().unwrap();
        let key = rsa_releases(&c, keys.path()).await;
        c.owner
            .ok(&["addhash", "-p", g, "v1", "4", "--sha256", &digest(1), "--roles", "targets/releases"])
            .await;

        // The next version of targets/releases, adding v2, signed as notary signs (RSA-PSS,
        // SHA-256, salt as long as the hash) over its canonical JSON (serde_json's output:
        // compact, keys sorted).
        let current = c.served("targets/releases").await;
        let mut signed = current["signed"].clone();
        signed["version"] = json!(signed["version"].as_u64().unwrap() + 1);
        let mut v2 = signed["targets"]["v1"].clone();
        v2["hashes"]["sha256"] = json!(STANDARD.encode([2_u8; 32]));
        signed["targets"]["v2"] = v2;
        let payload = serde_json::to_vec(&signed).unwrap();
        let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pem_body(&key)).unwrap();
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PSS_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            &payload,
            &mut signature,
        )
        .unwrap();
        let keyid = current["signatures"][0]["keyid"].clone();
        let file = |sig: &[u8]| {
            let doc = json!({
                "signed": signed,
                "signatures": [{"keyid": keyid, "method": "rsapss", "sig": STANDARD.encode(sig)}],
            });
            serde_json::to_vec(&doc).unwrap()
        };
        let mut tampered = signature.clone();
        tampered[17] ^= 0x01;

        let scope = format!("repository:{g}:push,pull");
        let t = access(&c.app, service(&c.app), &scope, &c.signer).await;
        let token = t.body["access_token"].as_str().unwrap().to_owned();
        let timestamp = c.served("timestamp").await;

        let refused = upload_parts(&c.app, g, &token, &[("targets/releases", file(&tampered))]).await;
        assert_eq!(
            (refused.status, refused.body["errors"][0]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_UPDATE")),
            "{:?}", refused.body
        );
        assert_eq!(c.served("timestamp").await, timestamp, "a refused upload changed the timestamp");
        assert_eq!(c.listed().await, pairs(&[("v1", "targets/releases")]));

        // The same file with the signature intact is accepted: the byte was the only fault.
        let accepted = upload_parts(&c.app, g, &token, &[("targets/releases", file(&signature))]).await;
        assert!(accepted.status.is_success(), "{:?} {:?}", accepted.status, accepted.body);
        assert_eq!(c.listed().await, pairs(&[("v1", "targets/releases"), ("v2", "targets/releases")]));
    }

    async fn docker_trust_adds_inspects_and_removes_signers_as_roles_allow(backend) {
        require_docker();
        // Docker wants an HTTPS trust server: berthd serves both listeners with its
        // development certificate, whose CA Go reads from SSL_CERT_FILE.
        let app = spawn_app_with(backend, SpawnOptions { tls: true, ..SpawnOptions::default() }).await;
        let (registry, login) = trusted_registry(&app, "dockreg01").await;
        let gun = format!("{login}/app");
        let signer_refresh = signer_in(&app, &registry, "docker-signer").await;
        let (_, _, pusher_refresh) = signed_in(&app, &registry, ACR_PUSH, "docker-pusher").await;
        let (_, _, reader_refresh) = signed_in(&app, &registry, ACR_PULL, "docker-reader").await;
        // A fresh client as AcrPull, which verifies everything from the root down.
        let inspect = || {
            let (app, login, gun, reader) = (&app, &login, &gun, &reader_refresh);
            async move {
                let out = Docker::new(app, login, reader).ok(&["trust", "inspect", gun], "").await;
                let inspected: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
                assert_eq!(inspected[0]["Name"], gun.as_str(), "{inspected}");
                inspected[0].clone()
            }
        };

        // AcrPush + AcrImageSigner: adding the first signer initialises the repository.
        let signer = Docker::new(&app, &login, &signer_refresh);
        let keys = tempfile::tempdir().unwrap();
        let dir = path(keys.path());
        signer.ok(&["trust", "key", "generate", "alice", "--dir", dir], "").await;
        let alice_pub = keys.path().join("alice.pub");
        let out = signer.ok(&["trust", "signer", "add", "--key", path(&alice_pub), "alice", &gun], "").await;
        assert!(out.contains(&format!("Successfully initialized \"{gun}\"")), "{out}");
        assert!(out.contains(&format!("Successfully added signer: alice to {gun}")), "{out}");
        let alice = signer.key_id("alice");
        let seen = inspect().await;
        assert_eq!(seen["Signers"], json!([{"Name": "alice", "Keys": [{"ID": alice}]}]), "{seen}");
        assert_eq!(seen["SignedTags"], json!([]), "{seen}");
        let admin: Vec<&str> = seen["AdministrativeKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["Name"].as_str().unwrap())
            .collect();
        assert_eq!(admin, ["Root", "Repository"], "{seen}");

        // AcrPush alone, even holding every key of the repository: the server refuses.
        let pusher = Docker::new(&app, &login, &pusher_refresh);
        copy_dir(&signer.trust_dir(), &pusher.trust_dir());
        pusher.ok(&["trust", "key", "generate", "bob", "--dir", dir], "").await;
        let bob_pub = keys.path().join("bob.pub");
        let (ok, out, err) = pusher
            .run(&["trust", "signer", "add", "--key", path(&bob_pub), "bob", &gun], "")
            .await;
        assert!(!ok, "AcrPush alone added a signer: {out}{err}");
        assert!(err.contains("not authorized"), "{out}{err}");
        assert_eq!(inspect().await["Signers"], seen["Signers"]);

        // A signed tag, which `signer remove` wants: `docker trust sign` needs no daemon once
        // the tag is in the trust data, so the notary CLI publishes v1 first, over Docker's
        // trust directory (notary's own layout) with the repository key.
        let auth = notary_auth(NULL_USER, &signer_refresh);
        let trust_dir = signer.trust_dir();
        let ca = path(app.ca_file.as_deref().unwrap());
        let (ok, out, err) = notary_cli(
            &[
                "-s", trust_url(&app), "-d", path(&trust_dir),
                "addhash", "-p", &gun, "v1", "4", "--sha256", &digest(1),
            ],
            &[
                ("NOTARY_AUTH", &auth),
                ("SSL_CERT_FILE", ca),
                ("NOTARY_TARGETS_PASSPHRASE", DOCKER_REPOSITORY_PASSPHRASE),
            ],
        )
        .await;
        assert!(ok, "notary addhash: {out}{err}");
        let out = signer.ok(&["trust", "sign", &format!("{gun}:v1")], "").await;
        assert!(out.contains(&format!("Successfully signed {gun}:v1")), "{out}");
        let seen = inspect().await;
        assert_eq!(
            seen["SignedTags"],
            json!([{"SignedTag": "v1", "Digest": digest(1), "Signers": ["alice"]}]),
            "{seen}"
        );

        // Removing the signer: refused to AcrPush alone, done for the signer. Docker asks
        // before removing the last signer of a release; `--force` would skip the question
        // but, since docker 26.0, also the removal (maybePromptForSignerRemoval returns
        // false), so the test answers "y".
        let (ok, out, err) = pusher.run(&["trust", "signer", "remove", "alice", &gun], "y\n").await;
        assert!(!ok, "AcrPush alone removed a signer: {out}{err}");
        assert!(err.contains("not authorized"), "{out}{err}");
        assert_eq!(inspect().await["Signers"], seen["Signers"]);
        let out = signer.ok(&["trust", "signer", "remove", "alice", &gun], "y\n").await;
        assert!(out.contains(&format!("Successfully removed alice from {gun}")), "{out}");
        let seen = inspect().await;
        assert_eq!(seen["Signers"], json!([]), "{seen}");
        assert_eq!(
            seen["SignedTags"],
            json!([{"SignedTag": "v1", "Digest": digest(1), "Signers": ["Repo Admin"]}]),
            "{seen}"
        );
    }
}

/// Fails, rather than skips, when the docker CLI is missing.
fn require_docker() {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join("docker").is_file()));
    assert!(
        found,
        "the `docker` CLI is not installed: run ./scripts/test, which installs it \
         (Debian's docker.io), or `apt-get install docker.io`"
    );
}

/// Docker's CLI as one principal: a config directory of its own, holding the login
/// server's credentials as `az acr login` leaves them (the null user and a refresh token)
/// and the trust directory, pointed at the app's trust server. No daemon is involved.
struct Docker {
    config: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Docker {
    fn new(app: &TestApp, login: &str, refresh: &str) -> Self {
        let config = tempfile::tempdir().unwrap();
        let auths = json!({"auths": {login: {"auth": notary_auth(NULL_USER, refresh)}}});
        std::fs::write(config.path().join("config.json"), auths.to_string()).unwrap();
        let home = config.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let ca = app
            .ca_file
            .as_deref()
            .unwrap_or_else(|| panic!("docker needs HTTPS"));
        let env = vec![
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", path(&home).to_owned()),
            ("DOCKER_CONFIG", path(config.path()).to_owned()),
            ("DOCKER_CONTENT_TRUST_SERVER", trust_url(app).to_owned()),
            ("SSL_CERT_FILE", path(ca).to_owned()),
            (
                "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
                DOCKER_ROOT_PASSPHRASE.to_owned(),
            ),
            (
                "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
                DOCKER_REPOSITORY_PASSPHRASE.to_owned(),
            ),
        ];
        Self { config, env }
    }

    /// Runs `docker args…` with `stdin`: success, stdout, stderr.
    async fn run(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        let mut child = tokio::process::Command::new("docker")
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run docker: {e}"));
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("docker {args:?} ran for more than 60 s"))
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Runs `docker args…`, which must succeed; its stdout.
    async fn ok(&self, args: &[&str], stdin: &str) -> String {
        let (ok, out, err) = self.run(args, stdin).await;
        assert!(ok, "docker {args:?}: {out}{err}");
        out
    }

    fn trust_dir(&self) -> PathBuf {
        self.config.path().join("trust")
    }

    /// The ID of the signing key Docker generated under `name` (its file is named by it).
    fn key_id(&self, name: &str) -> String {
        let private = self.trust_dir().join("private");
        std::fs::read_dir(&private)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|file| {
                std::fs::read_to_string(file)
                    .is_ok_and(|pem| pem.lines().any(|l| l == format!("role: {name}")))
            })
            .and_then(|file| Some(file.file_stem()?.to_str()?.to_owned()))
            .unwrap_or_else(|| panic!("no key for {name} in {}", private.display()))
    }
}

/// Copies directory `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What the issue calls done: a `berthd` with no configuration but its data directory and
/// free ports (so SQLite, the generated development certificate, the embedded trust server
/// on HTTPS) runs the whole content-trust flow with the real `notary` CLI: a signer publishes
/// over HTTPS, a fresh AcrPull client verifies, a client that does not trust the certificate
/// is refused, and disabling content trust deletes the collection, in seconds: the embedded
/// server refuses trust data itself once the disable is in, so the wipe waits for no push
/// token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_berthd_with_no_configuration_runs_the_whole_flow_with_the_notary_cli_over_https() {
    let app = spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            tls: true,
            ..SpawnOptions::default()
        },
    )
    .await;
    let url = trust_url(&app).to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let (registry, login) = trusted_registry(&app, "httpsreg01").await;
    let gun = format!("{login}/app");
    let signer_refresh = signer_in(&app, &registry, "https-signer").await;
    let (_, _, reader_refresh) = signed_in(&app, &registry, ACR_PULL, "https-reader").await;

    let dir = tempfile::tempdir().unwrap();
    let (ok, out) =
        super::content_trust::publish(&app, &gun, "v1", &signer_refresh, dir.path()).await;
    assert!(ok, "{out}");
    let listed = list(&app, &gun, &reader_refresh).await.unwrap();
    assert_eq!(
        tags(&listed)
            .iter()
            .map(|(t, r)| (t.as_str(), r.as_str()))
            .collect::<Vec<_>>(),
        [("v1", "targets")]
    );

    // A client that does not trust berthd's development CA is refused by TLS, not served.
    let (ok, out, err) = notary_cli(
        &["-s", &url, "list", &gun],
        &[("NOTARY_AUTH", &notary_auth(NULL_USER, &reader_refresh))],
    )
    .await;
    assert!(!ok, "{out}{err}");
    assert!(format!("{out}{err}").contains("certificate"), "{out}{err}");

    let off = berth_tests::fixtures::set_trust(&app, &registry, "disabled").await;
    assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
    let op = super::content_trust::operation_url(&off);
    let status = super::content_trust::follow(&app, &op, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    assert_eq!(
        list(&app, &gun, &reader_refresh).await,
        None,
        "the wipe deleted the collection"
    );
}
