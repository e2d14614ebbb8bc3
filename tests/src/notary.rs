//! Content trust's real server for the tests: Debian's `notary-server` (Notary v1, 0.7) with
//! its TUF metadata in a fresh PostgreSQL schema and token auth pointing at `berthd`, and the
//! `notary` CLI to read through it.
//!
//! The schema comes from `tests/notary/server-schema.sql` (upstream Notary's server
//! migrations for PostgreSQL); `psql` creates it, since Debian ships no migrations.

use crate::registry::{free_port, require};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_infra::tls::DevCertificate;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The `service` name of the Notary servers the tests start with `berthd`.
pub const SERVICE: &str = "notary-berth";

/// notary-server 0.7's tables (`tuf_files`, `changefeed`), from upstream's migrations.
const SERVER_SCHEMA: &str = include_str!("../notary/server-schema.sql");

/// A running notary-server on a schema of its own (plain HTTP, or HTTPS with a certificate
/// of a test CA); stopped, and its schema dropped, when dropped.
#[derive(Debug)]
pub struct NotaryServer {
    /// `http://127.0.0.1:<port>` (plain HTTP).
    pub url: String,
    /// The PostgreSQL schema that holds its metadata (`notary_<uuid>`).
    pub schema: String,
    /// The CA of its certificate, when it serves HTTPS.
    pub ca: Option<PathBuf>,
    postgres_url: String,
    log: PathBuf,
    config_file: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

/// `url` with `params` added to its query string.
fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut url = url.to_owned();
    for (key, value) in params {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("{key}={value}"));
    }
    url
}

impl NotaryServer {
    /// Starts a notary-server whose token auth trusts `berthd` at `realm_base` (the realm is
    /// `{realm_base}/oauth2/token`) for the service name `service`, tokens issued by `issuer`
    /// and signed by a key of the `bundle` certificates. Its metadata goes to a new schema
    /// in the database of `postgres_url`; its timestamp keys stay in memory (local signer).
    ///
    /// # Panics
    /// When notary-server or psql is missing, the schema cannot be made, or the server does
    /// not start.
    pub async fn start(
        realm_base: &str,
        service: &str,
        issuer: &str,
        bundle: &Path,
        postgres_url: &str,
    ) -> Self {
        Self::start_on(
            free_port(),
            None,
            realm_base,
            service,
            issuer,
            bundle,
            postgres_url,
        )
        .await
    }

    /// [`Self::start`] on 127.0.0.1:`port` (picked before `berthd` starts, so that `berthd`
    /// can be told the URL), serving HTTPS with `tls` when given.
    ///
    /// # Panics
    /// As [`Self::start`].
    pub async fn start_on(
        port: u16,
        tls: Option<&DevCertificate>,
        realm_base: &str,
        service: &str,
        issuer: &str,
        bundle: &Path,
        postgres_url: &str,
    ) -> Self {
        require("notary-server", "notary");
        require("psql", "postgresql-client");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let schema = format!("notary_{}", uuid::Uuid::new_v4().simple());

        let sql = dir.path().join("server-schema.sql");
        std::fs::write(&sql, SERVER_SCHEMA)
            .unwrap_or_else(|e| panic!("cannot write the notary schema: {e}"));
        let create = format!("CREATE SCHEMA \"{schema}\"");
        let search_path = format!("SET search_path TO \"{schema}\"");
        let sql = sql.display().to_string();
        let output = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", postgres_url])
            .args(["-c", "SET client_min_messages TO warning"])
            .args(["-c", create.as_str(), "-c", search_path.as_str()])
            .args(["-f", sql.as_str()])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        assert!(
            output.status.success(),
            "cannot make notary-server's schema in {postgres_url} (PostgreSQL tests need a server \
             there; ./scripts/test starts one, or set BERTH_TEST_POSTGRES_URL): {}",
            String::from_utf8_lossy(&output.stderr)
        );

        // lib/pq passes unknown query parameters (search_path) to the server as run-time
        // settings. Its sslmode defaults to require, which a test server may not offer.
        let mut extra = vec![("search_path", schema.as_str())];
        if !postgres_url.contains("sslmode=") {
            extra.push(("sslmode", "disable"));
        }
        let db_url = with_query(postgres_url, &extra);
        let address = format!("127.0.0.1:{port}");
        let mut server_config = serde_json::json!({"http_addr": address});
        if let Some(tls) = tls {
            server_config["tls_cert_file"] = tls.cert.display().to_string().into();
            server_config["tls_key_file"] = tls.key.display().to_string().into();
        }
        let config = serde_json::json!({
            "server": server_config,
            "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
            "storage": {"backend": "postgres", "db_url": db_url},
            "auth": {"type": "token", "options": {
                "realm": format!("{realm_base}/oauth2/token"),
                "service": service,
                "issuer": issuer,
                "rootcertbundle": bundle.display().to_string(),
            }},
            "logging": {"level": "info"},
        });
        let config_file = dir.path().join("server.json");
        std::fs::write(&config_file, config.to_string())
            .unwrap_or_else(|e| panic!("cannot write the config: {e}"));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut server = Self {
            url: format!("{scheme}://{address}"),
            ca: tls.map(|t| t.ca.clone()),
            schema,
            postgres_url: postgres_url.to_owned(),
            log: dir.path().join("notary-server.log"),
            config_file,
            child: None,
            _dir: dir,
        };
        server.resume().await;
        server
    }

    /// Stops the server (SIGKILL); its metadata stays. [`Self::resume`] starts it again.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the server (again) on its address and schema, and waits until it answers.
    ///
    /// # Panics
    /// When it does not start.
    pub async fn resume(&mut self) {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("cannot open the log: {e}"));
        let child = Command::new("notary-server")
            .arg("-config")
            .arg(&self.config_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start notary-server: {e}"));
        let child = self.child.insert(child);
        // Up as soon as health answers 200. (Its database check only runs every 10 s; psql
        // has made the tables, and a bad db_url makes notary-server exit at start.)
        let mut client = reqwest::Client::builder();
        if let Some(ca) = &self.ca {
            let pem =
                std::fs::read(ca).unwrap_or_else(|e| panic!("cannot read {}: {e}", ca.display()));
            client = client.add_root_certificate(
                reqwest::Certificate::from_pem(&pem).unwrap_or_else(|e| panic!("bad CA: {e}")),
            );
        }
        let client = client
            .build()
            .unwrap_or_else(|e| panic!("no HTTP client: {e}"));
        let health = format!("{}/_notary_server/health", self.url);
        for _ in 0..200 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("notary-server exited ({status}):\n{}", self.log());
            }
            if let Ok(r) = client.get(&health).send().await
                && r.status() == reqwest::StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "notary-server did not answer on {}:\n{}",
            self.url,
            self.log()
        );
    }

    /// What notary-server has logged so far (JSON lines), for assertion messages.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NotaryServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        // The schema is this server's alone: drop it, best effort. Drop cannot await, so
        // psql runs blocking (a few milliseconds).
        let _ = std::process::Command::new("psql")
            .args(["-X", "-q", "-d", self.postgres_url.as_str(), "-c"])
            .arg(format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema))
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `NOTARY_AUTH`'s value for `user` and `password`: base64 of `user:password`.
#[must_use]
pub fn notary_auth(user: &str, password: &str) -> String {
    STANDARD.encode(format!("{user}:{password}"))
}

/// Runs the `notary` CLI with `args` (pass `-s <url>` for the server) and `env` on top of
/// test passphrases for every key role; returns whether it succeeded, its stdout and its
/// stderr. The CLI prints its `* fatal: ...` errors on stdout.
///
/// Each run gets a fresh trust directory (`-d`, put before `args`, so a `-d` in `args`
/// wins) and a fresh home, so nothing is cached between runs. Give `NOTARY_AUTH` (see
/// [`notary_auth`]) for credentials: without it the CLI prompts for a user name, which
/// reads an empty stdin here and goes on without credentials.
///
/// # Panics
/// When the CLI is missing, or runs for more than 60 s.
pub async fn notary_cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    require("notary", "notary");
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
    let trust_dir = home.path().join("trust");
    let mut command = Command::new("notary");
    command
        .arg("-d")
        .arg(&trust_dir)
        .args(args)
        .env("HOME", home.path())
        .env("NOTARY_ROOT_PASSPHRASE", "berth-tests-root")
        .env("NOTARY_TARGETS_PASSPHRASE", "berth-tests-targets")
        .env("NOTARY_SNAPSHOT_PASSPHRASE", "berth-tests-snapshot")
        .env("NOTARY_DELEGATION_PASSPHRASE", "berth-tests-delegation")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("notary {args:?} ran for more than 60 s"))
        .unwrap_or_else(|e| panic!("cannot run notary: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
