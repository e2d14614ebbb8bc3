//! Trusted external OIDC providers: each found by OpenID Connect discovery (its
//! `/.well-known/openid-configuration`, whose `issuer` must be exactly the configured one),
//! its JWKS cached and refetched when a token names an unknown `kid` — at most once per
//! floor, so a flood of made-up `kid`s cannot hammer the provider — and its access tokens
//! verified strictly with `jsonwebtoken`.
//!
//! Discovery and key fetching are two JSON GETs over the workspace's `reqwest`: no redirect
//! is followed, each answer is read up to a bound, and keys come only over HTTPS (plain HTTP
//! on loopback only, as the configuration allows for a provider next to `berthd`).

use async_trait::async_trait;
use berth_domain::identity::{ExternalIdentity, ExternalIssuers, TokenRejected};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// How long one discovery or JWKS request may take.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest discovery document or key set read (real ones are a few KiB).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

#[derive(Default)]
struct KeyCache {
    jwks_uri: Option<reqwest::Url>,
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
    http: reqwest::Client,
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

/// A trusted external OIDC provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProvider {
    /// Its issuer URL, exactly as its tokens' `iss` and its discovery document say.
    pub issuer: String,
    /// Accepted `aud` values (Berth's management API as the provider names it).
    pub audiences: Vec<String>,
    /// The claim that identifies a caller at this provider: `sub` (default) or `oid`.
    pub subject_claim: String,
    /// Claims naming the client an application token was issued to, first found wins.
    pub application_claims: Vec<String>,
    /// When set, the token's `tid` must be this tenant.
    pub tenant: Option<String>,
    /// Accepted signing algorithms (asymmetric only).
    pub algorithms: Vec<String>,
    /// An unknown `kid` refetches the provider's keys at most this often.
    pub jwks_refetch_floor_secs: u64,
}

/// The algorithms a provider may be configured to allow.
pub const ALLOWED_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The signing keys of a JWKS document (`{"keys": [...]}`) by `kid`: keys for another use,
/// symmetric keys, keys without a `kid`, keys for an algorithm Berth never accepts and keys
/// that cannot be read are left out.
fn decoding_keys(set: &Value) -> HashMap<String, (DecodingKey, Option<Algorithm>)> {
    let mut keys = HashMap::new();
    let Some(list) = set.get("keys").and_then(Value::as_array) else {
        return keys;
    };
    for value in list {
        let usable = value.get("use").is_none_or(|u| u == "sig")
            && value.get("kty").is_some_and(|k| k != "oct");
        let kid = value.get("kid").and_then(Value::as_str).map(str::to_owned);
        let (true, Some(kid)) = (usable, kid) else {
            continue;
        };
        let alg = value.get("alg").map(|a| a.as_str().and_then(algorithm));
        if alg == Some(None) {
            // A key published for an algorithm Berth never accepts.
            continue;
        }
        let parsed = serde_json::from_value::<Jwk>(value.clone())
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

/// `url`, if keys may be fetched from it: HTTPS, or plain HTTP to a loopback host.
pub(crate) fn fetchable(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(format!("'{url}' is not https")),
    }
}

/// The JSON answer to `request` (`what` names it in errors): a success, read up to
/// [`MAX_DOCUMENT_BYTES`].
pub(crate) async fn json_answer(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<Value, String> {
    let mut response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = response.status();
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(format!("{what}: larger than {MAX_DOCUMENT_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("{what}: {e}"))? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("{what}: larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        // An OAuth error answer names the error; nothing else of it is repeated.
        let error = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
        return Err(match error {
            Some(error) => format!("{what}: {status} ({error})"),
            None => format!("{what}: {status}"),
        });
    }
    serde_json::from_slice(&body).map_err(|e| format!("{what}: not JSON: {e}"))
}

/// The discovery document of `issuer`, which must name `issuer` exactly (OpenID Connect
/// Discovery 1.0, section 4.3).
pub(crate) async fn discovery_document(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<Value, String> {
    let url = fetchable(&discovery_url(issuer))?;
    let request = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json");
    let document = json_answer(request, &format!("GET {url}")).await?;
    let named = document.get("issuer").and_then(Value::as_str);
    if named != Some(issuer) {
        return Err(format!(
            "the discovery document names the issuer {named:?}, not '{issuer}'"
        ));
    }
    Ok(document)
}

/// Where a provider's discovery document is: `<issuer>/.well-known/openid-configuration`.
fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

impl OidcProviders {
    /// Trusts these providers. Nothing is fetched until a token of theirs arrives, so
    /// `berthd` starts while a provider is down.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: &[TrustedProvider]) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            // A redirect could lead discovery or the keys anywhere: none is followed.
            .redirect(reqwest::redirect::Policy::none())
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

    /// GETs a JSON document, refusing redirects, errors and answers over the bound.
    async fn get_json(&self, url: reqwest::Url) -> Result<Value, String> {
        let request = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        json_answer(request, &format!("GET {url}")).await
    }

    /// The provider's `jwks_uri`, from its discovery document, which must name `issuer`
    /// exactly (OpenID Connect Discovery 1.0, section 4.3).
    async fn discover(&self, issuer: &str) -> Result<reqwest::Url, String> {
        let document = discovery_document(&self.http, issuer).await?;
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| "the discovery document has no jwks_uri".to_owned())?;
        fetchable(jwks_uri)
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
        let fetched = async {
            let uri = match jwks_uri {
                Some(uri) => uri,
                None => self.discover(issuer).await?,
            };
            let set = self.get_json(uri.clone()).await?;
            Ok::<_, String>((uri, set))
        }
        .await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn keys_are_fetched_over_https_or_from_loopback_only() {
        for ok in [
            "https://login.example.com/t/v2.0/keys",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(fetchable(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://login.example.com/jwks",
            "http://10.0.0.1/jwks",
            "ftp://127.0.0.1/jwks",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(fetchable(refused).is_err(), "{refused}");
        }
        assert_eq!(
            discovery_url("https://id.example/tenant/"),
            "https://id.example/tenant/.well-known/openid-configuration"
        );
    }

    #[test]
    fn only_signing_keys_for_accepted_algorithms_are_kept() {
        let set = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "alg": "ES256", "use": "sig",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-256", "kid": "hs", "alg": "HS256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "kid": "broken"},
            {"kty": "EC", "crv": "P-256", "alg": "ES256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]});
        let keys = decoding_keys(&set);
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["ec"]);
        assert!(decoding_keys(&serde_json::json!({"keys": "no"})).is_empty());
    }

    /// An HTTP server answering every request with what `response` makes of its base URL.
    async fn serve(response: impl FnOnce(&str) -> Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let base = format!("http://{addr}");
        let response = response(&base);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            }
        });
        base
    }

    fn json_response(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn providers() -> OidcProviders {
        OidcProviders::new(&[]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_provider_naming_another_issuer_is_not_trusted() {
        let other = serve(|_| {
            json_response(
                r#"{"issuer":"https://evil.example","jwks_uri":"https://evil.example/k"}"#,
            )
        })
        .await;
        let refused = providers().discover(&other).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("evil.example")),
            "{refused:?}"
        );
        let honest = serve(|base| {
            json_response(&format!(
                r#"{{"issuer":"{base}","jwks_uri":"{base}/keys"}}"#
            ))
        })
        .await;
        let found = providers().discover(&honest).await;
        assert_eq!(found.map(String::from), Ok(format!("{honest}/keys")));
        assert!(
            providers().discover(&format!("{honest}/")).await.is_err(),
            "the issuer must match exactly"
        );
        let plain_keys = serve(|base| {
            json_response(&format!(
                r#"{{"issuer":"{base}","jwks_uri":"http://keys.example/jwks"}}"#
            ))
        })
        .await;
        assert!(
            providers().discover(&plain_keys).await.is_err(),
            "keys over plain HTTP beyond loopback are refused"
        );
    }

    #[tokio::test]
    async fn discovery_follows_no_redirect_and_reads_a_bounded_answer() {
        let redirect = serve(|_| {
            b"HTTP/1.1 302 Found\r\nlocation: https://evil.example/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
        })
        .await;
        let refused = providers().discover(&redirect).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("302")),
            "{refused:?}"
        );
        // No content-length: the bound is enforced while reading.
        let mut huge =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
                .to_vec();
        huge.extend(std::iter::repeat_n(b' ', MAX_DOCUMENT_BYTES + 1));
        let big = serve(|_| huge).await;
        let refused = providers().discover(&big).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("larger than")),
            "{refused:?}"
        );
    }
}
