//! The embedded data plane dies in the middle of an upload: the login server answers 503
//! while it is down (never a hang, never a half-written manifest), berthd's supervisor
//! starts it again, and the upload in progress resumes where it stopped.
//!
//! The registry is run through a wrapper (`BERTH_REGISTRY_BINARY`) that refuses to start
//! while a `down` file exists, so the outage lasts exactly as long as the test says.

use super::login_server::{access_token, app_serving_with, get, registry_in_rg};
use super::*;
use berth_tests::fixtures::signed_in;
use berth_tests::poll;
use berth_tests::roles::ACR_PUSH;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A wrapper around docker-registry that exits at once while `<dir>/down` exists.
fn wrapper(dir: &Path) -> PathBuf {
    let script = dir.join("registry-wrapper");
    let text = format!(
        "#!/bin/sh\n[ -e '{down}' ] && exit 1\nexec docker-registry \"$@\"\n",
        down = dir.join("down").display()
    );
    std::fs::write(&script, text).unwrap();
    std::process::Command::new("chmod")
        .args(["755", script.to_str().unwrap()])
        .status()
        .unwrap();
    script
}

/// Kills the registry serving `data_dir` (the supervisor then tries to start it again).
fn kill_registry(data_dir: &Path) {
    let config = data_dir.join("registry/config.yml");
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-f", &format!("serve {}", config.display())])
        .status()
        .unwrap();
    assert!(
        killed.success(),
        "no registry was serving {}",
        config.display()
    );
}

/// The status of `PATCH`ing `bytes` to an upload at `location`, and its next location.
async fn patch(
    app: &TestApp,
    server: &str,
    location: &str,
    token: &str,
    bytes: &[u8],
) -> (StatusCode, String) {
    let answer = app
        .client
        .patch(format!("https://{server}{location}"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let next = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (answer.status(), next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_survives_the_data_plane_dying_and_nothing_half_written_appears() {
    let tools = tempfile::tempdir().unwrap();
    let binary = wrapper(tools.path());
    let app = app_serving_with(&[
        ("BERTH_REGISTRY_BACKEND", "embedded"),
        ("BERTH_REGISTRY_BINARY", binary.to_str().unwrap()),
    ])
    .await;
    let (path, server) = registry_in_rg(&app, "faulty01", "Basic").await;
    let (_, _, pusher) = signed_in(&app, &path, ACR_PUSH, "faulty-pusher").await;
    let token = access_token(&app, &server, &pusher, "repository:app:pull,push").await;

    // An upload starts, and its first half arrives.
    let content = b"a layer that arrives in two halves, across an outage".to_vec();
    let (first, second) = content.split_at(content.len() / 2);
    let location = super::login_server::start_upload(&app, &server, "app", &token).await;
    let (status, location) = patch(&app, &server, &location, &token, first).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // The registry dies and stays down: every request is a 503 that says to retry.
    std::fs::write(tools.path().join("down"), "").unwrap();
    kill_registry(app.data_dir.path());
    let refused = poll(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let answer = get(&app, &server, "/v2/app/tags/list", &token).await;
            (answer.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(answer)
        },
    )
    .await
    .unwrap_or_else(|| panic!("no 503 while the data plane was down"));
    assert!(refused.headers().contains_key("retry-after"));
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        "layers": []});
    let put = app
        .client
        .put(format!("https://{server}/v2/app/manifests/v1"))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::SERVICE_UNAVAILABLE);

    // It comes back: the upload resumes where it stopped, and the manifest refused during
    // the outage was never written.
    std::fs::remove_file(tools.path().join("down")).unwrap();
    let back = poll(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let answer = get(&app, &server, "/v2/app/tags/list", &token).await;
            (answer.status() != StatusCode::SERVICE_UNAVAILABLE).then_some(answer.status())
        },
    )
    .await;
    assert_eq!(
        back,
        Some(StatusCode::NOT_FOUND),
        "the repository exists after a refused manifest"
    );
    let (status, location) = patch(&app, &server, &location, &token, second).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the upload did not survive the restart"
    );
    let digest = format!(
        "sha256:{}",
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &content)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let separator = if location.contains('?') { '&' } else { '?' };
    let done = app
        .client
        .put(format!(
            "https://{server}{location}{separator}digest={digest}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::CREATED);
    let blob = get(&app, &server, &format!("/v2/app/blobs/{digest}"), &token).await;
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(blob.bytes().await.unwrap().as_ref(), content.as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_deletion_waits_for_the_data_plane_and_finishes_once_it_can() {
    let app = app_serving_with(&[("BERTH_REGISTRY_BACKEND", "embedded")]).await;
    let (path, server) = registry_in_rg(&app, "stuckdel1", "Basic").await;
    let (_, _, pusher) = signed_in(&app, &path, ACR_PUSH, "stuck-pusher").await;
    super::login_server::push(&app, &server, &pusher, "app").await;
    let repositories = app
        .data_dir
        .path()
        .join("registry/storage/docker/registry/v2/repositories");

    // The storage cannot be changed: a file sits where the trash directory goes.
    let trash = app.data_dir.path().join("registry/trash");
    let _ = std::fs::remove_dir_all(&trash);
    std::fs::write(&trash, "in the way").unwrap();
    let deleted = app.delete(&format!("{path}?api-version={API}")).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{:?}", deleted.body);
    let operation = deleted.header("azure-asyncoperation").unwrap().to_owned();
    let reported = super::content_trust::first_failure(&app, &operation).await;
    assert_eq!(reported["status"], "InProgress", "{reported}");
    assert_eq!(
        reported["error"]["code"], "DataPlaneUnavailable",
        "{reported}"
    );
    // The registry is not gone while its images are not: it is still being deleted.
    let (status, body) = app.get(&format!("{path}?api-version={API}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["properties"]["provisioningState"], "Deleting");
    assert!(repositories.join("stuckdel1/app/_manifests").is_dir());

    // Once the storage can be changed, the retried operation finishes the job.
    std::fs::remove_file(&trash).unwrap();
    let done = app.wait_for_operation(&operation).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert!(!repositories.join("stuckdel1").exists());
    let (status, _) = app.get(&format!("{path}?api-version={API}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
