//! A real external OpenID Connect provider for the tests: `oidc-provider` from npm, run by
//! Node.js from `tests/oidc/` (installed by `./scripts/test` with `npm ci`).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running provider; stopped when dropped.
#[derive(Debug)]
pub struct OidcProvider {
    /// Its issuer URL.
    pub issuer: String,
    /// The confidential client's id.
    pub client_id: String,
    /// The confidential client's secret.
    pub client_secret: String,
    /// The audience (resource) its access tokens are for.
    pub audience: String,
    _child: Child,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

fn check_installed() {
    assert!(
        dir().join("node_modules/oidc-provider").exists(),
        "the test OIDC provider is not installed: run `npm ci --prefix tests/oidc` \
         (./scripts/test does), with Node.js 20 or later on the PATH"
    );
}

impl OidcProvider {
    /// Starts a provider whose access tokens are for `audience`.
    ///
    /// # Panics
    /// When Node.js or the package is missing, or the provider does not start.
    pub async fn start(audience: &str) -> Self {
        Self::start_with_redirect(audience, None).await
    }

    /// Starts a provider whose access tokens are for `audience`, and whose confidential
    /// client may also be sent back to `redirect_uri` (a relying party under test).
    ///
    /// # Panics
    /// When Node.js or the package is missing, or the provider does not start.
    pub async fn start_with_redirect(audience: &str, redirect_uri: Option<&str>) -> Self {
        check_installed();
        let mut child = Command::new("node")
            .arg(dir().join("provider.mjs"))
            .env("OIDC_AUDIENCE", audience)
            .env("OIDC_REDIRECT_URI", redirect_uri.unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` (Node.js 20 or later is needed): {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("no stdout from the provider"));
        let mut line = String::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await;
        assert!(
            matches!(read, Ok(Ok(n)) if n > 0),
            "the OIDC provider did not start: {read:?}"
        );
        let started: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("bad provider start line {line:?}: {e}"));
        let text = |k: &str| started[k].as_str().unwrap_or_default().to_owned();
        Self {
            issuer: text("issuer"),
            client_id: text("client_id"),
            client_secret: text("client_secret"),
            audience: audience.to_owned(),
            _child: child,
        }
    }

    /// An access token for the client itself (client credentials grant).
    ///
    /// # Panics
    /// Unless the provider issues one.
    pub async fn client_token(&self) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", self.audience.as_str()),
                ("scope", "user_impersonation"),
            ])
            .send()
            .await
            .unwrap_or_else(|e| panic!("token request failed: {e}"));
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("token answer is not JSON: {e}"));
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {body}"))
            .to_owned()
    }

    /// An access token for a user, signed in through the provider's login and consent
    /// pages (authorization code with PKCE).
    ///
    /// # Panics
    /// Unless the sign-in gives a token.
    pub async fn user_token(&self, user: &str) -> String {
        let output = Command::new("node")
            .arg(dir().join("login.mjs"))
            .args([
                &self.issuer,
                &self.client_id,
                &self.client_secret,
                &self.audience,
                user,
            ])
            .output()
            .await
            .unwrap_or_else(|e| panic!("cannot run `node`: {e}"));
        assert!(
            output.status.success(),
            "sign-in failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// How often discovery and the JWKS were fetched: `(discovery, jwks)`.
    ///
    /// # Panics
    /// Unless the provider answers.
    pub async fn fetches(&self) -> (u64, u64) {
        let stats: Value = reqwest::get(format!("{}/test/stats", self.issuer))
            .await
            .unwrap_or_else(|e| panic!("stats request failed: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("stats are not JSON: {e}"));
        (
            stats["discovery"].as_u64().unwrap_or_default(),
            stats["jwks"].as_u64().unwrap_or_default(),
        )
    }

    /// `BERTH_OIDC_PROVIDERS` trusting this provider for Berth's management audience.
    #[must_use]
    pub fn trust(&self, audiences: &[&str]) -> Value {
        serde_json::json!({ "issuer": self.issuer, "audiences": audiences })
    }
}
