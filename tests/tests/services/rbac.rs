//! Role definitions and role assignments on both databases, through the RBAC use cases:
//! ARM's rules, inheritance, and a second replica seeing changes through the counter.

use super::*;
use berth_domain::authorization::{
    AccessKind, AssignmentFilter, NewAssignment, Permission, RbacError, RbacService,
    RoleDefinition, RoleKind, Scope,
};
use berth_domain::clock::SystemClock;
use berth_domain::directory::DirectoryService;
use berth_infra::persistence::SeaOrmRbacRepository;
use berth_tests::roles::SIGNER;
use std::sync::Arc;

async fn services(app: &TestApp) -> (DirectoryService, RbacService) {
    let directory = app.directory().await;
    let repo = Arc::new(SeaOrmRbacRepository::new(app.database().await));
    let rbac = RbacService::new(
        repo,
        directory.clone(),
        Arc::new(SystemClock),
        "tenant".into(),
    );
    rbac.refresh().await.unwrap();
    (directory, rbac)
}

fn registry_scope(app: &TestApp) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg1",
        app.subscription
    )
}

fn new_assignment(scope: &str, role: &str, principal: uuid::Uuid) -> NewAssignment {
    NewAssignment {
        scope: scope.to_owned(),
        name: uuid::Uuid::new_v4().to_string(),
        role_definition_id: role.to_owned(),
        principal_id: principal.to_string(),
        principal_type: None,
        description: None,
        condition: None,
        condition_version: None,
        created_by: None,
    }
}

both_backends! {
    async fn assignments_follow_arms_rules(app) {
        let (directory, rbac) = services(&app).await;
        let (sp, _) = directory.create_service_principal("signer", None).await.unwrap();
        let scope = registry_scope(&app);
        let role_ref = format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{SIGNER}", app.subscription);
        let first = new_assignment(&scope, &role_ref, sp.object_id);
        let (created, fresh) = rbac.create_assignment(first.clone()).await.unwrap();
        assert!(fresh);
        assert_eq!(created.role_definition_ref, role_ref, "echoed exactly as sent");
        assert_eq!(created.principal_type.as_str(), "ServicePrincipal");
        assert!(!rbac.create_assignment(first.clone()).await.unwrap().1, "the same PUT again is idempotent");
        let twin = new_assignment(&scope.to_uppercase().replace("SUBSCRIPTIONS", "subscriptions"), SIGNER, sp.object_id);
        match rbac.create_assignment(twin).await {
            Err(RbacError::AssignmentExists(name)) => assert_eq!(name, created.name),
            other => panic!("expected RoleAssignmentExists, got {other:?}"),
        }
        let other_scope = NewAssignment { scope: format!("/subscriptions/{}", app.subscription), ..first.clone() };
        assert!(matches!(rbac.create_assignment(other_scope).await, Err(RbacError::AssignmentUpdateNotPermitted)));
        let nobody = new_assignment(&scope, SIGNER, uuid::Uuid::new_v4());
        assert!(matches!(rbac.create_assignment(nobody).await, Err(RbacError::PrincipalNotFound { .. })));
        let no_role = new_assignment(&scope, &uuid::Uuid::new_v4().to_string(), sp.object_id);
        assert!(matches!(rbac.create_assignment(no_role).await, Err(RbacError::RoleDefinitionNotFound(_))));
        let bad_scope = new_assignment("/subscriptions/nope", SIGNER, sp.object_id);
        assert!(matches!(rbac.create_assignment(bad_scope).await, Err(RbacError::InvalidScope(_))));
        let wrong_type = NewAssignment { principal_type: Some("User".into()), ..new_assignment(&scope, "7f951dda-4ed3-4680-a7ca-43fe172d538d", sp.object_id) };
        assert!(matches!(rbac.create_assignment(wrong_type).await, Err(RbacError::PrincipalTypeMismatch { .. })));

        let sign = "Microsoft.ContainerRegistry/registries/trustedCollections/write";
        let repo_scope = Scope::parse(&format!("{scope}/repositories/app")).unwrap();
        assert!(rbac.is_allowed(&[sp.object_id], sign, AccessKind::Data, &repo_scope), "inherited by the repository");
        assert!(rbac.delete_assignment(&scope, &created.name.to_string()).await.unwrap().is_some());
        assert!(!rbac.is_allowed(&[sp.object_id], sign, AccessKind::Data, &repo_scope), "gone at once");
        assert!(rbac.delete_assignment(&scope, &created.name.to_string()).await.unwrap().is_none());
    }

    async fn lists_take_arms_filters(app) {
        let (directory, rbac) = services(&app).await;
        let user = directory.create_user("erin@contoso.test", "", "password123").await.unwrap();
        let group = directory.create_group("pushers", "", None).await.unwrap();
        directory.add_member(group.object_id, user.object_id).await.unwrap();
        let sub = format!("/subscriptions/{}", app.subscription);
        let scope = registry_scope(&app);
        let reader = rbac.create_assignment(new_assignment(&sub, "acdd72a7-3385-48ef-bd42-f606fba81ae7", user.object_id)).await.unwrap().0;
        let pusher = rbac.create_assignment(new_assignment(&scope, "8311e382-0749-4cb8-b61a-304f252e45ec", group.object_id)).await.unwrap().0;
        // The bootstrap owner's assignment at the root is left out.
        let names = |list: Vec<berth_domain::authorization::RoleAssignment>| {
            list.into_iter().filter(|a| a.scope.key() != "/").map(|a| a.name).collect::<Vec<_>>()
        };
        let at_registry = rbac.list_assignments(&scope, &AssignmentFilter { at_scope: true, ..Default::default() }).await.unwrap();
        assert_eq!(names(at_registry).len(), 2, "atScope(): at and above");
        let at_sub = rbac.list_assignments(&sub, &AssignmentFilter { at_scope: true, ..Default::default() }).await.unwrap();
        assert_eq!(names(at_sub), [reader.name]);
        assert_eq!(names(rbac.list_assignments(&sub, &AssignmentFilter::default()).await.unwrap()).len(), 2, "no filter: below too");
        let for_user = rbac.list_assignments(&sub, &AssignmentFilter { principal_id: Some(user.object_id), ..Default::default() }).await.unwrap();
        assert_eq!(names(for_user), [reader.name]);
        let assigned = rbac.list_assignments(&scope, &AssignmentFilter { assigned_to: Some(user.object_id), at_scope: true, ..Default::default() }).await.unwrap();
        assert_eq!(assigned.len(), 2, "assignedTo() counts the user's groups");
        let push = "Microsoft.ContainerRegistry/registries/push/write";
        let groups = directory.member_groups(user.object_id).await.unwrap();
        let caller: Vec<_> = std::iter::once(user.object_id).chain(groups).collect();
        assert!(rbac.is_allowed(&caller, push, AccessKind::Control, &Scope::parse(&scope).unwrap()));
        assert!(!rbac.is_allowed(&[user.object_id], push, AccessKind::Control, &Scope::parse(&scope).unwrap()));
        assert_eq!(pusher.principal_type.as_str(), "Group");
    }

    async fn custom_roles_are_scoped_and_cannot_be_deleted_while_assigned(app) {
        let (directory, rbac) = services(&app).await;
        let (sp, _) = directory.create_service_principal("operator", None).await.unwrap();
        let rg = format!("/subscriptions/{}/resourceGroups/rg", app.subscription);
        // The role's author: Owner of the subscription, so allowed at every scope below.
        let (author, _) = directory.create_service_principal("role author", None).await.unwrap();
        rbac.create_assignment(new_assignment(&format!("/subscriptions/{}", app.subscription), "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", author.object_id)).await.unwrap();
        let author = [author.object_id];
        let role = RoleDefinition {
            id: uuid::Uuid::new_v4(),
            name: "Registry Operator".into(),
            description: "manage registries".into(),
            kind: RoleKind::Custom,
            permissions: vec![Permission { actions: vec!["Microsoft.ContainerRegistry/registries/*".into()], ..Permission::default() }],
            assignable_scopes: vec![Scope::parse(&rg).unwrap()],
        };
        assert!(rbac.put_role_definition(&author, role.clone()).await.unwrap().1);
        let clash = RoleDefinition { id: uuid::Uuid::new_v4(), ..role.clone() };
        assert!(matches!(rbac.put_role_definition(&author, clash).await, Err(RbacError::RoleNameTaken(_))));
        let owner = RoleDefinition { id: uuid::Uuid::new_v4(), name: "owner".into(), ..role.clone() };
        assert!(matches!(rbac.put_role_definition(&author, owner).await, Err(RbacError::BuiltInRole(_))));
        assert_eq!(rbac.role_definitions(&registry_scope(&app), Some("registry operator")).unwrap().len(), 1);
        let outside = new_assignment(&format!("/subscriptions/{}", app.subscription), &role.id.to_string(), sp.object_id);
        assert!(matches!(rbac.create_assignment(outside).await, Err(RbacError::NotAssignableAtScope { .. })));
        let inside = rbac.create_assignment(new_assignment(&registry_scope(&app), &role.id.to_string(), sp.object_id)).await.unwrap().0;
        assert!(matches!(rbac.delete_role_definition(&author, &rg, &role.id.to_string()).await, Err(RbacError::RoleAssigned(_))));
        rbac.delete_assignment(&registry_scope(&app), &inside.name.to_string()).await.unwrap();
        rbac.delete_role_definition(&author, &rg, &role.id.to_string()).await.unwrap();
        assert!(matches!(rbac.role_definition(&role.id.to_string()), Err(RbacError::RoleDefinitionNotFound(_))));
        assert!(matches!(rbac.delete_role_definition(&author, &rg, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635").await, Err(RbacError::BuiltInRole(_))));
    }

    async fn another_replica_sees_a_change_after_refreshing(app) {
        let (directory, first) = services(&app).await;
        let (_, second) = services(&app).await;
        let (sp, _) = directory.create_service_principal("replicated", None).await.unwrap();
        let sub = format!("/subscriptions/{}", app.subscription);
        first.create_assignment(new_assignment(&sub, "7f951dda-4ed3-4680-a7ca-43fe172d538d", sp.object_id)).await.unwrap();
        let pull = "Microsoft.ContainerRegistry/registries/pull/read";
        let scope = Scope::parse(&registry_scope(&app)).unwrap();
        assert!(!second.is_allowed(&[sp.object_id], pull, AccessKind::Control, &scope), "not yet refreshed");
        assert!(second.refresh().await.unwrap(), "the counter moved");
        assert!(second.is_allowed(&[sp.object_id], pull, AccessKind::Control, &scope));
        assert!(!second.refresh().await.unwrap(), "nothing new");
    }
}
