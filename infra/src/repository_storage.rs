//! The embedded data plane's repositories as the control plane reads and removes them, by
//! working on Distribution's filesystem storage directly: it works with the registry
//! process down (as a registry's deletion must while the data plane restarts), and it
//! knows what the registry API does not tell, when each tag and manifest was written.
//!
//! Distribution keeps a repository as `docker/registry/v2/repositories/<name>/` holding
//! `_manifests` (tags and the manifests it links), `_layers` (the blobs it links) and
//! `_uploads`, and lists a directory in its catalog when it holds `_manifests`. So:
//! - a registry's namespace `<registry>/` is purged by removing `repositories/<registry>`;
//! - one repository is removed by removing those three entries of its directory, which
//!   keeps the repositories nested under its name (`app/cache` under `app`);
//! - a tag is `_manifests/tags/<tag>/current/link` (the digest), a manifest
//!   `_manifests/revisions/sha256/<hex>/link`, its content `blobs/sha256/<hh>/<hex>/data`;
//!   a link's modification time is when it was last written. Untagging removes the tag's
//!   directory, as Distribution's own tag deletion does.
//!
//! Each removal first renames what goes into `<root>/trash/` (an atomic step on one
//! filesystem), then deletes it: a reader never sees a half-deleted repository, and a crash
//! halfway leaves only trash, which the next removal clears. Blobs stay under `blobs/`
//! until Distribution's garbage collector (`docker-registry garbage-collect`) runs.

use crate::distribution::Layout;
use async_trait::async_trait;
use berth_domain::registry::{
    DataPlaneError, ManifestRecord, Namespace, RepositoryStorage, TagRecord,
};
use serde::Deserialize;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What a repository directory holds, as Distribution writes it.
const REPOSITORY_ENTRIES: [&str; 3] = ["_manifests", "_layers", "_uploads"];

/// The embedded registry's filesystem storage.
#[derive(Debug, Clone)]
pub struct FilesystemRepositories {
    repositories: PathBuf,
    blobs: PathBuf,
    trash: PathBuf,
}

impl FilesystemRepositories {
    /// The repositories of the embedded registry laid out as `layout`.
    #[must_use]
    pub fn new(layout: &Layout) -> Self {
        Self {
            repositories: layout.storage.join("docker/registry/v2/repositories"),
            blobs: layout.storage.join("docker/registry/v2/blobs"),
            trash: layout.root.join("trash"),
        }
    }

    /// The file holding a blob of a repository, when the repository links it (as
    /// Distribution checks before serving it) and the blob is stored: a read of it is the
    /// read Distribution would make.
    #[must_use]
    pub fn blob_file(&self, backend_name: &str, digest: &str) -> Option<PathBuf> {
        let hex = sha256_hex(digest)?;
        let repository = self.directory(backend_name).ok()?;
        let link = repository.join("_layers/sha256").join(hex).join("link");
        if !link.is_file() {
            return None;
        }
        let data = self.blob_path(hex);
        data.is_file().then_some(data)
    }

    /// The digest and file of the manifest a repository names by `reference` (a tag or a
    /// sha256 digest), resolved as Distribution resolves it: the tag's current link, a
    /// revision the repository links, its content stored. `None` when a step is missing,
    /// so that the registry itself answers.
    #[must_use]
    pub fn manifest_file(&self, backend_name: &str, reference: &str) -> Option<(String, PathBuf)> {
        let manifests = self.directory(backend_name).ok()?.join("_manifests");
        let digest = if reference.contains(':') {
            reference.to_owned()
        } else {
            if !is_tag(reference) {
                return None;
            }
            let link = manifests.join("tags").join(reference).join("current/link");
            std::fs::read_to_string(link).ok()?.trim().to_owned()
        };
        let hex = sha256_hex(&digest)?;
        let revision = manifests.join("revisions/sha256").join(hex).join("link");
        if !revision.is_file() {
            return None;
        }
        let data = self.blob_path(hex);
        data.is_file().then_some((digest, data))
    }

    /// Where the content of a blob is stored.
    fn blob_path(&self, hex: &str) -> PathBuf {
        self.blobs
            .join("sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Runs filesystem work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, DataPlaneError> + Send + 'static,
    ) -> Result<T, DataPlaneError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|e| DataPlaneError(format!("the storage work did not finish: {e}")))?
    }

    /// The directory of a backend name, when every component of it is a plain name (the
    /// names come validated, this only keeps a path from leaving the storage).
    fn directory(&self, backend_name: &str) -> Result<PathBuf, DataPlaneError> {
        let plain = |c: &str| !c.is_empty() && c != "." && c != ".." && !c.contains('\\');
        if !backend_name.split('/').all(plain) {
            return Err(DataPlaneError(format!(
                "'{backend_name}' is not a repository name"
            )));
        }
        Ok(self.repositories.join(backend_name))
    }

    /// The repositories under the namespace: every directory below its own that holds a
    /// `_manifests` directory (Distribution's layout; names nest, `app/cache` under `app`).
    fn repositories_blocking(&self, namespace: &Namespace) -> Result<Vec<String>, DataPlaneError> {
        let registry = namespace.prefix().trim_end_matches('/');
        let root = self.directory(registry)?;
        let mut found = Vec::new();
        let mut pending = vec![(root, registry.to_owned())];
        while let Some((dir, name)) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error("cannot list", &dir, &e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io_error("cannot list", &dir, &e))?;
                let child = entry.file_name().to_string_lossy().into_owned();
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                if child == "_manifests" {
                    if name != registry {
                        found.push(name.clone());
                    }
                } else if !child.starts_with('_') {
                    pending.push((entry.path(), format!("{name}/{child}")));
                }
            }
        }
        found.sort();
        Ok(found)
    }

    fn purge_blocking(&self, namespace: &Namespace) -> Result<(), DataPlaneError> {
        let registry = namespace.prefix().trim_end_matches('/');
        let directory = self.directory(registry)?;
        self.discard(&[directory])?;
        Ok(())
    }

    fn remove_blocking(&self, backend_name: &str) -> Result<bool, DataPlaneError> {
        let directory = self.directory(backend_name)?;
        if !directory.join("_manifests").is_dir() {
            return Ok(false);
        }
        let entries: Vec<PathBuf> = REPOSITORY_ENTRIES
            .iter()
            .map(|entry| directory.join(entry))
            .collect();
        self.discard(&entries)?;
        self.prune_empty_parents(&directory);
        Ok(true)
    }

    fn tags_blocking(&self, backend_name: &str) -> Result<Option<Vec<TagRecord>>, DataPlaneError> {
        let manifests = self.directory(backend_name)?.join("_manifests");
        if !manifests.is_dir() {
            return Ok(None);
        }
        let mut tags = Vec::new();
        for (name, dir) in entries(&manifests.join("tags"))? {
            let link = dir.join("current").join("link");
            let Ok(digest) = std::fs::read_to_string(&link) else {
                continue;
            };
            let (created, updated) = times(&dir, &link)?;
            tags.push(TagRecord {
                name,
                digest: digest.trim().to_owned(),
                created,
                updated,
            });
        }
        Ok(Some(tags))
    }

    fn manifests_blocking(
        &self,
        backend_name: &str,
    ) -> Result<Option<Vec<ManifestRecord>>, DataPlaneError> {
        let manifests = self.directory(backend_name)?.join("_manifests");
        if !manifests.is_dir() {
            return Ok(None);
        }
        let mut records = Vec::new();
        for (hex, dir) in entries(&manifests.join("revisions").join("sha256"))? {
            let link = dir.join("link");
            if !is_hex(&hex) || !link.is_file() {
                continue;
            }
            let (created, updated) = times(&dir, &link)?;
            let content = self.blob(&hex).and_then(|bytes| described(&bytes));
            let config = content
                .as_ref()
                .and_then(|m| m.config.as_ref())
                .and_then(|c| c.digest.strip_prefix("sha256:"))
                .and_then(|hex| self.blob(hex))
                .and_then(|bytes| serde_json::from_slice::<ImageConfig>(&bytes).ok());
            records.push(ManifestRecord {
                digest: format!("sha256:{hex}"),
                media_type: content.as_ref().and_then(|m| m.media_type.clone()),
                config_media_type: content
                    .as_ref()
                    .and_then(|m| m.config.as_ref())
                    .and_then(|c| c.media_type.clone()),
                image_size: content.as_ref().map_or(0, ManifestContent::image_size),
                architecture: config.as_ref().and_then(|c| c.architecture.clone()),
                os: config.and_then(|c| c.os),
                created,
                updated,
            });
        }
        Ok(Some(records))
    }

    fn untag_blocking(&self, backend_name: &str, tag: &str) -> Result<bool, DataPlaneError> {
        if !is_tag(tag) {
            return Ok(false);
        }
        let dir = self
            .directory(backend_name)?
            .join("_manifests")
            .join("tags")
            .join(tag);
        if !dir.is_dir() {
            return Ok(false);
        }
        self.discard(&[dir])?;
        Ok(true)
    }

    /// The content of a blob, when it is stored.
    fn blob(&self, hex: &str) -> Option<Vec<u8>> {
        if !is_hex(hex) || hex.len() < 2 {
            return None;
        }
        std::fs::read(self.blob_path(hex)).ok()
    }

    /// Moves each existing path into a fresh trash directory, then deletes the trash
    /// (this one's and any a crash left behind).
    fn discard(&self, paths: &[PathBuf]) -> Result<(), DataPlaneError> {
        let bin = self.trash.join(uuid::Uuid::new_v4().simple().to_string());
        std::fs::create_dir_all(&bin).map_err(|e| io_error("cannot make", &bin, &e))?;
        for (i, path) in paths.iter().enumerate() {
            match std::fs::rename(path, bin.join(i.to_string())) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("cannot move", path, &e)),
            }
        }
        self.empty_trash();
        Ok(())
    }

    /// Deletes everything in the trash; what cannot be deleted now is retried next time.
    fn empty_trash(&self) {
        let Ok(entries) = std::fs::read_dir(&self.trash) else {
            return;
        };
        for entry in entries.flatten() {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error.cause = %e, "cannot delete the data plane's trash yet");
            }
        }
    }

    /// Removes the now-empty directories from a removed repository up to (not including)
    /// the repositories root, so that no empty name is left behind.
    fn prune_empty_parents(&self, from: &Path) {
        let mut current = Some(from);
        while let Some(dir) = current {
            if dir == self.repositories || std::fs::remove_dir(dir).is_err() {
                break;
            }
            current = dir.parent();
        }
    }
}

/// The subdirectories of `dir` by name (none when it does not exist).
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, DataPlaneError> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("cannot read", dir, &e)),
    };
    Ok(read
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect())
}

/// When a tag or manifest was first written (its directory's birth, or its link's change
/// where the filesystem keeps no birth time) and last changed (its link's change).
fn times(dir: &Path, link: &Path) -> Result<(OffsetDateTime, OffsetDateTime), DataPlaneError> {
    let link_meta = std::fs::metadata(link).map_err(|e| io_error("cannot read", link, &e))?;
    let updated = link_meta
        .modified()
        .map_err(|e| io_error("cannot read the time of", link, &e))?;
    let created = std::fs::metadata(dir)
        .and_then(|m| m.created())
        .unwrap_or(updated)
        .min(updated);
    Ok((created.into(), updated.into()))
}

/// The hex of a well-formed sha256 digest.
fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && is_hex(hex)).then_some(hex)
}

/// Whether `tag` is a plain tag name, one path component (Distribution's tag grammar).
fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && !tag.starts_with('.')
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What Berth reads of a stored manifest or index.
#[derive(Deserialize)]
struct ManifestContent {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

impl ManifestContent {
    fn image_size(&self) -> u64 {
        self.config
            .iter()
            .chain(&self.layers)
            .chain(&self.manifests)
            .map(|d| d.size)
            .sum()
    }
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    digest: String,
}

/// What Berth reads of an image's config.
#[derive(Deserialize)]
struct ImageConfig {
    architecture: Option<String>,
    os: Option<String>,
}

fn described(bytes: &[u8]) -> Option<ManifestContent> {
    serde_json::from_slice(bytes).ok()
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> DataPlaneError {
    DataPlaneError(format!("{what} {}: {e}", path.display()))
}

#[async_trait]
impl RepositoryStorage for FilesystemRepositories {
    async fn purge(&self, namespace: &Namespace) -> Result<(), DataPlaneError> {
        let namespace = namespace.clone();
        self.blocking(move |this| this.purge_blocking(&namespace))
            .await
    }

    async fn remove(&self, backend_name: &str) -> Result<bool, DataPlaneError> {
        let name = backend_name.to_owned();
        self.blocking(move |this| this.remove_blocking(&name)).await
    }

    async fn tags(&self, backend_name: &str) -> Result<Option<Vec<TagRecord>>, DataPlaneError> {
        let name = backend_name.to_owned();
        self.blocking(move |this| this.tags_blocking(&name)).await
    }

    async fn manifests(
        &self,
        backend_name: &str,
    ) -> Result<Option<Vec<ManifestRecord>>, DataPlaneError> {
        let name = backend_name.to_owned();
        self.blocking(move |this| this.manifests_blocking(&name))
            .await
    }

    async fn untag(&self, backend_name: &str, tag: &str) -> Result<bool, DataPlaneError> {
        let (name, tag) = (backend_name.to_owned(), tag.to_owned());
        self.blocking(move |this| this.untag_blocking(&name, &tag))
            .await
    }

    async fn repositories(&self, namespace: &Namespace) -> Result<Vec<String>, DataPlaneError> {
        let namespace = namespace.clone();
        self.blocking(move |this| this.repositories_blocking(&namespace))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_domain::registry::RegistryName;

    type Outcome = Result<(), Box<dyn std::error::Error>>;

    fn repository(storage: &FilesystemRepositories, name: &str) -> std::io::Result<PathBuf> {
        let dir = storage.repositories.join(name);
        for entry in REPOSITORY_ENTRIES {
            std::fs::create_dir_all(dir.join(entry).join("x"))?;
        }
        Ok(dir)
    }

    fn setup() -> std::io::Result<(tempfile::TempDir, FilesystemRepositories)> {
        let dir = tempfile::tempdir()?;
        let storage = FilesystemRepositories::new(&Layout::of(dir.path()));
        Ok((dir, storage))
    }

    fn namespace(name: &str) -> Result<Namespace, Box<dyn std::error::Error>> {
        Ok(Namespace::of(&RegistryName::parse(name)?))
    }

    #[tokio::test]
    async fn purge_removes_the_namespace_and_nothing_else() -> Outcome {
        let (_dir, storage) = setup()?;
        let gone = repository(&storage, "regone/app")?;
        let nested = repository(&storage, "regone/app/cache")?;
        let kept = repository(&storage, "regonetwo/app")?;
        storage.purge(&namespace("regone")?).await?;
        assert!(!gone.exists() && !nested.exists());
        assert!(kept.join("_manifests").is_dir());
        assert_eq!(std::fs::read_dir(&storage.trash)?.count(), 0);
        // Purging again, or a namespace that never had a repository, succeeds.
        storage.purge(&namespace("regone")?).await?;
        storage.purge(&namespace("nevermade")?).await?;
        Ok(())
    }

    #[tokio::test]
    async fn remove_keeps_nested_repositories_and_prunes_empty_parents() -> Outcome {
        let (_dir, storage) = setup()?;
        let app = repository(&storage, "regone/app")?;
        let cache = repository(&storage, "regone/app/cache")?;
        let lone = repository(&storage, "regone/team/lone")?;
        assert!(storage.remove("regone/app").await?);
        assert!(!app.join("_manifests").exists());
        assert!(cache.join("_manifests").is_dir());
        assert!(!storage.remove("regone/app").await?);
        assert!(storage.remove("regone/team/lone").await?);
        assert!(!lone.exists() && !storage.repositories.join("regone/team").exists());
        assert!(storage.repositories.join("regone").is_dir());
        Ok(())
    }

    #[test]
    fn a_blob_is_found_only_where_its_repository_links_it() -> Outcome {
        let (_dir, storage) = setup()?;
        let hex = "ab".repeat(32);
        let digest = format!("sha256:{hex}");
        let data = storage.blobs.join("sha256/ab").join(&hex);
        std::fs::create_dir_all(&data)?;
        std::fs::write(data.join("data"), b"blob")?;
        assert_eq!(storage.blob_file("regone/app", &digest), None, "not linked");
        let link = storage
            .repositories
            .join("regone/app/_layers/sha256")
            .join(&hex);
        std::fs::create_dir_all(&link)?;
        std::fs::write(link.join("link"), &digest)?;
        assert_eq!(
            storage.blob_file("regone/app", &digest),
            Some(data.join("data"))
        );
        assert_eq!(storage.blob_file("regone/other", &digest), None);
        assert_eq!(storage.blob_file("regone/app", "sha256:../../x"), None);
        assert_eq!(storage.blob_file("../regone/app", &digest), None);
        Ok(())
    }

    #[test]
    fn a_manifest_is_found_by_tag_or_digest_only_where_its_repository_links_it() -> Outcome {
        let (_dir, storage) = setup()?;
        let hex = "cd".repeat(32);
        let digest = format!("sha256:{hex}");
        let data = storage.blobs.join("sha256/cd").join(&hex);
        std::fs::create_dir_all(&data)?;
        std::fs::write(data.join("data"), b"{}")?;
        let manifests = storage.repositories.join("regone/app/_manifests");
        let tag = manifests.join("tags/v1/current");
        std::fs::create_dir_all(&tag)?;
        std::fs::write(tag.join("link"), &digest)?;
        assert_eq!(
            storage.manifest_file("regone/app", "v1"),
            None,
            "no revision"
        );
        let revision = manifests.join("revisions/sha256").join(&hex);
        std::fs::create_dir_all(&revision)?;
        std::fs::write(revision.join("link"), &digest)?;
        let found = Some((digest.clone(), data.join("data")));
        assert_eq!(storage.manifest_file("regone/app", "v1"), found);
        assert_eq!(storage.manifest_file("regone/app", &digest), found);
        assert_eq!(storage.manifest_file("regone/app", "v2"), None);
        assert_eq!(storage.manifest_file("regone/other", &digest), None);
        for tricky in [
            "../app/v1",
            "..",
            "v1/current",
            "sha512:ab",
            "sha256:../../x",
        ] {
            assert_eq!(
                storage.manifest_file("regone/app", tricky),
                None,
                "{tricky}"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn names_that_would_leave_the_storage_are_refused() -> Outcome {
        let (_dir, storage) = setup()?;
        for name in ["../x", "one/../../x", "", "one//x", "/abs"] {
            assert!(storage.remove(name).await.is_err(), "{name}");
        }
        Ok(())
    }
}
