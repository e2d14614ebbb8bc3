//! Trusted external OIDC providers: each found by OpenID Connect discovery (with the
//! `openidconnect` crate, which checks that the provider names itself as configured), its
//! JWKS cached and refetched when a token names an unknown `kid` — at most once per floor,
//! so a flood of made-up `kid`s cannot hammer the provider — and its access tokens verified
//! strictly with `jsonwebtoken`.

use crate::config::TrustedProvider;
use async_trait::async_trait;
use berth_domain::identity::{ExternalIdentity, ExternalIssuers, TokenRejected};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openidconnect::core::{CoreJsonWebKey, CoreProviderMetadata};
use openidconnect::{IssuerUrl, JsonWebKeySet, JsonWebKeySetUrl};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// How long one discovery or JWKS request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct KeyCache {
    jwks_uri: Option<JsonWebKeySetUrl>,
    keys: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched_at: Option<Instant>,
}

struct Provider {
    settings: TrustedProvider,
    algorithms: Vec<Algorithm>,
    cache: RwLock<KeyCache>,
    /// One fetch at a time per provider; requests that waited find the keys fetched.
    fetching: tokio::sync::Mutex<()>,
}

/// The trusted external providers.
pub struct OidcProviders {
    providers: HashMap<String, Provider>,
    http: openidconnect::reqwest::Client,
}

impl std::fmt::Debug for OidcProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviders")
            .field("issuers", &self.providers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn algorithm(name: &str) -> Option<Algorithm> {
    // Asymmetric algorithms only: never `none`, never HMAC (a public key is no secret).
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The algorithms a provider may be configured to allow.
pub const ALLOWED_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

fn decoding_keys(
    set: &JsonWebKeySet<CoreJsonWebKey>,
) -> HashMap<String, (DecodingKey, Option<Algorithm>)> {
    let mut keys = HashMap::new();
    for key in set.keys() {
        let Ok(value) = serde_json::to_value(key) else {
            continue;
        };
        let usable = value.get("use").is_none_or(|u| u == "sig")
            && value.get("kty").is_some_and(|k| k != "oct");
        let kid = value.get("kid").and_then(Value::as_str).map(str::to_owned);
        let (true, Some(kid)) = (usable, kid) else {
            continue;
        };
        let alg = value.get("alg").and_then(Value::as_str).map(algorithm);
        if alg == Some(None) {
            // A key published for an algorithm Berth never accepts.
            continue;
        }
        let parsed = serde_json::from_value::<Jwk>(value)
            .ok()
            .and_then(|jwk| DecodingKey::from_jwk(&jwk).ok());
        match parsed {
            Some(decoding) => {
                keys.insert(kid, (decoding, alg.flatten()));
            }
            None => tracing::debug!(oidc.kid = %kid, "skipping a JWKS key that cannot be read"),
        }
    }
    keys
}

impl OidcProviders {
    /// Trusts these providers. Nothing is fetched until a token of theirs arrives, so
    /// `berthd` starts while a provider is down.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: &[TrustedProvider]) -> Result<Self, String> {
        let http = openidconnect::reqwest::Client::builder()
            // Discovery must not follow redirects (the `openidconnect` crate's advice).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the OIDC HTTP client: {e}"))?;
        let providers = settings
            .iter()
            .map(|s| {
                let provider = Provider {
                    algorithms: s.algorithms.iter().filter_map(|a| algorithm(a)).collect(),
                    settings: s.clone(),
                    cache: RwLock::default(),
                    fetching: tokio::sync::Mutex::new(()),
                };
                (s.issuer.clone(), provider)
            })
            .collect();
        Ok(Self { providers, http })
    }

    /// Discovers the provider (the first time) and fetches its keys, unless another
    /// request did so within the floor.
    async fn refresh(&self, provider: &Provider) -> Result<(), TokenRejected> {
        let _one_at_a_time = provider.fetching.lock().await;
        let (recent, jwks_uri) = {
            let cache = provider
                .cache
                .read()
                .map_err(|_| TokenRejected("key cache lock poisoned".to_owned()))?;
            let floor = Duration::from_secs(provider.settings.jwks_refetch_floor_secs);
            (
                cache.fetched_at.is_some_and(|t| t.elapsed() < floor),
                cache.jwks_uri.clone(),
            )
        };
        if recent {
            return Ok(());
        }
        let issuer = &provider.settings.issuer;
        let fetched = match jwks_uri {
            Some(uri) => JsonWebKeySet::fetch_async(&uri, &self.http)
                .await
                .map(|set| (uri, set)),
            None => {
                let url = IssuerUrl::new(issuer.clone())
                    .map_err(|e| TokenRejected(format!("issuer '{issuer}' is not a URL: {e}")))?;
                CoreProviderMetadata::discover_async(url, &self.http)
                    .await
                    .map(|m| (m.jwks_uri().clone(), m.jwks().clone()))
            }
        };
        let mut cache = provider
            .cache
            .write()
            .map_err(|_| TokenRejected("key cache lock poisoned".to_owned()))?;
        // A failed fetch counts against the floor too: a provider that is down is not
        // asked again for every request.
        cache.fetched_at = Some(Instant::now());
        let (uri, set) = fetched.map_err(|e| {
            tracing::warn!(oidc.issuer = %issuer, error = %e, "cannot fetch the provider's keys");
            TokenRejected(format!("cannot fetch the keys of '{issuer}': {e}"))
        })?;
        cache.keys = decoding_keys(&set);
        cache.jwks_uri = Some(uri);
        tracing::info!(oidc.issuer = %issuer, oidc.keys = cache.keys.len(), "fetched the provider's keys");
        Ok(())
    }

    fn key(provider: &Provider, kid: &str) -> Option<(DecodingKey, Option<Algorithm>)> {
        provider.cache.read().ok()?.keys.get(kid).cloned()
    }
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[async_trait]
impl ExternalIssuers for OidcProviders {
    fn trusts(&self, issuer: &str) -> bool {
        self.providers.contains_key(issuer)
    }

    async fn verify(&self, token: &str, issuer: &str) -> Result<ExternalIdentity, TokenRejected> {
        let provider = self
            .providers
            .get(issuer)
            .ok_or_else(|| TokenRejected(format!("issuer '{issuer}' is not trusted")))?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| TokenRejected(format!("malformed: {e}")))?;
        if !provider.algorithms.contains(&header.alg) {
            return Err(TokenRejected(format!(
                "algorithm {:?} is not allowed for '{issuer}'",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenRejected("no kid".to_owned()))?;
        let mut key = Self::key(provider, &kid);
        if key.is_none() {
            self.refresh(provider).await?;
            key = Self::key(provider, &kid);
        }
        let (key, key_alg) =
            key.ok_or_else(|| TokenRejected(format!("unknown kid {kid} for '{issuer}'")))?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(TokenRejected(format!(
                "key {kid} is published for {key_alg:?}, the token says {:?}",
                header.alg
            )));
        }
        let settings = &provider.settings;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| TokenRejected(e.to_string()))?
            .claims;
        if let Some(tenant) = &settings.tenant
            && string_claim(&claims, "tid").as_deref() != Some(tenant.as_str())
        {
            return Err(TokenRejected(format!(
                "tenant is not '{tenant}' for '{issuer}'"
            )));
        }
        let subject = string_claim(&claims, &settings.subject_claim)
            .ok_or_else(|| TokenRejected(format!("no '{}' claim", settings.subject_claim)))?;
        let sub = string_claim(&claims, "sub");
        let client = settings
            .application_claims
            .iter()
            .find_map(|c| string_claim(&claims, c));
        // An application acting for itself: Entra marks it `idtyp: app`; a client-credentials
        // token elsewhere names the client as its subject.
        let is_app = string_claim(&claims, "idtyp").as_deref() == Some("app")
            || (client.is_some() && client == sub);
        let username = ["preferred_username", "upn", "email", "unique_name"]
            .iter()
            .find_map(|c| string_claim(&claims, c));
        Ok(ExternalIdentity {
            issuer: issuer.to_owned(),
            subject,
            application: if is_app {
                Some(client.unwrap_or_else(|| sub.clone().unwrap_or_default()))
            } else {
                None
            },
            username: if is_app { None } else { username },
            display_name: string_claim(&claims, "name"),
        })
    }
}
