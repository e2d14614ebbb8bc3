//! The activity log as ARM serves it: every control-plane write and refusal recorded, read
//! back with `$filter`, `$select` and `nextLink`, only where the reader may read it; its
//! chain verified by `berthd audit verify`, which names an edited or deleted record.

use super::*;
use berth_tests::fixtures::set_trust;
use berth_tests::roles::{READER, SIGNER, as_token, assign, principal};
use berth_tests::{Backend, client_token, per_backend};

/// A range around now that every event of a test falls in.
fn window() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    format!(
        "eventTimestamp ge '{}' and eventTimestamp le '{}'",
        fmt(now - time::Duration::hours(1)),
        fmt(now + time::Duration::hours(1))
    )
}

fn list_url(app: &TestApp, filter: &str, extra: &str) -> String {
    format!(
        "{}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={}{extra}",
        app.sub_path(),
        urlencoding::encode(filter)
    )
}

/// Every event `filter` selects, following `nextLink`.
async fn all_events(app: &TestApp, filter: &str) -> Vec<Value> {
    let mut url = list_url(app, filter, "");
    let mut events = Vec::new();
    loop {
        let (status, page) = app.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        events.extend(page["value"].as_array().unwrap().iter().cloned());
        match page["nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return events,
        }
    }
}

fn op(e: &Value) -> &str {
    e["operationName"]["value"].as_str().unwrap_or_default()
}

fn status_of(e: &Value) -> &str {
    e["status"]["value"].as_str().unwrap_or_default()
}

both_backends! {
    async fn writes_and_refusals_are_recorded_with_who_what_and_how_it_ended(app) {
        app.create_group("logs").await;
        let registry = app.registry_path("logs", "logreg01");
        app.create_registry("logs", "logreg01", "Premium").await;
        let on = app.send(
            reqwest::Method::PATCH,
            &format!("{registry}?api-version={API}"),
            Some(&json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}})),
            &[("x-ms-correlation-request-id", "trust-on-4711"), ("x-ms-client-request-id", "client-1"),
              ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")],
        ).await;
        assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
        // The trace goes on, with a span of berthd's own.
        let continued = on.header("traceparent").unwrap();
        assert!(continued.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && !continued.contains("00f067aa0ba902b7"), "{continued}");
        let (reader, creds) = principal(&app, "log-reader").await;
        assign(&app, &registry, SIGNER, &reader).await;
        assign(&app, &app.rg_path("logs"), READER, &reader).await;
        let token = client_token(&reqwest::Client::new(), &app.base, &creds, "https://management.berth.local/.default").await;
        let refused = as_token(&app, &token, reqwest::Method::DELETE, &format!("{registry}?api-version={API}"), None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        let events = all_events(&app, &format!("{} and resourceGroupName eq 'LOGS'", window())).await;
        let owner = app.owner.0.as_str();
        // The group, the registry, content trust, two role assignments: each Started then Succeeded.
        let writes: Vec<(&str, &str)> = events.iter().rev().map(|e| (op(e), status_of(e))).collect();
        assert_eq!(&writes[..4], &[
            ("Microsoft.Resources/subscriptions/resourceGroups/write", "Started"),
            ("Microsoft.Resources/subscriptions/resourceGroups/write", "Succeeded"),
            ("Microsoft.ContainerRegistry/registries/write", "Started"),
            ("Microsoft.ContainerRegistry/registries/write", "Succeeded"),
        ], "{events:#?}");
        let trust: Vec<&Value> = events.iter().filter(|e| e["correlationId"] == "trust-on-4711").collect();
        assert_eq!(trust.len(), 2, "{events:#?}");
        for e in &trust {
            assert_eq!(e["caller"], owner);
            assert_eq!(e["resourceId"], registry.as_str());
            assert_eq!(e["httpRequest"]["clientRequestId"], "client-1");
            assert_eq!(e["properties"]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(e["httpRequest"]["method"], "PATCH");
            assert_eq!(e["httpRequest"]["clientIpAddress"], "127.0.0.1");
            assert!(e["description"].as_str().unwrap().starts_with("Content trust enabled"), "{e}");
            assert_eq!(e["resourceProviderName"]["value"], "Microsoft.ContainerRegistry");
            assert_eq!(e["resourceType"]["value"], "Microsoft.ContainerRegistry/registries");
            assert_eq!(e["resourceGroupName"], "logs");
            assert_eq!(e["subscriptionId"], app.subscription.as_str());
            assert_eq!(e["category"]["value"], "Administrative");
            assert!(e["id"].as_str().unwrap().starts_with(&format!("{registry}/events/{}/ticks/", e["eventDataId"].as_str().unwrap())));
        }
        assert_eq!(trust[0]["operationId"], trust[1]["operationId"]);
        let signer = events.iter().find(|e| op(e) == "Microsoft.Authorization/roleAssignments/write" && status_of(e) == "Succeeded"
            && e["description"].as_str().unwrap().contains(SIGNER)).unwrap_or_else(|| panic!("{events:#?}"));
        assert_eq!(signer["caller"], owner);
        assert!(signer["description"].as_str().unwrap().contains(&reader));
        // The refusal: the reader's app id, the action it lacked, ARM's error.
        let failed = events.iter().find(|e| status_of(e) == "Failed").unwrap_or_else(|| panic!("{events:#?}"));
        assert_eq!(failed["caller"], creds.0.as_str());
        assert_eq!(op(failed), "Microsoft.ContainerRegistry/registries/delete");
        assert_eq!(failed["properties"]["missingAction"], "Microsoft.ContainerRegistry/registries/delete");
        assert_eq!(failed["properties"]["errorCode"], "AuthorizationFailed");
        assert_eq!(failed["properties"]["statusCode"], "Forbidden");
        assert_eq!(failed["subStatus"]["value"], "Forbidden");
        assert_eq!(failed["level"], "Error");
        assert_eq!(failed["claims"]["http://schemas.microsoft.com/identity/claims/objectidentifier"], reader.as_str());
        // Newest first.
        let times: Vec<&str> = events.iter().map(|e| e["eventTimestamp"].as_str().unwrap()).collect();
        let parsed: Vec<time::OffsetDateTime> = times.iter().map(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()).collect();
        assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    }

    // A write that fails before any authorization (its path names no valid registry, so
    // there is no scope to authorize at) is recorded as ARM records it, named by its method
    // and path; one with no valid token names no caller and is not.
    async fn a_write_that_fails_before_its_authorization_is_recorded_by_its_path(app) {
        app.create_group("nf").await;
        let registry = app.registry_path("nf", "ab");
        let url = format!("{registry}?api-version={API}");
        let reply = app.send(reqwest::Method::PATCH, &url, Some(&json!({"tags": {"a": "b"}})), &[("x-ms-correlation-request-id", "bad-name-1")]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
        let code = reply.body["error"]["code"].as_str().unwrap().to_owned();
        let anonymous = reqwest::Client::new()
            .delete(format!("{}{url}", app.base))
            .header("x-ms-correlation-request-id", "anonymous-1")
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let events = all_events(&app, &format!("{} and correlationId eq 'bad-name-1'", window())).await;
        let story: Vec<(&str, &str)> = events.iter().rev().map(|e| (op(e), status_of(e))).collect();
        assert_eq!(story, [
            ("Microsoft.ContainerRegistry/registries/write", "Started"),
            ("Microsoft.ContainerRegistry/registries/write", "Failed"),
        ], "{events:#?}");
        let failed = &events[0];
        assert_eq!(failed["caller"], app.owner.0.as_str());
        assert_eq!(failed["resourceId"], registry.as_str());
        assert_eq!(failed["properties"]["errorCode"], code.as_str());
        assert_eq!(failed["properties"]["statusCode"], "BadRequest");
        assert_eq!(failed["httpRequest"]["method"], "PATCH");
        assert!(all_events(&app, &format!("{} and correlationId eq 'anonymous-1'", window())).await.is_empty());
    }

    async fn a_disable_is_accepted_and_its_wipe_is_recorded_as_events_of_its_operation(app) {
        app.create_group("wiped").await;
        let registry = app.registry_path("wiped", "wipedreg1");
        app.create_registry("wiped", "wipedreg1", "Premium").await;
        assert_eq!(set_trust(&app, &registry, "enabled").await.status, StatusCode::OK);
        let off = set_trust(&app, &registry, "disabled").await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        let status = super::content_trust::follow(&app, &super::content_trust::operation_url(&off), std::time::Duration::from_secs(30)).await;
        assert_eq!(status["status"], "Succeeded", "{status}");
        let correlation = off.header("x-ms-correlation-request-id").unwrap().to_owned();
        let events = all_events(&app, &format!("{} and correlationId eq '{correlation}'", window())).await;
        let story: Vec<(&str, &str)> = events.iter().rev().map(|e| (status_of(e), e["description"].as_str().unwrap())).collect();
        assert_eq!(story, [
            ("Started", "Content trust disabled: every trusted collection of the registry is wiped."),
            ("Accepted", "Content trust disabled: every trusted collection of the registry is wiped."),
            ("Started", "The content-trust wipe (every trusted collection of the registry) started."),
            ("Succeeded", "The content-trust wipe (every trusted collection of the registry) ended: Succeeded."),
        ], "{events:#?}");
        let operation = events[0]["operationId"].as_str().unwrap();
        assert!(events.iter().all(|e| e["operationId"] == operation && e["caller"] == app.owner.0.as_str()));
        assert!(status["id"].as_str().unwrap().contains(operation), "the operation's id is the LRO's: {status}");
    }

    async fn each_filter_narrows_and_pages_keep_the_selection(app) {
        app.create_group("one").await;
        app.create_group("two").await;
        let registry = app.registry_path("one", "filtered01");
        app.create_registry("one", "filtered01", "Premium").await;
        assert_eq!(set_trust(&app, &registry, "enabled").await.status, StatusCode::OK);
        let w = window();
        let by_group = all_events(&app, &format!("{w} and resourceGroupName eq 'two'")).await;
        assert_eq!(by_group.len(), 2, "{by_group:#?}");
        assert!(by_group.iter().all(|e| e["resourceGroupName"] == "two"));
        let by_resource = all_events(&app, &format!("{w} and resourceUri eq '{}'", registry.to_uppercase())).await;
        assert_eq!(by_resource.len(), 4, "create and trust: {by_resource:#?}");
        let by_id = all_events(&app, &format!("{w} and resourceId eq '{registry}'")).await;
        assert_eq!(by_id.len(), 4);
        let by_provider = all_events(&app, &format!("{w} and resourceProvider eq 'microsoft.containerregistry'")).await;
        assert_eq!(by_provider.len(), 4);
        let corr = by_resource[0]["correlationId"].as_str().unwrap().to_owned();
        let by_correlation = all_events(&app, &format!("{w} and correlationId eq '{corr}'")).await;
        assert_eq!(by_correlation.len(), 2);
        let by_caller = all_events(&app, &format!("{w} and caller eq '{}'", app.owner.0.to_uppercase())).await;
        assert_eq!(by_caller.len(), 8);
        assert!(all_events(&app, &format!("{w} and caller eq 'nobody@berth.local'")).await.is_empty());
        let started = all_events(&app, &format!("{w} and status eq 'started'")).await;
        assert_eq!(started.len(), 4);
        // Two per page, only the selected properties, the selection kept by nextLink.
        let (status, page) = app.get(&list_url(&app, &w, "&$top=3&$select=caller,%20operationName")).await;
        assert_eq!(status, StatusCode::OK);
        let first = page["value"].as_array().unwrap();
        assert_eq!(first.len(), 3);
        for e in first {
            let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["caller", "operationName"]);
        }
        let next = page["nextLink"].as_str().unwrap();
        assert!(next.starts_with(&app.base) && next.contains("$select="), "{next}");
        let (_, page2) = app.get(next).await;
        assert_eq!(page2["value"].as_array().unwrap().len(), 3);
        assert_eq!(page2["value"][0].as_object().unwrap().len(), 2);
        let (_, page3) = app.get(page2["nextLink"].as_str().unwrap()).await;
        assert_eq!(page3["value"].as_array().unwrap().len(), 2);
        assert!(page3.get("nextLink").is_none());
    }

    async fn readers_see_only_the_scopes_they_may_read(app) {
        app.create_group("mine").await;
        app.create_group("theirs").await;
        app.create_registry("theirs", "hidden01", "Basic").await;
        let (reader, creds) = principal(&app, "group-reader").await;
        assign(&app, &app.rg_path("mine"), READER, &reader).await;
        let token = client_token(&reqwest::Client::new(), &app.base, &creds, "https://management.berth.local/.default").await;
        let w = window();
        let read = |filter: String| {
            let (app, token) = (&app, &token);
            async move { as_token(app, token, reqwest::Method::GET, &list_url(app, &filter, ""), None).await }
        };
        let everything = read(w.clone()).await;
        assert_eq!(everything.status, StatusCode::OK, "{:?}", everything.body);
        let groups: Vec<&str> = everything.body["value"].as_array().unwrap().iter().map(|e| e["resourceGroupName"].as_str().unwrap_or("-")).collect();
        assert!(!groups.is_empty() && groups.iter().all(|g| *g == "mine"), "{groups:?}");
        let other = read(format!("{w} and resourceGroupName eq 'theirs'")).await;
        assert_eq!((other.status, other.error_code()), (StatusCode::FORBIDDEN, "AuthorizationFailed"));
        assert!(other.body["error"]["message"].as_str().unwrap().contains("Microsoft.Insights/eventtypes/values/read"));
        let hidden = read(format!("{w} and resourceUri eq '{}'", app.registry_path("theirs", "hidden01"))).await;
        assert_eq!(hidden.status, StatusCode::FORBIDDEN);
        // By caller or correlation id, still nothing from elsewhere.
        let by_owner = read(format!("{w} and caller eq '{}'", app.owner.0)).await;
        assert!(by_owner.body["value"].as_array().unwrap().iter().all(|e| e["resourceGroupName"] == "mine"), "{:?}", by_owner.body);
        let (_, nobody) = principal(&app, "no-roles").await;
        let token = client_token(&reqwest::Client::new(), &app.base, &nobody, "https://management.berth.local/.default").await;
        let refused = as_token(&app, &token, reqwest::Method::GET, &list_url(&app, &w, ""), None).await;
        assert_eq!((refused.status, refused.error_code()), (StatusCode::FORBIDDEN, "AuthorizationFailed"));
    }

    async fn bad_queries_get_clear_errors(app) {
        let base = format!("{}/providers/Microsoft.Insights/eventtypes/management/values", app.sub_path());
        let w = window();
        let cases = [
            (format!("{base}?api-version=2015-04-01"), "time range"),
            (format!("{base}?api-version=2015-04-01&$filter={}", urlencoding::encode("eventTimestamp ge '2026-12-04T00:00:00Z'")), "time range"),
            (format!("{base}?api-version=2015-04-01&$filter={}", urlencoding::encode("eventTimestamp ge '2026-12-05T00:00:00Z' and eventTimestamp le '2026-12-04T00:00:00Z'")), "after the end"),
            (format!("{base}?api-version=2015-04-01&$filter={}", urlencoding::encode("eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp le '2026-12-04T00:00:00Z'")), "at most 90 days"),
            (format!("{base}?api-version=2015-04-01&$filter={}", urlencoding::encode(&format!("{w} and password eq 'x'"))), "not supported"),
            (format!("{base}?api-version=2015-04-01&$filter={}", urlencoding::encode(&format!("{w} and"))), "malformed"),
            (format!("{base}?api-version=2015-04-01&$filter={}&$select=caller,,id", urlencoding::encode(&w)), "empty property"),
            (format!("{base}?api-version=2015-04-01&$filter={}&$select=secret", urlencoding::encode(&w)), "not a property"),
        ];
        for (url, says) in cases {
            let (status, body) = app.get(&url).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
            assert_eq!(body["error"]["code"], "BadRequest", "{body}");
            assert!(body["error"]["message"].as_str().unwrap().contains(says), "{url}: {body}");
        }
        let (status, body) = app.get(&format!("{base}?api-version=2015-04-01&$top=100000&$filter={}", urlencoding::encode(&w))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = app.get(&format!("{base}?api-version=2024-01-01&$filter={}", urlencoding::encode(&w))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidApiVersionParameter")), "{body}");
        let (status, _) = app.get(&format!("/subscriptions/{}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={}", uuid::Uuid::new_v4(), urlencoding::encode(&w))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

/// `berthd audit verify` on the app's data, with its exit code and what it printed.
async fn verify(app: &TestApp) -> (i32, String) {
    berthd(app, &["audit", "verify"]).await
}

/// Runs `berthd args` as a process of its own on the app's database.
async fn berthd(app: &TestApp, args: &[&str]) -> (i32, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_berthd-e2e"));
    command
        .args(args)
        .env_clear()
        .env("BERTH_DATA_DIR", app.data_dir.path());
    if let Some(schema) = &app.schema {
        command
            .env("BERTH_DATABASE_URL", berth_tests::postgres_url())
            .env("BERTH_DATABASE_SCHEMA", schema);
    }
    let out = command.output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs `sql` on the app's database: `psql` on PostgreSQL, the app's own connection on
/// SQLite.
async fn tamper(app: &TestApp, sql: &str) {
    match &app.schema {
        Some(schema) => {
            let out = tokio::process::Command::new("psql")
                .args([
                    &berth_tests::postgres_url(),
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    &format!("SET search_path TO \"{schema}\"; {sql}"),
                ])
                .output()
                .await
                .unwrap_or_else(|e| {
                    panic!("cannot run psql (apt-get install postgresql-client): {e}")
                });
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => {
            use sea_orm::ConnectionTrait;
            app.database()
                .await
                .writer()
                .execute_unprepared(sql)
                .await
                .unwrap();
        }
    }
}

both_backends! {
    async fn the_chain_verifies_and_names_an_edited_or_deleted_record(app) {
        app.create_group("chained").await;
        app.create_registry("chained", "chained01", "Premium").await;
        assert_eq!(set_trust(&app, &app.registry_path("chained", "chained01"), "enabled").await.status, StatusCode::OK);
        let (code, out) = verify(&app).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("the activity log is intact (6 records checked)"), "{out}");
        // An edit of the sealed data: its row is named.
        tamper(&app, "UPDATE activity_events SET data = replace(data, 'chained01', 'innocent1') WHERE seq = 4").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("broken at record 4 (event ") && out.contains("edited"), "{out}");
        // An edit of a filter column only (hiding the event from a group's list).
        tamper(&app, "UPDATE activity_events SET data = replace(data, 'innocent1', 'chained01') WHERE seq = 4").await;
        assert_eq!(verify(&app).await.0, 0);
        tamper(&app, "UPDATE activity_events SET resource_group = 'elsewhere' WHERE seq = 2").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1);
        assert!(out.contains("broken at record 2") && out.contains("columns differ"), "{out}");
        tamper(&app, "UPDATE activity_events SET resource_group = 'chained' WHERE seq = 2").await;
        // A deletion, in the middle and at the end.
        tamper(&app, "DELETE FROM activity_events WHERE seq = 3").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1);
        // Found at the record after it in its chain, which names it.
        assert!(out.contains("broken at record 4 (event ") && out.contains(": record 3 of chain ") && out.contains("before it is missing: it was deleted"), "{out}");
        // A chain's head deleted (with its records, it would leave no trace otherwise).
        tamper(&app, "DELETE FROM activity_chain WHERE id = (SELECT MAX(id) FROM activity_chain)").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1);
        assert!(out.contains("a head was deleted or added outside Berth"), "{out}");
    }
}

both_backends! {
    // berthd chains a write's records after the head it last committed, without reading it;
    // another process's records in between move the head, and the next write finds that out,
    // reads the head and chains after it.
    async fn a_write_after_another_process_appended_chains_after_its_records(app) {
        app.create_group("before").await;
        let (code, out) = berthd(&app, &["rotate-signing-key"]).await;
        assert_eq!(code, 0, "{out}");
        app.create_group("after").await;
        app.create_group("after2").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 0, "{out}");
        // Started and Succeeded of three groups, and the rotation's two.
        assert!(out.contains("intact (8 records checked)"), "{out}");
        // The subscription's list has the three groups (the rotation is the tenant's).
        let groups: Vec<String> = all_events(&app, &window())
            .await
            .iter()
            .filter(|e| status_of(e) == "Succeeded")
            .map(|e| e["resourceGroupName"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(groups, ["after2", "after", "before"]);
    }
}

/// After a prune: the chain verifies over the two records of `group`'s creation and the
/// prune's own, and the subscription lists `group`'s two only.
async fn assert_pruned_to(app: &TestApp, group: &str) {
    let (code, out) = verify(app).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact (3 records checked)"), "{out}");
    let groups: Vec<String> = all_events(app, &window())
        .await
        .iter()
        .map(|e| {
            e["resourceGroupName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(groups, [group, group]);
}

both_backends! {
    // A prune deletes what is older than its time, moves the chain's start past it and says
    // so in the chain; the start is sealed, so deleting more and moving it with SQL is found.
    async fn a_prune_moves_the_chains_start_and_nothing_else_can(app) {
        app.create_group("old1").await;
        app.create_group("old2").await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let cut = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        app.create_group("new1").await;
        let (code, out) = berthd(&app, &["audit", "prune", "--before", &cut]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("4 records of the activity log pruned"), "{out}");
        let (code, out) = berthd(&app, &["audit", "prune", "--before", &cut]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("0 records of the activity log pruned"), "{out}");
        let (code, out) = berthd(&app, &["audit", "prune", "--before", "yesterday"]).await;
        assert_eq!(code, 2, "{out}");
        assert!(out.contains("not an RFC 3339 time"), "{out}");
        // new1's two records and the prune's own.
        assert_pruned_to(&app, "new1").await;
        let (status, tenant) = app
            .get(&format!(
                "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={}",
                urlencoding::encode(&window())
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{tenant}");
        let prune = &tenant["value"][0];
        assert_eq!(op(prune), "Berth/activityLog/prune/action", "{tenant}");
        assert_eq!(prune["caller"], "berth", "{prune}");
        let description = prune["description"].as_str().unwrap_or_default();
        assert!(description.starts_with("4 records from before ") && description.ends_with("now starts after its record 4."), "{description}");
        // Someone with SQL deletes new1's records too and moves the start after them.
        tamper(&app, "UPDATE activity_chain SET base_seq = 6, base_hash = (SELECT hash FROM activity_events WHERE seq = 6)").await;
        tamper(&app, "DELETE FROM activity_events WHERE seq <= 6").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("broken at record 7: the chain's start was moved outside Berth"), "{out}");
    }
}

both_backends! {
    // berthd prunes by itself, at start and then hourly: a replica started with a retention of
    // 30 days deletes the records older than that, records the prune, and the chain stays whole.
    async fn berthd_prunes_what_is_older_than_its_retention_by_itself(app) {
        app.create_group("aged").await;
        app.create_group("fresh").await;
        let forty_days = 40 * 86_400 * 1_000_000i64;
        tamper(&app, &format!("UPDATE activity_events SET event_time = event_time - {forty_days} WHERE resource_group = 'aged'")).await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1, "the aged records' columns no longer match their data: {out}");
        let replica = berth_tests::spawn_app_with(
            if app.schema.is_some() { Backend::Postgres } else { Backend::Sqlite },
            berth_tests::SpawnOptions {
                reuse: Some((app.data_dir.path().to_owned(), app.schema.clone())),
                env: vec![("BERTH_AUDIT_RETENTION_DAYS".to_owned(), "30".to_owned())],
                ..Default::default()
            },
        )
        .await;
        let tenant_list = format!(
            "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={}",
            urlencoding::encode(&window())
        );
        let mut prune = Value::Null;
        for _ in 0..100 {
            let (status, tenant) = replica.get(&tenant_list).await;
            assert_eq!(status, StatusCode::OK, "{tenant}");
            if let Some(found) = tenant["value"].as_array().and_then(|v| v.iter().find(|e| op(e) == "Berth/activityLog/prune/action")) {
                prune = found.clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let description = prune["description"].as_str().unwrap_or_default();
        assert!(description.starts_with("2 records from before "), "no prune at start: {prune}");
        // fresh's two records and the prune's own; aged's are gone.
        assert_pruned_to(&app, "fresh").await;
    }
}

both_backends! {
    async fn the_last_records_deleted_are_found_by_the_head(app) {
        app.create_group("tail").await;
        tamper(&app, "DELETE FROM activity_events WHERE seq = 2").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("the last records were deleted"), "{out}");
    }
}

both_backends! {
    /// The newest record deleted and its chain's head moved back onto the one before, as
    /// someone with SQL can without the key: the head's seal no longer matches. A seal blanked
    /// with SQL is not made good by berthd starting again (only the process that adds the
    /// seals, M0020, seals the heads there are).
    async fn the_last_records_deleted_with_their_head_moved_back_are_found_by_its_seal(app) {
        app.create_group("sealed1").await;
        app.create_group("sealed2").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("intact (4 records checked)"), "{out}");
        tamper(
            &app,
            "UPDATE activity_chain SET seq = seq - 1, hash = (SELECT e.hash FROM activity_events e \
             WHERE e.chain = activity_chain.id AND e.position = activity_chain.seq - 1) \
             WHERE id = (SELECT chain FROM activity_events ORDER BY seq DESC LIMIT 1); \
             DELETE FROM activity_events WHERE seq = (SELECT MAX(seq) FROM activity_events)",
        )
        .await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("head was moved outside Berth"), "{out}");
        tamper(&app, "UPDATE activity_chain SET head_mac = ''").await;
        let (code, out) = verify(&app).await;
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("head was moved outside Berth"), "{out}");
    }
}

both_backends! {
    /// berthd keeps writing while `berthd audit verify` runs: the verify reads the heads and
    /// the records in one snapshot, so a record committed meanwhile is not taken for one added
    /// outside Berth.
    async fn the_chain_verifies_while_berthd_writes(app) {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let writes = async {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                app.create_group(&format!("busy{n:04}")).await;
                n += 1;
            }
            n
        };
        let verifies = async {
            let mut outs = Vec::new();
            for _ in 0..5 {
                outs.push(verify(&app).await);
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            outs
        };
        let (written, outs) = tokio::join!(writes, verifies);
        assert!(written > 5, "only {written} groups were written while verifying");
        for (code, out) in outs {
            assert_eq!(code, 0, "{out}");
        }
    }
}

both_backends! {
    /// A refused write's record whose append fails (the table is away for a moment, as in a
    /// failover) is appended when the database answers again, after the answer went.
    async fn a_request_end_that_could_not_be_recorded_is_recorded_on_a_retry(app) {
        app.create_group("retried").await;
        tamper(&app, "ALTER TABLE activity_events RENAME TO activity_events_away").await;
        let path = format!("{}?api-version={API}", app.registry_path("retried", "retried01"));
        let r = app.put(&path, &json!({"location": "westus", "sku": {"name": "Platinum"}})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        tamper(&app, "ALTER TABLE activity_events_away RENAME TO activity_events").await;
        let filter = format!("{} and resourceGroupName eq 'retried' and status eq 'Failed'", window());
        let mut failed = Vec::new();
        for _ in 0..100 {
            failed = all_events(&app, &filter).await;
            if !failed.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(failed.len(), 1, "the refused write was not recorded: {failed:#?}");
        assert_eq!(failed[0]["properties"]["statusCode"], "BadRequest", "{:#}", failed[0]);
        let (code, out) = verify(&app).await;
        assert_eq!(code, 0, "{out}");
    }
}

/// A prune on PostgreSQL, whose concurrent writes went to several chains, cuts every chain
/// where the period starts: each chain's start moves past its own old records, and what is
/// left verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_cuts_every_chain_where_the_period_starts() {
    let app = berth_tests::spawn_app(Backend::Postgres).await;
    let create_all = |prefix: &'static str| {
        let app = &app;
        futures_util::future::join_all((0..10).map(move |i| async move {
            app.create_group(&format!("{prefix}{i}")).await;
        }))
    };
    create_all("aged").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cut = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    create_all("kept").await;
    use sea_orm::ConnectionTrait;
    let chains_before_the_cut = |db: berth_infra::persistence::Database| async move {
        let row = db
            .reader()
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT COUNT(DISTINCT chain) AS chains FROM activity_events WHERE resource_group LIKE 'aged%'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "chains").unwrap()
    };
    let chains = chains_before_the_cut(app.database().await).await;
    assert!(chains > 1, "the aged records went to {chains} chain");
    let (code, out) = berthd(&app, &["audit", "prune", "--before", &cut]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("20 records of the activity log pruned"),
        "{out}"
    );
    let (code, out) = verify(&app).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact (21 records checked)"), "{out}");
    let events = all_events(&app, &window()).await;
    assert_eq!(events.len(), 20, "{events:#?}");
    assert!(
        events.iter().all(|e| e["resourceGroupName"]
            .as_str()
            .unwrap_or_default()
            .starts_with("kept")),
        "{events:#?}"
    );
}

/// Two replicas on one PostgreSQL write at once, each transaction to a chain of its own
/// replica's; every chain is whole afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_writing_at_once_keep_their_chains_whole() {
    let first = berth_tests::spawn_app(Backend::Postgres).await;
    let second = berth_tests::spawn_app_with(
        Backend::Postgres,
        berth_tests::SpawnOptions {
            reuse: Some((first.data_dir.path().to_owned(), first.schema.clone())),
            ..Default::default()
        },
    )
    .await;
    first.create_group("busy").await;
    let writes = (0..20).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        let path = format!(
            "{}?api-version={API}",
            app.registry_path("busy", &format!("busy{i:03}"))
        );
        async move {
            let r = app
                .put(
                    &path,
                    &json!({"location": "westus", "sku": {"name": "Basic"}}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
    });
    futures_util::future::join_all(writes).await;
    let events = all_events(
        &second,
        &format!("{} and resourceGroupName eq 'busy'", window()),
    )
    .await;
    assert_eq!(events.len(), 2 + 40, "{events:#?}");
    let (code, out) = verify(&first).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact (42 records"), "{out}");
    // The writes that ran at once went to several chains, not one after another into one.
    use sea_orm::ConnectionTrait;
    let row = first
        .database()
        .await
        .reader()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(DISTINCT chain) AS chains FROM activity_events",
        ))
        .await
        .unwrap()
        .unwrap();
    let chains: i64 = row.try_get("", "chains").unwrap();
    assert!(chains > 1, "all 42 records went to one chain");
}

per_backend! {
    /// berthd is killed (SIGKILL) while registries are being created: afterwards every
    /// registry that exists has its record, and every record of a creation has its registry,
    /// including the creations committed whose answer never left. Rounds repeat until one
    /// such creation was seen (60 rounds at most).
    async fn a_kill_between_a_change_and_its_answer_leaves_both_or_neither(backend) {
        let mut app = berth_tests::spawn_app_with(
            backend,
            berth_tests::SpawnOptions {
                process: Some(env!("CARGO_BIN_EXE_berthd-e2e").into()),
                ..berth_tests::SpawnOptions::default()
            },
        )
        .await;
        app.create_group("crash").await;
        let mut unanswered_but_made = 0;
        let mut n = 0;
        // The window between a commit and its answer is short: rounds of 100 creations go
        // on (60 at most) until a kill lands in one. Each round kills once some answers
        // have come (a different number each round), while the others are committing.
        for round in 0..60u64 {
            let names: Vec<String> = (0..100).map(|i| format!("crash{round}x{i:03}")).collect();
            let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let sends: Vec<_> = names.iter().map(|name| {
                let answered = answered.clone();
                let url = format!("{}{}?api-version={API}", app.base, app.registry_path("crash", name));
                let request = app
                    .client
                    .put(url)
                    .bearer_auth(&app.management_token)
                    .json(&json!({"location": "westus", "sku": {"name": "Basic"}}))
                    .send();
                async move {
                    let answer = request.await.map(|r| r.status()).ok();
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    answer
                }
            }).collect();
            let wanted = 1 + usize::try_from(round * 7 % 60).unwrap();
            let killer = async {
                while answered.load(std::sync::atomic::Ordering::SeqCst) < wanted {
                    tokio::time::sleep(std::time::Duration::from_micros(200)).await;
                }
                app.kill().await;
            };
            let (answers, ()) = tokio::join!(futures_util::future::join_all(sends), killer);
            app.restart().await;
            let events = all_events(&app, &format!("{} and resourceGroupName eq 'crash' and status eq 'Succeeded'", window())).await;
            for (name, answer) in names.iter().zip(&answers) {
                let path = app.registry_path("crash", name);
                let (status, _) = app.get(&format!("{path}?api-version={API}")).await;
                let exists = status == StatusCode::OK;
                let recorded = events.iter().any(|e| {
                    e["resourceId"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(&path))
                        && op(e) == "Microsoft.ContainerRegistry/registries/write"
                });
                assert_eq!(exists, recorded, "{name}: exists {exists}, recorded {recorded}, answer {answer:?}");
                if exists && answer.is_none() {
                    unanswered_but_made += 1;
                }
                n += 1;
            }
            if unanswered_but_made > 0 {
                eprintln!("round {round}: {unanswered_but_made} creation(s) committed and never answered");
                break;
            }
        }
        assert!(unanswered_but_made > 0, "no creation was committed and left unanswered in {n} tries");
        let (code, out) = verify(&app).await;
        assert_eq!(code, 0, "{out}");
    }
}
