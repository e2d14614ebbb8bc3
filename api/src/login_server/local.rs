//! Reads the login servers answer from the embedded data plane's own files instead of
//! relaying them through its registry: a blob GET or HEAD, and a manifest GET or HEAD whose
//! stored media type the client accepts. Each answer is the one Distribution would give for
//! the same files (the same lookups, headers and conditional answer); whatever is not
//! answered here (a `Range`, a manifest that would need converting, anything not stored)
//! goes to the registry.

use super::proxy::DataPlane;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use std::io::Read;
use std::path::PathBuf;

/// The data plane's files berthd can read (the embedded registry's storage).
pub trait LocalStorage: Send + Sync {
    /// The file of blob `digest` when the repository `backend_name` links it.
    fn blob(&self, backend_name: &str, digest: &str) -> Option<PathBuf>;
    /// The digest and file of the manifest `reference` (tag or digest) names in the
    /// repository `backend_name`, when the repository links it.
    fn manifest(&self, backend_name: &str, reference: &str) -> Option<(String, PathBuf)>;
}

/// How much of a blob file one read takes.
const BLOB_CHUNK: usize = 512 * 1024;
/// Chunks read ahead of the client.
const READ_AHEAD: usize = 4;
/// The largest manifest answered from the files (Distribution's own limit is 4 MiB).
const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// The manifest media types Distribution serves as stored when the client accepts them.
const SERVED_AS_STORED: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

impl DataPlane {
    /// A blob GET or HEAD answered from the data plane's files; `None` when it must be
    /// forwarded (no local files, not linked, not stored).
    pub(crate) async fn local_blob(
        &self,
        backend_name: &str,
        digest: &str,
        head: bool,
    ) -> Option<Response> {
        let storage = self.local_storage()?;
        let (name, wanted) = (backend_name.to_owned(), digest.to_owned());
        let (file, length) = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(storage.blob(&name, &wanted)?).ok()?;
            let length = file.metadata().ok()?.len();
            Some((file, length))
        })
        .await
        .ok()??;
        let body = if head {
            Body::empty()
        } else {
            Body::from_stream(file_chunks(file))
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=31536000"),
        );
        identify(headers, digest);
        Some(response)
    }

    /// A manifest GET or HEAD answered from the data plane's files, when the stored
    /// manifest's media type is one the client's `Accept` names (Distribution then serves
    /// it as stored); `None` when it must be forwarded (not stored, or the registry would
    /// convert or refuse it).
    pub(crate) async fn local_manifest(
        &self,
        backend_name: &str,
        reference: &str,
        request: &HeaderMap,
        head: bool,
    ) -> Option<Response> {
        let accepted = accepted(request);
        if accepted.is_empty() {
            return None;
        }
        let storage = self.local_storage()?;
        let (name, wanted) = (backend_name.to_owned(), reference.to_owned());
        let (digest, bytes) = tokio::task::spawn_blocking(move || {
            let (digest, path) = storage.manifest(&name, &wanted)?;
            let mut bytes = Vec::new();
            std::fs::File::open(path)
                .ok()?
                .take(MAX_MANIFEST + 1)
                .read_to_end(&mut bytes)
                .ok()?;
            (bytes.len() as u64 <= MAX_MANIFEST).then_some((digest, bytes))
        })
        .await
        .ok()??;
        let media_type = serde_json::from_slice::<Described>(&bytes)
            .ok()?
            .media_type?;
        if !SERVED_AS_STORED.contains(&media_type.as_str()) || !accepted.contains(&media_type) {
            return None;
        }
        if none_match(request, &digest) {
            // Distribution's 304 is bare.
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return Some(response);
        }
        let length = bytes.len();
        let mut response = Response::new(if head {
            Body::empty()
        } else {
            Body::from(bytes)
        });
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&media_type).ok()?,
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        identify(headers, &digest);
        Some(response)
    }
}

/// `Docker-Content-Digest` and the `ETag` Distribution gives a blob or manifest.
fn identify(headers: &mut HeaderMap, digest: &str) {
    if let Ok(value) = HeaderValue::from_str(digest) {
        headers.insert("docker-content-digest", value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("\"{digest}\"")) {
        headers.insert(header::ETAG, value);
    }
}

/// The media types of every `Accept` header, without parameters, lowercased (as
/// Distribution reads them: `q` is ignored).
fn accepted(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether an `If-None-Match` names `digest`, quoted or not (Distribution's test).
fn none_match(headers: &HeaderMap, digest: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v == digest || v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) == Some(digest)
        })
}

/// What is read of a stored manifest to answer it.
#[derive(serde::Deserialize)]
struct Described {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
}

/// A file streamed in [`BLOB_CHUNK`]s, read by one blocking thread a few chunks ahead of
/// the client (one thread per stream, not one hop to the blocking pool per chunk); the
/// reading stops when the client goes.
fn file_chunks(file: std::fs::File) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        loop {
            let mut chunk = Vec::with_capacity(BLOB_CHUNK);
            let item = match (&mut file).take(BLOB_CHUNK as u64).read_to_end(&mut chunk) {
                Ok(0) => break,
                Ok(_) => Ok(Bytes::from(chunk)),
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            if sender.blocking_send(item).is_err() || failed {
                break;
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login_server::{Backend, Readiness};
    use std::sync::Arc;

    type Outcome = Result<(), Box<dyn std::error::Error>>;

    /// One stored manifest, named by tag `v1` and by its digest.
    struct OneManifest {
        digest: String,
        path: PathBuf,
    }

    impl LocalStorage for OneManifest {
        fn blob(&self, _: &str, _: &str) -> Option<PathBuf> {
            None
        }
        fn manifest(&self, _: &str, reference: &str) -> Option<(String, PathBuf)> {
            (reference == "v1" || reference == self.digest)
                .then(|| (self.digest.clone(), self.path.clone()))
        }
    }

    struct Ready;

    impl Readiness for Ready {
        fn unready(&self) -> Option<String> {
            None
        }
    }

    const OCI: &str = "application/vnd.oci.image.manifest.v1+json";
    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;

    fn plane(dir: &tempfile::TempDir) -> Result<DataPlane, Box<dyn std::error::Error>> {
        let path = dir.path().join("data");
        std::fs::write(&path, MANIFEST)?;
        let storage = OneManifest {
            digest: "sha256:0123".to_owned(),
            path,
        };
        let backend = Backend::new(
            reqwest::Client::new(),
            reqwest::Url::parse("http://unused.invalid/")?,
            Arc::new(Ready),
        )
        .with_local_storage(Arc::new(storage));
        Ok(DataPlane::Backend(backend))
    }

    async fn body(response: Response) -> Result<Bytes, axum::Error> {
        axum::body::to_bytes(response.into_body(), usize::MAX).await
    }

    #[tokio::test]
    async fn a_manifest_the_client_accepts_is_answered_from_its_file() -> Outcome {
        let dir = tempfile::tempdir()?;
        let plane = plane(&dir)?;
        let accepts = headers(&[(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )]);
        let response = plane
            .local_manifest("reg/app", "v1", &accepts, false)
            .await
            .ok_or("not answered")?;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], OCI);
        assert_eq!(response.headers()["docker-content-digest"], "sha256:0123");
        assert_eq!(response.headers()[header::ETAG], "\"sha256:0123\"");
        assert_eq!(body(response).await?, MANIFEST.as_bytes());

        let response = plane
            .local_manifest("reg/app", "sha256:0123", &accepts, true)
            .await
            .ok_or("HEAD not answered")?;
        assert_eq!(
            response.headers()[header::CONTENT_LENGTH],
            MANIFEST.len().to_string()
        );
        assert!(body(response).await?.is_empty());

        let mut conditional = accepts.clone();
        conditional.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"sha256:0123\""),
        );
        let response = plane
            .local_manifest("reg/app", "v1", &conditional, false)
            .await
            .ok_or("conditional GET not answered")?;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        Ok(())
    }

    #[tokio::test]
    async fn what_the_registry_would_convert_refuse_or_not_find_is_left_to_it() -> Outcome {
        let dir = tempfile::tempdir()?;
        let plane = plane(&dir)?;
        let docker_only = headers(&[(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )]);
        assert!(
            plane
                .local_manifest("reg/app", "v1", &docker_only, false)
                .await
                .is_none()
        );
        assert!(
            plane
                .local_manifest("reg/app", "v1", &HeaderMap::new(), false)
                .await
                .is_none()
        );
        let oci = headers(&[("accept", OCI)]);
        assert!(
            plane
                .local_manifest("reg/app", "v2", &oci, false)
                .await
                .is_none()
        );
        assert!(
            DataPlane::None
                .local_manifest("reg/app", "v1", &oci, false)
                .await
                .is_none()
        );
        Ok(())
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn accept_headers_are_read_as_distribution_reads_them() {
        let map = headers(&[
            (
                "accept",
                "application/vnd.oci.image.manifest.v1+json; q=0.5, */*",
            ),
            (
                "accept",
                "Application/VND.Docker.Distribution.Manifest.V2+json",
            ),
        ]);
        assert_eq!(
            accepted(&map),
            [
                "application/vnd.oci.image.manifest.v1+json",
                "*/*",
                "application/vnd.docker.distribution.manifest.v2+json"
            ]
        );
    }

    #[test]
    fn if_none_match_names_the_digest_quoted_or_not() {
        let digest = "sha256:abc";
        assert!(none_match(
            &headers(&[("if-none-match", "\"sha256:abc\"")]),
            digest
        ));
        assert!(none_match(
            &headers(&[("if-none-match", "sha256:abc")]),
            digest
        ));
        assert!(!none_match(
            &headers(&[("if-none-match", "\"sha256:abd\"")]),
            digest
        ));
        assert!(!none_match(&HeaderMap::new(), digest));
    }
}
