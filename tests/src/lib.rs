//! Helpers for Berth's end-to-end tests: [`spawn_app`] starts a real `berthd`
//! ([`berth_api::Application`] on port 0) on a fresh SQLite file or a fresh PostgreSQL
//! schema, and [`TestApp`] talks to it over HTTP.

pub mod clock;
pub mod docker;
pub mod fixtures;
pub mod notary;
pub mod oidc;
pub mod registry;
pub mod roles;
pub mod tuf;
use berth_api::Application;
use berth_infra::config::Settings;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use tempfile::TempDir;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary data directory.
    Sqlite,
    /// A fresh schema in the PostgreSQL database `test` on 127.0.0.1:5432.
    Postgres,
}

/// The PostgreSQL server the tests use (override with `BERTH_TEST_POSTGRES_URL`).
#[must_use]
pub fn postgres_url() -> String {
    std::env::var("BERTH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The stable registry api-version.
pub const API: &str = "2025-11-01";
/// The Azure CLI 2.91 preview api-version.
pub const PREVIEW: &str = "2026-09-01-preview";
/// The resource-group api-version of azure-mgmt-resource 26.
pub const RG_API: &str = "2025-04-01";

/// A running `berthd` and a client for it.
pub struct TestApp {
    /// `http(s)://127.0.0.1:<port>`.
    pub base: String,
    /// The bootstrap subscription.
    pub subscription: String,
    /// The database backend.
    pub backend: Backend,
    /// The data directory (kept while the app lives).
    pub data_dir: TempDir,
    /// The CA file when TLS is on.
    pub ca_file: Option<PathBuf>,
    /// The PostgreSQL schema, when on PostgreSQL.
    pub schema: Option<String>,
    /// The bootstrap owner's appId and secret (configured, or read from the file berthd wrote).
    pub owner: (String, String),
    /// The owner's token for the management API.
    pub management_token: String,
    /// The owner's token for the directory (Graph) API.
    pub graph_token: String,
    /// The HTTP client (trusts the development CA).
    pub client: reqwest::Client,
    /// The Notary server content trust uses, when [`SpawnOptions::notary`] asked for one.
    pub notary: Option<notary::NotaryServer>,
    /// The URL of the trust server content trust uses: that Notary server's, or else
    /// `berthd`'s embedded one (none when `BERTH_TRUST_LISTEN=off`).
    pub trust_url: Option<String>,
    server: Server,
}

/// Where the `berthd` under test runs.
enum Server {
    /// A task of the test's runtime.
    InProcess(tokio::task::JoinHandle<()>),
    /// A process of its own, which can be killed and started again.
    Process(Box<Process>),
}

/// A `berthd` process: its binary, environment and log.
struct Process {
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<tokio::process::Child>,
}

impl Process {
    /// Starts the process and waits until `base` answers.
    async fn start(&mut self, base: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.log.display()));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot open the log twice: {e}"));
        let child = tokio::process::Command::new(&self.binary)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        let child = self.child.insert(child);
        let client = reqwest::Client::new();
        for _ in 0..400 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "berthd exited ({status}):\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("berthd did not answer on {base}");
    }
}

/// Part `index` of a JWT (0: its header, 1: its claims), decoded without verifying
/// anything: for assertions on what a server issued.
///
/// # Panics
/// When the token has no such part, or it is not base64url JSON.
#[must_use]
pub fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine as _;
    let part = token
        .split('.')
        .nth(index)
        .unwrap_or_else(|| panic!("the token has no part {index}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("part {index} of the token is not base64url: {e}"));
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("part {index} of the token is not JSON: {e}"))
}

/// A JWT's claims, decoded without verifying anything.
///
/// # Panics
/// When the token is not a JWT.
#[must_use]
pub fn jwt_claims(token: &str) -> Value {
    jwt_part(token, 1)
}

/// Asks `probe` every `every` until it answers `Some`, or `within` has passed: then `None`.
/// The one polling loop of the suite: a readiness probe with a deadline, never a fixed sleep.
pub async fn poll<T, F, Fut>(
    within: std::time::Duration,
    every: std::time::Duration,
    mut probe: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return Some(found);
        }
        if tokio::time::Instant::now() >= end {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// Options of [`spawn_app_with`].
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// Serve HTTPS with the generated development certificate.
    pub tls: bool,
    /// Extra `BERTH_*` settings.
    pub env: Vec<(String, String)>,
    /// Reuse this data directory / schema (to test restarts).
    pub reuse: Option<(PathBuf, Option<String>)>,
    /// A CA file the client trusts besides the generated one.
    pub trust_ca: Option<PathBuf>,
    /// Start a notary-server (on PostgreSQL) wired to this `berthd` as its trust store,
    /// with the service name [`notary::SERVICE`].
    pub notary: bool,
    /// Serve that notary-server over HTTPS with a certificate of a test CA, which `berthd`
    /// is told to trust (`BERTH_NOTARY_CA`; an `env` entry can override it).
    pub notary_tls: bool,
    /// Run `berthd` as a process of this binary (the tests' `berthd-e2e`), plain HTTP, so
    /// that it can be killed ([`TestApp::kill`]) and started again ([`TestApp::restart`]).
    pub process: Option<PathBuf>,
}

/// Starts `berthd` on `backend` with plain HTTP.
///
/// # Panics
/// When the app cannot start (e.g. PostgreSQL is not reachable), with the reason.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, SpawnOptions::default()).await
}

/// Starts `berthd` on `backend` with options.
///
/// # Panics
/// When the app cannot start, with the reason.
pub async fn spawn_app_with(backend: Backend, options: SpawnOptions) -> TestApp {
    let data_dir =
        tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
    let (dir, schema) = match (&options.reuse, backend) {
        (Some((dir, schema)), _) => (dir.clone(), schema.clone()),
        (None, Backend::Sqlite) => (data_dir.path().to_owned(), None),
        (None, Backend::Postgres) => (
            data_dir.path().to_owned(),
            Some(format!("t_{}", uuid::Uuid::new_v4().simple())),
        ),
    };
    let mut env: Vec<(String, String)> = vec![
        ("BERTH_LISTEN".into(), "127.0.0.1:0".into()),
        ("BERTH_DATA_DIR".into(), dir.display().to_string()),
        (
            "BERTH_TLS".into(),
            if options.tls { "self-signed" } else { "off" }.into(),
        ),
        // Token-server mode unless a test asks for the embedded data plane: most tests run
        // their own Distribution, and need no second one.
        ("BERTH_REGISTRY_BACKEND".into(), "none".into()),
    ];
    if let Some(schema) = &schema {
        env.push(("BERTH_DATABASE_URL".into(), postgres_url()));
        env.push(("BERTH_DATABASE_SCHEMA".into(), schema.clone()));
    }
    // The Notary server's port is chosen first, so that berthd can be told its URL; the
    // server starts once berthd has written the certificates it must trust.
    let notary_port = options.notary.then(registry::free_port);
    let notary_tls = (options.notary && options.notary_tls).then(|| {
        berth_infra::tls::ensure_dev_certificate(&dir.join("notary-tls"), "registry.localhost")
            .unwrap_or_else(|e| panic!("cannot make notary-server's certificate: {e}"))
    });
    if let Some(port) = notary_port {
        let scheme = if notary_tls.is_some() {
            "https"
        } else {
            "http"
        };
        env.push(("BERTH_NOTARY_SERVICE".into(), notary::SERVICE.into()));
        env.push((
            "BERTH_NOTARY_URL".into(),
            format!("{scheme}://127.0.0.1:{port}"),
        ));
    }
    if let Some(tls) = &notary_tls {
        env.push(("BERTH_NOTARY_CA".into(), tls.ca.display().to_string()));
    }
    if options.process.is_some() {
        // A process is killed and started again on the same address.
        env.push((
            "BERTH_LISTEN".into(),
            format!("127.0.0.1:{}", registry::free_port()),
        ));
        env.push((
            "BERTH_TRUST_LISTEN".into(),
            format!("127.0.0.1:{}", registry::free_port()),
        ));
    } else {
        env.push(("BERTH_TRUST_LISTEN".into(), "127.0.0.1:0".into()));
    }
    env.extend(options.env);
    let settings = Settings::from_sources(None, |k| {
        env.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    })
    .unwrap_or_else(|e| panic!("test settings are invalid: {e}"));
    let (base, ca_file, server, embedded_trust) = match options.process {
        Some(binary) => {
            let base = format!("http://{}", settings.listen);
            let trust = settings
                .trust_server
                .listen
                .filter(|_| settings.notary.is_none())
                .map(|addr| format!("http://{addr}"));
            let mut process = Process {
                binary,
                env: env.clone(),
                log: dir.join("berthd.log"),
                child: None,
            };
            process.start(&base).await;
            (
                base,
                options.trust_ca,
                Server::Process(Box::new(process)),
                trust,
            )
        }
        None => {
            let app = Application::build(settings).await.unwrap_or_else(|e| {
                panic!(
                    "berthd did not start on {backend:?}: {e}\n(PostgreSQL tests need a server at {}; \
                     ./scripts/test starts one, or set BERTH_TEST_POSTGRES_URL)",
                    postgres_url()
                )
            });
            let base = app.base_url().to_owned();
            let trust = app.trust_url().map(str::to_owned);
            let ca_file = app.ca_file().cloned().or(options.trust_ca);
            let server = tokio::spawn(async move {
                let _ = app.run_until_stopped().await;
            });
            (base, ca_file, Server::InProcess(server), trust)
        }
    };
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = &ca_file {
        let pem = std::fs::read(ca).unwrap_or_else(|e| panic!("cannot read the CA file: {e}"));
        let cert =
            reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("bad CA file: {e}"));
        builder = builder.add_root_certificate(cert);
    }
    let client = builder
        .build()
        .unwrap_or_else(|e| panic!("cannot build the HTTP client: {e}"));
    let configured = |key: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let owner = match (
        configured("BERTH_BOOTSTRAP_CLIENT_ID"),
        configured("BERTH_BOOTSTRAP_CLIENT_SECRET"),
    ) {
        (Some(id), Some(secret)) => (id, secret),
        _ => {
            let file = dir.join("bootstrap-owner.json");
            let text = std::fs::read(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            let owner: Value = serde_json::from_slice(&text)
                .unwrap_or_else(|e| panic!("bad {}: {e}", file.display()));
            (
                owner["appId"].as_str().unwrap_or_default().to_owned(),
                owner["secret"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let management_token = client_token(
        &client,
        &base,
        &owner,
        "https://management.berth.local/.default",
    )
    .await;
    let graph_token = client_token(&client, &base, &owner, &format!("{base}/.default")).await;
    let notary = match notary_port {
        Some(port) => Some(
            notary::NotaryServer::start_on(
                port,
                notary_tls.as_ref(),
                &base,
                notary::SERVICE,
                configured("BERTH_REGISTRY_TOKEN_ISSUER")
                    .as_deref()
                    .unwrap_or("berth-token-server"),
                &dir.join("registry-token-certs.pem"),
                &postgres_url(),
            )
            .await,
        ),
        None => None,
    };
    let mut app = TestApp {
        base,
        subscription: String::new(),
        backend,
        data_dir,
        ca_file,
        schema,
        owner,
        management_token,
        graph_token,
        client,
        trust_url: notary.as_ref().map(|n| n.url.clone()).or(embedded_trust),
        notary,
        server,
    };
    let (status, body) = app.get("/subscriptions?api-version=2022-12-01").await;
    assert_eq!(status, StatusCode::OK, "GET /subscriptions: {body}");
    app.subscription = body["value"][0]["subscriptionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app
}

/// Gets a token for a service principal from the built-in issuer.
///
/// # Panics
/// Unless the issuer answers with a token.
pub async fn client_token(
    client: &reqwest::Client,
    base: &str,
    (id, secret): &(String, String),
    scope: &str,
) -> String {
    issued_token(
        client,
        base,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", scope),
        ],
    )
    .await
}

/// Gets a token for a user from the built-in issuer with the `password` grant, as the Azure
/// CLI's public client.
///
/// # Panics
/// Unless the issuer answers with a token.
pub async fn password_token(
    client: &reqwest::Client,
    base: &str,
    upn: &str,
    password: &str,
    scope: &str,
) -> String {
    issued_token(
        client,
        base,
        &[
            ("grant_type", "password"),
            ("client_id", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
            ("username", upn),
            ("password", password),
            ("scope", scope),
        ],
    )
    .await
}

async fn issued_token(client: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> String {
    let response = client
        .post(format!("{base}/organizations/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("token request failed: {e}"));
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("token answer is not JSON: {e}"));
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {body}"))
        .to_owned()
}

/// A response: status, headers and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as JSON.
    pub body: Value,
}

impl Reply {
    /// Reads a response whole.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        Self {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A header's value as text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.code` of an ARM error body.
    #[must_use]
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// A second connection to the app's database, as another replica (or an operator) has.
    ///
    /// # Panics
    /// When the database cannot be opened.
    pub async fn database(&self) -> berth_infra::persistence::Database {
        use berth_infra::persistence::{Database, DatabaseTarget};
        let target = match &self.schema {
            Some(schema) => DatabaseTarget::Postgres {
                url: postgres_url(),
                schema: Some(schema.clone()),
            },
            None => DatabaseTarget::Sqlite(self.data_dir.path().join("berth.db")),
        };
        Database::open(&target)
            .await
            .unwrap_or_else(|e| panic!("cannot open the app's database: {e}"))
    }

    /// The directory use cases over the app's database.
    pub async fn directory(&self) -> berth_domain::directory::DirectoryService {
        use std::sync::Arc;
        berth_domain::directory::DirectoryService::new(
            Arc::new(berth_infra::persistence::SeaOrmDirectoryRepository::new(
                self.database().await,
            )),
            Arc::new(berth_infra::secrets::Argon2Secrets),
            Arc::new(berth_domain::clock::SystemClock),
        )
    }

    /// `/subscriptions/{sub}`.
    #[must_use]
    pub fn sub_path(&self) -> String {
        format!("/subscriptions/{}", self.subscription)
    }

    /// The path of a resource group.
    #[must_use]
    pub fn rg_path(&self, rg: &str) -> String {
        format!("{}/resourceGroups/{rg}", self.sub_path())
    }

    /// The path of a registry.
    #[must_use]
    pub fn registry_path(&self, rg: &str, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.ContainerRegistry/registries/{name}",
            self.rg_path(rg)
        )
    }

    /// The owner's token for `path` (the directory API has an audience of its own).
    #[must_use]
    pub fn token_for(&self, path: &str) -> &str {
        if path.contains("/v1.0/") {
            &self.graph_token
        } else {
            &self.management_token
        }
    }

    /// Sends a request as the bootstrap owner; `path` may be absolute (a `nextLink`) or
    /// start with `/`.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let bearer = format!("Bearer {}", self.token_for(path));
        self.send_as(
            method,
            path,
            body,
            &[&[("authorization", bearer.as_str())], headers].concat(),
        )
        .await
    }

    /// Sends a request with exactly the headers given (no token unless among them).
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn send_as(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.client.request(method, &url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        Reply::read(response).await
    }

    /// POSTs a form (`application/x-www-form-urlencoded`) with no token, as OAuth clients
    /// and Docker's token clients do.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .post(&url)
            .form(fields)
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        Reply::read(response).await
    }

    /// Today's sign-in and repository events in the app's audit file
    /// (`BERTH_AUDIT_SINK=file`, the default), as JSON; none when the file is not there yet.
    ///
    /// # Panics
    /// When a line is not JSON.
    #[must_use]
    pub fn audit_events(&self) -> Vec<Value> {
        let file = berth_infra::diagnostics::file_of(
            &self.data_dir.path().join("audit"),
            time::OffsetDateTime::now_utc().date(),
        );
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect()
    }

    /// The text of `/metrics`, asked with `token` when one is given (without, the test's
    /// address must be allowed by `BERTH_METRICS_ALLOW`).
    ///
    /// # Panics
    /// When the request fails.
    pub async fn metrics_text(&self, token: Option<&str>) -> String {
        let mut request = self.client.get(format!("{}/metrics", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("GET /metrics failed: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics failed: {e}"))
    }

    /// GET, returning status and body.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.send(Method::GET, path, None, &[]).await;
        (r.status, r.body)
    }

    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    /// PATCH with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Creates a resource group in `westus`.
    ///
    /// # Panics
    /// Unless it is created.
    pub async fn create_group(&self, rg: &str) {
        let r = self
            .put(
                &format!("{}?api-version={RG_API}", self.rg_path(rg)),
                &serde_json::json!({"location": "westus"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "creating resource group {rg}: {:?}",
            r.body
        );
    }

    /// Creates a registry with a SKU, returning its body.
    ///
    /// Creates a directory user with a password (Graph's `POST /v1.0/users`); returns its
    /// object id.
    ///
    /// # Panics
    /// Unless it is created.
    pub async fn create_user(&self, upn: &str, password: &str) -> String {
        let body = serde_json::json!({"userPrincipalName": upn, "passwordProfile": {"password": password}});
        let r = self
            .send(reqwest::Method::POST, "/v1.0/users", Some(&body), &[])
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "creating user {upn}: {:?}",
            r.body
        );
        r.body["id"].as_str().unwrap_or_default().to_owned()
    }

    /// # Panics
    /// Unless it is created.
    pub async fn create_registry(&self, rg: &str, name: &str, sku: &str) -> Value {
        let body = serde_json::json!({"location": "westus", "sku": {"name": sku}});
        let r = self
            .put(
                &format!("{}?api-version={API}", self.registry_path(rg, name)),
                &body,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "creating registry {name}: {:?}",
            r.body
        );
        r.body
    }

    /// Follows an `Azure-AsyncOperation` URL until the operation ends; returns the final status body.
    ///
    /// # Panics
    /// When the operation does not end within 30 s.
    pub async fn wait_for_operation(&self, url: &str) -> Value {
        let ended = poll(
            std::time::Duration::from_secs(30),
            std::time::Duration::from_millis(100),
            || async {
                let (status, body) = self.get(url).await;
                assert_eq!(status, StatusCode::OK, "operation status: {body}");
                (body["status"] != "InProgress").then_some(body)
            },
        )
        .await;
        ended.unwrap_or_else(|| panic!("operation {url} did not end within 30 s"))
    }

    /// Stops the server and its worker (the data stays, for restart tests).
    pub async fn stop(&mut self) {
        match &mut self.server {
            Server::InProcess(task) => {
                task.abort();
                let _ = task.await;
            }
            Server::Process(_) => self.kill().await,
        }
    }

    /// Kills a `berthd` process with SIGKILL: nothing of it runs any more, nothing is
    /// cleaned up.
    ///
    /// # Panics
    /// When `berthd` runs in process ([`SpawnOptions::process`] was not given).
    pub async fn kill(&mut self) {
        let Server::Process(process) = &mut self.server else {
            panic!("kill needs SpawnOptions::process");
        };
        if let Some(mut child) = process.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts a killed `berthd` process again, with the same settings and data.
    ///
    /// # Panics
    /// When `berthd` runs in process, or does not start.
    pub async fn restart(&mut self) {
        let Server::Process(process) = &mut self.server else {
            panic!("restart needs SpawnOptions::process");
        };
        process.start(&self.base).await;
    }

    /// What a `berthd` process has logged.
    #[must_use]
    pub fn log(&self) -> String {
        match &self.server {
            Server::Process(p) => std::fs::read_to_string(&p.log).unwrap_or_default(),
            Server::InProcess(_) => String::new(),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        match &mut self.server {
            Server::InProcess(task) => task.abort(),
            Server::Process(p) => {
                if let Some(child) = p.child.as_mut() {
                    let _ = child.start_kill();
                }
            }
        }
        if let Some(schema) = self.schema.clone() {
            // Drop the test's schema on a thread of its own: Drop cannot await.
            let url = postgres_url();
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(db) = sea_orm::Database::connect(url).await {
                        use sea_orm::ConnectionTrait;
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                            ))
                            .await;
                        let _ = db.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// Defines a test that runs once on SQLite and once on PostgreSQL:
/// `both_backends! { async fn name(app) { ... } }` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block)*) => {
        $crate::both_backends_with! {
            $crate::SpawnOptions::default();
            $($(#[$meta])* async fn $name($app) $body)*
        }
    };
}

/// [`both_backends!`] with [`SpawnOptions`] for both apps.
#[macro_export]
macro_rules! both_backends_with {
    ($options:expr; $($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                use super::*;

                async fn run($app: $crate::TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($crate::spawn_app_with($crate::Backend::Sqlite, $options).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run($crate::spawn_app_with($crate::Backend::Postgres, $options).await).await;
                }
            }
        )*
    };
}

/// Defines a test that runs once on SQLite and once on PostgreSQL with the backend in hand
/// (to spawn the app itself): `per_backend! { async fn name(backend) { ... } }` makes
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! per_backend {
    ($($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                use super::*;

                async fn run($backend: $crate::Backend) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($crate::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run($crate::Backend::Postgres).await;
                }
            }
        )*
    };
}

/// `BERTH_*` settings for [`SpawnOptions::env`], from string pairs.
#[must_use]
pub fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
