//! Escalation through the directory (issue 19, finding 2): an ARM role, even Contributor at
//! `/`, changes nothing in the directory; directory roles each do their own part; and no
//! directory role lets its holder add a credential to, join, or delete a principal more
//! privileged than itself. Every refusal is checked on the state afterwards.
//! Also `getByIds`' bound (finding 11).

use super::*;
use berth_tests::roles::{ACR_PULL, CONTRIBUTOR, OWNER, as_token, assign, principal};
use berth_tests::{Backend, SpawnOptions, client_token, per_backend, spawn_app, spawn_app_with};

const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
const PRIVILEGED_ROLE_ADMINISTRATOR: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
const APPLICATION_ADMINISTRATOR: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const GROUPS_ADMINISTRATOR: &str = "fdd7a751-b60b-444a-984c-02652fe8fa1c";
const ROLE_ASSIGNMENTS: &str = "/v1.0/roleManagement/directory/roleAssignments";

/// Gives `principal` a directory role, as the bootstrap owner (a Global Administrator).
async fn directory_role(app: &TestApp, principal: &str, role: &str) -> String {
    let r = app
        .send(
            reqwest::Method::POST,
            ROLE_ASSIGNMENTS,
            Some(&json!({"principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A new service principal holding `role` in the directory, and its Graph token.
async fn administrator(app: &TestApp, name: &str, role: &str) -> (String, String) {
    let (id, creds) = principal(app, name).await;
    directory_role(app, &id, role).await;
    (id, graph_token(app, &creds).await)
}

async fn graph_token(app: &TestApp, creds: &(String, String)) -> String {
    client_token(
        &reqwest::Client::new(),
        &app.base,
        creds,
        &format!("{}/.default", app.base),
    )
    .await
}

/// The bootstrap owner's (service principal id, application object id).
async fn bootstrap_owner(app: &TestApp) -> (String, String) {
    let (_, apps) = app
        .get(&format!(
            "/v1.0/applications?$filter=appId eq '{}'",
            app.owner.0
        ))
        .await;
    let (_, sp) = app
        .get(&format!("/v1.0/servicePrincipals/{}", app.owner.0))
        .await;
    (
        sp["id"].as_str().unwrap().to_owned(),
        apps["value"][0]["id"].as_str().unwrap().to_owned(),
    )
}

/// An application's password key ids, as Graph shows them.
async fn key_ids(app: &TestApp, application: &str) -> Vec<String> {
    let (status, body) = app.get(&format!("/v1.0/applications/{application}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["passwordCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["keyId"].as_str().unwrap().to_owned())
        .collect()
}

async fn member_ids(app: &TestApp, group: &str) -> Vec<String> {
    let (_, members) = app.get(&format!("/v1.0/groups/{group}/members")).await;
    members["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A group holding Owner at `/`.
async fn owners_group(app: &TestApp, name: &str) -> String {
    let group = app
        .send(
            reqwest::Method::POST,
            "/v1.0/groups",
            Some(&json!({"displayName": name})),
            &[],
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{:?}", group.body);
    let id = group.body["id"].as_str().unwrap().to_owned();
    assign(app, "", OWNER, &id).await;
    id
}

fn add_password(application: &str) -> String {
    format!("/v1.0/applications/{application}/addPassword")
}

fn member_ref(app: &TestApp, member: &str) -> Value {
    json!({"@odata.id": format!("{}/v1.0/directoryObjects/{member}", app.base)})
}

/// Whether the issuer gives a token for this appId and secret.
async fn signs_in(app: &TestApp, app_id: &str, secret: &str) -> bool {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", app_id),
        ("client_secret", secret),
        ("scope", "https://management.berth.local/.default"),
    ];
    app.post_form("/organizations/oauth2/v2.0/token", &form)
        .await
        .status
        .is_success()
}

fn refused(r: &berth_tests::Reply, what: &str) {
    assert_eq!(
        (r.status, r.error_code()),
        (StatusCode::FORBIDDEN, "Authorization_RequestDenied"),
        "{what}: {:?}",
        r.body
    );
    assert!(
        r.body["error"]["message"].is_string(),
        "{what}: Graph's error shape"
    );
}

both_backends! {
    async fn a_contributor_at_the_root_cannot_become_owner_through_the_directory(app) {
        let (contributor, creds) = principal(&app, "root-contributor").await;
        assign(&app, "", CONTRIBUTOR, &contributor).await;
        let token = graph_token(&app, &creds).await;
        let (owner_sp, owner_app) = bootstrap_owner(&app).await;
        let before = key_ids(&app, &owner_app).await;

        // The reported attack: a password on the bootstrap owner's application.
        let grab = as_token(&app, &token, reqwest::Method::POST, &add_password(&owner_app), Some(&json!({}))).await;
        refused(&grab, "addPassword to the bootstrap owner");
        assert!(grab.body["secretText"].is_null(), "no secret comes back");
        assert_eq!(key_ids(&app, &owner_app).await, before, "the owner's passwords are unchanged");
        assert!(!signs_in(&app, &app.owner.0, "guessed-secret").await);
        let removal = as_token(&app, &token, reqwest::Method::POST, &format!("/v1.0/applications/{owner_app}/removePassword"),
            Some(&json!({"keyId": before[0]}))).await;
        refused(&removal, "removePassword from the bootstrap owner");
        assert_eq!(key_ids(&app, &owner_app).await, before);
        assert!(signs_in(&app, &app.owner.0, &app.owner.1).await, "the owner still signs in");

        // The second attack: joining a group that holds Owner.
        let owners = owners_group(&app, "root-owners").await;
        let join = as_token(&app, &token, reqwest::Method::POST, &format!("/v1.0/groups/{owners}/members/$ref"),
            Some(&member_ref(&app, &contributor))).await;
        refused(&join, "joining a group holding Owner");
        assert_eq!(member_ids(&app, &owners).await, Vec::<String>::new(), "membership unchanged");

        // No other directory write either.
        let user = as_token(&app, &token, reqwest::Method::POST, "/v1.0/users",
            Some(&json!({"userPrincipalName": "mallory@contoso.test", "passwordProfile": {"password": "mallory-pass"}}))).await;
        refused(&user, "creating a user");
        let (_, found) = app.get("/v1.0/users?$filter=userPrincipalName eq 'mallory@contoso.test'").await;
        assert_eq!(found["value"], json!([]));
        let delete = as_token(&app, &token, reqwest::Method::DELETE, &format!("/v1.0/servicePrincipals/{owner_sp}"), None).await;
        refused(&delete, "deleting the bootstrap owner");
        let grant = as_token(&app, &token, reqwest::Method::POST, ROLE_ASSIGNMENTS,
            Some(&json!({"principalId": contributor, "roleDefinitionId": GLOBAL_ADMINISTRATOR, "directoryScopeId": "/"}))).await;
        refused(&grant, "making itself Global Administrator");
        let (_, held) = app.get(&format!("{ROLE_ASSIGNMENTS}?$filter=principalId eq '{contributor}'")).await;
        assert_eq!(held["value"], json!([]), "no directory role was assigned");

        // The management API still says Contributor cannot grant itself Owner.
        let management = client_token(&reqwest::Client::new(), &app.base, &creds, "https://management.berth.local/.default").await;
        let owner = as_token(&app, &management, reqwest::Method::PUT,
            &format!("/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", uuid::Uuid::new_v4()),
            Some(&json!({"properties": {"roleDefinitionId": OWNER, "principalId": contributor}}))).await;
        assert_eq!(owner.status, StatusCode::FORBIDDEN);
    }

    async fn an_arm_custom_role_cannot_carry_directory_actions(app) {
        for actions in [json!(["Microsoft.Directory/*"]), json!(["Microsoft.ContainerRegistry/registries/read", "microsoft.directory/applications/credentials/update"])] {
            let id = uuid::Uuid::new_v4();
            let r = app.put(&format!("{}/providers/Microsoft.Authorization/roleDefinitions/{id}?api-version=2022-04-01", app.sub_path()),
                &json!({"properties": {"roleName": format!("directory-{id}"), "permissions": [{"actions": actions}], "assignableScopes": [app.sub_path()]}})).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{actions}: {:?}", r.body);
            let (status, _) = app.get(&format!("{}/providers/Microsoft.Authorization/roleDefinitions/{id}?api-version=2022-04-01", app.sub_path())).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "the role was not stored");
        }
    }

    async fn a_user_administrator_creates_users_but_cannot_take_over_an_owners_application(app) {
        let (_, token) = administrator(&app, "user-admin", USER_ADMINISTRATOR).await;
        let user = as_token(&app, &token, reqwest::Method::POST, "/v1.0/users",
            Some(&json!({"userPrincipalName": "ivan@contoso.test", "passwordProfile": {"password": "ivan-password"}}))).await;
        assert_eq!(user.status, StatusCode::CREATED, "{:?}", user.body);
        let (_, found) = app.get("/v1.0/users?$filter=userPrincipalName eq 'ivan@contoso.test'").await;
        assert_eq!(found["value"][0]["id"], user.body["id"]);

        let (owner, _) = principal(&app, "subscription-owner").await;
        assign(&app, &app.sub_path(), OWNER, &owner).await;
        let (_, owner_sp) = app.get(&format!("/v1.0/servicePrincipals/{owner}")).await;
        let (_, owner_app) = app.get(&format!("/v1.0/applications?$filter=appId eq '{}'", owner_sp["appId"].as_str().unwrap())).await;
        let owner_app = owner_app["value"][0]["id"].as_str().unwrap().to_owned();
        let before = key_ids(&app, &owner_app).await;
        let grab = as_token(&app, &token, reqwest::Method::POST, &add_password(&owner_app), Some(&json!({}))).await;
        refused(&grab, "a User Administrator adding a password to an Owner's application");
        assert_eq!(key_ids(&app, &owner_app).await, before);
    }

    async fn an_application_administrator_adds_passwords_only_to_applications_no_more_privileged(app) {
        let (_, token) = administrator(&app, "app-admin", APPLICATION_ADMINISTRATOR).await;
        let plain = as_token(&app, &token, reqwest::Method::POST, "/v1.0/applications", Some(&json!({"displayName": "plain"}))).await;
        assert_eq!(plain.status, StatusCode::CREATED, "{:?}", plain.body);
        let (plain_app, plain_id) = (plain.body["id"].as_str().unwrap().to_owned(), plain.body["appId"].as_str().unwrap().to_owned());
        let password = as_token(&app, &token, reqwest::Method::POST, &add_password(&plain_app), Some(&json!({}))).await;
        assert_eq!(password.status, StatusCode::OK, "{:?}", password.body);
        assert!(signs_in(&app, &plain_id, password.body["secretText"].as_str().unwrap()).await);

        let (_, owner_app) = bootstrap_owner(&app).await;
        let before = key_ids(&app, &owner_app).await;
        let grab = as_token(&app, &token, reqwest::Method::POST, &add_password(&owner_app), Some(&json!({}))).await;
        refused(&grab, "an Application Administrator adding a password to the bootstrap owner");
        assert_eq!(key_ids(&app, &owner_app).await, before);

        // Any ARM role the caller could not grant makes the target more privileged.
        let puller = as_token(&app, &token, reqwest::Method::POST, "/v1.0/applications", Some(&json!({"displayName": "puller"}))).await;
        let (puller_app, puller_id) = (puller.body["id"].as_str().unwrap().to_owned(), puller.body["appId"].as_str().unwrap().to_owned());
        let (_, puller_sp) = app.get(&format!("/v1.0/servicePrincipals/{puller_id}")).await;
        assign(&app, &app.sub_path(), ACR_PULL, puller_sp["id"].as_str().unwrap()).await;
        let grab = as_token(&app, &token, reqwest::Method::POST, &add_password(&puller_app), Some(&json!({}))).await;
        refused(&grab, "a password on an application holding AcrPull");
        assert_eq!(key_ids(&app, &puller_app).await, Vec::<String>::new());
        let delete = as_token(&app, &token, reqwest::Method::DELETE, &format!("/v1.0/applications/{puller_app}"), None).await;
        refused(&delete, "deleting an application holding AcrPull");
        let deleted = as_token(&app, &token, reqwest::Method::DELETE, &format!("/v1.0/applications/{plain_app}"), None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    }

    async fn a_groups_administrator_cannot_join_a_group_holding_owner(app) {
        let (admin, token) = administrator(&app, "groups-admin", GROUPS_ADMINISTRATOR).await;
        let owners = owners_group(&app, "owners").await;
        let inner = app.send(reqwest::Method::POST, "/v1.0/groups", Some(&json!({"displayName": "inner"})), &[]).await.body["id"].as_str().unwrap().to_owned();
        let nested = app.send(reqwest::Method::POST, &format!("/v1.0/groups/{owners}/members/$ref"), Some(&member_ref(&app, &inner)), &[]).await;
        assert_eq!(nested.status, StatusCode::NO_CONTENT);
        for group in [&owners, &inner] {
            let join = as_token(&app, &token, reqwest::Method::POST, &format!("/v1.0/groups/{group}/members/$ref"), Some(&member_ref(&app, &admin))).await;
            refused(&join, "joining a group holding Owner, directly or through a parent");
        }
        assert_eq!(member_ids(&app, &owners).await, vec![inner.clone()]);
        assert_eq!(member_ids(&app, &inner).await, Vec::<String>::new());
        let (_, found) = app.get(&format!("/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=assignedTo('{admin}')")).await;
        assert_eq!(found["value"], json!([]), "the administrator holds no ARM role");

        let team = as_token(&app, &token, reqwest::Method::POST, "/v1.0/groups", Some(&json!({"displayName": "team"}))).await;
        assert_eq!(team.status, StatusCode::CREATED);
        let team = team.body["id"].as_str().unwrap().to_owned();
        let join = as_token(&app, &token, reqwest::Method::POST, &format!("/v1.0/groups/{team}/members/$ref"), Some(&member_ref(&app, &admin))).await;
        assert_eq!(join.status, StatusCode::NO_CONTENT, "{:?}", join.body);
        assert_eq!(member_ids(&app, &team).await, vec![admin]);
    }

    async fn a_global_administrator_may_manage_every_principal(app) {
        let (admin, token) = administrator(&app, "global-admin", GLOBAL_ADMINISTRATOR).await;
        let (_, owner_app) = bootstrap_owner(&app).await;
        let password = as_token(&app, &token, reqwest::Method::POST, &add_password(&owner_app), Some(&json!({}))).await;
        assert_eq!(password.status, StatusCode::OK, "{:?}", password.body);
        assert!(signs_in(&app, &app.owner.0, password.body["secretText"].as_str().unwrap()).await);
        let owners = owners_group(&app, "owners").await;
        let join = as_token(&app, &token, reqwest::Method::POST, &format!("/v1.0/groups/{owners}/members/$ref"), Some(&member_ref(&app, &admin))).await;
        assert_eq!(join.status, StatusCode::NO_CONTENT, "{:?}", join.body);
        assert_eq!(member_ids(&app, &owners).await, vec![admin]);
    }

    async fn only_privileged_role_and_global_administrators_assign_directory_roles(app) {
        let (_, defs) = app.get("/v1.0/roleManagement/directory/roleDefinitions").await;
        let ids: Vec<&str> = defs["value"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
        for id in [GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR, USER_ADMINISTRATOR, APPLICATION_ADMINISTRATOR, GROUPS_ADMINISTRATOR] {
            assert!(ids.contains(&id), "{id} in {ids:?}");
        }
        let (status, one) = app.get(&format!("/v1.0/roleManagement/directory/roleDefinitions/{USER_ADMINISTRATOR}")).await;
        assert_eq!((status, one["displayName"].as_str()), (StatusCode::OK, Some("User Administrator")));

        let (user_admin, user_token) = administrator(&app, "user-admin", USER_ADMINISTRATOR).await;
        let grab = as_token(&app, &user_token, reqwest::Method::POST, ROLE_ASSIGNMENTS,
            Some(&json!({"principalId": user_admin, "roleDefinitionId": GLOBAL_ADMINISTRATOR, "directoryScopeId": "/"}))).await;
        refused(&grab, "a User Administrator making itself Global Administrator");
        let (_, held) = app.get(&format!("{ROLE_ASSIGNMENTS}?$filter=principalId eq '{user_admin}'")).await;
        assert_eq!(held["value"].as_array().unwrap().len(), 1, "{held}");

        let (_, role_token) = administrator(&app, "role-admin", PRIVILEGED_ROLE_ADMINISTRATOR).await;
        let (target, _) = principal(&app, "to-be-app-admin").await;
        let made = as_token(&app, &role_token, reqwest::Method::POST, ROLE_ASSIGNMENTS,
            Some(&json!({"principalId": target, "roleDefinitionId": APPLICATION_ADMINISTRATOR, "directoryScopeId": "/"}))).await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        assert_eq!((made.body["principalId"].as_str(), made.body["directoryScopeId"].as_str()), (Some(target.as_str()), Some("/")));
        let id = made.body["id"].as_str().unwrap().to_owned();
        let again = as_token(&app, &role_token, reqwest::Method::POST, ROLE_ASSIGNMENTS,
            Some(&json!({"principalId": target, "roleDefinitionId": APPLICATION_ADMINISTRATOR, "directoryScopeId": "/"}))).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "assigned once: {:?}", again.body);
        let (status, got) = app.get(&format!("{ROLE_ASSIGNMENTS}/{id}")).await;
        assert_eq!((status, got["roleDefinitionId"].as_str()), (StatusCode::OK, Some(APPLICATION_ADMINISTRATOR)));
        let (_, by_role) = app.get(&format!("{ROLE_ASSIGNMENTS}?$filter=roleDefinitionId eq '{APPLICATION_ADMINISTRATOR}'")).await;
        assert_eq!(by_role["value"].as_array().unwrap().len(), 1);

        // Directory roles never appear among ARM's role assignments.
        let (_, arm) = app.get("/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01").await;
        assert!(arm["value"].as_array().unwrap().iter().all(|a| a["properties"]["principalId"] != target.as_str()), "{arm}");

        let group = app.send(reqwest::Method::POST, "/v1.0/groups", Some(&json!({"displayName": "would-be-admins"})), &[]).await.body["id"].as_str().unwrap().to_owned();
        for (body, what) in [
            (json!({"principalId": group, "roleDefinitionId": GLOBAL_ADMINISTRATOR, "directoryScopeId": "/"}), "a group"),
            (json!({"principalId": target, "roleDefinitionId": USER_ADMINISTRATOR, "directoryScopeId": "/administrativeUnits/x"}), "another scope"),
            (json!({"principalId": target, "roleDefinitionId": OWNER, "directoryScopeId": "/"}), "an ARM role"),
        ] {
            let r = as_token(&app, &role_token, reqwest::Method::POST, ROLE_ASSIGNMENTS, Some(&body)).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {:?}", r.body);
        }

        let removed = as_token(&app, &user_token, reqwest::Method::DELETE, &format!("{ROLE_ASSIGNMENTS}/{id}"), None).await;
        refused(&removed, "a User Administrator removing a directory role");
        let removed = as_token(&app, &role_token, reqwest::Method::DELETE, &format!("{ROLE_ASSIGNMENTS}/{id}"), None).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("{ROLE_ASSIGNMENTS}/{id}")).await.0, StatusCode::NOT_FOUND);

        // Deleting a principal takes its directory roles with it.
        let (doomed, _) = administrator(&app, "doomed", GROUPS_ADMINISTRATOR).await;
        assert_eq!(app.delete(&format!("/v1.0/servicePrincipals/{doomed}")).await.status, StatusCode::NO_CONTENT);
        let (_, left) = app.get(&format!("{ROLE_ASSIGNMENTS}?$filter=principalId eq '{doomed}'")).await;
        assert_eq!(left["value"], json!([]));
    }

    async fn get_by_ids_takes_at_most_a_thousand_ids(app) {
        let (owner_sp, _) = bootstrap_owner(&app).await;
        for n in [1001, 25_000] {
            let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
            let r = app.send(reqwest::Method::POST, "/v1.0/directoryObjects/getByIds", Some(&json!({"ids": ids})), &[]).await;
            assert_eq!((r.status, r.error_code()), (StatusCode::BAD_REQUEST, "Request_BadRequest"), "{n} ids: {:?}", r.body);
            assert!(r.body["error"]["message"].as_str().unwrap().contains("1000"), "{:?}", r.body);
        }
        let mut ids: Vec<String> = (0..999).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        ids.push(owner_sp.clone());
        let r = app.send(reqwest::Method::POST, "/v1.0/directoryObjects/getByIds", Some(&json!({"ids": ids})), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["value"][0]["id"], owner_sp.as_str());
    }
}

per_backend! {
    async fn an_upgraded_deployment_keeps_a_directory_administrator(backend) {
        let mut first = spawn_app(backend).await;
        let (owner_sp, _) = bootstrap_owner(&first).await;
        let (_, held) = first.get(&format!("{ROLE_ASSIGNMENTS}?$filter=principalId eq '{owner_sp}'")).await;
        assert_eq!(held["value"][0]["roleDefinitionId"], GLOBAL_ADMINISTRATOR, "the bootstrap owner is Global Administrator from the start");
        // As before directory roles existed: nobody holds one.
        {
            use sea_orm::ConnectionTrait;
            let db = first.database().await;
            db.writer().execute_unprepared("DELETE FROM directory_role_assignments").await.unwrap();
        }
        first.stop().await;
        let second = spawn_app_with(backend, SpawnOptions {
            reuse: Some((first.data_dir.path().to_owned(), first.schema.clone())),
            ..SpawnOptions::default()
        }).await;
        let (_, held) = second.get(&format!("{ROLE_ASSIGNMENTS}?$filter=principalId eq '{owner_sp}'")).await;
        assert_eq!(held["value"].as_array().unwrap().len(), 1, "{held}");
        assert_eq!(held["value"][0]["roleDefinitionId"], GLOBAL_ADMINISTRATOR);
        let user = second.send(reqwest::Method::POST, "/v1.0/users",
            Some(&json!({"userPrincipalName": "judy@contoso.test", "passwordProfile": {"password": "judy-password"}})), &[]).await;
        assert_eq!(user.status, StatusCode::CREATED, "{:?}", user.body);
    }
}

/// `wanted` once `attempt` answers it within 1.1 s, else what one more attempt answers.
async fn within_a_second<F, Fut>(mut attempt: F, wanted: StatusCode) -> StatusCode
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    let seen = berth_tests::poll(
        std::time::Duration::from_millis(1100),
        std::time::Duration::from_millis(50),
        || {
            let answer = attempt();
            async move { (answer.await == wanted).then_some(wanted) }
        },
    )
    .await;
    match seen {
        Some(status) => status,
        None => attempt().await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_role_reaches_another_replica_within_a_second() {
    let first = spawn_app(Backend::Postgres).await;
    let second = spawn_app_with(
        Backend::Postgres,
        SpawnOptions {
            reuse: Some((first.data_dir.path().to_owned(), first.schema.clone())),
            ..SpawnOptions::default()
        },
    )
    .await;
    let (admin, creds) = principal(&first, "replicated-admin").await;
    let token = graph_token(&second, &creds).await;
    let create = |name: &'static str| {
        let (second, token) = (&second, &token);
        async move {
            as_token(
                second,
                token,
                reqwest::Method::POST,
                "/v1.0/applications",
                Some(&json!({"displayName": name})),
            )
            .await
            .status
        }
    };
    assert_eq!(create("before").await, StatusCode::FORBIDDEN);
    let id = directory_role(&first, &admin, APPLICATION_ADMINISTRATOR).await;
    assert_eq!(
        within_a_second(|| create("granted"), StatusCode::CREATED).await,
        StatusCode::CREATED,
        "the second replica saw the directory role"
    );
    assert_eq!(
        first
            .delete(&format!("{ROLE_ASSIGNMENTS}/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        within_a_second(|| create("revoked"), StatusCode::FORBIDDEN).await,
        StatusCode::FORBIDDEN,
        "the second replica saw the removal"
    );
}

/// Every kind of caller, with every role that might look like enough, tries each way into
/// the bootstrap owner's power through the directory; afterwards nothing has changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_scope_limited_role_widens_itself_through_directory_credentials_or_membership() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_group("escalation").await;
    let power = step_the_owners_power_is_in_place(&app).await;
    let (sub, rg) = (app.sub_path(), app.rg_path("escalation"));
    for caller in callers(&sub, &rg) {
        let (id, token) = step_the_caller_signs_in_holding_its_roles(&app, caller).await;
        step_each_way_into_the_owners_power_is_refused(&app, &power, caller, &id, &token).await;
        step_the_owners_power_is_unchanged(&app, &power, caller.0, &id).await;
    }
    assert!(signs_in(&app, &app.owner.0, &app.owner.1).await);
}

/// The bootstrap owner's power, which the callers of
/// [`no_scope_limited_role_widens_itself_through_directory_credentials_or_membership`] try
/// to reach: its service principal, its application and that application's password key
/// ids, and a group holding Owner at `/`.
struct OwnersPower {
    owner_sp: String,
    owner_app: String,
    owners: String,
    keys: Vec<String>,
}

/// The bootstrap owner is looked up, a group holding Owner is made, and the owner's
/// password key ids are read.
async fn step_the_owners_power_is_in_place(app: &TestApp) -> OwnersPower {
    let (owner_sp, owner_app) = bootstrap_owner(app).await;
    let owners = owners_group(app, "owners").await;
    let keys = key_ids(app, &owner_app).await;
    OwnersPower {
        owner_sp,
        owner_app,
        owners,
        keys,
    }
}

/// A caller: its name, ARM role and scope, directory role, and whether it is a person
/// rather than an application.
type Caller<'a> = (&'a str, Option<(&'a str, &'a str)>, Option<&'a str>, bool);

/// Every kind of caller, with `sub` and `rg` the subscription and resource group Owner is
/// held at.
fn callers<'a>(sub: &'a str, rg: &'a str) -> [Caller<'a>; 9] {
    [
        ("contributor-root", Some((CONTRIBUTOR, "")), None, false),
        ("owner-subscription", Some((OWNER, sub)), None, false),
        (
            "owner-group",
            Some((OWNER, rg)),
            Some(APPLICATION_ADMINISTRATOR),
            false,
        ),
        ("user-admin", None, Some(USER_ADMINISTRATOR), false),
        ("app-admin", None, Some(APPLICATION_ADMINISTRATOR), false),
        ("groups-admin", None, Some(GROUPS_ADMINISTRATOR), false),
        (
            "role-admin",
            None,
            Some(PRIVILEGED_ROLE_ADMINISTRATOR),
            false,
        ),
        ("person-contributor", Some((CONTRIBUTOR, "")), None, true),
        (
            "person-groups-admin",
            None,
            Some(GROUPS_ADMINISTRATOR),
            true,
        ),
    ]
}

/// The caller is made (a user signed in with a password, or a service principal), and given
/// its ARM and directory roles: its id and Graph token.
async fn step_the_caller_signs_in_holding_its_roles(
    app: &TestApp,
    (name, arm, directory, person): Caller<'_>,
) -> (String, String) {
    let (id, token) = if person {
        let upn = format!("{name}@contoso.test");
        let user = app.send(reqwest::Method::POST, "/v1.0/users",
            Some(&json!({"userPrincipalName": upn, "passwordProfile": {"password": "person-password"}})), &[]).await;
        let id = user.body["id"].as_str().unwrap().to_owned();
        let scope = format!("{}/.default", app.base);
        (
            id,
            berth_tests::password_token(&app.client, &app.base, &upn, "person-password", &scope)
                .await,
        )
    } else {
        let (id, creds) = principal(app, name).await;
        (id, graph_token(app, &creds).await)
    };
    if let Some((role, scope)) = arm {
        assign(app, scope, role, &id).await;
    }
    if let Some(role) = directory {
        directory_role(app, &id, role).await;
    }
    (id, token)
}

/// Each way into the owner's power for the caller `id`: a password added to the owner's
/// application or one removed from it, joining the owners, deleting the owner, and making
/// itself Global Administrator.
fn ways_into_the_owners_power(
    app: &TestApp,
    power: &OwnersPower,
    id: &str,
) -> [(reqwest::Method, String, Option<Value>); 5] {
    let OwnersPower {
        owner_sp,
        owner_app,
        owners,
        keys,
    } = power;
    [
        (
            reqwest::Method::POST,
            add_password(owner_app),
            Some(json!({})),
        ),
        (
            reqwest::Method::POST,
            format!("/v1.0/applications/{owner_app}/removePassword"),
            Some(json!({"keyId": keys[0]})),
        ),
        (
            reqwest::Method::POST,
            format!("/v1.0/groups/{owners}/members/$ref"),
            Some(member_ref(app, id)),
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1.0/servicePrincipals/{owner_sp}"),
            None,
        ),
        (
            reqwest::Method::POST,
            ROLE_ASSIGNMENTS.to_owned(),
            Some(
                json!({"principalId": id, "roleDefinitionId": GLOBAL_ADMINISTRATOR, "directoryScopeId": "/"}),
            ),
        ),
    ]
}

/// The caller tries each way; each is refused, except that a Privileged Role Administrator
/// makes itself Global Administrator (that assignment is removed again at once).
async fn step_each_way_into_the_owners_power_is_refused(
    app: &TestApp,
    power: &OwnersPower,
    (name, _, directory, _): Caller<'_>,
    id: &str,
    token: &str,
) {
    for (method, path, body) in ways_into_the_owners_power(app, power, id) {
        let is_grant = path == ROLE_ASSIGNMENTS;
        let r = as_token(app, token, method.clone(), &path, body.as_ref()).await;
        if is_grant && directory == Some(PRIVILEGED_ROLE_ADMINISTRATOR) {
            // Entra's model: this role assigns every directory role, Global Administrator too.
            assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.body);
            let made = r.body["id"].as_str().unwrap();
            assert_eq!(
                app.delete(&format!("{ROLE_ASSIGNMENTS}/{made}"))
                    .await
                    .status,
                StatusCode::NO_CONTENT
            );
            continue;
        }
        refused(&r, &format!("{name}: {method} {path}"));
    }
}

/// After the caller `id` tried: the owner's passwords are the same, the owners have no
/// member, the owner is still there, and the caller is no Global Administrator.
async fn step_the_owners_power_is_unchanged(
    app: &TestApp,
    power: &OwnersPower,
    name: &str,
    id: &str,
) {
    assert_eq!(
        key_ids(app, &power.owner_app).await,
        power.keys,
        "{name} changed the owner's passwords"
    );
    assert_eq!(
        member_ids(app, &power.owners).await,
        Vec::<String>::new(),
        "{name} joined the owners"
    );
    let (status, _) = app
        .get(&format!("/v1.0/servicePrincipals/{}", power.owner_sp))
        .await;
    assert_eq!(status, StatusCode::OK, "{name} deleted the owner");
    let (_, held) = app
        .get(&format!("{ROLE_ASSIGNMENTS}?$filter=principalId eq '{id}'"))
        .await;
    assert!(
        held["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["roleDefinitionId"] != GLOBAL_ADMINISTRATOR),
        "{name}: {held}"
    );
}
