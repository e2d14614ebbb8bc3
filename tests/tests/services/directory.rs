//! The directory on both databases: users, service principals and their passwords, groups
//! (nested), sign-in, and deletion revoking everything.

use super::*;
use berth_domain::directory::{DirectoryError, DirectoryObject, SignInError};

both_backends! {
    async fn users_sign_in_with_their_password_and_names_are_unique(app) {
        let dir = app.directory().await;
        let alice = dir.create_user("Alice@contoso.test", "Alice", "correct horse").await.unwrap();
        assert!(matches!(dir.create_user("alice@CONTOSO.test", "", "another pass").await, Err(DirectoryError::Conflict(_))));
        assert!(matches!(dir.create_user("no-at-sign", "", "long enough").await, Err(DirectoryError::Invalid { .. })));
        assert!(matches!(dir.create_user("bob@contoso.test", "", "short").await, Err(DirectoryError::Invalid { .. })));
        assert_eq!(dir.sign_in_user("alice@contoso.test", "correct horse").await.unwrap().object_id, alice.object_id);
        assert!(matches!(dir.sign_in_user("alice@contoso.test", "wrong horse").await, Err(SignInError::InvalidCredentials)));
        assert!(matches!(dir.sign_in_user("nobody@contoso.test", "correct horse").await, Err(SignInError::InvalidCredentials)));
        let found = dir.find_user("ALICE@contoso.test").await.unwrap().unwrap();
        assert_eq!(found.user_principal_name, "Alice@contoso.test");
        assert!(found.password_hash.is_some_and(|h| h.starts_with("$argon2id$") && !h.contains("correct horse")));
    }

    async fn service_principals_sign_in_with_any_valid_password(app) {
        let dir = app.directory().await;
        let (sp, first) = dir.create_service_principal("ci-pipeline", Some(1)).await.unwrap();
        let first = first.unwrap();
        let app_id = sp.app_id.to_string();
        assert_eq!(dir.find_service_principal(&app_id.to_uppercase()).await.unwrap().map(|s| s.object_id), Some(sp.object_id));
        assert_eq!(dir.sign_in_service_principal(&app_id, &first.secret).await.unwrap().object_id, sp.object_id);
        let second = dir.add_password(&app_id, Some("rotation"), 2).await.unwrap();
        assert_ne!(second.secret, first.secret);
        assert!(dir.sign_in_service_principal(&app_id, &second.secret).await.is_ok());
        dir.remove_password(&sp.object_id.to_string(), first.credential.key_id).await.unwrap();
        assert!(matches!(dir.sign_in_service_principal(&app_id, &first.secret).await, Err(SignInError::InvalidCredentials)), "a removed password no longer signs in");
        assert!(dir.sign_in_service_principal(&app_id, &second.secret).await.is_ok());
        assert!(matches!(dir.sign_in_service_principal("not-a-guid", &second.secret).await, Err(SignInError::InvalidCredentials)));
        let stored = dir.find_service_principal(&app_id).await.unwrap().unwrap();
        assert_eq!(stored.credentials.len(), 1);
        assert_eq!(stored.credentials[0].hint, second.secret.chars().take(3).collect::<String>());
    }

    async fn group_membership_is_transitive_and_cycles_are_refused(app) {
        let dir = app.directory().await;
        let user = dir.create_user("carol@contoso.test", "", "password123").await.unwrap();
        let (inner, outer) = (dir.create_group("signers", "", None).await.unwrap(), dir.create_group("release", "", None).await.unwrap());
        dir.add_member(inner.object_id, user.object_id).await.unwrap();
        dir.add_member(outer.object_id, inner.object_id).await.unwrap();
        let mut groups = dir.member_groups(user.object_id).await.unwrap();
        groups.sort();
        let mut expected = vec![inner.object_id, outer.object_id];
        expected.sort();
        assert_eq!(groups, expected);
        assert!(matches!(dir.add_member(inner.object_id, outer.object_id).await, Err(DirectoryError::Invalid { .. })), "no cycles");
        assert!(matches!(dir.add_member(inner.object_id, user.object_id).await, Err(DirectoryError::Conflict(_))));
        assert!(matches!(dir.add_member(user.object_id, inner.object_id).await, Err(DirectoryError::NotFound(_))), "a user is not a group");
        dir.remove_member(outer.object_id, inner.object_id).await.unwrap();
        assert_eq!(dir.member_groups(user.object_id).await.unwrap(), vec![inner.object_id]);
    }

    async fn get_by_ids_finds_every_kind_and_deletion_revokes(app) {
        let dir = app.directory().await;
        let user = dir.create_user("dave@contoso.test", "", "password123").await.unwrap();
        let (sp, secret) = dir.create_service_principal("deployer", Some(1)).await.unwrap();
        let group = dir.create_group("ops", "", None).await.unwrap();
        dir.add_member(group.object_id, sp.object_id).await.unwrap();
        let found = dir.get_by_ids(&[user.object_id, sp.object_id, group.object_id, uuid::Uuid::new_v4()]).await.unwrap();
        assert_eq!(found.len(), 3);
        assert!(found.iter().any(|o| matches!(o, DirectoryObject::ServicePrincipal(s) if s.service_principal_names == [sp.app_id.to_string()])));
        dir.delete(sp.object_id).await.unwrap();
        assert!(matches!(dir.sign_in_service_principal(&sp.app_id.to_string(), &secret.unwrap().secret).await, Err(SignInError::InvalidCredentials)));
        assert!(dir.member_groups(sp.object_id).await.unwrap().is_empty());
        assert!(dir.find_service_principal(&sp.app_id.to_string()).await.unwrap().is_none());
        assert!(matches!(dir.delete(sp.object_id).await, Err(DirectoryError::NotFound(_))));
    }
}
