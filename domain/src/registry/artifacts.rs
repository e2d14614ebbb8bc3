//! A registry's repositories, tags and manifests as ACR's data-plane API shows them
//! (`az acr repository show | show-tags | show-manifests | untag | delete`), read from the
//! data plane's storage under the registry's [`Namespace`].
//!
//! Listings are ordered by name (tags) or digest (manifests), or by last update
//! (`timeasc`, `timedesc`, ACR's `--orderby`), and paged as ACR pages them: at most `n`
//! entries after the one named `last`, with the key of the last entry returned for the
//! next page.

use super::data_plane::{
    DataPlaneError, ManifestRecord, Namespace, RepositoryNameError, RepositoryStorage, TagDigest,
    TagRecord,
};
use crate::arm::RegistryId;
use crate::trust::{SignedTag, TrustStore, TrustStoreError, TrustedCollectionCatalog};
use std::cmp::Reverse;
use std::sync::Arc;
use time::OffsetDateTime;

/// The most entries one page holds, and the default.
pub const MAX_PAGE: usize = 1000;

/// How a listing is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    /// By name (tags) or digest (manifests).
    #[default]
    Key,
    /// Least recently updated first (`timeasc`).
    TimeAscending,
    /// Most recently updated first (`timedesc`).
    TimeDescending,
}

impl ListOrder {
    /// ACR's `orderby` value; `None` for one it does not have.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "" => Some(Self::Key),
            "timeasc" => Some(Self::TimeAscending),
            "timedesc" => Some(Self::TimeDescending),
            _ => None,
        }
    }

    /// The value it is written as in a next link.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "",
            Self::TimeAscending => "timeasc",
            Self::TimeDescending => "timedesc",
        }
    }
}

/// Which page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    /// The order.
    pub order: ListOrder,
    /// At most this many entries (capped at [`MAX_PAGE`]).
    pub n: Option<usize>,
    /// The entries after the one with this key.
    pub last: Option<String>,
}

/// A page of a listing, and the key to continue after when there is more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    /// The entries.
    pub items: Vec<T>,
    /// The `last` of the next page.
    pub next: Option<String>,
}

/// A repository's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositorySummary {
    /// Its first manifest's arrival.
    pub created: OffsetDateTime,
    /// Its latest change of a tag or manifest.
    pub updated: OffsetDateTime,
    /// Manifests it holds.
    pub manifest_count: usize,
    /// Tags it holds.
    pub tag_count: usize,
}

/// A manifest with the tags that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedManifest {
    /// The manifest.
    pub manifest: ManifestRecord,
    /// Its tags, by name.
    pub tags: Vec<String>,
}

/// What a removed repository held, each list in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedRepository {
    /// Its manifests' digests.
    pub manifests: Vec<String>,
    /// Its tags.
    pub tags: Vec<String>,
}

/// Why an artifact request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    /// The repository name cannot be stored.
    #[error(transparent)]
    Name(#[from] RepositoryNameError),
    /// No such repository.
    #[error("repository '{0}' is not found")]
    RepositoryUnknown(String),
    /// No such tag.
    #[error("tag '{0}' is not found")]
    TagUnknown(String),
    /// No such manifest.
    #[error("manifest '{0}' is not found")]
    ManifestUnknown(String),
    /// The data plane failed.
    #[error(transparent)]
    DataPlane(#[from] DataPlaneError),
    /// The repository's trust data could not be deleted; the repository was left as it was.
    #[error("the repository's trust data could not be deleted: {0}")]
    Trust(String),
}

/// Content trust's store and catalog, for a removed repository's trust data.
#[derive(Clone)]
struct TrustData {
    store: Arc<dyn TrustStore>,
    catalog: Arc<dyn TrustedCollectionCatalog>,
}

/// The use cases over a registry's repositories.
#[derive(Clone)]
pub struct Artifacts {
    storage: Arc<dyn RepositoryStorage>,
    trust: Option<TrustData>,
}

impl Artifacts {
    /// The use cases over `storage`.
    #[must_use]
    pub fn new(storage: Arc<dyn RepositoryStorage>) -> Self {
        Self {
            storage,
            trust: None,
        }
    }

    /// The same, deleting a removed repository's trust data (its collection
    /// `<loginServer>/<repository>`) from `store` first, so that a repository made again
    /// under its name is not held to the old signers' keys.
    #[must_use]
    pub fn with_trust(
        mut self,
        store: Arc<dyn TrustStore>,
        catalog: Arc<dyn TrustedCollectionCatalog>,
    ) -> Self {
        self.trust = Some(TrustData { store, catalog });
        self
    }

    async fn tag_records(
        &self,
        namespace: &Namespace,
        repository: &str,
    ) -> Result<Vec<TagRecord>, ArtifactError> {
        let backend = namespace.backend(repository)?;
        self.storage
            .tags(&backend)
            .await?
            .ok_or_else(|| ArtifactError::RepositoryUnknown(repository.to_owned()))
    }

    async fn manifest_records(
        &self,
        namespace: &Namespace,
        repository: &str,
    ) -> Result<Vec<ManifestRecord>, ArtifactError> {
        let backend = namespace.backend(repository)?;
        self.storage
            .manifests(&backend)
            .await?
            .ok_or_else(|| ArtifactError::RepositoryUnknown(repository.to_owned()))
    }

    /// The names of the namespace's repositories, sorted.
    ///
    /// # Errors
    /// [`ArtifactError`]: the data plane's failure.
    pub async fn repositories(&self, namespace: &Namespace) -> Result<Vec<String>, ArtifactError> {
        let names = self.storage.repositories(namespace).await?;
        Ok(names
            .iter()
            .filter_map(|name| namespace.client(name).map(str::to_owned))
            .collect())
    }

    /// The tags content trust's signers vouch for in `repository` (its collection
    /// `<login_server>/<repository>`): `None` when no trust data is kept here or the
    /// repository has none.
    ///
    /// # Errors
    /// [`TrustStoreError`] when the trust store cannot be read or cannot tell.
    pub async fn signed_tags(
        &self,
        login_server: &str,
        repository: &str,
    ) -> Result<Option<Vec<SignedTag>>, TrustStoreError> {
        match &self.trust {
            Some(trust) => {
                let gun = format!("{login_server}/{repository}");
                trust.store.signed_tags(&gun).await
            }
            None => Ok(None),
        }
    }

    /// A repository's tags with the manifest each names and its size, from any data plane
    /// (without times).
    ///
    /// # Errors
    /// [`ArtifactError`]: a bad name, no such repository, or the data plane's failure.
    pub async fn tag_digests(
        &self,
        namespace: &Namespace,
        repository: &str,
    ) -> Result<Vec<TagDigest>, ArtifactError> {
        let backend = namespace.backend(repository)?;
        self.storage
            .tag_digests(&backend)
            .await?
            .ok_or_else(|| ArtifactError::RepositoryUnknown(repository.to_owned()))
    }

    /// A repository's summary.
    ///
    /// # Errors
    /// [`ArtifactError`]: a bad name, no such repository, or the data plane's failure.
    pub async fn repository(
        &self,
        namespace: &Namespace,
        repository: &str,
    ) -> Result<RepositorySummary, ArtifactError> {
        let tags = self.tag_records(namespace, repository).await?;
        let manifests = self.manifest_records(namespace, repository).await?;
        let times = || {
            tags.iter()
                .map(|t| (t.created, t.updated))
                .chain(manifests.iter().map(|m| (m.created, m.updated)))
        };
        let created = times().map(|(c, _)| c).min();
        let updated = times().map(|(_, u)| u).max();
        match (created, updated) {
            (Some(created), Some(updated)) => Ok(RepositorySummary {
                created,
                updated,
                manifest_count: manifests.len(),
                tag_count: tags.len(),
            }),
            _ => Err(ArtifactError::RepositoryUnknown(repository.to_owned())),
        }
    }

    /// A page of a repository's tags.
    ///
    /// # Errors
    /// As [`Self::repository`].
    pub async fn tags(
        &self,
        namespace: &Namespace,
        repository: &str,
        listing: &Listing,
    ) -> Result<Listed<TagRecord>, ArtifactError> {
        let tags = self.tag_records(namespace, repository).await?;
        Ok(page(tags, listing, |t| (&t.name, t.updated)))
    }

    /// One tag.
    ///
    /// # Errors
    /// As [`Self::repository`], and [`ArtifactError::TagUnknown`].
    pub async fn tag(
        &self,
        namespace: &Namespace,
        repository: &str,
        tag: &str,
    ) -> Result<TagRecord, ArtifactError> {
        let tags = self.tag_records(namespace, repository).await?;
        tags.into_iter()
            .find(|t| t.name == tag)
            .ok_or_else(|| ArtifactError::TagUnknown(tag.to_owned()))
    }

    /// A page of a repository's manifests, each with its tags.
    ///
    /// # Errors
    /// As [`Self::repository`].
    pub async fn manifests(
        &self,
        namespace: &Namespace,
        repository: &str,
        listing: &Listing,
    ) -> Result<Listed<TaggedManifest>, ArtifactError> {
        let tags = self.tag_records(namespace, repository).await?;
        let manifests = self.manifest_records(namespace, repository).await?;
        let tagged = manifests
            .into_iter()
            .map(|manifest| with_tags(manifest, &tags))
            .collect();
        Ok(page(tagged, listing, |m| {
            (&m.manifest.digest, m.manifest.updated)
        }))
    }

    /// One manifest, with its tags.
    ///
    /// # Errors
    /// As [`Self::repository`], and [`ArtifactError::ManifestUnknown`].
    pub async fn manifest(
        &self,
        namespace: &Namespace,
        repository: &str,
        digest: &str,
    ) -> Result<TaggedManifest, ArtifactError> {
        let tags = self.tag_records(namespace, repository).await?;
        let manifests = self.manifest_records(namespace, repository).await?;
        manifests
            .into_iter()
            .find(|m| m.digest == digest)
            .map(|manifest| with_tags(manifest, &tags))
            .ok_or_else(|| ArtifactError::ManifestUnknown(digest.to_owned()))
    }

    /// Removes a tag; the manifest it named stays.
    ///
    /// # Errors
    /// As [`Self::tag`].
    pub async fn untag(
        &self,
        namespace: &Namespace,
        repository: &str,
        tag: &str,
    ) -> Result<(), ArtifactError> {
        let backend = namespace.backend(repository)?;
        if self.storage.untag(&backend, tag).await? {
            Ok(())
        } else if self.storage.tags(&backend).await?.is_none() {
            Err(ArtifactError::RepositoryUnknown(repository.to_owned()))
        } else {
            Err(ArtifactError::TagUnknown(tag.to_owned()))
        }
    }

    /// Removes a repository (not those nested under its name) and tells what it held. Its
    /// trust data goes first: if that fails, nothing is removed, and a retry redoes it all.
    ///
    /// # Errors
    /// As [`Self::repository`], and [`ArtifactError::Trust`].
    pub async fn remove_repository(
        &self,
        registry: &RegistryId,
        login_server: &str,
        repository: &str,
    ) -> Result<RemovedRepository, ArtifactError> {
        let namespace = Namespace::of(&registry.name);
        let tags = self.tag_records(&namespace, repository).await?;
        let manifests = self.manifest_records(&namespace, repository).await?;
        if let Some(trust) = &self.trust {
            let gun = format!("{login_server}/{repository}");
            trust
                .store
                .delete_collection(&gun)
                .await
                .map_err(|e| ArtifactError::Trust(e.to_string()))?;
            trust
                .catalog
                .forget(registry, &[gun])
                .await
                .map_err(|e| ArtifactError::Trust(e.to_string()))?;
        }
        let backend = namespace.backend(repository)?;
        if !self.storage.remove(&backend).await? {
            return Err(ArtifactError::RepositoryUnknown(repository.to_owned()));
        }
        let mut removed = RemovedRepository {
            manifests: manifests.into_iter().map(|m| m.digest).collect(),
            tags: tags.into_iter().map(|t| t.name).collect(),
        };
        removed.manifests.sort();
        removed.tags.sort();
        Ok(removed)
    }
}

fn with_tags(manifest: ManifestRecord, tags: &[TagRecord]) -> TaggedManifest {
    let mut names: Vec<String> = tags
        .iter()
        .filter(|t| t.digest == manifest.digest)
        .map(|t| t.name.clone())
        .collect();
    names.sort();
    TaggedManifest {
        manifest,
        tags: names,
    }
}

/// Orders `items` by `listing`, skips through the one keyed `last`, and keeps `n`.
fn page<T>(
    mut items: Vec<T>,
    listing: &Listing,
    key: impl Fn(&T) -> (&String, OffsetDateTime),
) -> Listed<T> {
    match listing.order {
        ListOrder::Key => items.sort_by(|a, b| key(a).0.cmp(key(b).0)),
        ListOrder::TimeAscending => items.sort_by_key(|t| (key(t).1, key(t).0.clone())),
        ListOrder::TimeDescending => {
            items.sort_by_key(|t| (Reverse(key(t).1), key(t).0.clone()));
        }
    }
    let start = listing
        .last
        .as_ref()
        .and_then(|last| items.iter().position(|t| key(t).0 == last))
        .map_or(0, |at| at + 1);
    let n = listing.n.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let mut items: Vec<T> = items.into_iter().skip(start).collect();
    let next = (items.len() > n).then(|| key(&items[n - 1]).0.clone());
    items.truncate(n);
    Listed { items, next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Storage {
        tags: Mutex<Vec<TagRecord>>,
        manifests: Vec<ManifestRecord>,
    }

    #[async_trait]
    impl RepositoryStorage for Storage {
        async fn purge(&self, _: &Namespace) -> Result<(), DataPlaneError> {
            Ok(())
        }
        async fn remove(&self, backend: &str) -> Result<bool, DataPlaneError> {
            Ok(backend == "myreg/app")
        }
        async fn tags(&self, backend: &str) -> Result<Option<Vec<TagRecord>>, DataPlaneError> {
            Ok((backend == "myreg/app")
                .then(|| self.tags.lock().unwrap_or_else(|e| e.into_inner()).clone()))
        }
        async fn manifests(
            &self,
            backend: &str,
        ) -> Result<Option<Vec<ManifestRecord>>, DataPlaneError> {
            Ok((backend == "myreg/app").then(|| self.manifests.clone()))
        }
        async fn repositories(&self, namespace: &Namespace) -> Result<Vec<String>, DataPlaneError> {
            Ok(vec![format!("{}app", namespace.prefix())])
        }
        async fn untag(&self, backend: &str, tag: &str) -> Result<bool, DataPlaneError> {
            let mut tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
            let before = tags.len();
            tags.retain(|t| !(backend == "myreg/app" && t.name == tag));
            Ok(tags.len() < before)
        }
    }

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds)
    }

    fn tag(name: &str, digest: &str, updated: i64) -> TagRecord {
        TagRecord {
            name: name.to_owned(),
            digest: digest.to_owned(),
            created: at(1),
            updated: at(updated),
        }
    }

    fn manifest(digest: &str, updated: i64) -> ManifestRecord {
        ManifestRecord {
            digest: digest.to_owned(),
            media_type: None,
            config_media_type: None,
            image_size: 0,
            architecture: None,
            os: None,
            created: at(1),
            updated: at(updated),
        }
    }

    fn artifacts() -> (Artifacts, Namespace) {
        let storage = Storage {
            tags: Mutex::new(vec![
                tag("v2", "sha256:b", 30),
                tag("v1", "sha256:a", 10),
                tag("latest", "sha256:b", 20),
            ]),
            manifests: vec![manifest("sha256:b", 30), manifest("sha256:a", 10)],
        };
        let name = super::super::RegistryName::parse("myreg").unwrap_or_else(|e| panic!("{e}"));
        (Artifacts::new(Arc::new(storage)), Namespace::of(&name))
    }

    fn names(listed: &Listed<TagRecord>) -> Vec<&str> {
        listed.items.iter().map(|t| t.name.as_str()).collect()
    }

    #[tokio::test]
    async fn tags_are_ordered_and_paged_as_acr_pages_them() -> Result<(), ArtifactError> {
        let (artifacts, ns) = artifacts();
        let all = artifacts.tags(&ns, "app", &Listing::default()).await?;
        assert_eq!(
            (names(&all), all.next.as_deref()),
            (vec!["latest", "v1", "v2"], None)
        );
        let newest = Listing {
            order: ListOrder::TimeDescending,
            n: Some(2),
            last: None,
        };
        let first = artifacts.tags(&ns, "app", &newest).await?;
        assert_eq!(names(&first), ["v2", "latest"]);
        assert_eq!(first.next.as_deref(), Some("latest"));
        let rest = Listing {
            last: first.next,
            ..newest
        };
        let second = artifacts.tags(&ns, "app", &rest).await?;
        assert_eq!((names(&second), second.next.as_deref()), (vec!["v1"], None));
        Ok(())
    }

    #[tokio::test]
    async fn manifests_carry_their_tags_and_the_summary_counts_both() -> Result<(), ArtifactError> {
        let (artifacts, ns) = artifacts();
        let shown = artifacts.manifest(&ns, "app", "sha256:b").await?;
        assert_eq!(shown.tags, ["latest", "v2"]);
        let summary = artifacts.repository(&ns, "app").await?;
        assert_eq!((summary.manifest_count, summary.tag_count), (2, 3));
        assert_eq!((summary.created, summary.updated), (at(1), at(30)));
        Ok(())
    }

    #[tokio::test]
    async fn unknown_names_and_bad_names_are_told_apart() -> Result<(), ArtifactError> {
        let (artifacts, ns) = artifacts();
        assert!(matches!(
            artifacts.repository(&ns, "nope").await,
            Err(ArtifactError::RepositoryUnknown(_))
        ));
        assert!(matches!(
            artifacts.tag(&ns, "app", "v9").await,
            Err(ArtifactError::TagUnknown(_))
        ));
        assert!(matches!(
            artifacts.manifest(&ns, "app", "sha256:c").await,
            Err(ArtifactError::ManifestUnknown(_))
        ));
        assert!(matches!(
            artifacts.tags(&ns, "../x", &Listing::default()).await,
            Err(ArtifactError::Name(_))
        ));
        artifacts.untag(&ns, "app", "v1").await?;
        assert!(matches!(
            artifacts.untag(&ns, "app", "v1").await,
            Err(ArtifactError::TagUnknown(_))
        ));
        assert!(matches!(
            artifacts.untag(&ns, "nope", "v1").await,
            Err(ArtifactError::RepositoryUnknown(_))
        ));
        let removed = artifacts.remove_repository(&id(), "l.s", "app").await?;
        assert_eq!(removed.tags, ["latest", "v2"]);
        Ok(())
    }

    fn id() -> RegistryId {
        RegistryId {
            resource_group: crate::arm::ResourceGroupId {
                subscription: crate::arm::SubscriptionId::parse(
                    "00000000-0000-0000-0000-000000000001",
                )
                .unwrap_or_else(|e| panic!("{e}")),
                name: crate::arm::ResourceGroupName::parse("rg").unwrap_or_else(|e| panic!("{e}")),
            },
            name: super::super::RegistryName::parse("myreg").unwrap_or_else(|e| panic!("{e}")),
        }
    }

    /// A trust store that cannot delete.
    struct Unreachable;

    #[async_trait]
    impl TrustStore for Unreachable {
        async fn list_collections(&self) -> Result<Vec<String>, crate::trust::TrustStoreError> {
            Ok(Vec::new())
        }
        async fn delete_collection(&self, _: &str) -> Result<(), crate::trust::TrustStoreError> {
            Err(crate::trust::TrustStoreError("down".to_owned()))
        }
        async fn has_collection(&self, _: &str) -> Result<bool, crate::trust::TrustStoreError> {
            Ok(true)
        }
        async fn health(&self) -> Result<(), crate::trust::TrustStoreError> {
            Err(crate::trust::TrustStoreError("down".to_owned()))
        }
    }

    /// A catalog that knows nothing (the store fails before it is asked).
    struct NoCatalog;

    #[async_trait]
    impl TrustedCollectionCatalog for NoCatalog {
        async fn record(
            &self,
            _: &RegistryId,
            _: &str,
            _: Option<OffsetDateTime>,
        ) -> Result<(), crate::store::StoreError> {
            Ok(())
        }
        async fn record_found(
            &self,
            _: &RegistryId,
            _: &[String],
        ) -> Result<(), crate::store::StoreError> {
            Ok(())
        }
        async fn list(&self, _: &RegistryId) -> Result<Vec<String>, crate::store::StoreError> {
            Ok(Vec::new())
        }
        async fn push_deadline(
            &self,
            _: &RegistryId,
        ) -> Result<Option<OffsetDateTime>, crate::store::StoreError> {
            Ok(None)
        }
        async fn forget(
            &self,
            _: &RegistryId,
            _: &[String],
        ) -> Result<(), crate::store::StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_repository_whose_trust_data_cannot_go_stays() -> Result<(), ArtifactError> {
        let (artifacts, ns) = artifacts();
        let artifacts = artifacts.with_trust(Arc::new(Unreachable), Arc::new(NoCatalog));
        let refused = artifacts.remove_repository(&id(), "l.s", "app").await;
        assert!(
            matches!(refused, Err(ArtifactError::Trust(_))),
            "{refused:?}"
        );
        assert_eq!(artifacts.repository(&ns, "app").await?.tag_count, 3);
        Ok(())
    }
}
