//! The `berthd` binary and the committed OpenAPI contract.

#![expect(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed test, with its message"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn committed_spec_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json")
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = berth_api::openapi::document_json().unwrap();
    let path = committed_spec_path();
    if std::env::var_os("BERTH_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json differs from the API the code serves.\nRegenerate it with\n    \
         BERTH_WRITE_OPENAPI=1 cargo test -p berth-api --test berthd the_committed_openapi_document_matches_the_code\n\
         and commit the result."
    );
}

#[test]
fn every_operation_has_an_id_and_every_response_a_description() {
    let doc: serde_json::Value =
        serde_json::from_str(&berth_api::openapi::document_json().unwrap()).unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
            for (status, response) in op["responses"].as_object().unwrap() {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{method} {path} response {status} has no description"
                );
            }
        }
    }
}

#[test]
fn berthd_refuses_plain_http_beyond_loopback_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .env("BERTH_LISTEN", "0.0.0.0:0")
        .env("BERTH_TLS", "off")
        .env("BERTH_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BERTH_TLS") && stderr.contains("not loopback"),
        "{stderr}"
    );
}

#[tokio::test]
async fn rotate_signing_key_makes_the_newest_key_sign_and_keeps_the_old_ones_published() {
    let dir = tempfile::tempdir().unwrap();
    let rotate = || {
        let output = Command::new(env!("CARGO_BIN_EXE_berthd"))
            .arg("rotate-signing-key")
            .env("BERTH_DATA_DIR", dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let out = String::from_utf8_lossy(&output.stdout).to_string();
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("berthd: the built-in issuer signs with key "))
            .unwrap_or_else(|| panic!("no key id in {out}"));
        line.split_whitespace().next().unwrap().to_owned()
    };
    let (first, second) = (rotate(), rotate());
    assert_ne!(first, second);
    // The registry token server's keys rotated too: three certificates (the first key and
    // two rotations) are in the bundle registries trust.
    let bundle = std::fs::read_to_string(dir.path().join("registry-token-certs.pem")).unwrap();
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 3);
    let unknown = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .arg("rotate-everything")
        .env("BERTH_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));

    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .env("BERTH_LISTEN", format!("127.0.0.1:{port}"))
        .env("BERTH_TRUST_LISTEN", "127.0.0.1:0")
        .env("BERTH_TLS", "off")
        .env("BERTH_DATA_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut keys = None;
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{base}/organizations/discovery/v2.0/keys")).await {
            keys = r.json::<serde_json::Value>().await.ok();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let owner: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bootstrap-owner.json")).unwrap())
            .unwrap();
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/organizations/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", owner["appId"].as_str().unwrap()),
            ("client_secret", owner["secret"].as_str().unwrap()),
            ("scope", "https://management.berth.local/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let kids: Vec<String> = keys.unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    // The key the first rotation replaced, and both rotated keys, newest first.
    assert_eq!(kids.len(), 3, "{kids:?}");
    assert_eq!(kids[..2], [second.clone(), first]);
    use base64::Engine;
    let header = token["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], second.as_str());
}

#[test]
fn berthd_reports_bad_configuration_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .env("BERTH_DATA_DIR", dir.path())
        .env("BERTH_TLS", "sometimes")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("BERTH_TLS"));
}

#[tokio::test]
async fn berthd_serves_https_with_a_generated_certificate_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let free_port = || {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let (port, trust_port) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .env("BERTH_LISTEN", format!("127.0.0.1:{port}"))
        .env("BERTH_TRUST_LISTEN", format!("127.0.0.1:{trust_port}"))
        .env("BERTH_DATA_DIR", dir.path())
        .env("BERTH_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ca = dir.path().join("tls/dev-ca.pem");
    let mut ready = None;
    for _ in 0..200 {
        if ca.exists()
            && let Ok(pem) = std::fs::read(&ca)
            && let Ok(cert) = reqwest::Certificate::from_pem(&pem)
        {
            let client = reqwest::Client::builder()
                .add_root_certificate(cert)
                .build()
                .unwrap();
            if let Ok(r) = client
                .get(format!("https://localhost:{port}/readyz"))
                .send()
                .await
            {
                ready = Some((r.status(), client));
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, client) = ready.unwrap();
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "berthd answered over HTTPS, trusted through its CA file"
    );
    // The embedded trust server answers over HTTPS with the same certificate, and asks
    // Notary clients for a token from berthd.
    let trust = format!("https://127.0.0.1:{trust_port}");
    let health = client
        .get(format!("{trust}/_notary_server/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    let ping = client.get(format!("{trust}/v2/")).send().await.unwrap();
    assert_eq!(ping.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        ping.headers()["www-authenticate"],
        format!(
            "Bearer realm=\"https://127.0.0.1:{port}/oauth2/token\",service=\"berth-notary\",scope=\"registry:catalog:*\""
        )
        .as_str()
    );
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || {
        let status = child.wait().unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        (status, out)
    })
    .await
    .unwrap();
    assert!(
        exit.0.success(),
        "berthd exits cleanly on SIGTERM: {:?}",
        exit.0
    );
    assert!(
        exit.1.contains("dev-ca.pem"),
        "berthd says where its CA file is: {}",
        exit.1
    );
    assert!(exit.1.contains("shutting down"));
}
