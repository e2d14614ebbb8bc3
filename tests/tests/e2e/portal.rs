//! The portal over HTTPS, as a browser uses it (cookies kept, each redirect looked at):
//! sign-in through the issuer's page, the registries a person may read, CSRF on the forms,
//! sign-out, and a session that ends with its person.

use super::*;
use berth_tests::SpawnOptions;
use berth_tests::roles::{READER, assign};
use std::collections::HashMap;

/// A browser: its own cookie jar, no automatic redirects.
struct Browser {
    client: reqwest::Client,
    base: String,
    jar: HashMap<String, String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        let pem = std::fs::read(app.ca_file.as_ref().unwrap()).unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        Self {
            client,
            base: app.base.clone(),
            jar: HashMap::new(),
        }
    }

    fn url(&self, target: &str) -> String {
        if target.starts_with("https://") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        }
    }

    fn cookies(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, answer: &reqwest::Response) {
        for set in answer.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            assert!(
                set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Lax"),
                "{set}"
            );
            let (pair, _) = set.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&mut self, target: &str) -> reqwest::Response {
        let answer = self
            .client
            .get(self.url(target))
            .header("cookie", self.cookies())
            .send()
            .await
            .unwrap();
        self.keep(&answer);
        answer
    }

    async fn post(&mut self, target: &str, form: &[(String, String)]) -> reqwest::Response {
        let answer = self
            .client
            .post(self.url(target))
            .header("cookie", self.cookies())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&answer);
        answer
    }

    /// Follows redirects from `answer` until a page; returns it and where it is.
    async fn follow(&mut self, mut answer: reqwest::Response) -> (String, reqwest::Response) {
        let mut at = answer.url().to_string();
        while answer.status() == StatusCode::SEE_OTHER {
            at = answer.headers()["location"].to_str().unwrap().to_owned();
            answer = self.get(&at).await;
        }
        (at, answer)
    }

    /// Opens `page`, signs in on the issuer's page when sent there, and returns where the
    /// browser ends and that page's HTML.
    async fn open_signed_in(&mut self, page: &str, user: (&str, &str)) -> (String, String) {
        let answer = self.get(page).await;
        let (at, sign_in) = self.follow(answer).await;
        assert!(at.contains("/oauth2/v2.0/authorize?"), "sent to {at}");
        let html = sign_in.text().await.unwrap();
        let action = capture(&html, "<form method=\"post\" action=\"", "\"");
        let mut form = hidden_fields(&html);
        form.push(("username".to_owned(), user.0.to_owned()));
        form.push(("password".to_owned(), user.1.to_owned()));
        let answer = self.post(&action, &form).await;
        let (at, page) = self.follow(answer).await;
        (at, page.text().await.unwrap())
    }
}

fn capture(html: &str, before: &str, after: &str) -> String {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("no {before} in {html}"))
        + before.len();
    let end = html[start..].find(after).unwrap() + start;
    html[start..end].replace("&#38;", "&").replace("&amp;", "&")
}

fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = capture(rest, "value=\"", "\"");
            let value = value
                .replace("&#43;", "+")
                .replace("&#47;", "/")
                .replace("&#61;", "=")
                .replace("&#34;", "\"")
                .replace("&#39;", "'")
                .replace("&#60;", "<")
                .replace("&#62;", ">");
            (name.to_owned(), value)
        })
        .collect()
}

berth_tests::both_backends_with! {
    SpawnOptions { tls: true, ..Default::default() };

    async fn a_person_sees_only_the_registries_they_may_read_and_signs_out_with_the_forms_token(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "portalone", "Basic").await;
        app.create_registry("rg", "portaltwo", "Premium").await;
        let alice = app.create_user("alice@berth.local", "alice-password").await;
        assign(&app, &app.registry_path("rg", "portalone"), READER, &alice).await;
        app.create_user("bob@berth.local", "bob-password").await;

        let mut browser = Browser::new(&app);
        let root = browser.client.get(browser.url("/")).header("accept", "text/html").send().await.unwrap();
        assert_eq!((root.status(), root.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/portal"), "a browser at / goes to the portal");
        let api = browser.client.get(browser.url("/")).send().await.unwrap();
        assert_eq!(api.status(), StatusCode::NOT_FOUND, "an API client at / gets ARM's 404");
        let (at, html) = browser.open_signed_in("/portal?filter=portal", ("alice@berth.local", "alice-password")).await;
        assert_eq!(at, "/portal?filter=portal", "back on the page it was on");
        assert!(html.contains("<title>Container registries · Berth</title>"), "{html}");
        assert!(html.contains("portalone") && !html.contains("portaltwo"), "only what alice may read: {html}");
        assert!(html.contains("alice@berth.local"));
        let overview = |name: &str| format!("/portal/registries/{}/rg/{name}", app.subscription);
        let page = browser.get(&overview("portalone")).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("<title>portalone · Overview · Berth</title>") && html.contains("az acr login --name portalone") && html.contains("docker login portalone."), "{html}");
        let hidden = browser.get(&overview("portaltwo")).await;
        assert_eq!(hidden.status(), StatusCode::NOT_FOUND, "a registry alice may not read is not shown");

        // Sign-out needs the session's CSRF token: without it, or with a forged one, nothing happens.
        for forged in [vec![], vec![("csrf".to_owned(), "forged".to_owned())]] {
            let refused = browser.post("/portal/auth/signout", &forged).await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        }
        assert_eq!(browser.get("/portal").await.status(), StatusCode::OK, "still signed in");
        let html = browser.get("/portal").await.text().await.unwrap();
        let csrf = capture(&html, "name=\"csrf\" value=\"", "\"");
        let out = browser.post("/portal/auth/signout", &[("csrf".to_owned(), csrf)]).await;
        assert_eq!(out.headers()["location"], "/portal/signed-out");
        let after = browser.get("/portal").await;
        assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session has ended");

        // Someone with no role sees no registry.
        let mut other = Browser::new(&app);
        let (_, html) = other.open_signed_in("/portal", ("bob@berth.local", "bob-password")).await;
        assert!(html.contains("There are no registries you can read."), "{html}");
        assert!(!html.contains("portalone"));
    }

    async fn a_session_ends_with_its_person_and_sign_in_never_leaves_the_site(app) {
        let carol = app.create_user("carol@berth.local", "carol-password").await;
        let mut browser = Browser::new(&app);
        let (at, _) = browser
            .open_signed_in("/portal/auth/signin?return=https://evil.example/portal", ("carol@berth.local", "carol-password"))
            .await;
        assert_eq!(at, "/portal", "an off-site return path is replaced by the portal's");
        assert_eq!(browser.get("/portal").await.status(), StatusCode::OK);

        let deleted = app.delete(&format!("/v1.0/users/{carol}")).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let answer = browser.get("/portal").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "a deleted person's session ends at the next request");

        // A callback that is not this browser's sign-in: refused, and nothing is opened.
        let mut stranger = Browser::new(&app);
        let forged = stranger.get("/portal/auth/callback?code=abc&state=xyz").await;
        assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
        assert!(!stranger.jar.contains_key("__Host-berth-session"));
        let started = stranger.get("/portal/auth/signin").await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let wrong_state = stranger.get("/portal/auth/callback?code=abc&state=not-the-one").await;
        assert_eq!(wrong_state.status(), StatusCode::BAD_REQUEST);
        assert!(!stranger.jar.contains_key("__Host-berth-session"));
    }
}

/// The content-trust page of `name` in `rg`.
fn trust_page(app: &TestApp, name: &str) -> String {
    format!(
        "/portal/registries/{}/rg/{name}/content-trust",
        app.subscription
    )
}

/// The form's hidden `csrf` and `etag`, and `status` plus `extra`.
fn trust_form(html: &str, status: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form = vec![
        (
            "csrf".to_owned(),
            capture(html, "name=\"csrf\" value=\"", "\""),
        ),
        (
            "etag".to_owned(),
            capture(html, "name=\"etag\" value=\"", "\""),
        ),
        ("status".to_owned(), status.to_owned()),
    ];
    form.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    form
}

async fn trust_status(app: &TestApp, name: &str) -> Value {
    let (_, registry) = app
        .get(&format!(
            "{}?api-version=2023-07-01",
            app.registry_path("rg", name)
        ))
        .await;
    registry["properties"]["policies"]["trustPolicy"]["status"].clone()
}

berth_tests::both_backends_with! {
    SpawnOptions { tls: true, ..Default::default() };

    async fn the_seed_pages_portal_steps_enable_and_disable_content_trust_after_the_warning(app) {
        app.create_group("rg").await;
        app.create_registry("rg", "trusted", "Premium").await;
        app.create_registry("rg", "basicone", "Basic").await;
        let dana = app.create_user("dana@berth.local", "dana-password").await;
        let erin = app.create_user("erin@berth.local", "erin-password").await;
        assign(&app, &app.rg_path("rg"), berth_tests::roles::OWNER, &dana).await;
        assign(&app, &app.rg_path("rg"), READER, &erin).await;
        let page = trust_page(&app, "trusted");

        let mut owner = Browser::new(&app);
        let (_, html) = owner.open_signed_in(&page, ("dana@berth.local", "dana-password")).await;
        assert!(html.contains("<title>Content trust · trusted · Berth</title>"), "{html}");
        // Policies › Content trust › Enabled › Save.
        let saved = owner.post(&page, &trust_form(&html, "enabled", &[])).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        assert_eq!(trust_status(&app, "trusted").await, "enabled");

        // A form from before that change is stale: nothing is overwritten.
        let stale = owner.post(&page, &trust_form(&html, "disabled", &[("confirm", "yes")])).await;
        assert_eq!(stale.status(), StatusCode::CONFLICT);
        assert!(stale.text().await.unwrap().contains("was changed since this page was loaded"));
        assert_eq!(trust_status(&app, "trusted").await, "enabled");

        // Disabled › Save shows the warning and changes nothing until OK.
        let html = owner.get(&page).await.text().await.unwrap();
        let warned = owner.post(&page, &trust_form(&html, "disabled", &[])).await;
        assert_eq!(warned.status(), StatusCode::OK);
        let warning = warned.text().await.unwrap();
        assert!(warning.contains("Every signature of every repository") && warning.contains("cannot be undone"), "{warning}");
        assert_eq!(trust_status(&app, "trusted").await, "enabled");
        // Without the session's CSRF token, OK does nothing either.
        let mut forged = trust_form(&warning, "disabled", &[("confirm", "yes")]);
        forged[0].1 = "forged".to_owned();
        assert_eq!(owner.post(&page, &forged).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(trust_status(&app, "trusted").await, "enabled");
        let ok = owner.post(&page, &trust_form(&warning, "disabled", &[("confirm", "yes")])).await;
        assert_eq!(ok.status(), StatusCode::SEE_OTHER);
        let done = berth_tests::poll(std::time::Duration::from_secs(10), std::time::Duration::from_millis(100), || async {
            (trust_status(&app, "trusted").await == "disabled").then_some(())
        })
        .await;
        assert!(done.is_some(), "the wipe finished and content trust is off");

        // Below Premium the setting says why it is unavailable.
        let html = owner.get(&trust_page(&app, "basicone")).await.text().await.unwrap();
        assert!(html.contains("Content trust is a Premium feature") && html.contains("<fieldset disabled"), "{html}");

        // A Reader sees the setting, the controls disabled with the reason, and a post
        // that still comes is refused with AuthorizationFailed's message.
        let mut reader = Browser::new(&app);
        let (_, html) = reader.open_signed_in(&page, ("erin@berth.local", "erin-password")).await;
        assert!(html.contains("<fieldset disabled") && html.contains("You can read this setting but not change it"), "{html}");
        let refused = reader.post(&page, &trust_form(&html, "enabled", &[])).await;
        let text = refused.text().await.unwrap();
        assert!(text.contains("does not have authorization to perform action"), "{text}");
        assert_eq!(trust_status(&app, "trusted").await, "disabled");
    }
}
