//! Registries: the full ACR resource shape, create-or-update, PATCH merging, lists,
//! names, SKUs and the capability table.

use super::*;

fn redacted(mut v: Value, app: &TestApp) -> Value {
    let text = v
        .to_string()
        .replace(&app.subscription, "[subscription]")
        .replace(&app.owner.0, "[owner appId]");
    v = serde_json::from_str(&text).unwrap();
    for path in [
        "/systemData/createdAt",
        "/systemData/lastModifiedAt",
        "/properties/creationDate",
        "/properties/policies/retentionPolicy/lastUpdatedTime",
        "/properties/policies/softDeletePolicy/lastUpdatedTime",
    ] {
        if let Some(field) = v.pointer_mut(path) {
            assert!(
                field.as_str().is_some_and(|t| time::OffsetDateTime::parse(
                    t,
                    &time::format_description::well_known::Rfc3339
                )
                .is_ok()),
                "{path} is RFC 3339"
            );
            *field = json!("[time]");
        }
    }
    v
}

both_backends! {
    async fn a_registry_has_the_full_acr_shape(app) {
        app.create_group("shape").await;
        let body = json!({"location": "westus", "sku": {"name": "Premium"}, "tags": {"env": "test"},
            "properties": {"adminUserEnabled": true}});
        let created = app.put(&format!("{}?api-version={API}", app.registry_path("shape", "ShapeReg")), &body).await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert!(created.header("etag").is_some_and(|e| e.starts_with('"')));
        let (_, stable) = app.get(&format!("{}?api-version={API}", app.registry_path("shape", "ShapeReg"))).await;
        insta::assert_json_snapshot!("registry_stable", redacted(stable, &app));
        let (_, preview) = app.get(&format!("{}?api-version={PREVIEW}", app.registry_path("shape", "ShapeReg"))).await;
        insta::assert_json_snapshot!("registry_preview", redacted(preview, &app));
    }

    async fn put_creates_then_replaces(app) {
        app.create_group("rg").await;
        let path = format!("{}?api-version={API}", app.registry_path("rg", "putreg01"));
        let body = json!({"location": "westus", "sku": {"name": "Standard"}, "tags": {"a": "1"}, "properties": {"adminUserEnabled": true}});
        let first = app.put(&path, &body).await;
        assert_eq!(first.status, StatusCode::CREATED);
        let login_server = first.body["properties"]["loginServer"].clone();
        let created = first.body["properties"]["creationDate"].clone();
        let second = app.put(&path, &json!({"location": "westus", "sku": {"name": "Basic"}})).await;
        assert_eq!(second.status, StatusCode::OK);
        assert_eq!(second.body["sku"]["name"], "Basic");
        assert_eq!(second.body["tags"], json!({}));
        assert_eq!(second.body["properties"]["adminUserEnabled"], false, "PUT replaces the settings");
        assert_eq!(second.body["properties"]["loginServer"], login_server);
        assert_eq!(second.body["properties"]["creationDate"], created);
        assert_ne!(first.header("etag"), second.header("etag"));
    }

    async fn a_get_with_another_case_or_trailing_slash_finds_the_registry(app) {
        app.create_group("CaseRg").await;
        app.create_registry("CaseRg", "CaseReg01", "Basic").await;
        let odd = format!("/SUBSCRIPTIONS/{}/resourcegroups/caserg/PROVIDERS/microsoft.containerregistry/Registries/caseREG01/?api-version={API}", app.subscription.to_uppercase());
        let (status, body) = app.get(&odd).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"], "CaseReg01");
        assert_eq!(body["id"], app.registry_path("CaseRg", "CaseReg01"));
        assert_eq!(body["properties"]["loginServer"], "casereg01.registry.localhost");
    }

    async fn preview_properties_are_stored_and_returned_on_preview_versions(app) {
        app.create_group("rg").await;
        let body = json!({"location": "westus", "sku": {"name": "Premium"}, "properties": {
            "policies": {"softDeletePolicy": {"retentionDays": 14, "status": "enabled"}},
            "endpointProtocol": "IPv4AndIPv6", "metadataSearch": "Enabled"}});
        let r = app.put(&format!("{}?api-version={PREVIEW}", app.registry_path("rg", "preview1")), &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let (_, got) = app.get(&format!("{}?api-version=2026-01-01-preview", app.registry_path("rg", "preview1"))).await;
        assert_eq!(got["properties"]["policies"]["softDeletePolicy"]["retentionDays"], 14);
        assert_eq!(got["properties"]["policies"]["softDeletePolicy"]["status"], "enabled");
        assert_eq!(got["properties"]["endpointProtocol"], "IPv4AndIPv6");
        assert_eq!(got["properties"]["metadataSearch"], "Enabled");
        let (_, stable) = app.get(&format!("{}?api-version={API}", app.registry_path("rg", "preview1"))).await;
        assert!(stable["properties"]["policies"].get("softDeletePolicy").is_none());
        assert!(stable["properties"].get("endpointProtocol").is_none());
    }

    async fn registries_are_listed_by_group_and_subscription_with_paging(app) {
        app.create_group("g1").await;
        app.create_group("g2").await;
        for name in ["lista001", "lista002", "lista003"] {
            app.create_registry("g1", name, "Basic").await;
        }
        app.create_registry("g2", "listb001", "Basic").await;
        let (_, by_group) = app.get(&format!("{}/providers/Microsoft.ContainerRegistry/registries?api-version={API}", app.rg_path("g1"))).await;
        assert_eq!(by_group["value"].as_array().map(Vec::len), Some(3));
        let mut seen = Vec::new();
        let mut next = Some(format!("{}/providers/Microsoft.ContainerRegistry/registries?api-version={API}&$top=2", app.sub_path()));
        while let Some(url) = next.take() {
            let (status, page) = app.get(&url).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["value"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().map(|i| i["name"].as_str().unwrap().to_owned()));
            next = page["nextLink"].as_str().map(str::to_owned);
        }
        assert_eq!(seen, ["lista001", "lista002", "lista003", "listb001"]);
        let (status, missing) = app.get(&format!("{}/providers/Microsoft.ContainerRegistry/registries?api-version={API}", app.rg_path("nope"))).await;
        assert_eq!((status, missing["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("ResourceGroupNotFound")));
    }

    async fn name_availability_is_deployment_wide(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "TakenName", "Basic").await;
        let url = format!("{}/providers/Microsoft.ContainerRegistry/checkNameAvailability?api-version={API}", app.sub_path());
        let ask = |name: &str| json!({"name": name, "type": "Microsoft.ContainerRegistry/registries"});
        let taken = app.send(reqwest::Method::POST, &url, Some(&ask("takenname")), &[]).await;
        assert_eq!(taken.body["nameAvailable"], false);
        assert_eq!(taken.body["reason"], "AlreadyExists");
        let free = app.send(reqwest::Method::POST, &url, Some(&ask("freename1")), &[]).await;
        assert_eq!(free.body, json!({"nameAvailable": true}));
        let invalid = app.send(reqwest::Method::POST, &url, Some(&ask("a-b")), &[]).await;
        assert_eq!((invalid.body["nameAvailable"].as_bool(), invalid.body["reason"].as_str()), (Some(false), Some("Invalid")));
        let wrong = app.send(reqwest::Method::POST, &url, Some(&json!({"name": "x", "type": "Microsoft.Web/sites"})), &[]).await;
        assert_eq!((wrong.status, wrong.error_code()), (StatusCode::BAD_REQUEST, "InvalidRequestContent"));
    }

    async fn anonymous_pull_needs_standard(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "anonbas1", "Basic").await;
        let path = format!("{}?api-version={API}", app.registry_path("rg", "anonbas1"));
        let refused = app.patch(&path, &json!({"properties": {"anonymousPullEnabled": true}})).await;
        assert_eq!(refused.error_code(), "FeatureNotSupportedForSku");
        let ok = app.patch(&path, &json!({"sku": {"name": "Standard"}, "properties": {"anonymousPullEnabled": true}})).await;
        assert_eq!((ok.status, ok.body["properties"]["anonymousPullEnabled"].as_bool()), (StatusCode::OK, Some(true)));
    }
}

both_backends! {
    async fn concurrent_writes_without_if_match_all_succeed(app) {
        let app = std::sync::Arc::new(app);
        app.create_group("race").await;
        // Concurrent PUTs of a new registry: one creates it, the others update it.
        let path = format!("{}?api-version={API}", app.registry_path("race", "racereg1"));
        let mut puts = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (app, path) = (app.clone(), path.clone());
            puts.spawn(async move {
                app.put(&path, &json!({"location": "westus", "sku": {"name": "Basic"}, "tags": {"n": i.to_string()}})).await.status
            });
        }
        let statuses: Vec<StatusCode> = puts.join_all().await;
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::OK), "{statuses:?}");
        // Concurrent PATCHes: every one is applied (last writer wins), none gets a 409.
        let mut patches = tokio::task::JoinSet::new();
        for i in 0..16 {
            let (app, path) = (app.clone(), path.clone());
            patches.spawn(async move { app.patch(&path, &json!({"tags": {"n": i.to_string()}})).await.status });
        }
        let statuses: Vec<StatusCode> = patches.join_all().await;
        assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    }
}

both_backends! {
    async fn a_managed_identity_keeps_its_ids_across_updates(app) {
        app.create_group("rg").await;
        let path = format!("{}?api-version={API}", app.registry_path("rg", "identity1"));
        let body = json!({"location": "westus", "sku": {"name": "Premium"}, "identity": {"type": "SystemAssigned"}});
        let created = app.put(&path, &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let principal = created.body["identity"]["principalId"].as_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&principal).is_ok());
        assert!(created.body["identity"]["tenantId"].is_string());
        let again = app.put(&path, &body).await;
        assert_eq!(again.body["identity"]["principalId"], principal.as_str());
        let uai = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1";
        let both = app.patch(&path, &json!({"identity": {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {uai: {}}}})).await;
        assert_eq!(both.status, StatusCode::OK, "{:?}", both.body);
        assert_eq!(both.body["identity"]["principalId"], principal.as_str());
        let client = both.body["identity"]["userAssignedIdentities"][uai]["clientId"].clone();
        assert!(client.is_string());
        let tags = app.patch(&path, &json!({"identity": {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {uai: {}}}, "tags": {"a": "b"}})).await;
        assert_eq!(tags.body["identity"]["userAssignedIdentities"][uai]["clientId"], client);
    }
}

// Content trust needs a trust server: these run with a notary-server.
berth_tests::both_backends_with! {
    berth_tests::SpawnOptions { notary: true, ..berth_tests::SpawnOptions::default() };

    async fn patch_merges_policies_one_at_a_time(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "merge001", "Premium").await;
        let path = format!("{}?api-version={PREVIEW}", app.registry_path("rg", "merge001"));
        let r = app.patch(&path, &json!({"properties": {"policies": {"exportPolicy": {"status": "disabled"}, "retentionPolicy": {"days": 30}}}})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let r = app.patch(&path, &json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let policies = &r.body["properties"]["policies"];
        assert_eq!(policies["trustPolicy"], json!({"type": "Notary", "status": "enabled"}));
        assert_eq!(policies["exportPolicy"]["status"], "disabled", "other policies are kept");
        assert_eq!(policies["retentionPolicy"]["days"], 30);
        assert_eq!(policies["retentionPolicy"]["status"], "disabled");
        // Disabling is long-running: the policy shows disabled once the wipe has ended.
        let r = app.patch(&path, &json!({"properties": {"policies": {"trustPolicy": {"status": "disabled"}}}})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let done = app.wait_for_operation(r.header("azure-asyncoperation").unwrap()).await;
        assert_eq!(done["status"], "Succeeded", "{done}");
        let (_, r_body) = app.get(&path).await;
        assert_eq!(r_body["properties"]["policies"]["trustPolicy"], json!({"type": "Notary", "status": "disabled"}));
        assert_eq!(r_body["properties"]["policies"]["exportPolicy"]["status"], "disabled", "other policies are kept");
        let r = app.patch(&path, &json!({"tags": {"x": "y"}, "sku": {"name": "Standard"}, "properties": {"adminUserEnabled": true, "softDeletePolicy": null}})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!((r.body["sku"]["name"].as_str(), r.body["properties"]["adminUserEnabled"].as_bool()), (Some("Standard"), Some(true)));
        assert_eq!(r.body["properties"]["policies"]["exportPolicy"]["status"], "disabled");
    }

    async fn content_trust_is_refused_below_premium_and_blocks_downgrades(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "basic001", "Basic").await;
        let basic = format!("{}?api-version={API}", app.registry_path("rg", "basic001"));
        let refused = app.patch(&basic, &json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}})).await;
        assert_eq!((refused.status, refused.error_code()), (StatusCode::BAD_REQUEST, "FeatureNotSupportedForSku"));
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("Premium"));
        assert_eq!(refused.body["error"]["target"], "properties.policies.trustPolicy.status");
        let (_, after) = app.get(&basic).await;
        assert_eq!(after["properties"]["policies"]["trustPolicy"]["status"], "disabled");
        let create = app.put(&format!("{}?api-version={API}", app.registry_path("rg", "standard1")),
            &json!({"location": "westus", "sku": {"name": "Standard"}, "properties": {"policies": {"trustPolicy": {"status": "enabled"}}}})).await;
        assert_eq!((create.status, create.error_code()), (StatusCode::BAD_REQUEST, "FeatureNotSupportedForSku"));
        assert_eq!(app.get(&format!("{}?api-version={API}", app.registry_path("rg", "standard1"))).await.0, StatusCode::NOT_FOUND);

        app.create_registry("rg", "premium1", "Premium").await;
        let premium = format!("{}?api-version={API}", app.registry_path("rg", "premium1"));
        assert_eq!(app.patch(&premium, &json!({"properties": {"policies": {"trustPolicy": {"status": "enabled"}}}})).await.status, StatusCode::OK);
        let down = app.patch(&premium, &json!({"sku": {"name": "Standard"}})).await;
        assert_eq!((down.status, down.error_code()), (StatusCode::BAD_REQUEST, "SkuDowngradeNotAllowed"));
        assert!(down.body["error"]["message"].as_str().unwrap().contains("Content trust"));
        let (_, after) = app.get(&premium).await;
        assert_eq!((after["sku"]["name"].as_str(), after["properties"]["policies"]["trustPolicy"]["status"].as_str()), (Some("Premium"), Some("enabled")));
        // Turning trust off in the same request does not allow the downgrade: trust stays on
        // until its wipe has ended. Nothing of the request is applied.
        let off_and_down = app.patch(&premium, &json!({"sku": {"name": "Basic"}, "properties": {"policies": {"trustPolicy": {"status": "disabled"}}}})).await;
        assert_eq!((off_and_down.status, off_and_down.error_code()), (StatusCode::BAD_REQUEST, "SkuDowngradeNotAllowed"), "{:?}", off_and_down.body);
        let (_, after) = app.get(&premium).await;
        assert_eq!((after["sku"]["name"].as_str(), after["properties"]["provisioningState"].as_str()), (Some("Premium"), Some("Succeeded")));
        let off = app.patch(&premium, &json!({"properties": {"policies": {"trustPolicy": {"status": "disabled"}}}})).await;
        assert_eq!(app.wait_for_operation(off.header("azure-asyncoperation").unwrap()).await["status"], "Succeeded");
        let down = app.patch(&premium, &json!({"sku": {"name": "Basic"}})).await;
        assert_eq!(down.status, StatusCode::OK, "after the wipe the downgrade is allowed: {:?}", down.body);
    }
}
