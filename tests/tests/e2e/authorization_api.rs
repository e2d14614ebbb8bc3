//! `Microsoft.Authorization` over HTTP, at any scope: role definitions and role
//! assignments as the Azure CLI and the SDK use them.

use super::*;
use berth_tests::roles::SIGNER;

const AUTHZ: &str = "2022-04-01";

both_backends! {
    async fn role_definitions_are_listed_and_filtered_at_any_scope(app) {
        let scope = app.registry_path("rg", "reg00001");
        let url = format!("{scope}/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName%20eq%20%27AcrImageSigner%27&api-version=2022-05-01-preview");
        let (status, list) = app.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let roles = list["value"].as_array().unwrap();
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0]["id"], format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{SIGNER}", app.subscription));
        assert_eq!(roles[0]["name"], SIGNER);
        assert_eq!(roles[0]["properties"]["type"], "BuiltInRole");
        assert_eq!(roles[0]["properties"]["permissions"][0]["dataActions"], json!(["Microsoft.ContainerRegistry/registries/trustedCollections/write"]));
        let (_, all) = app.get(&format!("/providers/Microsoft.Authorization/roleDefinitions?api-version={AUTHZ}")).await;
        assert!(all["value"].as_array().unwrap().len() >= 10);
        assert!(all["value"][0]["id"].as_str().unwrap().starts_with("/providers/Microsoft.Authorization/roleDefinitions/"));
        let (status, one) = app.get(&format!("{}/providers/Microsoft.Authorization/roleDefinitions/{SIGNER}?api-version={AUTHZ}", app.sub_path())).await;
        assert_eq!((status, one["properties"]["roleName"].as_str()), (StatusCode::OK, Some("AcrImageSigner")));
        let (status, missing) = app.get(&format!("/providers/Microsoft.Authorization/roleDefinitions/{}?api-version={AUTHZ}", uuid::Uuid::new_v4())).await;
        assert_eq!((status, missing["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("RoleDefinitionDoesNotExist")));
    }

    async fn role_assignments_are_created_listed_and_deleted_as_az_expects(app) {
        let dir = app.directory().await;
        let (sp, _) = dir.create_service_principal("signer", None).await.unwrap();
        let scope = app.registry_path("rg", "reg00001");
        let role_id = format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{SIGNER}", app.subscription);
        let name = uuid::Uuid::new_v4();
        let body = json!({"properties": {"roleDefinitionId": role_id, "principalId": sp.object_id, "principalType": "ServicePrincipal"}});
        let created = app.put(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version={AUTHZ}"), &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["id"], format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"));
        assert_eq!(created.body["properties"]["roleDefinitionId"], role_id.as_str(), "echoed exactly");
        assert_eq!(created.body["properties"]["scope"], scope.as_str());
        let again = app.put(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version={AUTHZ}", uuid::Uuid::new_v4()), &body).await;
        assert_eq!((again.status, again.error_code()), (StatusCode::CONFLICT, "RoleAssignmentExists"));
        assert!(again.body["error"]["message"].as_str().unwrap().contains(&name.simple().to_string()));
        let (_, listed) = app.get(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()&api-version={AUTHZ}")).await;
        let names: Vec<&str> = listed["value"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 2, "ours, and the bootstrap owner's at the root: {names:?}");
        assert!(names.contains(&name.to_string().as_str()));
        let (_, mine) = app.get(&format!("{}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHZ}&$filter=assignedTo('{}')", app.sub_path(), sp.object_id)).await;
        assert_eq!(mine["value"][0]["name"], name.to_string());
        let (status, got) = app.get(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version={AUTHZ}")).await;
        assert_eq!((status, got["properties"]["principalType"].as_str()), (StatusCode::OK, Some("ServicePrincipal")));
        let deleted = app.delete(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version={AUTHZ}")).await;
        assert_eq!((deleted.status, deleted.body["name"].as_str()), (StatusCode::OK, Some(name.to_string().as_str())));
        let gone = app.delete(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version={AUTHZ}")).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
    }

    async fn bad_role_assignments_get_arm_errors(app) {
        let dir = app.directory().await;
        let user = dir.create_user("frank@contoso.test", "", "password123").await.unwrap();
        let scope = app.registry_path("rg", "reg00001");
        let put = |scope: String, body: Value| {
            let app = &app;
            async move { app.put(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version={AUTHZ}", uuid::Uuid::new_v4()), &body).await }
        };
        let unknown = put(scope.clone(), json!({"properties": {"roleDefinitionId": SIGNER, "principalId": uuid::Uuid::new_v4()}})).await;
        assert_eq!((unknown.status, unknown.error_code()), (StatusCode::BAD_REQUEST, "PrincipalNotFound"));
        assert!(unknown.body["error"]["message"].as_str().unwrap().contains(" does not exist in the directory "));
        let no_role = put(scope.clone(), json!({"properties": {"roleDefinitionId": uuid::Uuid::new_v4(), "principalId": user.object_id}})).await;
        assert_eq!((no_role.status, no_role.error_code()), (StatusCode::BAD_REQUEST, "RoleDefinitionDoesNotExist"));
        let bad_scope = put("/subscriptions/not-a-guid".into(), json!({"properties": {"roleDefinitionId": SIGNER, "principalId": user.object_id}})).await;
        assert_eq!((bad_scope.status, bad_scope.error_code()), (StatusCode::BAD_REQUEST, "InvalidScope"));
        let mismatch = put(scope.clone(), json!({"properties": {"roleDefinitionId": SIGNER, "principalId": user.object_id, "principalType": "Group"}})).await;
        assert_eq!((mismatch.status, mismatch.error_code()), (StatusCode::BAD_REQUEST, "UnmatchedPrincipalType"));
        let bad_name = app.put(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments/not-a-guid?api-version={AUTHZ}"), &json!({"properties": {"roleDefinitionId": SIGNER, "principalId": user.object_id}})).await;
        assert_eq!((bad_name.status, bad_name.error_code()), (StatusCode::BAD_REQUEST, "InvalidRequestContent"));
        let bad_filter = app.get(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()%20and%20principalId%20eq%20%27{}%27&api-version={AUTHZ}", user.object_id)).await;
        assert_eq!(bad_filter.0, StatusCode::BAD_REQUEST);
        let (_, none) = app.get(&format!("{scope}/providers/Microsoft.Authorization/roleAssignments?api-version={AUTHZ}&$filter=principalId%20eq%20%27{}%27", user.object_id)).await;
        assert_eq!(none["value"], json!([]), "nothing was half-written");
    }
}
