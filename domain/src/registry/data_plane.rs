//! Where a registry's repositories live in the data plane that all registries share: under
//! the prefix `<registry>/`, the registry's name lowercased, as Harbor keeps a project's
//! repositories under the project. A client names `app`; the backend stores
//! `myregistry/app`. Registry names are unique in a deployment without regard to case, and
//! hold no `/`, so no registry's prefix is a prefix of another's repositories.
//!
//! Distribution's limit of 255 characters holds for the whole backend name, so a client's
//! repository name may be as long as 255 less the prefix.

use super::{RegistryName, is_repository_name};
use async_trait::async_trait;
use time::OffsetDateTime;

/// The longest repository name Distribution stores.
pub const MAX_BACKEND_NAME: usize = 255;

/// Why a client's repository name cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryNameError {
    /// Not Distribution's grammar.
    #[error(
        "invalid repository name '{0}': path components of lowercase letters and digits, joined \
         by '.', '_', '__' or dashes, separated by '/'"
    )]
    Grammar(String),
    /// Too long once under the registry's prefix.
    #[error("repository name too long: at most {max} characters in this registry")]
    TooLong {
        /// The longest a client's name may be.
        max: usize,
    },
}

/// A registry's part of the shared data plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `<registry>/`.
    prefix: String,
}

impl Namespace {
    /// The namespace of the registry named `name`.
    #[must_use]
    pub fn of(name: &RegistryName) -> Self {
        Self {
            prefix: format!("{}/", name.key()),
        }
    }

    /// `<registry>/`, as the backend's names start.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The longest repository name a client may use here.
    #[must_use]
    pub fn max_name(&self) -> usize {
        MAX_BACKEND_NAME - self.prefix.len()
    }

    /// The backend's name of the client's `repository`.
    ///
    /// # Errors
    /// [`RepositoryNameError`] when it is not Distribution's grammar, or too long.
    pub fn backend(&self, repository: &str) -> Result<String, RepositoryNameError> {
        if repository.len() > self.max_name() {
            return Err(RepositoryNameError::TooLong {
                max: self.max_name(),
            });
        }
        if !is_repository_name(repository) {
            let shown: String = repository.chars().take(64).collect();
            return Err(RepositoryNameError::Grammar(shown));
        }
        Ok(format!("{}{repository}", self.prefix))
    }

    /// The client's name of a backend name, when it is one of this registry's.
    #[must_use]
    pub fn client<'a>(&self, backend: &'a str) -> Option<&'a str> {
        backend
            .strip_prefix(&self.prefix)
            .filter(|rest| !rest.is_empty())
    }
}

/// Why the data plane's storage did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data plane: {0}")]
pub struct DataPlaneError(pub String);

/// A tag, as the data plane keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRecord {
    /// Its name.
    pub name: String,
    /// The manifest it names.
    pub digest: String,
    /// When it was first written.
    pub created: OffsetDateTime,
    /// When it last changed.
    pub updated: OffsetDateTime,
}

/// A tag, the manifest it names and that manifest's size (its config and layers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDigest {
    /// The tag.
    pub tag: String,
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    /// The bytes of its config and layers (of the manifests an index lists).
    pub size: u64,
}

/// A manifest, as the data plane keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Its `mediaType`, when it states one.
    pub media_type: Option<String>,
    /// Its config's `mediaType`, when it has a config.
    pub config_media_type: Option<String>,
    /// The bytes of its config and layers (of the manifests an index lists).
    pub image_size: u64,
    /// The config's `architecture`.
    pub architecture: Option<String>,
    /// The config's `os`.
    pub os: Option<String>,
    /// When it was first written to the repository.
    pub created: OffsetDateTime,
    /// When it last changed.
    pub updated: OffsetDateTime,
}

/// The repositories the data plane keeps, as the control plane reads and removes them: a
/// registry's when it is deleted, so that a registry made again under its name starts
/// empty, one repository or tag when a client deletes it. What is removed is no longer listed, tagged or
/// pulled (by tag or by digest); its blobs stay in the backend until its garbage collector
/// runs. Removing what is already gone succeeds, so a retried removal is harmless.
#[async_trait]
pub trait RepositoryStorage: Send + Sync {
    /// Removes every repository of the namespace.
    ///
    /// # Errors
    /// [`DataPlaneError`] when the backend cannot be changed; nothing is then reported gone.
    async fn purge(&self, namespace: &Namespace) -> Result<(), DataPlaneError>;

    /// Removes one repository (its backend name, see [`Namespace::backend`]), not the
    /// repositories nested under its name. `false` when there was none.
    ///
    /// # Errors
    /// [`DataPlaneError`] when the backend cannot be changed.
    async fn remove(&self, backend_name: &str) -> Result<bool, DataPlaneError>;

    /// A repository's tags; `None` when there is no such repository.
    ///
    /// # Errors
    /// [`DataPlaneError`] when the backend cannot be read.
    async fn tags(&self, backend_name: &str) -> Result<Option<Vec<TagRecord>>, DataPlaneError>;

    /// A repository's manifests; `None` when there is no such repository.
    ///
    /// # Errors
    /// [`DataPlaneError`] when the backend cannot be read.
    async fn manifests(
        &self,
        backend_name: &str,
    ) -> Result<Option<Vec<ManifestRecord>>, DataPlaneError>;

    /// Removes a tag (not the manifest it names); `false` when there was none.
    ///
    /// # Errors
    /// [`DataPlaneError`] when the backend cannot be changed.
    async fn untag(&self, backend_name: &str, tag: &str) -> Result<bool, DataPlaneError>;

    /// A repository's tags, each with the manifest it names and that manifest's size, as
    /// any registry's API tells them (without the times only Berth's own storage keeps);
    /// `None` when there is no such repository. By default, from [`Self::tags`] and
    /// [`Self::manifests`].
    ///
    /// # Errors
    /// [`DataPlaneError`] when the backend cannot be read.
    async fn tag_digests(
        &self,
        backend_name: &str,
    ) -> Result<Option<Vec<TagDigest>>, DataPlaneError> {
        let (Some(tags), Some(manifests)) = (
            self.tags(backend_name).await?,
            self.manifests(backend_name).await?,
        ) else {
            return Ok(None);
        };
        Ok(Some(
            tags.into_iter()
                .map(|t| TagDigest {
                    size: manifests
                        .iter()
                        .find(|m| m.digest == t.digest)
                        .map_or(0, |m| m.image_size),
                    tag: t.name,
                    digest: t.digest,
                })
                .collect(),
        ))
    }

    /// The backend names of the namespace's repositories, sorted.
    ///
    /// # Errors
    /// [`DataPlaneError`] when the backend cannot be read.
    async fn repositories(&self, namespace: &Namespace) -> Result<Vec<String>, DataPlaneError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn namespace(name: &str) -> Namespace {
        Namespace::of(&RegistryName::parse(name).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn names_go_under_the_registrys_lowercased_name_and_come_back() {
        let ns = namespace("MyRegistry");
        assert_eq!(ns.backend("team/app").as_deref(), Ok("myregistry/team/app"));
        assert_eq!(ns.client("myregistry/team/app"), Some("team/app"));
        assert_eq!(ns.client("myregistry1/app"), None);
        assert_eq!(ns.client("myregistry/"), None);
        assert_eq!(ns.client("other/app"), None);
    }

    #[test]
    fn path_tricks_and_long_names_are_refused() {
        let ns = namespace("abcde");
        for bad in ["../other/app", "a/../b", "App", "a%2fb", "a//b", "", "/a"] {
            assert!(
                matches!(ns.backend(bad), Err(RepositoryNameError::Grammar(_))),
                "{bad}"
            );
        }
        let longest = "a".repeat(ns.max_name());
        assert!(ns.backend(&longest).is_ok());
        assert_eq!(
            ns.backend(&format!("{longest}a")),
            Err(RepositoryNameError::TooLong { max: 249 })
        );
    }

    proptest! {
        #[test]
        fn a_stored_name_round_trips_and_no_other_registry_claims_it(
            repo in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}",
            a in "[a-z0-9]{5,12}",
            b in "[a-z0-9]{5,12}",
        ) {
            let (na, nb) = (namespace(&a), namespace(&b));
            let stored = na.backend(&repo).unwrap_or_else(|e| panic!("{e}"));
            prop_assert_eq!(na.client(&stored), Some(repo.as_str()));
            if a != b {
                prop_assert_eq!(nb.client(&stored), None);
            }
        }
    }
}
