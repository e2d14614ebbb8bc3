//! Repositories: a registry's repositories, and one repository's manifests with their
//! tags, digests and sizes, read from the data plane as `az acr repository` reads them. On
//! a registry with content trust, each tag says whether it is signed, by which role and
//! keys, read from the trust data; a signature naming another digest than the tag's is
//! shown as such. Readable by whoever may pull the registry's images (the token server's
//! own rule), as the repositories are data, not settings.

use super::html;
use super::registry_page::RegistryPage;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_domain::registry::{
    ArtifactError, ListOrder, Listing, MAX_PAGE, Namespace, TagDigest, TaggedManifest,
};
use berth_domain::trust::SignedTag;

/// One tag of a manifest, with what content trust says of it.
struct TagRow {
    name: String,
    /// `role (keys …)` of each signature naming this digest.
    signed_by: Vec<String>,
    /// A signature of this tag names another digest.
    stale: Option<String>,
}

/// One manifest.
struct ManifestRow {
    digest: String,
    size: String,
    platform: String,
    updated: String,
    tags: Vec<TagRow>,
}

#[derive(Template)]
#[template(path = "portal/repositories.html")]
struct RepositoriesPage<'a> {
    frame: super::Frame<'a>,
    registry: &'a str,
    home: &'a str,
    tab: &'a str,
    login_server: &'a str,
    /// Each repository and the query that opens it.
    repositories: Vec<(String, String)>,
    repository: Option<String>,
    manifests: Vec<ManifestRow>,
    trust: bool,
    trust_note: Option<String>,
    unavailable: Option<String>,
}

/// `?name=`: the repository to open.
#[derive(serde::Deserialize)]
pub(crate) struct RepositoryQuery {
    name: Option<String>,
}

/// `GET …/repositories`.
pub(crate) async fn show(
    State(state): State<AppState>,
    RegistryPage {
        person,
        registry,
        path,
    }: RegistryPage,
    Query(query): Query<RepositoryQuery>,
) -> Response {
    let mut page = RepositoriesPage {
        frame: super::Frame::of(&person, "registries"),
        registry: registry.name().as_str(),
        home: path.trim_end_matches("/repositories"),
        tab: "repositories",
        login_server: &registry.login_server,
        repositories: Vec::new(),
        repository: None,
        manifests: Vec::new(),
        trust: registry.content_trust.policy_enabled(),
        trust_note: None,
        unavailable: None,
    };
    let access = state
        .registry_tokens
        .image_access(&person.caller.principals, &registry);
    if !access.pull {
        page.unavailable = Some(
            "Reading the repositories needs pull access to the registry's images (AcrPull, AcrPush, Contributor or Owner)."
                .to_owned(),
        );
        return html(StatusCode::FORBIDDEN, &page);
    }
    let Some(artifacts) = &state.artifacts else {
        page.unavailable = Some(
            "This deployment has no data plane behind its login servers (BERTH_REGISTRY_BACKEND=none): there are no repositories to show."
                .to_owned(),
        );
        return html(StatusCode::OK, &page);
    };
    let namespace = Namespace::of(registry.name());
    match artifacts.repositories(&namespace).await {
        Ok(names) => {
            page.repositories = names
                .into_iter()
                .map(|name| {
                    let query = form_urlencoded::Serializer::new(String::new())
                        .append_pair("name", &name)
                        .finish();
                    (name, query)
                })
                .collect();
        }
        Err(e) => {
            tracing::warn!(error.cause = %e, "the portal cannot list repositories");
            page.unavailable = Some(format!("The repositories cannot be listed: {e}"));
            return html(StatusCode::SERVICE_UNAVAILABLE, &page);
        }
    }
    let Some(name) = query.name.filter(|n| !n.is_empty()) else {
        return html(StatusCode::OK, &page);
    };
    let listing = Listing {
        order: ListOrder::TimeDescending,
        n: Some(MAX_PAGE),
        last: None,
    };
    // The embedded storage tells each manifest with its times and platform; another
    // registry's API tells the tags, their digests and sizes.
    let manifests = match artifacts.manifests(&namespace, &name, &listing).await {
        Ok(listed) => Ok(Manifests::Stored(listed.items)),
        Err(ArtifactError::DataPlane(_)) => artifacts
            .tag_digests(&namespace, &name)
            .await
            .map(Manifests::Told),
        Err(e) => Err(e),
    };
    let manifests = match manifests {
        Ok(manifests) => manifests,
        Err(ArtifactError::RepositoryUnknown(_) | ArtifactError::Name(_)) => {
            page.unavailable = Some(format!("There is no repository {name} in this registry."));
            return html(StatusCode::NOT_FOUND, &page);
        }
        Err(e) => {
            page.unavailable = Some(format!("The repository cannot be read: {e}"));
            return html(StatusCode::SERVICE_UNAVAILABLE, &page);
        }
    };
    let signed = match artifacts.signed_tags(&registry.login_server, &name).await {
        Ok(signed) => signed.unwrap_or_default(),
        Err(e) => {
            page.trust_note = Some(format!("Which tags are signed cannot be read: {e}"));
            Vec::new()
        }
    };
    page.manifests = match &manifests {
        Manifests::Stored(stored) => stored.iter().map(|m| row(m, &signed)).collect(),
        Manifests::Told(tags) => told_rows(tags, &signed),
    };
    page.repository = Some(name);
    html(StatusCode::OK, &page)
}

/// A repository's manifests, as its data plane can tell them.
enum Manifests {
    /// From the embedded storage: each manifest with its tags, times and platform.
    Stored(Vec<TaggedManifest>),
    /// From a registry's API: the tags, each with its digest and size.
    Told(Vec<TagDigest>),
}

/// Rows of the manifests a registry's API told: each digest with its tags and size.
fn told_rows(tags: &[TagDigest], signed: &[SignedTag]) -> Vec<ManifestRow> {
    let mut digests: Vec<(&str, u64, Vec<String>)> = Vec::new();
    for t in tags {
        match digests.iter_mut().find(|(d, _, _)| *d == t.digest) {
            Some((_, _, names)) => names.push(t.tag.clone()),
            None => digests.push((&t.digest, t.size, vec![t.tag.clone()])),
        }
    }
    digests
        .into_iter()
        .map(|(digest, size, names)| ManifestRow {
            digest: digest.to_owned(),
            size: human_size(size),
            platform: String::new(),
            updated: "not told by this data plane".to_owned(),
            tags: tag_rows(&names, digest, signed),
        })
        .collect()
}

/// Each of `tags` of the manifest `digest`, with what content trust says of it.
fn tag_rows(tags: &[String], digest: &str, signed: &[SignedTag]) -> Vec<TagRow> {
    tags.iter()
        .map(|tag| {
            let of_tag = || signed.iter().filter(|s| &s.tag == tag);
            TagRow {
                name: tag.clone(),
                signed_by: of_tag()
                    .filter(|s| s.digest == digest)
                    .map(|s| {
                        let keys: Vec<&str> =
                            s.key_ids.iter().map(|k| &k[..k.len().min(12)]).collect();
                        format!("{} (key {})", s.role, keys.join(", "))
                    })
                    .collect(),
                stale: of_tag().find(|s| s.digest != digest).map(|s| {
                    format!(
                        "{} signed {} for this tag, not this manifest",
                        s.role,
                        &s.digest[..s.digest.len().min(19)]
                    )
                }),
            }
        })
        .collect()
}

/// A manifest's row, its tags with their signatures.
fn row(tagged: &TaggedManifest, signed: &[SignedTag]) -> ManifestRow {
    let m = &tagged.manifest;
    let tags = tag_rows(&tagged.tags, &m.digest, signed);
    let platform = match (&m.os, &m.architecture) {
        (Some(os), Some(arch)) => format!("{os}/{arch}"),
        _ => String::new(),
    };
    let updated = m.updated;
    ManifestRow {
        digest: m.digest.clone(),
        size: human_size(m.image_size),
        platform,
        updated: format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            updated.year(),
            u8::from(updated.month()),
            updated.day(),
            updated.hour(),
            updated.minute()
        ),
        tags,
    }
}

/// Bytes as people read them.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
