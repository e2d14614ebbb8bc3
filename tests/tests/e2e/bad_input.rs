//! Bad input: each gets the right status and ARM error envelope, and leaves the stored state
//! as it was (asserted by reading it back).

use super::*;

fn assert_envelope(r: &berth_tests::Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.error_code(), code, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "a message: {:?}",
        r.body
    );
}

async fn registry_count(app: &TestApp) -> usize {
    let (_, list) = app
        .get(&format!(
            "{}/providers/Microsoft.ContainerRegistry/registries?api-version={API}",
            app.sub_path()
        ))
        .await;
    list["value"].as_array().map_or(0, Vec::len)
}

both_backends! {
    async fn malformed_json_is_refused_and_creates_nothing(app) {
        app.create_group("rg").await;
        let url = format!("{}{}?api-version={API}", app.base, app.registry_path("rg", "badjson1"));
        let r = reqwest::Client::new().put(&url).bearer_auth(&app.management_token).header("content-type", "application/json").body("{\"location\": \"westus\",").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "InvalidRequestContent");
        assert!(body["error"]["message"].as_str().unwrap().contains("line 1"));
        let wrong_shape = app.put(&format!("{}?api-version={API}", app.registry_path("rg", "badjson1")), &json!({"location": 5, "sku": {"name": "Basic"}})).await;
        assert_envelope(&wrong_shape, StatusCode::BAD_REQUEST, "InvalidRequestContent");
        assert_eq!(registry_count(&app).await, 0);
    }

    async fn a_wrong_content_type_is_refused(app) {
        app.create_group("rg").await;
        let url = format!("{}{}?api-version={API}", app.base, app.registry_path("rg", "ctype001"));
        let r = reqwest::Client::new().put(&url).bearer_auth(&app.management_token).header("content-type", "text/plain").body(r#"{"location":"westus","sku":{"name":"Basic"}}"#).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "UnsupportedMediaType");
        let charset = reqwest::Client::new().put(&url).bearer_auth(&app.management_token).header("content-type", "application/json; charset=utf-8").body(r#"{"location":"westus","sku":{"name":"Basic"}}"#).send().await.unwrap();
        assert_eq!(charset.status(), StatusCode::CREATED, "a charset parameter is fine");
        assert_eq!(registry_count(&app).await, 1);
    }

    async fn a_body_over_the_limit_is_refused(app) {
        app.create_group("rg").await;
        let huge = json!({"location": "westus", "sku": {"name": "Basic"}, "tags": {"big": "x".repeat(2 * 1024 * 1024)}});
        let r = app.put(&format!("{}?api-version={API}", app.registry_path("rg", "hugebody")), &huge).await;
        assert_envelope(&r, StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge");
        assert_eq!(registry_count(&app).await, 0);
    }

    async fn api_versions_are_required_and_checked(app) {
        app.create_group("rg").await;
        let path = app.registry_path("rg", "apiver01");
        let missing = app.put(&path, &json!({"location": "westus", "sku": {"name": "Basic"}})).await;
        assert_envelope(&missing, StatusCode::BAD_REQUEST, "MissingApiVersionParameter");
        let unknown = app.put(&format!("{path}?api-version=2019-05-01"), &json!({"location": "westus", "sku": {"name": "Basic"}})).await;
        assert_envelope(&unknown, StatusCode::BAD_REQUEST, "InvalidApiVersionParameter");
        let message = unknown.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("2025-11-01") && message.contains("2026-09-01-preview"), "{message}");
        let rg = app.get(&format!("{}?api-version=1999-01-01", app.rg_path("rg"))).await;
        assert_eq!(rg.1["error"]["code"], "InvalidApiVersionParameter");
        assert_eq!(registry_count(&app).await, 0);
    }

    async fn invalid_registry_names_are_refused(app) {
        app.create_group("rg").await;
        for name in ["abcd", "has-dash", "under_score", &"a".repeat(51)] {
            let r = app.put(&format!("{}?api-version={API}", app.registry_path("rg", name)), &json!({"location": "westus", "sku": {"name": "Basic"}})).await;
            assert_envelope(&r, StatusCode::BAD_REQUEST, "InvalidResourceName");
        }
        let bad_group = app.put(&format!("{}?api-version={RG_API}", app.rg_path("ends.")), &json!({"location": "westus"})).await;
        assert_envelope(&bad_group, StatusCode::BAD_REQUEST, "InvalidResourceGroupName");
        assert_eq!(registry_count(&app).await, 0);
    }

    async fn a_duplicate_name_is_refused_across_groups_and_case(app) {
        app.create_group("rg1").await;
        app.create_group("rg2").await;
        app.create_registry("rg1", "dupname1", "Basic").await;
        let r = app.put(&format!("{}?api-version={API}", app.registry_path("rg2", "DUPNAME1")), &json!({"location": "westus", "sku": {"name": "Basic"}})).await;
        assert_envelope(&r, StatusCode::CONFLICT, "RegistryNameNotAvailable");
        assert_eq!(registry_count(&app).await, 1);
        assert_eq!(app.get(&format!("{}?api-version={API}", app.registry_path("rg2", "dupname1"))).await.0, StatusCode::NOT_FOUND);
    }

    async fn a_missing_resource_group_is_reported(app) {
        let r = app.put(&format!("{}?api-version={API}", app.registry_path("nogroup", "orphan01")), &json!({"location": "westus", "sku": {"name": "Basic"}})).await;
        assert_envelope(&r, StatusCode::NOT_FOUND, "ResourceGroupNotFound");
        assert_eq!(registry_count(&app).await, 0);
    }

    async fn unknown_skus_and_values_are_refused(app) {
        app.create_group("rg").await;
        let path = format!("{}?api-version={API}", app.registry_path("rg", "skureg01"));
        let gold = app.put(&path, &json!({"location": "westus", "sku": {"name": "Gold"}})).await;
        assert_envelope(&gold, StatusCode::BAD_REQUEST, "InvalidRequestContent");
        assert_eq!(gold.body["error"]["target"], "sku.name");
        let classic = app.put(&path, &json!({"location": "westus", "sku": {"name": "Classic"}})).await;
        assert_envelope(&classic, StatusCode::BAD_REQUEST, "InvalidRequestContent");
        let no_sku = app.put(&path, &json!({"location": "westus"})).await;
        assert_envelope(&no_sku, StatusCode::BAD_REQUEST, "InvalidRequestContent");
        let bad_status = app.put(&path, &json!({"location": "westus", "sku": {"name": "Premium"}, "properties": {"policies": {"trustPolicy": {"status": "maybe"}}}})).await;
        assert_envelope(&bad_status, StatusCode::BAD_REQUEST, "InvalidRequestContent");
        let bad_days = app.put(&path, &json!({"location": "westus", "sku": {"name": "Premium"}, "properties": {"policies": {"retentionPolicy": {"days": 400}}}})).await;
        assert_envelope(&bad_days, StatusCode::BAD_REQUEST, "InvalidRequestContent");
        let bad_rule = app.put(&path, &json!({"location": "westus", "sku": {"name": "Premium"}, "properties": {"networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "value": "300.1.1.1"}]}}})).await;
        assert_envelope(&bad_rule, StatusCode::BAD_REQUEST, "InvalidRequestContent");
        assert_eq!(registry_count(&app).await, 0);
    }

    async fn a_stale_if_match_is_refused_and_changes_nothing(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "etagreg1", "Basic").await;
        let path = format!("{}?api-version={API}", app.registry_path("rg", "etagreg1"));
        let current = app.send(reqwest::Method::GET, &path, None, &[]).await;
        let etag = current.header("etag").unwrap().to_owned();
        let ok = app.send(reqwest::Method::PATCH, &path, Some(&json!({"tags": {"v": "1"}})), &[("if-match", &etag)]).await;
        assert_eq!(ok.status, StatusCode::OK);
        let stale = app.send(reqwest::Method::PATCH, &path, Some(&json!({"tags": {"v": "2"}})), &[("if-match", &etag)]).await;
        assert_envelope(&stale, StatusCode::PRECONDITION_FAILED, "PreconditionFailed");
        let stale_put = app.send(reqwest::Method::PUT, &path, Some(&json!({"location": "westus", "sku": {"name": "Standard"}})), &[("if-match", &etag)]).await;
        assert_envelope(&stale_put, StatusCode::PRECONDITION_FAILED, "PreconditionFailed");
        let exists = app.send(reqwest::Method::PUT, &path, Some(&json!({"location": "westus", "sku": {"name": "Standard"}})), &[("if-none-match", "*")]).await;
        assert_envelope(&exists, StatusCode::PRECONDITION_FAILED, "PreconditionFailed");
        let stale_delete = app.send(reqwest::Method::DELETE, &path, None, &[("if-match", &etag)]).await;
        assert_envelope(&stale_delete, StatusCode::PRECONDITION_FAILED, "PreconditionFailed");
        let (_, after) = app.get(&path).await;
        assert_eq!((after["tags"]["v"].as_str(), after["sku"]["name"].as_str()), (Some("1"), Some("Basic")));
        assert_eq!(after["properties"]["provisioningState"], "Succeeded");
    }

    async fn patching_read_only_properties_is_refused(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "readonly1", "Premium").await;
        let path = format!("{}?api-version={API}", app.registry_path("rg", "readonly1"));
        for body in [
            json!({"properties": {"loginServer": "evil.example.com"}}),
            json!({"properties": {"provisioningState": "Failed", "adminUserEnabled": true}}),
            json!({"properties": {"zoneRedundancy": "Enabled"}}),
            json!({"location": "eastus"}),
            json!({"id": "/x"}),
        ] {
            let r = app.patch(&path, &body).await;
            assert_envelope(&r, StatusCode::BAD_REQUEST, "InvalidRequestContent");
            assert!(r.body["error"]["target"].is_string());
        }
        let (_, after) = app.get(&path).await;
        assert_eq!(after["properties"]["loginServer"], "readonly1.registry.localhost");
        assert_eq!(after["properties"]["adminUserEnabled"], false);
        assert_eq!(after["location"], "westus");
        let moved = app.put(&path, &json!({"location": "eastus", "sku": {"name": "Premium"}})).await;
        assert_envelope(&moved, StatusCode::CONFLICT, "InvalidResourceLocation");
    }

    async fn unknown_paths_and_methods_get_arm_errors(app) {
        let (status, body) = app.get("/no/such/path").await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("NotFound")));
        let r = app.send(reqwest::Method::POST, &format!("{}?api-version={API}", app.registry_path("rg", "whatever1")), None, &[]).await;
        assert_envelope(&r, StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed");
        let (status, body) = app.get(&format!("{}/providers/Microsoft.ContainerRegistry/registries?api-version={API}&$top=0", app.sub_path())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidQueryParameterValue")));
        let (status, body) = app.get(&format!("{}/providers/Microsoft.ContainerRegistry/registries?api-version={API}&$skipToken=zz", app.sub_path())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidSkipToken")));
    }
}
