//! Signing people in to the portal through an external OpenID Connect provider: the
//! authorization-code flow with PKCE (S256), the portal being the provider's confidential
//! client (`client_secret_basic`). The provider's endpoints come from its discovery
//! document, whose `issuer` must be exactly the configured one, fetched when first needed
//! (so `berthd` starts while the provider is down) and kept once read. The access token
//! redeemed is for the provider's first trusted audience (`resource`, RFC 8707); the
//! portal verifies it as the API verifies that provider's tokens.

use crate::config::PortalSignIn;
use crate::oidc::{FETCH_TIMEOUT, discovery_document, fetchable, json_answer};
use async_trait::async_trait;
use berth_domain::session::ExternalSignIn;
use secrecy::ExposeSecret;
use serde_json::Value;

/// The provider's endpoints the flow uses.
struct Endpoints {
    authorization: reqwest::Url,
    token: reqwest::Url,
}

/// The portal's client at an external provider.
pub struct OidcSignIn {
    settings: PortalSignIn,
    http: reqwest::Client,
    endpoints: tokio::sync::OnceCell<Endpoints>,
}

impl OidcSignIn {
    /// The client for `settings`; nothing is fetched yet.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: PortalSignIn) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the portal's OIDC HTTP client: {e}"))?;
        Ok(Self {
            settings,
            http,
            endpoints: tokio::sync::OnceCell::new(),
        })
    }

    /// The endpoints, discovered the first time.
    async fn endpoints(&self) -> Result<&Endpoints, String> {
        self.endpoints
            .get_or_try_init(|| async {
                let document = discovery_document(&self.http, &self.settings.issuer).await?;
                let endpoint = |name: &str| {
                    document
                        .get(name)
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("the discovery document has no {name}"))
                        .and_then(fetchable)
                };
                Ok(Endpoints {
                    authorization: endpoint("authorization_endpoint")?,
                    token: endpoint("token_endpoint")?,
                })
            })
            .await
    }
}

#[async_trait]
impl ExternalSignIn for OidcSignIn {
    fn name(&self) -> &str {
        &self.settings.name
    }

    async fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<String, String> {
        let mut url = self.endpoints().await?.authorization.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("resource", &self.settings.resource);
        Ok(url.into())
    }

    async fn redeem(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<String, String> {
        let token = &self.endpoints().await?.token;
        let request = self
            .http
            .post(token.clone())
            .basic_auth(
                &self.settings.client_id,
                Some(self.settings.client_secret.expose_secret()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier),
                ("resource", &self.settings.resource),
            ]);
        let answer = json_answer(request, &format!("POST {token}")).await?;
        answer
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("POST {token}: no access_token in the answer"))
    }
}
