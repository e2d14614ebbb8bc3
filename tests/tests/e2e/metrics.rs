//! `/metrics` read by a real Prometheus (Debian's `prometheus`): it scrapes berthd, and a
//! PromQL query over its HTTP API returns the token counter's increase after a known number
//! of `docker login`-style token requests; `promtool check metrics` passes on the text; no
//! label carries an id, a name or a secret; without an allowed address a token that may read
//! at the root scope is needed.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_tests::fixtures::login_server;
use berth_tests::registry::free_port;
use berth_tests::roles::{READER, as_token, assign, principal};
use berth_tests::{Backend, SpawnOptions, client_token, poll};
use std::time::Duration;

fn binary(name: &str) -> std::path::PathBuf {
    let path = std::path::PathBuf::from(format!("/usr/bin/{name}"));
    assert!(
        path.is_file(),
        "{name} is missing: ./scripts/test installs Debian's prometheus package (apt-get install prometheus)"
    );
    path
}

/// A Prometheus server scraping `target` every second, stopped when dropped.
struct Prometheus {
    child: tokio::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Prometheus {
    async fn start(target: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: berthd\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = tokio::process::Command::new(binary("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let ready = poll(
            Duration::from_secs(30),
            Duration::from_millis(200),
            || async {
                client
                    .get(format!("{url}/-/ready"))
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            },
        )
        .await;
        assert!(
            ready.is_some(),
            "prometheus did not start: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        Self {
            child,
            url,
            _dir: dir,
        }
    }

    /// The value of an instant query's only sample, if it has one.
    async fn value(&self, query: &str) -> Option<f64> {
        let body: Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query)])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        assert_eq!(body["status"], "success", "{query}: {body}");
        body["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
    }

    /// Waits until `query` answers `wanted`.
    async fn until(&self, query: &str, wanted: f64) {
        let seen = poll(
            Duration::from_secs(30),
            Duration::from_millis(250),
            || async { self.value(query).await.filter(|v| *v == wanted) },
        )
        .await;
        assert!(
            seen.is_some(),
            "{query} never answered {wanted} (last: {:?})",
            self.value(query).await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_token_counters_and_promtool_accepts_the_text() {
    let app = berth_tests::spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            env: vec![("BERTH_METRICS_ALLOW".into(), "127.0.0.1/32".into())],
            ..SpawnOptions::default()
        },
    )
    .await;
    app.create_group("scraped").await;
    let registry = app.registry_path("scraped", "scrapedreg1");
    app.create_registry("scraped", "scrapedreg1", "Basic").await;
    let service = login_server(&app, &registry).await;
    let (owner, secret) = app.owner.clone();
    let docker_login = |password: String| {
        let (app, service, owner) = (&app, &service, &owner);
        async move {
            let basic = STANDARD.encode(format!("{owner}:{password}"));
            app.send_as(
                reqwest::Method::GET,
                &format!("/oauth2/token?account={owner}&client_id=docker&offline_token=true&service={service}"),
                None,
                &[("authorization", &format!("Basic {basic}"))],
            )
            .await
            .status
        }
    };
    assert_eq!(docker_login(secret.clone()).await, StatusCode::OK);
    let prometheus = Prometheus::start(app.base.trim_start_matches("http://")).await;
    let issued = r#"berth_tokens_issued_total{server="registry",grant="basic"}"#;
    prometheus.until(issued, 1.0).await;
    for _ in 0..7 {
        assert_eq!(docker_login(secret.clone()).await, StatusCode::OK);
    }
    assert_eq!(
        docker_login("wrong".to_owned()).await,
        StatusCode::UNAUTHORIZED
    );
    prometheus.until(issued, 8.0).await;
    let increase = prometheus
        .value(&format!(
            "max_over_time({issued}[5m]) - min_over_time({issued}[5m])"
        ))
        .await;
    assert_eq!(increase, Some(7.0), "the counter rose by the 7 logins");
    prometheus
        .until(
            r#"berth_tokens_refused_total{server="registry",grant="basic",code="401"}"#,
            1.0,
        )
        .await;
    let requests = prometheus
        .value(r#"sum(berth_http_requests_total{route="/oauth2/token",method="GET",status="200"})"#)
        .await;
    assert_eq!(requests, Some(8.0));
    assert!(
        prometheus
            .value(r#"berth_signing_key_age_seconds{key="issuer"}"#)
            .await
            .is_some()
    );
    assert_eq!(
        prometheus.value("berth_trust_wipes_running").await,
        Some(0.0)
    );
    assert!(
        prometheus
            .value(r#"berth_db_connections_max{pool="write"}"#)
            .await
            .is_some_and(|v| v >= 1.0)
    );

    // The text itself: promtool's checks pass, and no label names a resource or a person.
    let text = app.metrics_text(None).await;
    let mut promtool = tokio::process::Command::new(binary("promtool"))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = promtool.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).await.unwrap();
    }
    let checked = promtool.wait_with_output().await.unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    for unbounded in [
        app.subscription.as_str(),
        &owner,
        &secret,
        "scrapedreg1",
        "scraped",
    ] {
        assert!(
            !text.contains(unbounded),
            "{unbounded} is in a label:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_allowed_address_metrics_need_a_token_that_reads_at_the_root() {
    let app = berth_tests::spawn_app(Backend::Sqlite).await;
    let anonymous = app
        .send_as(reqwest::Method::GET, "/metrics", None, &[])
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let (reader, creds) = principal(&app, "metrics-reader").await;
    assign(&app, &app.sub_path(), READER, &reader).await;
    let token = client_token(
        &reqwest::Client::new(),
        &app.base,
        &creds,
        "https://management.berth.local/.default",
    )
    .await;
    let below = as_token(&app, &token, reqwest::Method::GET, "/metrics", None).await;
    assert_eq!(
        (below.status, below.error_code()),
        (StatusCode::FORBIDDEN, "AuthorizationFailed")
    );
    assign(&app, "/", READER, &reader).await;
    let at_root = as_token(&app, &token, reqwest::Method::GET, "/metrics", None).await;
    assert_eq!(at_root.status, StatusCode::OK);
    assert_eq!(
        at_root.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let forged = app
        .send_as(
            reqwest::Method::GET,
            "/metrics",
            None,
            &[("authorization", "Bearer not-a-token")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}
