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
        if target.starts_with("https://") || target.starts_with("http://") {
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
            // berthd's cookies (an external provider's are its own business).
            assert!(
                !set.starts_with("__Host-")
                    || set.contains("Secure")
                        && set.contains("HttpOnly")
                        && set.contains("SameSite=Lax"),
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

/// The list's Next page link.
fn next_page(html: &str) -> String {
    let end = html
        .find("\" rel=\"next\">")
        .unwrap_or_else(|| panic!("no next page in {html}"));
    let start = html[..end].rfind("href=\"").unwrap() + "href=\"".len();
    html[start..end].replace("&#38;", "&")
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

    async fn the_registry_list_comes_in_pages_of_a_hundred_and_keeps_its_filter(app) {
        app.create_group("rg").await;
        app.create_group("rg2").await;
        for i in 0..101 {
            app.create_registry("rg", &format!("paged{i:03}"), "Basic").await;
        }
        app.create_registry("rg", "otherreg", "Basic").await;
        app.create_registry("rg2", "pagedlast", "Basic").await;
        app.create_registry("rg2", "hiddenreg", "Basic").await;
        let ann = app.create_user("ann@berth.local", "ann-password").await;
        assign(&app, &app.rg_path("rg"), READER, &ann).await;
        assign(&app, &app.registry_path("rg2", "pagedlast"), READER, &ann).await;
        let mut browser = Browser::new(&app);
        // In the API's order (resource group, then name), a hundred a page.
        let (_, html) = browser.open_signed_in("/portal", ("ann@berth.local", "ann-password")).await;
        assert!(html.contains("Registries you can read, 1–100 (more on the next page)"), "{html}");
        assert!(html.contains(">otherreg</a>") && html.contains(">paged098</a>") && !html.contains(">paged099</a>"), "{html}");
        let next = next_page(&html);
        assert!(next.starts_with("/portal?after=") && next.ends_with("&from=101"), "{next}");
        let html = browser.get(&next).await.text().await.unwrap();
        assert!(html.contains("Registries you can read, 101–103") && !html.contains("rel=\"next\"") && html.contains(">First page</a>"), "{html}");
        assert!(html.contains(">paged099</a>") && html.contains(">paged100</a>") && html.contains(">pagedlast</a>"), "{html}");
        assert!(!html.contains("hiddenreg"), "only what ann may read: {html}");
        // The filter is kept from page to page.
        let html = browser.get("/portal?filter=paged").await.text().await.unwrap();
        let next = next_page(&html);
        assert!(next.starts_with("/portal?filter=paged&after="), "{next}");
        let html = browser.get(&next).await.text().await.unwrap();
        assert!(html.contains("Registries you can read, 101–102") && html.contains(">pagedlast</a>") && !html.contains(">otherreg</a>"), "{html}");
        // A made-up cursor is only a place in the order: nothing else is shown.
        let html = browser.get("/portal?after=%2Fsubscriptions%2Fzzz&from=5").await.text().await.unwrap();
        assert!(html.contains("There are no registries you can read."), "{html}");
    }

    async fn a_session_ends_with_its_person_and_sign_in_never_leaves_the_site(app) {
        let carol = app.create_user("carol@berth.local", "carol-password").await;
        let mut browser = Browser::new(&app);
        let (at, _) = browser
            .open_signed_in("/portal/auth/signin?return=https://evil.example/portal", ("carol@berth.local", "carol-password"))
            .await;
        assert_eq!(at, "/portal", "an off-site return path is replaced by the portal's");
        assert_eq!(browser.get("/portal").await.status(), StatusCode::OK);

        // A session idle past its limit goes back to sign-in, and then to the page it was on
        // (an htmx request is told to load sign-in whole instead of swapping it in).
        app.create_group("rg").await;
        app.create_registry("rg", "idlereg", "Basic").await;
        assign(&app, &app.rg_path("rg"), READER, &carol).await;
        let page = format!("/portal/registries/{}/rg/idlereg/access-keys", app.subscription);
        assert_eq!(browser.get(&page).await.status(), StatusCode::OK);
        {
            use sea_orm::ConnectionTrait;
            let idle = berth_domain::session::IDLE_TIMEOUT.whole_milliseconds() + 1_000;
            let db = app.database().await;
            db.writer().execute_unprepared(&format!("UPDATE portal_sessions SET last_seen = last_seen - {idle}")).await.unwrap();
        }
        let htmx = browser.client.get(browser.url(&page)).header("cookie", browser.cookies()).header("hx-request", "true").send().await.unwrap();
        assert_eq!(htmx.status(), StatusCode::NO_CONTENT);
        assert!(htmx.headers()["hx-redirect"].to_str().unwrap().starts_with("/portal/auth/signin?return="));
        let (at, html) = browser.open_signed_in(&page, ("carol@berth.local", "carol-password")).await;
        assert_eq!(at, page, "back on the page it was on after signing in again");
        assert!(html.contains("<title>Access keys · idlereg · Berth</title>"), "{html}");

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

        // The portal's changes and its refusal are in the activity log, by the people who
        // made them.
        let now = time::OffsetDateTime::now_utc();
        let fmt = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
        let filter = format!(
            "eventTimestamp ge '{}' and eventTimestamp le '{}' and resourceUri eq '{}'",
            fmt(now - time::Duration::hours(1)),
            fmt(now + time::Duration::hours(1)),
            app.registry_path("rg", "trusted")
        );
        let (_, log) = app.get(&format!(
            "{}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={}",
            app.sub_path(),
            urlencoding::encode(&filter)
        )).await;
        let story: Vec<(&str, &str, &str)> = log["value"].as_array().unwrap().iter().rev()
            .filter(|e| e["status"]["value"] != "Started")
            .map(|e| (e["caller"].as_str().unwrap(), e["status"]["value"].as_str().unwrap(), e["description"].as_str().unwrap()))
            .collect();
        assert!(story.contains(&("dana@berth.local", "Succeeded", "Content trust enabled: signers may push trust data.")), "{story:#?}");
        assert!(story.contains(&("dana@berth.local", "Accepted", "Content trust disabled: every trusted collection of the registry is wiped.")), "{story:#?}");
        assert!(story.iter().any(|(who, status, _)| *who == "erin@berth.local" && *status == "Failed"), "{story:#?}");
    }
}

/// The role assignments at a registry's own scope, as the API lists them: (role, principal).
async fn assignments_at(app: &TestApp, registry: &str) -> Vec<(String, String, String)> {
    let scope = app.registry_path("rg", registry);
    let (_, list) = app
        .get(&format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()"
        ))
        .await;
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["properties"]["scope"].as_str() == Some(scope.as_str()))
        .map(|a| {
            let p = &a["properties"];
            let role = p["roleDefinitionId"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            (
                role,
                p["principalId"].as_str().unwrap().to_owned(),
                a["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The admin user's passwords, as the API lists them.
async fn admin_passwords(app: &TestApp, registry: &str) -> Vec<String> {
    let path = format!(
        "{}/listCredentials?api-version=2023-07-01",
        app.registry_path("rg", registry)
    );
    let reply = app
        .send(reqwest::Method::POST, &path, Some(&json!({})), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["passwords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap().to_owned())
        .collect()
}

fn csrf_of(html: &str) -> (String, String) {
    (
        "csrf".to_owned(),
        capture(html, "name=\"csrf\" value=\"", "\""),
    )
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

berth_tests::both_backends_with! {
    SpawnOptions { tls: true, ..Default::default() };

    async fn access_control_adds_a_signer_checks_access_and_removes_it_as_the_api_does(app) {
        use berth_tests::roles::{OWNER, SIGNER};
        app.create_group("rg").await;
        app.create_registry("rg", "iamreg", "Premium").await;
        let dana = app.create_user("dana@berth.local", "dana-password").await;
        let erin = app.create_user("erin@berth.local", "erin-password").await;
        let sam = app.create_user("sam.signer@berth.local", "sam-password").await;
        assign(&app, &app.rg_path("rg"), OWNER, &dana).await;
        assign(&app, &app.rg_path("rg"), READER, &erin).await;
        let iam = format!("/portal/registries/{}/rg/iamreg/access-control", app.subscription);

        let mut owner = Browser::new(&app);
        let (_, html) = owner.open_signed_in(&iam, ("dana@berth.local", "dana-password")).await;
        assert!(html.contains("<title>Access control (IAM) · iamreg · Berth</title>"), "{html}");
        assert!(html.contains("Resource group rg (inherited)") && html.contains("dana@berth.local"), "the inherited Owner is listed: {html}");

        // Add › Add role assignment: the member search finds sam by the start of his UPN.
        let found = owner.get(&format!("{iam}/add?q=sam.sig")).await.text().await.unwrap();
        assert!(found.contains(&format!("value=\"{sam}\"")) && !found.contains(&format!("value=\"{erin}\"")), "{found}");
        // Review without a member: the error beside the field, nothing made.
        let missing = owner.get(&format!("{iam}/add?role={SIGNER}&step=review")).await;
        assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(missing.text().await.unwrap().contains("Choose a member"));
        let review = owner.get(&format!("{iam}/add?role={SIGNER}&member={sam}&step=review")).await.text().await.unwrap();
        assert!(review.contains("Review + assign") && review.contains("AcrImageSigner"), "{review}");
        let form = hidden_fields(&review);
        let added = owner.post(&format!("{iam}/add"), &form).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
        // Sent twice (a double click, a reload): still one assignment.
        assert_eq!(owner.post(&format!("{iam}/add"), &form).await.status(), StatusCode::SEE_OTHER);
        let at = assignments_at(&app, "iamreg").await;
        assert_eq!(at.iter().filter(|(role, who, _)| role == SIGNER && *who == sam).count(), 1, "{at:?}");
        assert_eq!(at.len(), 1, "{at:?}");

        // Check access spells out what sam may do with the images.
        let checked = owner.get(&format!("{iam}?check=sam.signer")).await.text().await.unwrap();
        assert!(checked.contains("AcrImageSigner at This registry"), "{checked}");
        assert!(checked.contains("content trust is not enabled"), "signing needs trust on: {checked}");
        assert!(checked.contains("<dt>Pull images</dt><dd>No</dd>"), "{checked}");
        assert!(!checked.contains("for some repositories only"), "{checked}");
        // An assignment at one repository: the answer says it is for the registry as a whole.
        let repository = format!("{}/repositories/team/app", app.registry_path("rg", "iamreg"));
        assign(&app, &repository, berth_tests::roles::ACR_PULL, &sam).await;
        let per_repository = owner.get(&format!("{iam}?check=sam.signer")).await.text().await.unwrap();
        assert!(per_repository.contains("AcrPull at Repository "), "{per_repository}");
        assert!(per_repository.contains("for some repositories only"), "{per_repository}");

        // A Reader sees the list, but Add is disabled with the reason, and a post is refused.
        let mut reader = Browser::new(&app);
        let (_, html) = reader.open_signed_in(&iam, ("erin@berth.local", "erin-password")).await;
        assert!(html.contains("disabled aria-describedby=\"why-not-add\"") && html.contains("AcrImageSigner"), "{html}");
        let mut forged = form.clone();
        forged.retain(|(k, _)| k != "csrf" && k != "name");
        forged.push(csrf_of(&html));
        forged.push(pair("name", &uuid::Uuid::new_v4().to_string()));
        forged.retain(|(k, _)| k != "role");
        forged.push(pair("role", OWNER));
        let refused = reader.post(&format!("{iam}/add"), &forged).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "a refusal is 403, as on every page");
        assert!(refused.text().await.unwrap().contains("does not have authorization to perform action"));
        assert_eq!(assignments_at(&app, "iamreg").await.len(), 1, "nothing was added");

        // Markup in a directory name is shown as text, in the list and in the member search.
        let group = app
            .send(reqwest::Method::POST, "/v1.0/groups", Some(&json!({"displayName": "<script>alert(1)</script> ops", "mailEnabled": false, "mailNickname": "ops", "securityEnabled": true})), &[])
            .await;
        let group = group.body["id"].as_str().unwrap().to_owned();
        assign(&app, &app.registry_path("rg", "iamreg"), READER, &group).await;
        for page in [iam.clone(), format!("{iam}/add?q=ops"), format!("{iam}?check=%3Cscript")] {
            let html = owner.get(&page).await.text().await.unwrap();
            assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62; ops") && !html.contains("<script>alert"), "{page}: {html}");
        }
        app.delete(&format!("/v1.0/groups/{group}")).await;

        // Remove: the confirmation first, then the removal.
        let name = at[0].2.clone();
        let scope = app.registry_path("rg", "iamreg");
        let base = vec![csrf_of(&checked), pair("scope", &scope), pair("name", &name)];
        let asked = owner.post(&format!("{iam}/remove"), &base).await;
        assert_eq!(asked.status(), StatusCode::OK);
        assert!(asked.text().await.unwrap().contains("Remove this role assignment?"));
        assert_eq!(assignments_at(&app, "iamreg").await.len(), 1, "not yet");
        let mut confirmed = base.clone();
        confirmed.push(pair("confirm", "yes"));
        let removed = owner.post(&format!("{iam}/remove"), &confirmed).await;
        assert_eq!(removed.status(), StatusCode::SEE_OTHER);
        assert!(assignments_at(&app, "iamreg").await.is_empty());
        let again = owner.post(&format!("{iam}/remove"), &confirmed).await;
        assert_eq!(again.status(), StatusCode::NOT_FOUND, "already gone");
    }

    async fn access_keys_turn_the_admin_user_on_and_show_and_regenerate_its_passwords(app) {
        use berth_tests::roles::OWNER;
        app.create_group("rg").await;
        app.create_registry("rg", "keysreg", "Standard").await;
        let dana = app.create_user("dana@berth.local", "dana-password").await;
        let erin = app.create_user("erin@berth.local", "erin-password").await;
        assign(&app, &app.rg_path("rg"), OWNER, &dana).await;
        assign(&app, &app.rg_path("rg"), READER, &erin).await;
        let keys = format!("/portal/registries/{}/rg/keysreg/access-keys", app.subscription);

        let mut owner = Browser::new(&app);
        let (_, html) = owner.open_signed_in(&keys, ("dana@berth.local", "dana-password")).await;
        assert!(html.contains("<dt>Admin user</dt><dd>Disabled</dd>"), "{html}");
        assert!(html.contains("The admin user is disabled: enable it first."), "{html}");
        let etag = capture(&html, "name=\"etag\" value=\"", "\"");
        let enabled = owner.post(&keys, &[csrf_of(&html), pair("etag", &etag), pair("action", "enable")]).await;
        assert_eq!(enabled.status(), StatusCode::SEE_OTHER);
        let (_, registry) = app.get(&format!("{}?api-version=2023-07-01", app.registry_path("rg", "keysreg"))).await;
        assert_eq!(registry["properties"]["adminUserEnabled"], true);
        // The same ETag again is stale.
        let stale = owner.post(&keys, &[csrf_of(&html), pair("etag", &etag), pair("action", "disable")]).await;
        assert_eq!(stale.status(), StatusCode::CONFLICT);

        let html = owner.get(&keys).await.text().await.unwrap();
        let before = admin_passwords(&app, "keysreg").await;
        assert!(!html.contains(&before[0]), "passwords are not on the page until asked for");
        let shown = owner.post(&keys, &[csrf_of(&html), pair("action", "show")]).await.text().await.unwrap();
        assert!(before.iter().all(|p| shown.contains(p.as_str())), "{shown}");

        let asked = owner.post(&keys, &[csrf_of(&html), pair("action", "regenerate"), pair("name", "password")]).await.text().await.unwrap();
        assert!(asked.contains("Regenerate password?"), "{asked}");
        assert_eq!(admin_passwords(&app, "keysreg").await, before, "not before OK");
        let done = owner.post(&keys, &[csrf_of(&html), pair("action", "regenerate"), pair("name", "password"), pair("confirm", "yes")]).await;
        assert_eq!(done.status(), StatusCode::OK);
        let after = admin_passwords(&app, "keysreg").await;
        assert!(after[0] != before[0] && after[1] == before[1], "{before:?} {after:?}");
        assert!(done.text().await.unwrap().contains(after[0].as_str()));

        // A Reader: the controls disabled with the reason, and a post refused.
        let mut reader = Browser::new(&app);
        let (_, html) = reader.open_signed_in(&keys, ("erin@berth.local", "erin-password")).await;
        assert!(html.contains("disabled aria-describedby=\"why-not-show\"") && html.contains("Showing the passwords needs"), "{html}");
        let refused = reader.post(&keys, &[csrf_of(&html), pair("action", "show")]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let text = refused.text().await.unwrap();
        assert!(text.contains("does not have authorization to perform action") && !text.contains(after[0].as_str()));
    }
}

/// The registries of the API's list for group `rg` (names).
async fn registries_in(app: &TestApp, rg: &str) -> Vec<String> {
    let (status, list) = app
        .get(&format!(
            "{}/providers/Microsoft.ContainerRegistry/registries?api-version=2023-07-01",
            app.rg_path(rg)
        ))
        .await;
    if status == StatusCode::NOT_FOUND {
        return Vec::new();
    }
    list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

berth_tests::both_backends_with! {
    SpawnOptions { tls: true, ..Default::default() };

    async fn a_registry_is_created_resized_and_deleted_from_the_portal_with_the_apis_rules(app) {
        use berth_tests::roles::OWNER;
        app.create_group("rg").await;
        app.create_registry("rg", "takenname", "Basic").await;
        let dana = app.create_user("dana@berth.local", "dana-password").await;
        let erin = app.create_user("erin@berth.local", "erin-password").await;
        assign(&app, &app.sub_path(), OWNER, &dana).await;
        assign(&app, &app.rg_path("rg"), READER, &erin).await;
        let sub = app.subscription.to_string();

        let mut owner = Browser::new(&app);
        let (_, html) = owner.open_signed_in("/portal/create", ("dana@berth.local", "dana-password")).await;
        assert!(html.contains("<title>Create container registry · Berth</title>"), "{html}");
        assert!(html.contains(&format!("<option value=\"{sub}/rg\">rg</option>")) && html.contains(&format!("<option value=\"{sub}/\">Create new in")), "{html}");
        let csrf = csrf_of(&html);

        // The name is checked as it is typed, with the API's rules.
        let status = |name: &str| format!("/portal/create/name?name={name}&group={sub}/rg");
        for (name, said) in [("takenname", "already in use"), ("ab", "must be 5 to 50 characters long"), ("freshname", "freshname is available.")] {
            let text = owner.get(&status(name)).await.text().await.unwrap();
            assert!(text.contains(said), "{name}: {text}");
        }

        // Bad input: each message beside its field, nothing made.
        let bad = [csrf.clone(), pair("group", &format!("{sub}/")), pair("new_group", "newrg"), pair("name", "no-dashes"), pair("location", "west us!"), pair("sku", "Gold")];
        let refused = owner.post("/portal/create", &bad).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = refused.text().await.unwrap();
        assert!(text.contains("id=\"name-error\"") && text.contains("id=\"location-error\"") && text.contains("The SKU &#39;Gold&#39; is not supported"), "{text}");
        assert!(text.contains("value=\"no-dashes\""), "the form keeps what was typed: {text}");
        // A name that is taken: refused before the new group is made.
        let taken = [csrf.clone(), pair("group", &format!("{sub}/")), pair("new_group", "newrg"), pair("name", "takenname"), pair("location", "westus"), pair("sku", "Premium")];
        let refused = owner.post("/portal/create", &taken).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().await.unwrap().contains("already in use"));
        assert_eq!(app.get(&format!("{}?api-version=2022-09-01", app.rg_path("newrg"))).await.0, StatusCode::NOT_FOUND, "no half-made group");

        // Create, in a new group; the same form sent twice makes one registry.
        let good = [csrf.clone(), pair("group", &format!("{sub}/")), pair("new_group", "newrg"), pair("name", "portalmade"), pair("location", "westus"), pair("sku", "Premium")];
        let home = format!("/portal/registries/{sub}/newrg/portalmade");
        for _ in 0..2 {
            let created = owner.post("/portal/create", &good).await;
            assert_eq!(created.status(), StatusCode::SEE_OTHER);
            assert_eq!(created.headers()["location"], home.as_str());
        }
        assert_eq!(registries_in(&app, "newrg").await, ["portalmade"]);
        let (_, made) = app.get(&format!("{}?api-version=2023-07-01", app.registry_path("newrg", "portalmade"))).await;
        assert_eq!((made["sku"]["name"].as_str(), made["location"].as_str()), (Some("Premium"), Some("westus")));
        assert_eq!(made["systemData"]["createdBy"], "dana@berth.local");

        // A Reader cannot create: the form says why, and a post is refused.
        let mut reader = Browser::new(&app);
        let (_, html) = reader.open_signed_in("/portal/create", ("erin@berth.local", "erin-password")).await;
        assert!(html.contains("You cannot create a registry") && html.contains("<fieldset disabled"), "{html}");
        let forged = [csrf_of(&html), pair("group", &format!("{sub}/rg")), pair("name", "readermade"), pair("location", "westus"), pair("sku", "Basic")];
        let refused = reader.post("/portal/create", &forged).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("does not have authorization to perform action"));
        assert_eq!(registries_in(&app, "rg").await, ["takenname"]);

        // Overview: the copy button, and the SKU change with the rule's message on a downgrade
        // while content trust is on.
        let html = owner.get(&home).await.text().await.unwrap();
        assert!(html.contains("data-copy=\"portalmade.") && html.contains("src=\"/portal/static/portal.js\""), "{html}");
        let trusted = app.patch(&format!("{}?api-version=2023-07-01", app.registry_path("newrg", "portalmade")), &json!({"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}})).await;
        assert_eq!(trusted.status, StatusCode::OK, "{:?}", trusted.body);
        let stale = owner.post(&home, &[csrf.clone(), pair("etag", &capture(&html, "name=\"etag\" value=\"", "\"")), pair("sku", "Standard")]).await;
        assert_eq!(stale.status(), StatusCode::CONFLICT);
        assert!(stale.text().await.unwrap().contains("was changed since this page was loaded"));
        let html = owner.get(&home).await.text().await.unwrap();
        let etag = capture(&html, "name=\"etag\" value=\"", "\"");
        let blocked = owner.post(&home, &[csrf.clone(), pair("etag", &etag), pair("sku", "Basic")]).await;
        assert_eq!(blocked.status(), StatusCode::BAD_REQUEST, "the API's status for SkuDowngradeNotAllowed");
        let text = blocked.text().await.unwrap();
        assert!(text.contains("cannot be changed from Premium to Basic") && text.contains("Turn it off first"), "{text}");
        let (_, still) = app.get(&format!("{}?api-version=2023-07-01", app.registry_path("newrg", "portalmade"))).await;
        assert_eq!(still["sku"]["name"], "Premium");
        // Below Premium, Content trust links to the SKU change.
        let basic = owner.get(&format!("/portal/registries/{sub}/rg/takenname/content-trust")).await.text().await.unwrap();
        assert!(basic.contains(&format!("href=\"/portal/registries/{sub}/rg/takenname#sku\">Change the SKU")), "{basic}");
        let basic_home = format!("/portal/registries/{sub}/rg/takenname");
        let html = owner.get(&basic_home).await.text().await.unwrap();
        let resized = owner.post(&basic_home, &[csrf.clone(), pair("etag", &capture(&html, "name=\"etag\" value=\"", "\"")), pair("sku", "Premium")]).await;
        assert_eq!(resized.status(), StatusCode::SEE_OTHER);

        // Delete: the typed name, the CSRF token and the permission are all needed.
        let delete = format!("{home}/delete");
        let html = owner.get(&delete).await.text().await.unwrap();
        assert!(html.contains("every signature of its content trust"), "{html}");
        let etag = pair("etag", &capture(&html, "name=\"etag\" value=\"", "\""));
        let wrong = owner.post(&delete, &[csrf.clone(), etag.clone(), pair("confirm_name", "portalmad")]).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(wrong.text().await.unwrap().contains("Type the registry&#39;s name exactly"));
        let forged = owner.post(&delete, &[pair("csrf", "forged"), etag.clone(), pair("confirm_name", "portalmade")]).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let reader_delete = format!("/portal/registries/{sub}/rg/takenname/delete");
        let html = reader.get(&reader_delete).await.text().await.unwrap();
        assert!(html.contains("You can read this registry but not delete it"), "{html}");
        let refused = reader.post(&reader_delete, &[csrf_of(&html), pair("etag", &capture(&html, "name=\"etag\" value=\"", "\"")), pair("confirm_name", "takenname")]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(registries_in(&app, "newrg").await, ["portalmade"]);
        assert_eq!(registries_in(&app, "rg").await, ["takenname"]);
        let started = owner.post(&delete, &[csrf.clone(), etag, pair("confirm_name", "portalmade")]).await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let progress = started.headers()["location"].to_str().unwrap().to_owned();
        assert!(progress.starts_with(&format!("{home}/operations/")), "{progress}");
        let done = berth_tests::poll(std::time::Duration::from_secs(15), std::time::Duration::from_millis(200), || {
            let progress = progress.clone();
            let client = owner.client.clone();
            let url = owner.url(&progress);
            let cookies = owner.cookies();
            async move {
                let text = client.get(url).header("cookie", cookies).send().await.ok()?.text().await.ok()?;
                assert!(text.contains("<title>Deleting the registry · portalmade · Berth</title>"), "{text}");
                text.contains("Done: the registry has been deleted.").then_some(())
            }
        })
        .await;
        assert!(done.is_some(), "the deletion finished");
        assert!(registries_in(&app, "newrg").await.is_empty());
        // The name is free again.
        let text = owner.get(&status("portalmade")).await.text().await.unwrap();
        assert!(text.contains("portalmade is available."), "{text}");
    }
}

berth_tests::both_backends_with! {
    SpawnOptions { tls: true, ..Default::default() };

    async fn tokens_and_scope_maps_are_made_from_the_portal_and_a_password_is_shown_once(app) {
        use berth_tests::roles::OWNER;
        app.create_group("rg").await;
        app.create_registry("rg", "tokenreg", "Premium").await;
        let dana = app.create_user("dana@berth.local", "dana-password").await;
        let erin = app.create_user("erin@berth.local", "erin-password").await;
        assign(&app, &app.rg_path("rg"), OWNER, &dana).await;
        assign(&app, &app.rg_path("rg"), READER, &erin).await;
        let home = format!("/portal/registries/{}/rg/tokenreg", app.subscription);
        let (maps, tokens) = (format!("{home}/scope-maps"), format!("{home}/tokens"));

        let mut owner = Browser::new(&app);
        let (_, html) = owner.open_signed_in(&maps, ("dana@berth.local", "dana-password")).await;
        assert!(html.contains("<title>Scope maps · tokenreg · Berth</title>") && html.contains("_repositories_pull"), "the system maps are listed: {html}");
        let csrf = csrf_of(&html);
        // A bad action: the use case's message beside the field, nothing saved.
        let bad = owner.post(&maps, &[csrf.clone(), pair("action", "save"), pair("name", "appreader"), pair("actions", "repositories/app/content/fly")]).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = bad.text().await.unwrap();
        assert!(text.contains("id=\"actions-error\"") && text.contains("repositories/app/content/fly"), "{text}");
        let save = [csrf.clone(), pair("action", "save"), pair("name", "appreader"), pair("description", "<b>reads</b> app"), pair("actions", "repositories/app/content/read\r\nrepositories/app/metadata/read\r\n")];
        for _ in 0..2 {
            assert_eq!(owner.post(&maps, &save).await.status(), StatusCode::SEE_OTHER, "the same form twice is one map");
        }
        let (_, map) = app.get(&format!("{}/scopeMaps/appreader?api-version=2023-07-01", app.registry_path("rg", "tokenreg"))).await;
        assert_eq!(map["properties"]["actions"], json!(["repositories/app/content/read", "repositories/app/metadata/read"]));
        let html = owner.get(&maps).await.text().await.unwrap();
        assert!(html.contains("&#60;b&#62;reads&#60;/b&#62; app"), "markup in a description is text: {html}");
        let other = owner.post(&maps, &[csrf.clone(), pair("action", "save"), pair("name", "appreader"), pair("actions", "repositories/other/content/read")]).await;
        assert_eq!(other.status(), StatusCode::CONFLICT, "a new map never replaces an existing one");
        let edit = owner.get(&format!("{maps}?edit=appreader")).await.text().await.unwrap();
        assert!(edit.contains("Edit appreader") && edit.contains("repositories/app/metadata/read</textarea>"), "{edit}");

        // A token with that map: its passwords are shown once, then only their dates.
        let html = owner.get(&tokens).await.text().await.unwrap();
        assert!(html.contains("<option value=\"appreader\">appreader</option>"), "{html}");
        let never = owner.post(&tokens, &[csrf.clone(), pair("action", "create"), pair("name", "ci-reader"), pair("scope_map", "appreader"), pair("expiry", "7")]).await;
        assert_eq!(never.status(), StatusCode::UNPROCESSABLE_ENTITY, "an expiry the form does not offer");
        assert!(never.text().await.unwrap().contains("id=\"expiry-error\""));
        let create = [csrf.clone(), pair("action", "create"), pair("name", "ci-reader"), pair("scope_map", "appreader"), pair("expiry", "30")];
        let made = owner.post(&tokens, &create).await;
        assert_eq!(made.status(), StatusCode::OK);
        let text = made.text().await.unwrap();
        assert!(text.contains("they are not shown again"), "{text}");
        let password = capture(&text, "<dt>password1</dt><dd><code class=\"secret\">", "<");
        // The password shown is the token's: the token server grants what its map lists.
        let (_, registry) = app.get(&format!("{}?api-version=2023-07-01", app.registry_path("rg", "tokenreg"))).await;
        let service = registry["properties"]["loginServer"].as_str().unwrap().to_owned();
        let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("ci-reader:{password}"));
        let granted = app.send_as(reqwest::Method::GET, &format!("/oauth2/token?service={service}&scope=repository:app:pull,push"), None, &[("authorization", &format!("Basic {basic}"))]).await;
        assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.body);
        assert_eq!(berth_tests::jwt_claims(granted.body["access_token"].as_str().unwrap())["access"][0]["actions"], json!(["pull"]));
        let again = owner.post(&tokens, &create).await;
        assert_eq!(again.status(), StatusCode::CONFLICT, "sent twice: one token");
        assert!(!again.text().await.unwrap().contains(&password));
        let html = owner.get(&tokens).await.text().await.unwrap();
        assert!(!html.contains(&password) && html.contains("password1: made"), "{html}");
        let (_, token) = app.get(&format!("{}/tokens/ci-reader?api-version=2023-07-01", app.registry_path("rg", "tokenreg"))).await;
        assert_eq!(token["properties"]["status"], "enabled");
        let expiry = token["properties"]["credentials"]["passwords"][0]["expiry"].as_str().unwrap_or_default().to_owned();
        let expiry = time::OffsetDateTime::parse(&expiry, &time::format_description::well_known::Rfc3339).unwrap();
        let off = expiry - (time::OffsetDateTime::now_utc() + time::Duration::days(30));
        assert!(off.abs() < time::Duration::minutes(5), "the passwords expire in 30 days: {token}");
        assert!(token["properties"]["scopeMapId"].as_str().unwrap().ends_with("/scopeMaps/appreader"));
        // A map a token uses cannot be deleted: the rule's message.
        let asked = owner.post(&maps, &[csrf.clone(), pair("action", "delete"), pair("name", "appreader"), pair("confirm", "yes")]).await;
        assert_eq!(asked.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(asked.text().await.unwrap().contains("ci-reader"));

        // Disable, regenerate password2 after the confirmation, delete after the confirmation.
        assert_eq!(owner.post(&tokens, &[csrf.clone(), pair("action", "disable"), pair("name", "ci-reader")]).await.status(), StatusCode::SEE_OTHER);
        let (_, token) = app.get(&format!("{}/tokens/ci-reader?api-version=2023-07-01", app.registry_path("rg", "tokenreg"))).await;
        assert_eq!(token["properties"]["status"], "disabled");
        let confirm = owner.post(&tokens, &[csrf.clone(), pair("action", "generate"), pair("name", "ci-reader"), pair("password", "password2")]).await.text().await.unwrap();
        assert!(confirm.contains("Generate a new password2 for ci-reader?"), "{confirm}");
        let shown = owner.post(&tokens, &[csrf.clone(), pair("action", "generate"), pair("name", "ci-reader"), pair("password", "password2"), pair("confirm", "yes")]).await.text().await.unwrap();
        assert!(shown.contains("<dt>password2</dt>") && !shown.contains("<dt>password1</dt>"), "{shown}");

        // A Reader sees the tokens, the controls disabled with the reason; a post is refused.
        let mut reader = Browser::new(&app);
        let (_, html) = reader.open_signed_in(&tokens, ("erin@berth.local", "erin-password")).await;
        assert!(html.contains("ci-reader") && html.contains("Creating or changing a token needs"), "{html}");
        let refused = reader.post(&tokens, &[csrf_of(&html), pair("action", "delete"), pair("name", "ci-reader"), pair("confirm", "yes")]).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("does not have authorization to perform action"));

        let asked = owner.post(&tokens, &[csrf.clone(), pair("action", "delete"), pair("name", "ci-reader")]).await.text().await.unwrap();
        assert!(asked.contains("Delete the token ci-reader?"), "{asked}");
        assert_eq!(owner.post(&tokens, &[csrf.clone(), pair("action", "delete"), pair("name", "ci-reader"), pair("confirm", "yes")]).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(owner.post(&maps, &[csrf.clone(), pair("action", "delete"), pair("name", "appreader"), pair("confirm", "yes")]).await.status(), StatusCode::SEE_OTHER);
        let (status, _) = app.get(&format!("{}/scopeMaps/appreader?api-version=2023-07-01", app.registry_path("rg", "tokenreg"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

/// Sign-in through a trusted external OIDC provider (`oidc-provider` from npm): the
/// issuer's sign-in page offers it, the provider's own login and consent pages are gone
/// through as a browser would, and the portal opens a session for the person the
/// provider's access token names (added to the directory on first sight, with no role).
async fn signs_in_through_the_external_provider(backend: berth_tests::Backend) {
    use berth_tests::oidc::OidcProvider;
    const AUDIENCE: &str = "https://management.berth.local/";
    let port = berth_tests::registry::free_port();
    let base = format!("https://127.0.0.1:{port}");
    let callback = format!("{base}/portal/auth/external/callback");
    let provider = OidcProvider::start_with_redirect(AUDIENCE, Some(&callback)).await;
    let trusted = Value::Array(vec![provider.trust(&[AUDIENCE])]).to_string();
    let env = [
        ("BERTH_LISTEN", format!("127.0.0.1:{port}")),
        ("BERTH_OIDC_PROVIDERS", trusted),
        ("BERTH_PORTAL_OIDC_ISSUER", provider.issuer.clone()),
        ("BERTH_PORTAL_OIDC_CLIENT_ID", provider.client_id.clone()),
        (
            "BERTH_PORTAL_OIDC_CLIENT_SECRET",
            provider.client_secret.clone(),
        ),
        ("BERTH_PORTAL_OIDC_NAME", "Example <SSO>".to_owned()),
    ];
    let options = SpawnOptions {
        tls: true,
        env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ..Default::default()
    };
    let app = berth_tests::spawn_app_with(backend, options).await;
    assert_eq!(app.base, base);
    app.create_group("rg").await;
    app.create_registry("rg", "ssoreg", "Basic").await;

    let mut browser = Browser::new(&app);
    let answer = browser.get("/portal?filter=sso").await;
    let (at, page) = browser.follow(answer).await;
    assert!(at.contains("/oauth2/v2.0/authorize?"), "{at}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(
            "href=\"/portal/auth/signin?via=external\">Sign in with Example &#60;SSO&#62;</a>"
        ),
        "the issuer's page offers the provider: {html}"
    );

    // Through the provider's pages, as a browser goes: login, consent, back to the portal.
    let mut answer = browser.get("/portal/auth/signin?via=external").await;
    let mut landed = None;
    for _ in 0..20 {
        let here = answer.url().clone();
        if answer.status().is_redirection() {
            let location = answer.headers()["location"].to_str().unwrap().to_owned();
            let next = here.join(&location).unwrap().to_string();
            answer = browser.get(&next).await;
            continue;
        }
        let html = answer.text().await.unwrap();
        if here.as_str().starts_with(&base) {
            landed = Some((
                here.path().to_owned(),
                here.query().map(str::to_owned),
                html,
            ));
            break;
        }
        let form = if html.contains("name=\"login\"") {
            vec![
                pair("prompt", "login"),
                pair("login", "pat"),
                pair("password", "any"),
            ]
        } else {
            vec![pair("prompt", "consent")]
        };
        answer = browser.post(here.as_str(), &form).await;
    }
    let (path, query, html) = landed.unwrap_or_else(|| panic!("never came back to the portal"));
    assert_eq!(
        (path.as_str(), query.as_deref()),
        ("/portal", Some("filter=sso")),
        "back on the page it was on"
    );
    assert!(
        html.contains("pat#EXT#@127.0.0.1") && html.contains("No registry you can read matches"),
        "signed in, with no role yet: {html}"
    );

    // The person is in the directory now; given a role, the portal shows what it allows.
    let (_, users) = app
        .get("/v1.0/users?$filter=userPrincipalName eq 'pat%23EXT%23@127.0.0.1'")
        .await;
    let pat = users["value"][0]["id"].as_str().unwrap().to_owned();
    assign(&app, &app.rg_path("rg"), READER, &pat).await;
    let html = browser
        .get("/portal?filter=sso")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(">ssoreg</a>"), "{html}");

    // A callback that is not this browser's, or a made-up code, opens nothing.
    let mut stranger = Browser::new(&app);
    let forged = stranger
        .get("/portal/auth/external/callback?code=abc&state=xyz")
        .await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let started = stranger.get("/portal/auth/signin?via=external").await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let state = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let made_up = stranger
        .get(&format!(
            "/portal/auth/external/callback?code=made-up&state={state}"
        ))
        .await;
    assert_eq!(made_up.status(), StatusCode::BAD_REQUEST);
    assert!(!stranger.jar.contains_key("__Host-berth-session"));
    // A flow of the built-in issuer does not end at the external callback, nor the reverse.
    let issuer_flow = stranger.get("/portal/auth/signin").await;
    assert_eq!(issuer_flow.status(), StatusCode::SEE_OTHER);
    let location = issuer_flow.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let state = capture(&format!("{location}&"), "state=", "&");
    let crossed = stranger
        .get(&format!(
            "/portal/auth/external/callback?code=x&state={state}"
        ))
        .await;
    assert_eq!(crossed.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_signs_in_through_the_external_oidc_provider_on_sqlite() {
    signs_in_through_the_external_provider(berth_tests::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_signs_in_through_the_external_oidc_provider_on_postgres() {
    signs_in_through_the_external_provider(berth_tests::Backend::Postgres).await;
}

/// Repositories: what was pushed (tags, digests, sizes), and on a registry with content
/// trust which tags are signed and by which role and key, read from the embedded trust
/// server's data; a signature naming another digest than the tag's says so. Reading needs
/// pull access, as the images do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_show_tags_digests_sizes_and_which_tags_are_signed_by_whom() {
    use super::login_server::{app_serving, notary_at, push};
    use super::trust_contract::{digest, signer_in, trusted_registry};
    let app = app_serving("embedded").await;
    let (registry, login) = trusted_registry(&app, "reporeg01").await;
    let signer = signer_in(&app, &registry, "repo-signer").await;
    let app_digest = push(&app, &login, &signer, "team/app").await;
    let other_digest = push(&app, &login, &signer, "other").await;

    // v1 of team/app signed with its digest; v1 of other signed with a made-up one.
    let url = format!("https://{login}");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    for (repository, hash) in [
        (
            "team/app",
            app_digest.trim_start_matches("sha256:").to_owned(),
        ),
        ("other", digest(9)),
    ] {
        let gun = format!("{login}/{repository}");
        let (ok, out) = notary_at(&app, &url, &signer, &["-d", dir, "init", "-p", &gun]).await;
        assert!(ok, "init: {out}");
        let (ok, out) = notary_at(
            &app,
            &url,
            &signer,
            &[
                "-d", dir, "addhash", "-p", &gun, "v1", "4", "--sha256", &hash,
            ],
        )
        .await;
        assert!(ok, "addhash: {out}");
    }

    let puller = app.create_user("pia@berth.local", "pia-password").await;
    let reader = app.create_user("rob@berth.local", "rob-password").await;
    app.create_user("sol@berth.local", "sol-password").await;
    berth_tests::roles::assign(&app, &registry, berth_tests::roles::ACR_PULL, &puller).await;
    berth_tests::roles::assign(&app, &registry, READER, &puller).await;
    berth_tests::roles::assign(&app, &registry, READER, &reader).await;
    let page = format!(
        "/portal/registries/{}/ctr/reporeg01/repositories",
        app.subscription
    );

    let mut browser = Browser::new(&app);
    let (_, html) = browser
        .open_signed_in(&page, ("pia@berth.local", "pia-password"))
        .await;
    assert!(
        html.contains("<title>Repositories · reporeg01 · Berth</title>"),
        "{html}"
    );
    assert!(
        html.contains("?name=other\">other</a>")
            && html.contains("?name=team%2Fapp\">team/app</a>"),
        "{html}"
    );
    let html = browser
        .get(&format!("{page}?name=team%2Fapp"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("<code>{}</code>", app_digest.trim()))
            && html.contains("<span class=\"tag\">v1</span>"),
        "{html}"
    );
    assert!(
        html.contains(" B</td>") || html.contains(" KiB</td>"),
        "a size: {html}"
    );
    assert!(html.contains("v1: signed by targets (key "), "{html}");
    let html = browser
        .get(&format!("{page}?name=other"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("<code>{}</code>", other_digest.trim())),
        "{html}"
    );
    assert!(
        html.contains("v1: targets signed sha256:0909")
            && html.contains("for this tag, not this manifest"),
        "{html}"
    );
    let missing = browser.get(&format!("{page}?name=nothere")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // ACR's Reader may pull, so it reads the repositories too; someone without a role
    // there gets the registry's 404, its repositories included.
    for (user, password, status) in [
        ("rob@berth.local", "rob-password", StatusCode::OK),
        ("sol@berth.local", "sol-password", StatusCode::NOT_FOUND),
    ] {
        let mut other = Browser::new(&app);
        let (_, html) = other.open_signed_in(&page, (user, password)).await;
        assert_eq!(
            html.contains("team/app"),
            status == StatusCode::OK,
            "{user}: {html}"
        );
        let answer = other.get(&format!("{page}?name=team%2Fapp")).await;
        assert_eq!(answer.status(), status, "{user}");
    }
}

/// With an external Distribution behind the login servers, the repositories come from its
/// catalog (only this registry's), and a repository's tags, digests and sizes from its API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_of_an_external_distribution_come_from_its_catalog() {
    use super::login_server::{push, registry_in_rg};
    let (app, _backend) = super::external_data_plane::with_external_distribution().await;
    let (path, server) = registry_in_rg(&app, "extrepos1", "Basic").await;
    let (other_path, other_server) = {
        app.create_registry("rg", "extrepos2", "Basic").await;
        let path = app.registry_path("rg", "extrepos2");
        let server = super::token_server::login_server(&app, &path).await;
        (path, server)
    };
    let (_, _, pusher) =
        berth_tests::fixtures::signed_in(&app, &path, berth_tests::roles::ACR_PUSH, "ext-pusher")
            .await;
    let (_, _, other_pusher) = berth_tests::fixtures::signed_in(
        &app,
        &other_path,
        berth_tests::roles::ACR_PUSH,
        "ext-pusher2",
    )
    .await;
    push(&app, &server, &pusher, "team/app").await;
    let zeta = push(&app, &server, &pusher, "zeta").await;
    push(&app, &other_server, &other_pusher, "elsewhere").await;
    let pia = app.create_user("pia@berth.local", "pia-password").await;
    assign(&app, &path, READER, &pia).await;

    let page = format!(
        "/portal/registries/{}/rg/extrepos1/repositories",
        app.subscription
    );
    let mut browser = Browser::new(&app);
    let (_, html) = browser
        .open_signed_in(&page, ("pia@berth.local", "pia-password"))
        .await;
    assert!(
        html.contains(">team/app</a>") && html.contains(">zeta</a>") && !html.contains("elsewhere"),
        "{html}"
    );
    // A repository's tags, digests and sizes, from its API (it keeps no times).
    let answer = browser.get(&format!("{page}?name=zeta")).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let html = answer.text().await.unwrap();
    assert!(
        html.contains(&format!("<code>{}</code>", zeta.trim()))
            && html.contains("<span class=\"tag\">v1</span>"),
        "{html}"
    );
    assert!(
        html.contains(" B</td>") && html.contains("not told by this data plane"),
        "{html}"
    );
    let missing = browser.get(&format!("{page}?name=nothere")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
