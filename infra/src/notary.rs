//! The trust store on a Notary v1 server, over its HTTP API: Berth mints its own short
//! tokens (the same keys and issuer the server trusts for its users), deletes a collection
//! with `DELETE /v2/<gun>/_trust/tuf/` (a `*` token), reads the changefeed with a catalog
//! token, and checks a collection by its `root.json`. Every call has a timeout, and what
//! may pass on a second try (a refused connection, a 5xx) is tried again.

use crate::registry_token::TokenServerKeys;
use async_trait::async_trait;
use berth_domain::registry_token::{AccessClaims, AccessEntry, RegistryTokenKeys};
use berth_domain::trust::{SignedTag, TrustStore, TrustStoreError};
use reqwest::StatusCode;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Records read per changefeed page.
const PAGE: usize = 500;
/// Tries per request: a refused connection, a 5xx or a 429 is tried again, after 200 ms,
/// then 400 ms.
const ATTEMPTS: u32 = 3;
/// The delegated roles read for one collection's signed tags, at most.
const MAX_DELEGATIONS: usize = 64;
/// The largest role file read (Notary's own limit on an upload is 100 MiB; real ones are small).
const MAX_ROLE_FILE: usize = 16 * 1024 * 1024;
/// The lifetime of the tokens Berth mints for itself.
const SELF_TOKEN_SECONDS: i64 = 60;

/// Where the Notary server is and how it knows Berth.
#[derive(Debug, Clone)]
pub struct NotarySettings {
    /// Its base URL (`https://notary.example:4443`).
    pub url: String,
    /// Its `auth.token.service`.
    pub service: String,
    /// Its `auth.token.issuer` (Berth's registry token issuer).
    pub issuer: String,
    /// A CA to trust for its TLS certificate, PEM.
    pub ca_pem: Option<Vec<u8>>,
}

/// A Notary v1 server as Berth's trust store.
pub struct NotaryTrustStore {
    settings: NotarySettings,
    keys: Arc<TokenServerKeys>,
    http: reqwest::Client,
}

impl std::fmt::Debug for NotaryTrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotaryTrustStore")
            .field("url", &self.settings.url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Changefeed {
    records: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "GUN")]
    gun: String,
    #[serde(rename = "Category")]
    category: String,
}

/// The tags a targets role file (`role` of `gun`) lists, with the keys that signed it, and
/// the delegated roles it names.
fn signed_targets(
    gun: &str,
    role: &str,
    file: &serde_json::Value,
) -> Result<(Vec<SignedTag>, Vec<String>), TrustStoreError> {
    use base64::Engine;
    let malformed = |what: &str| failed(&format!("{gun} {role}"), format!("malformed: {what}"));
    let key_ids: Vec<String> = file["signatures"]
        .as_array()
        .ok_or_else(|| malformed("no signatures"))?
        .iter()
        .filter_map(|s| s["keyid"].as_str().map(str::to_owned))
        .collect();
    let signed = &file["signed"];
    let mut tags = Vec::new();
    if let Some(targets) = signed["targets"].as_object() {
        for (tag, meta) in targets {
            let Some(sha256) = meta["hashes"]["sha256"].as_str() else {
                continue;
            };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(sha256)
                .map_err(|_| malformed("a sha256 that is not base64"))?;
            tags.push(SignedTag {
                tag: tag.clone(),
                digest: format!("sha256:{}", hex::encode(bytes)),
                size: meta["length"].as_u64().unwrap_or(0),
                role: role.to_owned(),
                key_ids: key_ids.clone(),
            });
        }
    }
    let delegations = signed["delegations"]["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| r["name"].as_str())
                // Only names under this role: a file cannot point the reader elsewhere.
                .filter(|name| name.starts_with(&format!("{role}/")) && !name.contains(".."))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok((tags, delegations))
}

fn failed(what: &str, e: impl std::fmt::Display) -> TrustStoreError {
    TrustStoreError(format!("{what}: {e}"))
}

/// A transport error with its causes (reqwest's own message names only the URL; the TLS
/// or connection reason is further down the chain).
fn transport(what: &str, e: &reqwest::Error) -> TrustStoreError {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    failed(what, message)
}

impl NotaryTrustStore {
    /// A store on the server `settings` names, with tokens signed by `keys`.
    ///
    /// # Errors
    /// When the CA is not PEM or the HTTP client cannot be built.
    pub fn new(settings: NotarySettings, keys: Arc<TokenServerKeys>) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &settings.ca_pem {
            let ca = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("the Notary CA is not a PEM certificate: {e}"))?;
            builder = builder.add_root_certificate(ca);
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the Notary HTTP client: {e}"))?;
        Ok(Self {
            settings: NotarySettings {
                url: settings.url.trim_end_matches('/').to_owned(),
                ..settings
            },
            keys,
            http,
        })
    }

    /// A token for Berth itself, granting `access` on the Notary service for a minute.
    fn token(&self, access: Vec<AccessEntry>) -> Result<String, TrustStoreError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = AccessClaims {
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sub: "berth-trust-store".to_owned(),
            nbf: now - 5,
            exp: now + SELF_TOKEN_SECONDS,
            iat: now,
            iss: self.settings.issuer.clone(),
            aud: self.settings.service.clone(),
            version: "1.0".to_owned(),
            access,
            roles: Vec::new(),
            grant_type: "none".to_owned(),
        };
        self.keys
            .sign_access(&claims)
            .map_err(|e| failed("cannot sign a token for Notary", e.0))
    }

    /// Sends `request`, trying again on what may pass (transport errors, 5xx, 429).
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, TrustStoreError> {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            let Some(this) = request.try_clone() else {
                break;
            };
            let last = attempt == ATTEMPTS;
            match this.send().await {
                Ok(r) if last || !(r.status().is_server_error() || r.status() == 429) => {
                    return Ok(r);
                }
                Err(e) if last => return Err(transport(what, &e)),
                _ => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
        Err(failed(what, "the request cannot be sent"))
    }

    /// The current metadata file of `role` in `gun`; `None` when there is none.
    async fn role_file(
        &self,
        gun: &str,
        role: &str,
        token: &str,
    ) -> Result<Option<serde_json::Value>, TrustStoreError> {
        let url = format!("{}/v2/{gun}/_trust/tuf/{role}.json", self.settings.url);
        let what = format!("cannot read {gun} {role}");
        let response = self
            .send(self.http.get(&url).bearer_auth(token), &what)
            .await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            other => return Err(failed(&what, format!("Notary answered {other}"))),
        }
        let bytes = response.bytes().await.map_err(|e| transport(&what, &e))?;
        if bytes.len() > MAX_ROLE_FILE {
            return Err(failed(&what, "the file is too large"));
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| failed(&what, e))
    }

    fn repository(gun: &str, actions: &[&str]) -> Vec<AccessEntry> {
        vec![AccessEntry {
            kind: "repository".to_owned(),
            name: gun.to_owned(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        }]
    }
}

#[async_trait]
impl TrustStore for NotaryTrustStore {
    async fn list_collections(&self) -> Result<Vec<String>, TrustStoreError> {
        let token = self.token(vec![AccessEntry {
            kind: "registry".to_owned(),
            name: "catalog".to_owned(),
            actions: vec!["*".to_owned()],
        }])?;
        // Replay the changefeed: updates add a collection, deletions remove it.
        let mut live = BTreeSet::new();
        let mut after = "0".to_owned();
        loop {
            let url = format!(
                "{}/v2/_trust/changefeed?change_id={after}&records={PAGE}",
                self.settings.url
            );
            let response = self
                .send(
                    self.http.get(&url).bearer_auth(&token),
                    "cannot read Notary's changefeed",
                )
                .await?;
            if response.status() != StatusCode::OK {
                return Err(failed(
                    "Notary's changefeed",
                    format!("answered {}", response.status()),
                ));
            }
            let feed: Changefeed = response
                .json()
                .await
                .map_err(|e| failed("Notary's changefeed is not what was expected", e))?;
            for change in &feed.records {
                if change.category == "deletion" {
                    live.remove(&change.gun);
                } else {
                    live.insert(change.gun.clone());
                }
            }
            match feed.records.last() {
                Some(last) if feed.records.len() == PAGE => after.clone_from(&last.id),
                _ => break,
            }
        }
        Ok(live.into_iter().collect())
    }

    async fn delete_collection(&self, gun: &str) -> Result<(), TrustStoreError> {
        let token = self.token(Self::repository(gun, &["*"]))?;
        // The trailing slash matters: without it the request falls to a catch-all route.
        let url = format!("{}/v2/{gun}/_trust/tuf/", self.settings.url);
        let response = self
            .send(
                self.http.delete(&url).bearer_auth(&token),
                &format!("cannot delete {gun}"),
            )
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(failed(
                &format!("Notary refused to delete {gun}"),
                format!("it answered {}", response.status()),
            ))
        }
    }

    async fn has_collection(&self, gun: &str) -> Result<bool, TrustStoreError> {
        let token = self.token(Self::repository(gun, &["pull"]))?;
        let url = format!("{}/v2/{gun}/_trust/tuf/root.json", self.settings.url);
        let response = self
            .send(
                self.http.get(&url).bearer_auth(&token),
                &format!("cannot read {gun}"),
            )
            .await?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            other => Err(failed(
                &format!("reading {gun}"),
                format!("Notary answered {other}"),
            )),
        }
    }

    async fn signed_tags(&self, gun: &str) -> Result<Option<Vec<SignedTag>>, TrustStoreError> {
        let token = self.token(Self::repository(gun, &["pull"]))?;
        let Some(targets) = self.role_file(gun, "targets", &token).await? else {
            return Ok(None);
        };
        let mut tags = Vec::new();
        let mut pending = vec![("targets".to_owned(), targets)];
        let mut seen = BTreeSet::new();
        while let Some((role, file)) = pending.pop() {
            let (signed, delegations) = signed_targets(gun, &role, &file)?;
            tags.extend(signed);
            for delegation in delegations {
                // Each delegated role once; Notary nests them at most a few levels deep.
                if seen.insert(delegation.clone())
                    && seen.len() <= MAX_DELEGATIONS
                    && let Some(file) = self.role_file(gun, &delegation, &token).await?
                {
                    pending.push((delegation, file));
                }
            }
        }
        tags.sort_by(|a, b| (&a.tag, &a.role).cmp(&(&b.tag, &b.role)));
        Ok(Some(tags))
    }

    async fn health(&self) -> Result<(), TrustStoreError> {
        let url = format!("{}/_notary_server/health", self.settings.url);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| failed("Notary does not answer", e))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(failed(
                "Notary is unhealthy",
                format!("it answered {}", response.status()),
            ))
        }
    }
}
