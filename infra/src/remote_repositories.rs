//! An external data plane's repositories as the control plane removes them, through
//! Distribution's own API (the only door an external registry has): a repository is
//! removed by deleting, by digest, every manifest its tags name; a registry's namespace by
//! doing so for every repository the catalog lists under its prefix. Each request carries a
//! token berthd mints for it alone, as the login servers' requests do.
//!
//! What the API cannot reach stays until Distribution's garbage collector runs with
//! `--delete-untagged`: manifests no tag names, and the empty repository directories the
//! catalog keeps listing. Listing tags and manifests with their times, and untagging, need
//! the embedded data plane's storage.

use async_trait::async_trait;
use berth_domain::registry::{
    DataPlaneError, ManifestRecord, Namespace, RepositoryStorage, TagDigest, TagRecord,
};
use berth_domain::registry_token::{AccessEntry, RegistryTokenService};
use reqwest::StatusCode;
use serde::Deserialize;

/// The manifest types a digest is asked for (Distribution answers a tag with the digest of
/// the manifest as stored only when its type is accepted).
const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// Catalog entries asked per page.
const PAGE: usize = 1000;

/// An external Distribution's repositories.
#[derive(Clone)]
pub struct RemoteRepositories {
    client: reqwest::Client,
    base: reqwest::Url,
    tokens: RegistryTokenService,
    service: String,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Vec<String>,
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> DataPlaneError {
    DataPlaneError(format!("{what}: {e}"))
}

impl RemoteRepositories {
    /// The repositories of the Distribution at `base`, reached with `client`, sent tokens
    /// `tokens` mints for its `service`.
    #[must_use]
    pub fn new(
        client: reqwest::Client,
        base: reqwest::Url,
        tokens: RegistryTokenService,
        service: String,
    ) -> Self {
        Self {
            client,
            base,
            tokens,
            service,
        }
    }

    fn bearer(&self, kind: &str, name: &str, actions: &[&str]) -> Result<String, DataPlaneError> {
        let access = vec![AccessEntry {
            kind: kind.to_owned(),
            name: name.to_owned(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        }];
        self.tokens
            .mint_for_data_plane(&self.service, access)
            .map_err(|e| failed("cannot sign a token for the data plane", e))
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        url.set_path(path);
        url
    }

    /// The catalog's names after `last`, one page.
    async fn catalog_page(&self, last: &str) -> Result<Vec<String>, DataPlaneError> {
        let mut url = self.url("/v2/_catalog");
        url.query_pairs_mut()
            .append_pair("n", &PAGE.to_string())
            .append_pair("last", last);
        let reply = self
            .client
            .get(url)
            .bearer_auth(self.bearer("registry", "catalog", &["*"])?)
            .send()
            .await
            .map_err(|e| failed("the data plane's catalog", e))?;
        if !reply.status().is_success() {
            return Err(failed("the data plane's catalog answered", reply.status()));
        }
        let page: Catalog = reply
            .json()
            .await
            .map_err(|e| failed("the data plane's catalog", e))?;
        Ok(page.repositories)
    }

    /// The repository's tags; `None` when it has none to list (or does not exist).
    async fn tags_of(&self, name: &str) -> Result<Option<Vec<String>>, DataPlaneError> {
        let reply = self
            .client
            .get(self.url(&format!("/v2/{name}/tags/list")))
            .bearer_auth(self.bearer("repository", name, &["pull"])?)
            .send()
            .await
            .map_err(|e| failed("the data plane's tags list", e))?;
        if reply.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.status().is_success() {
            return Err(failed(
                "the data plane's tags list answered",
                reply.status(),
            ));
        }
        let tags: Tags = reply
            .json()
            .await
            .map_err(|e| failed("the data plane's tags list", e))?;
        Ok(tags.tags)
    }

    /// The answer to `method` (HEAD or GET) of the manifest a tag names, and its digest;
    /// `None` when the tag names none.
    async fn manifest_reply(
        &self,
        method: reqwest::Method,
        name: &str,
        tag: &str,
    ) -> Result<Option<(reqwest::Response, Option<String>)>, DataPlaneError> {
        let reply = self
            .client
            .request(method, self.url(&format!("/v2/{name}/manifests/{tag}")))
            .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
            .bearer_auth(self.bearer("repository", name, &["pull"])?)
            .send()
            .await
            .map_err(|e| failed("the data plane's manifest", e))?;
        if reply.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.status().is_success() {
            return Err(failed("the data plane's manifest answered", reply.status()));
        }
        let digest = reply
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Some((reply, digest)))
    }

    /// The digest a tag names now, when it still names one.
    async fn digest_of(&self, name: &str, tag: &str) -> Result<Option<String>, DataPlaneError> {
        Ok(self
            .manifest_reply(reqwest::Method::HEAD, name, tag)
            .await?
            .and_then(|(_, digest)| digest))
    }

    /// The digest and size (config and layers, or the listed manifests of an index) of the
    /// manifest a tag names, when it still names one.
    async fn manifest_of(
        &self,
        name: &str,
        tag: &str,
    ) -> Result<Option<(String, u64)>, DataPlaneError> {
        let Some((reply, digest)) = self.manifest_reply(reqwest::Method::GET, name, tag).await?
        else {
            return Ok(None);
        };
        let digest = digest
            .ok_or_else(|| failed("the data plane's manifest", "no Docker-Content-Digest"))?;
        let manifest: serde_json::Value = reply
            .json()
            .await
            .map_err(|e| failed("the data plane's manifest", e))?;
        let sizes = |list: &serde_json::Value| -> u64 {
            list.as_array().map_or(0, |items| {
                items.iter().filter_map(|i| i["size"].as_u64()).sum()
            })
        };
        let size = manifest["config"]["size"].as_u64().unwrap_or(0)
            + sizes(&manifest["layers"])
            + sizes(&manifest["manifests"]);
        Ok(Some((digest, size)))
    }

    async fn delete_manifest(&self, name: &str, digest: &str) -> Result<(), DataPlaneError> {
        let reply = self
            .client
            .delete(self.url(&format!("/v2/{name}/manifests/{digest}")))
            .bearer_auth(self.bearer("repository", name, &["delete"])?)
            .send()
            .await
            .map_err(|e| failed("deleting a manifest in the data plane", e))?;
        match reply.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            s => Err(failed("deleting a manifest in the data plane answered", s)),
        }
    }
}

#[async_trait]
impl RepositoryStorage for RemoteRepositories {
    async fn purge(&self, namespace: &Namespace) -> Result<(), DataPlaneError> {
        let prefix = namespace.prefix();
        let mut last = prefix.to_owned();
        loop {
            let page = self.catalog_page(&last).await?;
            let full = page.len() == PAGE;
            let mine: Vec<&String> = page
                .iter()
                .take_while(|name| name.starts_with(prefix))
                .collect();
            for name in &mine {
                self.remove(name).await?;
            }
            match (full && mine.len() == page.len(), page.last()) {
                (true, Some(next)) => last.clone_from(next),
                _ => return Ok(()),
            }
        }
    }

    async fn remove(&self, backend_name: &str) -> Result<bool, DataPlaneError> {
        let Some(tags) = self.tags_of(backend_name).await? else {
            return Ok(false);
        };
        let mut digests = Vec::with_capacity(tags.len());
        for tag in &tags {
            if let Some(digest) = self.digest_of(backend_name, tag).await?
                && !digests.contains(&digest)
            {
                digests.push(digest);
            }
        }
        for digest in &digests {
            self.delete_manifest(backend_name, digest).await?;
        }
        Ok(!tags.is_empty())
    }

    async fn tags(&self, _: &str) -> Result<Option<Vec<TagRecord>>, DataPlaneError> {
        Err(embedded_only())
    }

    async fn manifests(&self, _: &str) -> Result<Option<Vec<ManifestRecord>>, DataPlaneError> {
        Err(embedded_only())
    }

    async fn untag(&self, _: &str, _: &str) -> Result<bool, DataPlaneError> {
        Err(embedded_only())
    }

    async fn tag_digests(
        &self,
        backend_name: &str,
    ) -> Result<Option<Vec<TagDigest>>, DataPlaneError> {
        let Some(tags) = self.tags_of(backend_name).await? else {
            return Ok(None);
        };
        let mut found = Vec::with_capacity(tags.len());
        for tag in tags {
            if let Some((digest, size)) = self.manifest_of(backend_name, &tag).await? {
                found.push(TagDigest { tag, digest, size });
            }
        }
        found.sort_by(|a, b| a.tag.cmp(&b.tag));
        Ok(Some(found))
    }

    async fn repositories(&self, namespace: &Namespace) -> Result<Vec<String>, DataPlaneError> {
        // The catalog is sorted: the namespace's names follow its prefix, one after another.
        let prefix = namespace.prefix();
        let mut last = prefix.to_owned();
        let mut names = Vec::new();
        loop {
            let page = self.catalog_page(&last).await?;
            let full = page.len() == PAGE;
            let before = names.len();
            names.extend(page.iter().take_while(|n| n.starts_with(prefix)).cloned());
            match (full && names.len() - before == page.len(), page.last()) {
                (true, Some(next)) => last.clone_from(next),
                _ => return Ok(names),
            }
        }
    }
}

fn embedded_only() -> DataPlaneError {
    DataPlaneError(
        "listing tags and manifests with their times, and untagging, need the embedded data plane"
            .to_owned(),
    )
}
