//! Resource groups as Microsoft.Resources serves them.

use super::*;

both_backends! {
    async fn a_resource_group_is_created_then_updated_and_read(app) {
        let path = format!("{}?api-version={RG_API}", app.rg_path("MyGroup"));
        let created = app.put(&path, &json!({"location": "West US", "tags": {"env": "dev"}})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["location"], "westus");
        assert_eq!(created.body["type"], "Microsoft.Resources/resourceGroups");
        assert_eq!(created.body["properties"]["provisioningState"], "Succeeded");
        let updated = app.put(&path, &json!({"location": "westus", "tags": {"env": "prod"}})).await;
        assert_eq!(updated.status, StatusCode::OK);
        let (status, got) = app.get(&format!("{}/resourcegroups/mygroup?api-version=2021-04-01", app.sub_path())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["name"], "MyGroup");
        assert_eq!(got["tags"]["env"], "prod");
        let patched = app.patch(&path, &json!({"tags": {"team": "a"}})).await;
        assert_eq!(patched.body["tags"], json!({"team": "a"}));
        assert_eq!(patched.body["location"], "westus");
    }

    async fn head_tells_whether_a_group_exists(app) {
        app.create_group("here").await;
        let here = app.send(reqwest::Method::HEAD, &format!("{}?api-version={RG_API}", app.rg_path("HERE")), None, &[]).await;
        assert_eq!(here.status, StatusCode::NO_CONTENT);
        let gone = app.send(reqwest::Method::HEAD, &format!("{}?api-version={RG_API}", app.rg_path("nothere")), None, &[]).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }

    async fn groups_are_listed_with_paging(app) {
        for rg in ["a1", "b2", "c3"] {
            app.create_group(rg).await;
        }
        let (status, page1) = app.get(&format!("{}/resourcegroups?api-version={RG_API}&$top=2", app.sub_path())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page1["value"].as_array().map(Vec::len), Some(2));
        let next = page1["nextLink"].as_str().unwrap();
        assert!(next.starts_with(&app.base), "nextLink {next} is on the public base URL");
        let (_, page2) = app.get(next).await;
        assert_eq!(page2["value"].as_array().map(Vec::len), Some(1));
        assert!(page2.get("nextLink").is_none());
    }

    async fn a_group_cannot_move_to_another_location(app) {
        app.create_group("fixed").await;
        let path = format!("{}?api-version={RG_API}", app.rg_path("fixed"));
        let moved = app.put(&path, &json!({"location": "eastus"})).await;
        assert_eq!((moved.status, moved.error_code()), (StatusCode::CONFLICT, "InvalidResourceGroupLocation"));
        let (_, got) = app.get(&path).await;
        assert_eq!(got["location"], "westus");
    }

    async fn deleting_a_group_deletes_its_registries_as_an_operation(app) {
        app.create_group("doomed").await;
        app.create_registry("doomed", "inside01", "Basic").await;
        app.create_registry("doomed", "inside02", "Premium").await;
        let deleted = app.delete(&format!("{}?api-version={RG_API}", app.rg_path("doomed"))).await;
        assert_eq!(deleted.status, StatusCode::ACCEPTED);
        assert_eq!(deleted.header("retry-after"), Some("1"));
        let location = deleted.header("location").unwrap().to_owned();
        assert!(location.starts_with(&format!("{}/subscriptions/{}/operationResults/", app.base, app.subscription)), "{location}");
        let done = berth_tests::poll(std::time::Duration::from_secs(30), std::time::Duration::from_millis(100), || async {
            let r = app.send(reqwest::Method::GET, &location, None, &[]).await;
            match r.status {
                StatusCode::ACCEPTED => None,
                StatusCode::NO_CONTENT => Some(()),
                other => panic!("unexpected {other}: {:?}", r.body),
            }
        }).await.is_some();
        assert!(done, "the deletion ended");
        let (status, body) = app.get(&format!("{}?api-version={API}", app.registry_path("doomed", "inside01"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("ResourceGroupNotFound")));
        let (_, list) = app.get(&format!("{}/providers/Microsoft.ContainerRegistry/registries?api-version={API}", app.sub_path())).await;
        assert_eq!(list["value"], json!([]));
        // The names are free again.
        app.create_group("reborn").await;
        app.create_registry("reborn", "inside01", "Basic").await;
        let again = app.delete(&format!("{}?api-version={RG_API}", app.rg_path("doomed"))).await;
        assert_eq!((again.status, again.error_code()), (StatusCode::NOT_FOUND, "ResourceGroupNotFound"));
    }
}
