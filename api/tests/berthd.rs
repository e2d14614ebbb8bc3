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
fn berthd_refuses_to_listen_beyond_loopback_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .env("BERTH_LISTEN", "0.0.0.0:0")
        .env("BERTH_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BERTH_LISTEN") && stderr.contains("no authentication"),
        "{stderr}"
    );
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
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_berthd"))
        .env("BERTH_LISTEN", format!("127.0.0.1:{port}"))
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
                ready = Some(r.status());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        ready,
        Some(reqwest::StatusCode::OK),
        "berthd answered over HTTPS, trusted through its CA file"
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
