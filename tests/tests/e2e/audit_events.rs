//! Sign-in and repository events, as ACR's diagnostic categories: JSON lines in daily files
//! of the data directory (or standard output), written for every token issued or refused and
//! every trust-data write; and, after a full scenario, no secret in any sink: the audit file,
//! the activity log, `/metrics` and berthd's own log.

use super::content_trust::publish;
use super::trust_contract::{signer_in, trusted_registry};
use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_tests::{Backend, SpawnOptions, poll};
use std::time::Duration;

/// Runs `berthd audit events args` on `app`'s data directory: its exit code, standard
/// output and standard error.
async fn audit_query(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    audit_query_in(app.data_dir.path(), args).await
}

/// Runs `berthd audit events args` with the data directory `data_dir`.
async fn audit_query_in(data_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_berthd-e2e"))
        .args(["audit", "events"])
        .args(args)
        .env_clear()
        .env("BERTH_DATA_DIR", data_dir)
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_and_trust_writes_are_recorded_and_no_sink_holds_a_secret() {
    let app = berth_tests::spawn_app_with(
        Backend::Sqlite,
        SpawnOptions {
            process: Some(env!("CARGO_BIN_EXE_berthd-e2e").into()),
            env: vec![("BERTH_METRICS_ALLOW".into(), "127.0.0.1/32".into())],
            ..SpawnOptions::default()
        },
    )
    .await;
    let (registry, login) = trusted_registry(&app, "auditreg1").await;
    let signer_refresh = signer_in(&app, &registry, "audit-signer").await;
    let dir = tempfile::tempdir().unwrap();
    let gun = format!("{login}/app");
    let (signed, out) = publish(&app, &gun, "v1", &signer_refresh, dir.path()).await;
    assert!(signed, "{out}");
    let (owner, secret) = app.owner.clone();
    let wrong = "Not-The-Secret-4711!";
    for password in [secret.as_str(), wrong] {
        let basic = STANDARD.encode(format!("{owner}:{password}"));
        app.send_as(
            reqwest::Method::GET,
            &format!("/oauth2/token?service={login}&scope=repository:app:pull&client_id=docker"),
            None,
            &[
                ("authorization", &format!("Basic {basic}")),
                ("user-agent", "docker/20.10 test"),
            ],
        )
        .await;
    }
    // The admin user's passwords are shown (and recorded as an action, without them).
    let admin_password = super::docker_credentials::admin_password(&app, &registry).await;

    let events = poll(
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let events = app.audit_events();
            (events.iter().any(|e| e["ResultType"] == "401")
                && events.iter().any(|e| e["OperationName"] == "TrustDataPush"))
            .then_some(events)
        },
    )
    .await
    .unwrap_or_else(|| panic!("the audit file lacks events: {:#?}", app.audit_events()));
    let issued = events
        .iter()
        .find(|e| {
            e["Category"] == "ContainerRegistryLoginEvents"
                && e["Grant"] == "basic"
                && e["Identity"] == owner.as_str()
                && e["ResultType"] == "200"
        })
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(issued["LoginServer"], login.as_str());
    assert_eq!(issued["CallerIpAddress"], "127.0.0.1");
    assert_eq!(issued["UserAgent"], "docker/20.10 test");
    assert_eq!(issued["OperationName"], "Login");
    assert!(
        issued["CorrelationId"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    let refused = events.iter().find(|e| e["ResultType"] == "401").unwrap();
    assert_eq!(refused["Identity"], owner.as_str());
    assert!(
        refused["ResultDescription"]
            .as_str()
            .unwrap()
            .contains("refused")
            || !refused["ResultDescription"].as_str().unwrap().is_empty()
    );
    // The notary CLI's sign-ins (the refresh token as the null user) and its upload.
    assert!(
        events
            .iter()
            .any(|e| e["Category"] == "ContainerRegistryLoginEvents"
                && e["Grant"] == "basic"
                && e["ResultType"] == "200"
                && e["Identity"] != owner.as_str()),
        "{events:#?}"
    );
    let push = events
        .iter()
        .find(|e| e["OperationName"] == "TrustDataPush")
        .unwrap();
    assert_eq!(push["Category"], "ContainerRegistryRepositoryEvents");
    assert_eq!(push["Repository"], "app");
    assert_eq!(push["LoginServer"], login.as_str());
    assert_eq!(push["ResultType"], "200");
    assert!(push["Identity"].as_str().is_some_and(|i| !i.is_empty()));

    // Sign-ins at the built-in issuer: the owner's (the test's management token) and one
    // with a wrong secret.
    let refused_sign_in = app
        .post_form(
            "/organizations/oauth2/v2.0/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", owner.as_str()),
                ("client_secret", wrong),
                ("scope", "https://management.berth.local/.default"),
            ],
        )
        .await;
    assert_eq!(refused_sign_in.status, StatusCode::UNAUTHORIZED);
    // The writer gathers events for 50 ms before it writes them.
    let sign_ins = poll(
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let (code, out, err) =
                audit_query(&app, &["--category", "sign-in", "--identity", &owner]).await;
            assert_eq!(code, 0, "{err}");
            let events: Vec<Value> = out
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            events
                .iter()
                .any(|e| e["ResultType"] == "401")
                .then_some(events)
        },
    )
    .await
    .unwrap_or_else(|| panic!("the refused sign-in is not in the audit file"));
    assert!(
        sign_ins.iter().any(|e| e["ResultType"] == "200"
            && e["Grant"] == "client_credentials"
            && e["OperationName"] == "SignIn"),
        "{sign_ins:#?}"
    );
    let last = sign_ins.last().unwrap();
    assert_eq!(last["ResultType"], "401", "{sign_ins:#?}");
    assert_eq!(last["CallerIpAddress"], "127.0.0.1");
    assert_eq!(last["LoginServer"], app.base.as_str());

    // They are queried with berthd audit events.
    let refusals = audit_query(&app, &["--category", "login", "--result", "401"]).await;
    assert_eq!(refusals.0, 0, "{refusals:?}");
    let lines: Vec<Value> = refusals
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let in_file = events.iter().filter(|e| e["ResultType"] == "401").count();
    assert_eq!(lines.len(), in_file, "{refusals:?}");
    assert!(
        lines
            .iter()
            .all(|e| e["ResultType"] == "401" && e["Identity"] == owner.as_str()),
        "{lines:?}"
    );
    let pushes = audit_query(
        &app,
        &[
            "--category",
            "repository",
            "--operation",
            "trustdatapush",
            "--login-server",
            &login,
        ],
    )
    .await;
    assert_eq!(pushes.0, 0, "{pushes:?}");
    assert!(
        !pushes.1.is_empty() && pushes.1.lines().all(|l| l.contains("\"TrustDataPush\"")),
        "{pushes:?}"
    );
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let fmt3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let none = audit_query(
        &app,
        &[
            "--since",
            &fmt3339(later),
            "--until",
            &fmt3339(later + time::Duration::hours(1)),
        ],
    )
    .await;
    assert_eq!((none.0, none.1.as_str()), (0, ""), "{none:?}");
    assert!(none.2.contains("0 events"), "{none:?}");
    let inverted = audit_query(
        &app,
        &[
            "--since",
            &fmt3339(later),
            "--until",
            &fmt3339(later - time::Duration::hours(2)),
        ],
    )
    .await;
    assert_eq!(inverted.0, 2, "{inverted:?}");
    assert!(
        inverted.2.contains("--since must not be after --until"),
        "{inverted:?}"
    );
    let unknown = audit_query(&app, &["--category", "everything"]).await;
    assert_eq!(unknown.0, 2, "{unknown:?}");

    // No sink holds a secret.
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let filter = format!(
        "eventTimestamp ge '{}' and eventTimestamp le '{}'",
        fmt(now - time::Duration::hours(1)),
        fmt(now + time::Duration::hours(1))
    );
    let (status, activity) = app
        .get(&format!(
            "{}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={}&$top=1000",
            app.sub_path(),
            urlencoding::encode(&filter)
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        activity["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["operationName"]["value"]
                == "Microsoft.ContainerRegistry/registries/listCredentials/action")
    );
    let metrics = app.metrics_text(None).await;
    let audit = std::fs::read_to_string(app.data_dir.path().join("audit")).unwrap_or_default()
        + &app
            .audit_events()
            .iter()
            .map(Value::to_string)
            .collect::<String>();
    let log = app.log();
    assert!(
        log.contains("trust data published"),
        "berthd's log is read: {log}"
    );
    let secrets = [
        ("the owner's secret", secret.as_str()),
        ("a wrong password", wrong),
        ("the signer's refresh token", signer_refresh.as_str()),
        (
            "the owner's management token",
            app.management_token.as_str(),
        ),
        ("the admin user's password", admin_password.as_str()),
    ];
    for (sink, text) in [
        ("the audit file", audit),
        ("the activity log", activity.to_string()),
        ("/metrics", metrics),
        ("berthd's log", log),
    ] {
        for (what, secret) in secrets {
            assert!(!text.contains(secret), "{what} is in {sink}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_audit_setting_is_refused_at_start() {
    for (key, value, says) in [
        (
            "BERTH_AUDIT_SINK",
            "syslog",
            "is not file, file:<directory>, stdout or off",
        ),
        (
            "BERTH_AUDIT_RETENTION_DAYS",
            "0",
            "BERTH_AUDIT_RETENTION_DAYS",
        ),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_berthd-e2e"))
            .arg("check-config")
            .env_clear()
            .env("BERTH_DATA_DIR", tempfile::tempdir().unwrap().path())
            .env(key, value)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// `berthd audit events --dir` reads other directories than its own (each replica's, copied
/// or shared) and merges their events in time order; a line that is not an event is counted
/// and skipped.
#[tokio::test]
async fn several_replicas_directories_are_merged_in_time_order() {
    let data = tempfile::tempdir().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let now = time::OffsetDateTime::now_utc();
    let write = |dir: &std::path::Path, minutes_ago: i64, identity: &str, result: &str| {
        let at = now - time::Duration::minutes(minutes_ago);
        let line = json!({
            "TimeGenerated": at.format(&time::format_description::well_known::Rfc3339).unwrap(),
            "Category": "SignInLogs",
            "OperationName": "SignIn",
            "Identity": identity,
            "ResultType": result,
        });
        let file = berth_infra::diagnostics::file_of(dir, at.date());
        let mut text = std::fs::read_to_string(&file).unwrap_or_default();
        text.push_str(&format!("{line}\n"));
        std::fs::write(&file, text).unwrap();
    };
    write(a.path(), 40, "first", "401");
    write(b.path(), 30, "second", "401");
    write(b.path(), 25, "refused-not", "200");
    write(a.path(), 20, "third", "401");
    write(b.path(), 10, "fourth", "401");
    let cut_short = berth_infra::diagnostics::file_of(b.path(), now.date());
    let mut text = std::fs::read_to_string(&cut_short).unwrap_or_default();
    text.push_str("{\"TimeGenerated\": \"2026-");
    std::fs::write(&cut_short, text).unwrap();
    let (a, b) = (a.path().to_str().unwrap(), b.path().to_str().unwrap());
    let (code, stdout, stderr) = audit_query_in(
        data.path(),
        &[
            "--category",
            "sign-in",
            "--result",
            "401",
            "--hours",
            "2",
            "--dir",
            a,
            "--dir",
            b,
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let identities: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["Identity"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        identities,
        ["first", "second", "third", "fourth"],
        "{stdout}"
    );
    assert!(stderr.contains("4 events"), "{stderr}");
    assert!(
        stderr.contains("1 line of the audit files not an event, skipped"),
        "{stderr}"
    );
    // A directory that is not there is named, not read as one without events.
    let missing = data.path().join("replica-c");
    let (code, stdout, stderr) = audit_query_in(
        data.path(),
        &["--dir", a, "--dir", missing.to_str().unwrap()],
    )
    .await;
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(stderr.contains("replica-c: no such directory"), "{stderr}");
}
