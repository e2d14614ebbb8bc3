//! The Graph v1.0 subset, as `az ad` and `az role assignment create --assignee` use it.

use super::*;

both_backends! {
    async fn an_assignee_is_resolved_the_way_az_resolves_it(app) {
        let user = app.send(reqwest::Method::POST, "/v1.0/users", Some(&json!({"userPrincipalName": "Grace@contoso.test",
            "displayName": "Grace", "accountEnabled": true, "mailNickname": "grace", "passwordProfile": {"password": "s3cret-pass"}})), &[]).await;
        assert_eq!(user.status, StatusCode::CREATED, "{:?}", user.body);
        let user_id = user.body["id"].as_str().unwrap().to_owned();
        let (_, found) = app.get("/v1.0/users?$filter=userPrincipalName%20eq%20%27grace@contoso.test%27").await;
        assert_eq!(found["value"][0]["id"], user_id.as_str());
        let dup = app.send(reqwest::Method::POST, "/v1.0/users", Some(&json!({"userPrincipalName": "grace@CONTOSO.test", "passwordProfile": {"password": "s3cret-pass"}})), &[]).await;
        assert_eq!((dup.status, dup.error_code()), (StatusCode::BAD_REQUEST, "Request_MultipleObjectsWithSameKeyValue"));

        // az ad sp create-for-rbac: an application, its service principal, a password.
        let application = app.send(reqwest::Method::POST, "/v1.0/applications", Some(&json!({"displayName": "deployer"})), &[]).await;
        assert_eq!(application.status, StatusCode::CREATED);
        let (app_object, app_id) = (application.body["id"].as_str().unwrap().to_owned(), application.body["appId"].as_str().unwrap().to_owned());
        let sp = app.send(reqwest::Method::POST, "/v1.0/servicePrincipals", Some(&json!({"appId": app_id})), &[]).await;
        assert_eq!(sp.status, StatusCode::CREATED);
        let sp_id = sp.body["id"].as_str().unwrap().to_owned();
        assert_ne!(sp_id, app_object, "the application and its service principal are two objects");
        let password = app.send(reqwest::Method::POST, &format!("/v1.0/applications/{app_object}/addPassword"),
            Some(&json!({"passwordCredential": {"displayName": "rbac", "endDateTime": "2028-01-01T00:00:00Z"}})), &[]).await;
        assert_eq!(password.status, StatusCode::OK, "{:?}", password.body);
        let secret = password.body["secretText"].as_str().unwrap();
        assert_eq!(password.body["hint"], &secret[..3]);
        let (_, listed) = app.get(&format!("/v1.0/servicePrincipals/{sp_id}")).await;
        assert!(listed["passwordCredentials"][0]["secretText"].is_null(), "a secret is shown once");

        let filter = format!("/v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c%20eq%20%27{app_id}%27)");
        let (_, by_name) = app.get(&filter).await;
        assert_eq!(by_name["value"][0]["id"], sp_id.as_str());
        assert_eq!(by_name["value"][0]["servicePrincipalNames"], json!([app_id]));
        let ids = json!({"ids": [user_id, sp_id, uuid::Uuid::new_v4()], "types": ["user", "group", "servicePrincipal", "directoryObjectPartnerReference"]});
        let objects = app.send(reqwest::Method::POST, "/v1.0/directoryObjects/getByIds", Some(&ids), &[]).await;
        let types: Vec<&str> = objects.body["value"].as_array().unwrap().iter().map(|o| o["@odata.type"].as_str().unwrap()).collect();
        assert_eq!(types.len(), 2);
        assert!(types.contains(&"#microsoft.graph.user") && types.contains(&"#microsoft.graph.servicePrincipal"));
        let (status, missing) = app.get(&format!("/v1.0/users/{}", uuid::Uuid::new_v4())).await;
        assert_eq!((status, missing["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("Request_ResourceNotFound")));
        assert!(missing["error"]["message"].is_string(), "az reads error.message");
    }

    async fn deleting_a_principal_removes_its_role_assignments(app) {
        let application = app.send(reqwest::Method::POST, "/v1.0/applications", Some(&json!({"displayName": "temporary"})), &[]).await;
        let app_id = application.body["appId"].as_str().unwrap().to_owned();
        let (_, sp) = app.get(&format!("/v1.0/servicePrincipals/{app_id}")).await;
        let sp_id = sp["id"].as_str().unwrap().to_owned();
        let group = app.send(reqwest::Method::POST, "/v1.0/groups", Some(&json!({"displayName": "Signers", "mailNickname": "signers"})), &[]).await;
        let group_id = group.body["id"].as_str().unwrap().to_owned();
        let added = app.send(reqwest::Method::POST, &format!("/v1.0/groups/{group_id}/members/$ref"),
            Some(&json!({"@odata.id": format!("{}/v1.0/directoryObjects/{sp_id}", app.base)})), &[]).await;
        assert_eq!(added.status, StatusCode::NO_CONTENT, "{:?}", added.body);
        let (_, members) = app.get(&format!("/v1.0/groups/{group_id}/members")).await;
        assert_eq!(members["value"][0]["id"], sp_id.as_str());
        let assignment = app.put(&format!("{}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", app.sub_path(), uuid::Uuid::new_v4()),
            &json!({"properties": {"roleDefinitionId": "7f951dda-4ed3-4680-a7ca-43fe172d538d", "principalId": sp_id}})).await;
        assert_eq!(assignment.status, StatusCode::CREATED, "{:?}", assignment.body);
        assert_eq!(app.delete(&format!("/v1.0/servicePrincipals/{sp_id}")).await.status, StatusCode::NO_CONTENT);
        let (_, left) = app.get(&format!("{}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20%27{sp_id}%27", app.sub_path())).await;
        assert_eq!(left["value"], json!([]), "a deleted principal holds no role");
        let (_, members) = app.get(&format!("/v1.0/groups/{group_id}/members")).await;
        assert_eq!(members["value"], json!([]));
        assert_eq!(app.delete(&format!("/v1.0/servicePrincipals/{sp_id}")).await.status, StatusCode::NOT_FOUND);
    }
}

both_backends! {
    async fn lists_page_with_odata_next_links_and_applications_are_deleted_by_their_own_id(app) {
        let mut made = Vec::new();
        for n in 0..5 {
            let a = app.send(reqwest::Method::POST, "/v1.0/applications", Some(&json!({"displayName": format!("paged-{n}")})), &[]).await;
            made.push((a.body["id"].as_str().unwrap().to_owned(), a.body["appId"].as_str().unwrap().to_owned()));
        }
        // The bootstrap owner is a service principal too: six in all, two per page.
        let mut seen = Vec::new();
        let mut next = Some("/v1.0/servicePrincipals?$top=2".to_owned());
        let mut pages = 0;
        while let Some(url) = next {
            let (status, page) = app.get(&url).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert!(page["value"].as_array().unwrap().len() <= 2);
            seen.extend(page["value"].as_array().unwrap().iter().map(|o| o["appId"].as_str().unwrap().to_owned()));
            next = page["@odata.nextLink"].as_str().map(str::to_owned);
            if let Some(link) = &next {
                assert!(link.starts_with(&app.base), "an absolute link: {link}");
            }
            pages += 1;
        }
        assert_eq!((pages, seen.len()), (3, 6), "{seen:?}");
        for (_, app_id) in &made {
            assert!(seen.contains(app_id), "{app_id} missing from the pages");
        }
        let (_, all) = app.get("/v1.0/servicePrincipals").await;
        assert!(all["@odata.nextLink"].is_null());
        for bad in ["$top=0", "$top=1000", "$skiptoken=not-a-token"] {
            let (status, body) = app.get(&format!("/v1.0/users?{bad}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }

        // Applications page the same way, as applications (their own ids).
        let (status, apps) = app.get("/v1.0/applications?$top=4").await;
        assert_eq!(status, StatusCode::OK, "{apps}");
        let listed = apps["value"].as_array().unwrap();
        assert_eq!(listed.len(), 4);
        assert!(listed.iter().all(|a| a["@odata.type"] == "#microsoft.graph.application" && a["passwordCredentials"].is_array()));
        assert!(apps["@odata.nextLink"].as_str().unwrap().contains("/v1.0/applications?$top=4&$skiptoken="));
        let (_, rest) = app.get(apps["@odata.nextLink"].as_str().unwrap().trim_start_matches(&app.base)).await;
        let ids: Vec<&str> = listed.iter().chain(rest["value"].as_array().unwrap()).map(|a| a["id"].as_str().unwrap()).collect();
        for (app_object, _) in &made {
            assert!(ids.contains(&app_object.as_str()), "{app_object} listed by its own id");
        }
        let (_, named) = app.get("/v1.0/applications?$filter=displayName eq 'paged-3'").await;
        assert_eq!(named["value"].as_array().unwrap().len(), 1);
        assert_eq!(named["value"][0]["id"], made[3].0.as_str());
        let (_, prefixed) = app.get("/v1.0/applications?$filter=startswith(displayName,'paged-')").await;
        assert_eq!(prefixed["value"].as_array().unwrap().len(), 5);
        let (_, by_name) = app.get("/v1.0/servicePrincipals?$filter=displayName eq 'paged-3'").await;
        assert_eq!(by_name["value"][0]["appId"], made[3].1.as_str());
        let (status, one) = app.get(&format!("/v1.0/applications/{}", made[3].0)).await;
        assert_eq!((status, one["displayName"].as_str()), (StatusCode::OK, Some("paged-3")));
        let same = app.send(reqwest::Method::PATCH, &format!("/v1.0/applications/{}", made[3].0), Some(&json!({"displayName": "paged-3"})), &[]).await;
        assert_eq!(same.status, StatusCode::NO_CONTENT);
        let rename = app.send(reqwest::Method::PATCH, &format!("/v1.0/applications/{}", made[3].0), Some(&json!({"displayName": "renamed"})), &[]).await;
        assert_eq!((rename.status, rename.error_code()), (StatusCode::BAD_REQUEST, "Request_BadRequest"));
        let (_, unchanged) = app.get(&format!("/v1.0/applications/{}", made[3].0)).await;
        assert_eq!(unchanged["displayName"], "paged-3", "a refused PATCH changes nothing");

        // DELETE /applications/{id} takes the application's id, not its service principal's.
        let (app_object, app_id) = &made[0];
        let (_, sp) = app.get(&format!("/v1.0/servicePrincipals/{app_id}")).await;
        let sp_id = sp["id"].as_str().unwrap();
        let wrong = app.send(reqwest::Method::DELETE, &format!("/v1.0/applications/{sp_id}"), None, &[]).await;
        assert_eq!(wrong.status, StatusCode::NOT_FOUND);
        let right = app.send(reqwest::Method::DELETE, &format!("/v1.0/applications/{app_object}"), None, &[]).await;
        assert_eq!(right.status, StatusCode::NO_CONTENT);
    }
}
