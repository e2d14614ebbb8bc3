//! The issuer's authorize endpoint: the authorization-code flow with PKCE, its sign-in
//! page, and what it refuses (an off-site redirect, a missing or `plain` challenge, a
//! replayed or misbound code, a wrong verifier, markup in what it echoes).

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_tests::jwt_part;

const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const POWERSHELL: &str = "1950a258-227b-4e31-a9cf-717495945fc2";
const REDIRECT: &str = "http://localhost:8400/";
const VERIFIER: &str = "a-pkce-verifier-of-more-than-forty-three-characters-0123";
const SCOPE: &str = "https://management.berth.local/.default openid offline_access";

fn challenge(verifier: &str) -> String {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(hash.as_ref())
}

/// A browser that does not follow redirects: each hop is looked at.
fn browser(app: &TestApp) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = &app.ca_file {
        let pem = std::fs::read(ca).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// A good authorize request of the Azure CLI, with `changes` applied.
fn params(changes: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut params: Vec<(&'static str, String)> = vec![
        ("client_id", AZURE_CLI.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("response_type", "code".to_owned()),
        ("scope", SCOPE.to_owned()),
        ("state", "state-1".to_owned()),
        ("nonce", "nonce-1".to_owned()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
    ];
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, (*value).to_owned()));
        }
    }
    params
}

fn authorize_url(app: &TestApp, params: &[(&'static str, String)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{}/organizations/oauth2/v2.0/authorize?{query}", app.base)
}

/// The sign-in form posted with `params` and the credentials.
async fn post_sign_in(
    app: &TestApp,
    params: &[(&'static str, String)],
    (username, password): (&str, &str),
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
    form.extend([("username", username), ("password", password)]);
    browser(app)
        .post(format!("{}/organizations/oauth2/v2.0/authorize", app.base))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The query of a redirect's `Location`, after checking where it points.
fn redirected_to(answer: &reqwest::Response, target: &str) -> Vec<(String, String)> {
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer.headers()["location"].to_str().unwrap();
    let query = location
        .strip_prefix(&format!("{target}?"))
        .unwrap_or_else(|| panic!("sent to {location}, not {target}"));
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Signs `user` in on the page; returns the code.
async fn code_for(app: &TestApp, params: &[(&'static str, String)], user: (&str, &str)) -> String {
    let answer = post_sign_in(app, params, user).await;
    let query = redirected_to(&answer, REDIRECT);
    assert_eq!(param(&query, "state"), Some("state-1"));
    param(&query, "code").unwrap().to_owned()
}

async fn redeem(app: &TestApp, code: &str, changes: &[(&str, &str)]) -> berth_tests::Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", AZURE_CLI),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("scope", SCOPE),
    ];
    for (name, value) in changes {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    app.post_form("/organizations/oauth2/v2.0/token", &form)
        .await
}

berth_tests::both_backends! {
    async fn a_person_signs_in_on_the_authorize_page_and_the_client_redeems_the_code_once(app) {
        app.create_user("heidi@berth.local", "heidi-password").await;
        let params = params(&[("login_hint", "heidi@berth.local")]);
        let page = browser(&app).get(authorize_url(&app, &params)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.starts_with("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(page.headers()["x-frame-options"], "DENY");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(html.contains("<form method=\"post\"") && html.contains("value=\"heidi@berth.local\""), "{html}");
        assert!(!html.contains("<script"), "no script on the page");

        let wrong = post_sign_in(&app, &params, ("heidi@berth.local", "guess")).await;
        assert_eq!(wrong.status(), StatusCode::OK);
        assert!(wrong.headers().get("location").is_none());
        assert!(wrong.text().await.unwrap().contains("Your account or password is incorrect"));

        let code = code_for(&app, &params, ("HEIDI@berth.local", "heidi-password")).await;
        let tokens = redeem(&app, &code, &[]).await;
        assert_eq!(tokens.status, StatusCode::OK, "{:?}", tokens.body);
        let id = jwt_part(tokens.body["id_token"].as_str().unwrap(), 1);
        assert_eq!((id["nonce"].as_str(), id["aud"].as_str()), (Some("nonce-1"), Some(AZURE_CLI)));
        assert_eq!(id["preferred_username"], "heidi@berth.local");
        let access = tokens.body["access_token"].as_str().unwrap();
        let tenants = app.client.get(format!("{}/tenants?api-version=2022-12-01", app.base)).bearer_auth(access).send().await.unwrap();
        assert_eq!(tenants.status(), StatusCode::OK, "the code's access token works at ARM");

        let again = redeem(&app, &code, &[]).await;
        assert_eq!((again.status, again.body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "a code is redeemed once");
        // Both sign-ins on the page are events, the refused one as such; the password never is.
        let signed_in = berth_tests::poll(std::time::Duration::from_secs(10), std::time::Duration::from_millis(100), || async {
            let events: Vec<serde_json::Value> = app.audit_events().into_iter().filter(|e| e["Grant"] == "interactive").collect();
            (events.len() >= 2).then_some(events)
        })
        .await
        .unwrap_or_else(|| panic!("the page's sign-ins are not in the audit file: {:#?}", app.audit_events()));
        let summary: Vec<(&str, &str, &str, &str)> = signed_in.iter().map(|e| (e["Category"].as_str().unwrap_or_default(), e["OperationName"].as_str().unwrap_or_default(), e["Identity"].as_str().unwrap_or_default(), e["ResultType"].as_str().unwrap_or_default())).collect();
        assert_eq!(summary, [("SignInLogs", "SignIn", "heidi@berth.local", "401"), ("SignInLogs", "SignIn", "HEIDI@berth.local", "200")]);
        assert_eq!(signed_in[0]["CallerIpAddress"], "127.0.0.1");
        let text = serde_json::to_string(&signed_in).unwrap();
        assert!(!text.contains("heidi-password") && !text.contains("guess"), "{text}");
    }
}

#[tokio::test]
async fn the_authorize_endpoint_never_sends_a_browser_off_site_and_requires_pkce() {
    let app = berth_tests::spawn_app(berth_tests::Backend::Sqlite).await;
    let browser = browser(&app);
    let get = |params: Vec<(&'static str, String)>| {
        let url = authorize_url(&app, &params);
        let browser = browser.clone();
        async move { browser.get(url).send().await.unwrap() }
    };
    // Shown, never followed: an unknown client, or a redirect URI the client may not use.
    let markup = "https://evil.example/<script>alert(1)</script>";
    for bad in [
        params(&[("redirect_uri", markup)]),
        params(&[("redirect_uri", "https://evil.example/cb")]),
        params(&[(
            "redirect_uri",
            "http://localhost:8400/?next=https://evil.example",
        )]),
        params(&[("client_id", "00000000-0000-0000-0000-00000000beef")]),
        params(&[("client_id", "")]),
    ] {
        let answer = get(bad.clone()).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(answer.headers().get("location").is_none(), "{bad:?}");
        let html = answer.text().await.unwrap();
        assert!(
            !html.contains("<script>alert(1)"),
            "markup is escaped: {html}"
        );
        assert!(html.contains("AADSTS"), "{html}");
    }
    // Sent back to the client, with its state.
    for (bad, error) in [
        (params(&[("code_challenge", "")]), "invalid_request"),
        (
            params(&[
                ("code_challenge_method", "plain"),
                ("code_challenge", VERIFIER),
            ]),
            "invalid_request",
        ),
        (
            params(&[("response_type", "token")]),
            "unsupported_response_type",
        ),
        (
            params(&[("scope", "https://elsewhere.example/.default")]),
            "invalid_scope",
        ),
    ] {
        let query = redirected_to(&get(bad).await, REDIRECT);
        assert_eq!(
            (param(&query, "error"), param(&query, "state")),
            (Some(error), Some("state-1"))
        );
    }
    // What the page echoes is escaped.
    let hint = "\"><script>alert(2)</script>";
    let html = get(params(&[("login_hint", hint)]))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("<script>alert(2)") && html.contains("&#34;&#62;&#60;script&#62;")
            || html.contains("&quot;&gt;&lt;script&gt;"),
        "{html}"
    );
    let unknown = browser
        .get(format!("{}/not-a-tenant/oauth2/v2.0/authorize", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let discovery = app
        .get("/organizations/v2.0/.well-known/openid-configuration")
        .await
        .1;
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert!(
        discovery["authorization_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/v2.0/authorize")
    );
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_redirect_and_verifier_and_spent_by_a_wrong_one() {
    let app = berth_tests::spawn_app(berth_tests::Backend::Sqlite).await;
    let id = app.create_user("ivan@berth.local", "ivan-password").await;
    let ivan = ("ivan@berth.local", "ivan-password");
    let params = params(&[]);

    let code = code_for(&app, &params, ivan).await;
    let wrong = redeem(&app, &code, &[("code_verifier", &"x".repeat(50))]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong.body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS501481"),
        "{:?}",
        wrong.body
    );
    let spent = redeem(&app, &code, &[]).await;
    assert_eq!(
        spent.body["error"], "invalid_grant",
        "a wrong verifier spends the code"
    );

    let code = code_for(&app, &params, ivan).await;
    let elsewhere = redeem(&app, &code, &[("redirect_uri", "http://localhost:9999/")]).await;
    assert_eq!(elsewhere.body["error"], "invalid_grant");
    let code = code_for(&app, &params, ivan).await;
    let other_client = redeem(&app, &code, &[("client_id", POWERSHELL)]).await;
    assert_eq!(other_client.body["error"], "invalid_grant");
    let missing = redeem(&app, "no-such-code", &[]).await;
    assert_eq!(missing.body["error"], "invalid_grant");

    // Deleted between sign-in and redemption: nothing.
    let code = code_for(&app, &params, ivan).await;
    let deleted = app.delete(&format!("/v1.0/users/{id}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    let refused = redeem(&app, &code, &[]).await;
    assert_eq!(refused.body["error"], "invalid_grant");
}

#[tokio::test]
async fn failed_sign_ins_on_the_page_count_toward_the_lockout() {
    let app = berth_tests::spawn_app(berth_tests::Backend::Sqlite).await;
    app.create_user("judy@berth.local", "judy-password").await;
    let params = params(&[]);
    for _ in 0..10 {
        let wrong = post_sign_in(&app, &params, ("judy@berth.local", "guess")).await;
        assert_eq!(wrong.status(), StatusCode::OK);
    }
    let locked = post_sign_in(&app, &params, ("judy@berth.local", "judy-password")).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().get("location").is_none());
    assert!(locked.text().await.unwrap().contains("locked"));
}
