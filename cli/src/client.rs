//! The REST client: Berth's public API only, with the profile's token (refreshed five
//! minutes before it expires), ARM errors turned into [`CliError::Arm`], and `--debug`
//! tracing of requests and responses with tokens and secrets redacted.

use crate::profile::{self, CachedToken, Profile};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with an ARM (or Graph) error.
    #[error("({code}) {message}")]
    Arm {
        /// HTTP status.
        status: StatusCode,
        /// ARM error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// Anything else, said as `az` says it.
    #[error("{0}")]
    Message(String),
}

impl CliError {
    pub(crate) fn msg(m: impl Into<String>) -> Self {
        Self::Message(m.into())
    }
}

/// A client of one Berth deployment.
pub struct Client {
    http: reqwest::Client,
    /// The signed-in profile.
    pub profile: Profile,
    debug: bool,
}

/// Builds the HTTP client, trusting `ca_file` (or `REQUESTS_CA_BUNDLE`) besides the system's
/// roots.
///
/// # Errors
/// An unreadable or invalid CA file.
pub fn http(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, CliError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60));
    let env_ca = std::env::var_os("REQUESTS_CA_BUNDLE").map(std::path::PathBuf::from);
    if let Some(ca) = ca_file.map(std::path::Path::to_path_buf).or(env_ca) {
        let pem = std::fs::read(&ca).map_err(|e| {
            CliError::msg(format!("cannot read the CA bundle {}: {e}", ca.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            CliError::msg(format!("the CA bundle {} is not PEM: {e}", ca.display()))
        })?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| CliError::msg(format!("cannot build the HTTP client: {e}")))
}

/// The deployment's cloud-metadata document (`GET /metadata/endpoints`, no sign-in).
///
/// # Errors
/// The deployment cannot be reached, or is not a Berth deployment.
pub async fn cloud_metadata(
    http: &reqwest::Client,
    endpoint: &str,
) -> Result<serde_json::Value, CliError> {
    http.get(format!(
        "{endpoint}/metadata/endpoints?api-version=2022-09-01"
    ))
    .send()
    .await
    .map_err(|e| CliError::msg(format!("cannot reach {endpoint}: {e}")))?
    .json()
    .await
    .map_err(|e| CliError::msg(format!("{endpoint} is not a Berth deployment: {e}")))
}

/// `text` with bearer tokens, secrets and passwords replaced by `<redacted>`.
#[must_use]
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for key in [
        "access_token",
        "refresh_token",
        "client_secret",
        "password",
        "secretText",
        "value",
        "accessToken",
        "refreshToken",
    ] {
        // JSON fields and form fields alike.
        for (open, close) in [(format!("\"{key}\":\""), "\""), (format!("{key}="), "&")] {
            let mut from = 0;
            while let Some(at) = out[from..].find(&open) {
                let start = from + at + open.len();
                let end = out[start..].find(close).map_or(out.len(), |e| start + e);
                out.replace_range(start..end, "<redacted>");
                from = start + "<redacted>".len();
            }
        }
    }
    if let Some(at) = out.find("Bearer ") {
        let start = at + "Bearer ".len();
        let end = out[start..]
            .find(|c: char| c.is_whitespace() || c == '"')
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "<redacted>");
    }
    out
}

impl Client {
    /// A client for the stored profile.
    ///
    /// # Errors
    /// Not signed in, or a bad CA file.
    pub fn load(debug: bool) -> Result<Self, CliError> {
        let profile = profile::load()
            .ok_or_else(|| CliError::msg("Please run 'berth login' to setup account."))?;
        Ok(Self {
            http: http(profile.ca_file.as_deref())?,
            profile,
            debug,
        })
    }

    /// A client for a profile about to be stored.
    pub fn new(http: reqwest::Client, profile: Profile, debug: bool) -> Self {
        Self {
            http,
            profile,
            debug,
        }
    }

    /// A management access token, from the cache or the issuer.
    ///
    /// # Errors
    /// The issuer refused.
    pub async fn token(&mut self) -> Result<String, CliError> {
        let audience = self.profile.management_audience.clone();
        self.token_for(&audience).await
    }

    /// An access token for `audience` (the management API, Graph, the registry token
    /// service), from the cache or the issuer.
    ///
    /// # Errors
    /// The issuer refused.
    pub async fn token_for(&mut self, audience: &str) -> Result<String, CliError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Some(t) = self.profile.tokens.get(audience)
            && t.expires_on - 300 > now
        {
            return Ok(t.access_token.clone());
        }
        let scope = format!("{}/.default", audience.trim_end_matches('/'));
        let (grant, user_field) = if self.profile.user_type == "servicePrincipal" {
            ("client_credentials", "client_id")
        } else {
            ("password", "username")
        };
        let secret_field = if grant == "password" {
            "password"
        } else {
            "client_secret"
        };
        let mut form = vec![
            ("grant_type", grant.to_owned()),
            (user_field, self.profile.user.clone()),
            (secret_field, self.profile.secret.clone()),
            ("scope", scope),
        ];
        if grant == "password" {
            // ROPC needs a client: the Azure CLI's well-known public client id.
            form.push((
                "client_id",
                "04b07795-8ddb-461a-bbee-02f9e1bf7b46".to_owned(),
            ));
        }
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.profile.endpoint, self.profile.tenant
        );
        self.trace_request(&Method::POST, &url, None);
        let response = self
            .http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable_error(&url, &e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        self.trace_response(status, &body);
        if !status.is_success() {
            let detail = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("the sign-in was refused");
            return Err(CliError::msg(format!(
                "Authentication failed for '{}': {detail}",
                self.profile.user
            )));
        }
        let access = body["access_token"].as_str().unwrap_or_default().to_owned();
        let expires_in = body["expires_in"].as_i64().unwrap_or(3600);
        self.profile.tokens.insert(
            audience.to_owned(),
            CachedToken {
                access_token: access.clone(),
                expires_on: now + expires_in,
            },
        );
        // A cache that cannot be written only costs a sign-in next time.
        let _ = profile::save(&self.profile);
        Ok(access)
    }

    /// The subscription to act in: `given` (an id, or a name of one the account sees), or
    /// the default one.
    ///
    /// # Errors
    /// None is chosen, or no visible subscription has that name.
    pub async fn subscription(&mut self, given: Option<&str>) -> Result<String, CliError> {
        let Some(given) = given else {
            return self
                .profile
                .subscription
                .as_ref()
                .map(|s| s.id.clone())
                .ok_or_else(|| CliError::msg("No subscription found. Run 'berth login' again."));
        };
        if uuid::Uuid::parse_str(given).is_ok() {
            return Ok(given.to_owned());
        }
        let list = self.get("/subscriptions?api-version=2022-12-01").await?;
        list["value"]
            .as_array()
            .and_then(|subs| {
                subs.iter().find(|s| {
                    s["displayName"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(given))
                })
            })
            .and_then(|s| s["subscriptionId"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                CliError::msg(format!(
                    "Subscription '{given}' not found. Check the spelling and casing and try again."
                ))
            })
    }

    /// Sends a request to `path` (absolute URLs are used as they are).
    ///
    /// # Errors
    /// [`CliError::Arm`] for an error answer; a message when the server is unreachable.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Value), CliError> {
        // Graph calls (`/v1.0/...`) take a token for the directory, the rest a management one.
        let token = if path.starts_with("/v1.0/") {
            let graph = format!("{}/", self.profile.endpoint);
            self.token_for(&graph).await?
        } else {
            self.token().await?
        };
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.profile.endpoint)
        };
        self.trace_request(&method, &url, body);
        let mut request = self.http.request(method, &url).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable_error(&url, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.trace_response(status, &value);
        if status.is_client_error() || status.is_server_error() {
            let error = &value["error"];
            let code = error["code"].as_str().unwrap_or("Error").to_owned();
            let message = error["message"]
                .as_str()
                .map_or_else(|| format!("The server answered {status}."), str::to_owned);
            return Err(CliError::Arm {
                status,
                code,
                message,
            });
        }
        Ok((status, headers, value))
    }

    /// POSTs a form to `path` without a bearer token (the token server's own endpoints).
    ///
    /// # Errors
    /// The server's error, or an unreachable server.
    pub async fn post_form(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.profile.endpoint);
        self.trace_request(&Method::POST, &url, None);
        let response = self
            .http
            .post(&url)
            .form(form)
            .send()
            .await
            .map_err(|e| unreachable_error(&url, &e))?;
        self.form_answer(path, response).await
    }

    /// POSTs `form` to `https://<login_server><path>` (`http` when the endpoint is), as az
    /// does for a registry's token endpoints; `None` when the login server does not answer
    /// there (it is a registry run elsewhere, with Berth as its token server only).
    ///
    /// # Errors
    /// The token server's refusal.
    pub async fn post_form_at_login_server(
        &mut self,
        login_server: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Option<Value>, CliError> {
        let scheme = if self.profile.endpoint.starts_with("http://") {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{login_server}{path}");
        self.trace_request(&Method::POST, &url, None);
        let Ok(response) = self.http.post(&url).form(form).send().await else {
            return Ok(None);
        };
        if matches!(
            response.status(),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        ) {
            return Ok(None);
        }
        self.form_answer(path, response).await.map(Some)
    }

    /// A request of a login server's registry or repository API with an access token: the
    /// answer's headers and JSON (`null` when it has none). A refusal becomes an error with
    /// the registry's code and message.
    ///
    /// # Errors
    /// [`CliError`] when the login server cannot be reached or refuses.
    pub async fn send_to_login_server(
        &mut self,
        method: Method,
        login_server: &str,
        path: &str,
        token: &str,
    ) -> Result<(reqwest::header::HeaderMap, Value), CliError> {
        let scheme = if self.profile.endpoint.starts_with("http://") {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{login_server}{path}");
        self.trace_request(&method, &url, None);
        let response = self
            .http
            .request(method, &url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| unreachable_error(&url, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.trace_response(status, &value);
        if !status.is_success() {
            let error = &value["errors"][0];
            return Err(CliError::Arm {
                status,
                code: error["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
                message: error["message"]
                    .as_str()
                    .unwrap_or("the registry refused the request")
                    .to_owned(),
            });
        }
        Ok((headers, value))
    }

    /// A token endpoint's answer: its JSON, or its refusal as an error.
    async fn form_answer(
        &mut self,
        path: &str,
        response: reqwest::Response,
    ) -> Result<Value, CliError> {
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        self.trace_response(status, &value);
        if !status.is_success() {
            let message = value["errors"][0]["message"]
                .as_str()
                .or(value["error_description"].as_str())
                .or(value["error"]["message"].as_str())
                .unwrap_or("the token server refused");
            return Err(CliError::msg(format!(
                "{path} answered {status}: {message}"
            )));
        }
        Ok(value)
    }

    /// GET `path`.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub async fn get(&mut self, path: &str) -> Result<Value, CliError> {
        Ok(self.send(Method::GET, path, None).await?.2)
    }

    fn trace_request(&self, method: &Method, url: &str, body: Option<&Value>) {
        if self.debug {
            eprintln!("DEBUG: Request URL: '{url}'");
            eprintln!("DEBUG: Request method: '{method}'");
            eprintln!("DEBUG:     'Authorization': 'Bearer <redacted>'");
            if let Some(body) = body {
                eprintln!("DEBUG: Request body: {}", redact(&body.to_string()));
            }
        }
    }

    fn trace_response(&self, status: StatusCode, body: &Value) {
        if self.debug {
            eprintln!("DEBUG: Response status: {}", status.as_u16());
            eprintln!("DEBUG: Response content: {}", redact(&body.to_string()));
        }
    }
}

fn unreachable_error(url: &str, e: &reqwest::Error) -> CliError {
    let mut message = format!("cannot reach {url}: {e}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    CliError::msg(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_tokens_are_redacted() {
        let text = r#"{"access_token":"eyJhbGciOi","secretText":"s3cr3t","name":"x"}"#;
        assert_eq!(
            redact(text),
            r#"{"access_token":"<redacted>","secretText":"<redacted>","name":"x"}"#
        );
        assert_eq!(
            redact("grant_type=client_credentials&client_secret=abc&scope=x"),
            "grant_type=client_credentials&client_secret=<redacted>&scope=x"
        );
        assert_eq!(
            redact("Authorization: Bearer abc.def"),
            "Authorization: Bearer <redacted>"
        );
    }
}
