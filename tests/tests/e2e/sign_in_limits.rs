//! The issuer's sign-in limits (issue 19, finding 5): password and secret guessing against
//! the token endpoints locks the guessed user (or client id) out for the rest of the minute,
//! with Entra's `AADSTS50053` answer, 429 and `Retry-After`, without checking the
//! credentials; other users and clients are not locked out with it.

use super::*;
use berth_tests::roles::principal;

const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const MANAGEMENT: &str = "https://management.berth.local/.default";

async fn password_grant(
    app: &TestApp,
    path: &str,
    upn: &str,
    password: &str,
) -> berth_tests::Reply {
    app.post_form(
        path,
        &[
            ("grant_type", "password"),
            ("client_id", AZURE_CLI),
            ("username", upn),
            ("password", password),
            ("scope", MANAGEMENT),
        ],
    )
    .await
}

/// A lockout: 429, `Retry-After` within the minute, Entra's `invalid_grant` / 50053.
fn assert_locked(r: &berth_tests::Reply, what: &str) {
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{what}: {:?}",
        r.body
    );
    let retry: i64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no Retry-After in {:?}", r.headers));
    assert!((1..=60).contains(&retry), "{what}: Retry-After {retry}");
    assert_eq!(r.body["error"], "invalid_grant", "{what}: {:?}", r.body);
    assert_eq!(
        r.body["error_codes"],
        json!([50053]),
        "{what}: {:?}",
        r.body
    );
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("AADSTS50053")),
        "{what}: {:?}",
        r.body
    );
}

both_backends! {
    async fn guessing_a_users_password_locks_that_user_out_and_no_one_else(app) {
        let (victim, bystander) = ("victim@contoso.test", "bystander@contoso.test");
        app.create_user(victim, "the-right-password").await;
        app.create_user(bystander, "bystander-password").await;
        let token_path = "/organizations/oauth2/v2.0/token";
        for guess in 0..10 {
            let r = password_grant(&app, token_path, victim, &format!("guess-{guess}")).await;
            assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "guess {guess}: {:?}", r.body);
        }
        // The eleventh try is refused unchecked, even with the right password, on both
        // token endpoints and in any case of the name.
        assert_locked(&password_grant(&app, token_path, victim, "the-right-password").await, "v2.0 endpoint");
        assert_locked(&password_grant(&app, token_path, &victim.to_uppercase(), "the-right-password").await, "upper case");
        assert_locked(&password_grant(&app, "/adfs/oauth2/token", victim, "the-right-password").await, "ADFS endpoint");
        // Another user, from the same address, signs in.
        let other = password_grant(&app, token_path, bystander, "bystander-password").await;
        assert_eq!(other.status, StatusCode::OK, "{:?}", other.body);
        assert!(other.body["access_token"].is_string());
    }

    async fn guessing_a_client_secret_locks_that_client_out_and_no_other(app) {
        let (_, (victim, secret)) = principal(&app, "guessed-app").await;
        let (_, (other, other_secret)) = principal(&app, "other-app").await;
        let grant = |client: String, secret: String| {
            let app = &app;
            async move {
                app.post_form("/organizations/oauth2/v2.0/token", &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &client),
                    ("client_secret", &secret),
                    ("scope", MANAGEMENT),
                ]).await
            }
        };
        for guess in 0..10 {
            let r = grant(victim.clone(), format!("wrong-{guess}")).await;
            assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "guess {guess}: {:?}", r.body);
        }
        assert_locked(&grant(victim.clone(), secret.clone()).await, "client credentials");
        let fine = grant(other, other_secret).await;
        assert_eq!(fine.status, StatusCode::OK, "{:?}", fine.body);
    }

    async fn a_success_clears_the_users_count(app) {
        let upn = "forgetful@contoso.test";
        app.create_user(upn, "remembered-at-last").await;
        let token_path = "/organizations/oauth2/v2.0/token";
        for round in 0..2 {
            for guess in 0..9 {
                let r = password_grant(&app, token_path, upn, &format!("guess-{guess}")).await;
                assert_eq!(r.status, StatusCode::BAD_REQUEST, "round {round}, guess {guess}: {:?}", r.body);
            }
            let ok = password_grant(&app, token_path, upn, "remembered-at-last").await;
            assert_eq!(ok.status, StatusCode::OK, "round {round}: nine failures and a success lock no one out: {:?}", ok.body);
        }
    }
}
