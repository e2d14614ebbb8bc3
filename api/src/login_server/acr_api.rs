//! ACR's data-plane API at a login server, `/acr/v1/...`, as the az CLI's `az acr
//! repository` commands call it:
//! - `GET /acr/v1/<repo>`: the repository's summary (`show --repository`);
//! - `GET /acr/v1/<repo>/_tags[?n&last&orderby]` and `/_tags/<tag>`: tags with their
//!   digests and times (`show-tags [--detail] [--orderby time_desc]`, `show --image r:t`);
//! - `GET /acr/v1/<repo>/_manifests[...]` and `/_manifests/<digest>`: manifests with their
//!   tags, size, platform and media types (`show-manifests`, `show --image r@d`);
//! - `DELETE /acr/v1/<repo>/_tags/<tag>`: `untag`; `DELETE /acr/v1/<repo>`: `delete
//!   --repository`, answering what was removed.
//!
//! Reads need `metadata_read` on the repository, deletes `delete`, as ACR's token server
//! grants them. Changeable attributes (ACR's locks) are shown as they are, all enabled;
//! changing them is refused, since Berth does not enforce locks.

use super::cache::LoginCache;
use super::route::{MAX_PAGE, Refused, page_size};
use super::{addressed, authorize, refusal, served_registry};
use crate::error::registry;
use crate::routes::registries::dto::rfc3339;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use berth_domain::registry::{
    Artifacts, ListOrder, Listed, Listing, Namespace, Registry, TagRecord, TaggedManifest,
};
use serde::Serialize;

/// What an `/acr/v1/` path names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Repository(&'a str),
    Tags(&'a str),
    Tag(&'a str, &'a str),
    Manifests(&'a str),
    Manifest(&'a str, &'a str),
}

impl<'a> Target<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix("/acr/v1/")?;
        if rest.contains('%') || rest.starts_with('_') {
            return None;
        }
        let split = |sep: &str| {
            let at = rest.rfind(sep)?;
            let tail = &rest[at + sep.len()..];
            (!tail.contains('/') && !tail.is_empty()).then_some((&rest[..at], tail))
        };
        Some(if let Some(name) = rest.strip_suffix("/_tags") {
            Self::Tags(name)
        } else if let Some(name) = rest.strip_suffix("/_manifests") {
            Self::Manifests(name)
        } else if let Some((name, tag)) = split("/_tags/") {
            Self::Tag(name, tag)
        } else if let Some((name, digest)) = split("/_manifests/") {
            Self::Manifest(name, digest)
        } else {
            Self::Repository(rest)
        })
    }

    fn repository(&self) -> &'a str {
        match self {
            Self::Repository(name)
            | Self::Tags(name)
            | Self::Tag(name, _)
            | Self::Manifests(name)
            | Self::Manifest(name, _) => name,
        }
    }
}

/// Changeable attributes, as ACR shows them; Berth has no locks, so all are enabled.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChangeableAttributes {
    delete_enabled: bool,
    write_enabled: bool,
    read_enabled: bool,
    list_enabled: bool,
}

const UNLOCKED: ChangeableAttributes = ChangeableAttributes {
    delete_enabled: true,
    write_enabled: true,
    read_enabled: true,
    list_enabled: true,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RepositoryDto<'a> {
    registry: &'a str,
    image_name: &'a str,
    created_time: String,
    last_update_time: String,
    manifest_count: usize,
    tag_count: usize,
    changeable_attributes: ChangeableAttributes,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TagDto {
    name: String,
    digest: String,
    created_time: String,
    last_update_time: String,
    changeable_attributes: ChangeableAttributes,
}

impl From<TagRecord> for TagDto {
    fn from(t: TagRecord) -> Self {
        Self {
            name: t.name,
            digest: t.digest,
            created_time: rfc3339(t.created),
            last_update_time: rfc3339(t.updated),
            changeable_attributes: UNLOCKED,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDto {
    digest: String,
    image_size: u64,
    created_time: String,
    last_update_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    architecture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config_media_type: Option<String>,
    tags: Vec<String>,
    changeable_attributes: ChangeableAttributes,
}

impl From<TaggedManifest> for ManifestDto {
    fn from(t: TaggedManifest) -> Self {
        let m = t.manifest;
        Self {
            digest: m.digest,
            image_size: m.image_size,
            created_time: rfc3339(m.created),
            last_update_time: rfc3339(m.updated),
            architecture: m.architecture,
            os: m.os,
            media_type: m.media_type,
            config_media_type: m.config_media_type,
            tags: t.tags,
            changeable_attributes: UNLOCKED,
        }
    }
}

/// A listing or one item, under `registry` and `imageName` as ACR wraps them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wrapped<'a, T: Serialize> {
    registry: &'a str,
    image_name: &'a str,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize)]
struct TagsBody {
    tags: Vec<TagDto>,
}

#[derive(Serialize)]
struct TagBody {
    tag: TagDto,
}

#[derive(Serialize)]
struct ManifestsBody {
    manifests: Vec<ManifestDto>,
}

#[derive(Serialize)]
struct ManifestBody {
    manifest: ManifestDto,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Removed {
    manifests_deleted: Vec<String>,
    tags_deleted: Vec<String>,
}

/// The use cases the ACR API answers from, when the data plane is Berth's.
#[derive(Clone)]
pub(crate) struct AcrApi(pub(crate) Option<Artifacts>);

/// `/acr/v1/...` at a login server.
pub(crate) async fn handle(
    State(state): State<AppState>,
    Extension(AcrApi(artifacts)): Extension<AcrApi>,
    Extension(cache): Extension<std::sync::Arc<LoginCache>>,
    request: Request,
) -> Response {
    let registry = match served_registry(&state, &cache, addressed(&request)).await {
        Ok(registry) => registry,
        Err(response) => return response,
    };
    let path = request.uri().path().to_owned();
    let Some(target) = Target::parse(&path) else {
        return unknown_route(&path);
    };
    let action = match action(request.method(), &target) {
        Ok(action) => action,
        Err(refused) => return refusal(refused),
    };
    let repository = target.repository();
    let namespace = Namespace::of(&registry.id.name);
    if let Err(e) = namespace.backend(repository) {
        return registry::error(StatusCode::BAD_REQUEST, "NAME_INVALID", e.to_string());
    }
    let needs = [("repository", repository, action)];
    if let Some(refused) = authorize(&state, &cache, &registry, request.headers(), &needs) {
        return refused;
    }
    let Some(artifacts) = artifacts else {
        return registry::error(
            StatusCode::NOT_FOUND,
            "UNSUPPORTED",
            "ACR's repository API needs Berth's own data plane (BERTH_REGISTRY_BACKEND=embedded)"
                .to_owned(),
        );
    };
    let query: Vec<(String, String)> =
        form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let listing = match listing(&query) {
        Ok(listing) => listing,
        Err(refused) => return refusal(refused),
    };
    let answer = Answer {
        artifacts: &artifacts,
        namespace: &namespace,
        registry: &registry,
        repository,
    };
    let result = if *request.method() == Method::DELETE {
        answer.delete(&target).await
    } else {
        answer.read(&target, &listing, &path).await
    };
    result.unwrap_or_else(|e| registry::artifact_error(&e))
}

/// The 404 of a path that is no route of ACR's API served here.
fn unknown_route(path: &str) -> Response {
    registry::error(
        StatusCode::NOT_FOUND,
        "UNSUPPORTED",
        format!(
            "'{}' is not a route of ACR's API that Berth serves",
            path.chars().take(128).collect::<String>()
        ),
    )
}

/// The data action `method` needs on `target`'s repository, or the 405 of a method the
/// route does not take.
fn action(method: &Method, target: &Target<'_>) -> Result<&'static str, Refused> {
    let not_allowed = |message: String| Refused {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "UNSUPPORTED",
        message,
    };
    match *method {
        Method::GET | Method::HEAD => Ok("metadata_read"),
        Method::DELETE if matches!(target, Target::Repository(_) | Target::Tag(..)) => Ok("delete"),
        Method::PATCH => Err(not_allowed(
            "Berth does not lock repositories, tags or manifests: their attributes stay enabled"
                .to_owned(),
        )),
        _ => Err(not_allowed(format!(
            "{method} is not a method of this route"
        ))),
    }
}

/// `n`, `last` and `orderby`, checked.
fn listing(query: &[(String, String)]) -> Result<Listing, Refused> {
    let mut listing = Listing::default();
    for (key, value) in query {
        match key.as_str() {
            "n" => listing.n = Some(page_size(value)?),
            "last" => listing.last = Some(value.clone()),
            "orderby" => {
                listing.order = ListOrder::parse(value).ok_or_else(|| Refused {
                    status: StatusCode::BAD_REQUEST,
                    code: "UNSUPPORTED",
                    message: "orderby is timeasc or timedesc".to_owned(),
                })?;
            }
            _ => {}
        }
    }
    Ok(listing)
}

/// One request's context.
struct Answer<'a> {
    artifacts: &'a Artifacts,
    namespace: &'a Namespace,
    registry: &'a Registry,
    repository: &'a str,
}

type Outcome = Result<Response, berth_domain::registry::ArtifactError>;

impl Answer<'_> {
    fn wrapped<T: Serialize>(&self, body: T) -> Response {
        Json(Wrapped {
            registry: &self.registry.login_server,
            image_name: self.repository,
            body,
        })
        .into_response()
    }

    async fn read(&self, target: &Target<'_>, listing: &Listing, path: &str) -> Outcome {
        let (artifacts, ns, repo) = (self.artifacts, self.namespace, self.repository);
        Ok(match *target {
            Target::Repository(_) => {
                let s = artifacts.repository(ns, repo).await?;
                Json(RepositoryDto {
                    registry: &self.registry.login_server,
                    image_name: repo,
                    created_time: rfc3339(s.created),
                    last_update_time: rfc3339(s.updated),
                    manifest_count: s.manifest_count,
                    tag_count: s.tag_count,
                    changeable_attributes: UNLOCKED,
                })
                .into_response()
            }
            Target::Tags(_) => {
                let listed = artifacts.tags(ns, repo, listing).await?;
                let next = next_link(path, listing, &listed);
                let tags = listed.items.into_iter().map(TagDto::from).collect();
                linked(self.wrapped(TagsBody { tags }), next)
            }
            Target::Tag(_, tag) => {
                let tag = artifacts.tag(ns, repo, tag).await?.into();
                self.wrapped(TagBody { tag })
            }
            Target::Manifests(_) => {
                let listed = artifacts.manifests(ns, repo, listing).await?;
                let next = next_link(path, listing, &listed);
                let manifests = listed.items.into_iter().map(ManifestDto::from).collect();
                linked(self.wrapped(ManifestsBody { manifests }), next)
            }
            Target::Manifest(_, digest) => {
                let manifest = artifacts.manifest(ns, repo, digest).await?.into();
                self.wrapped(ManifestBody { manifest })
            }
        })
    }

    async fn delete(&self, target: &Target<'_>) -> Outcome {
        let (artifacts, ns, repo) = (self.artifacts, self.namespace, self.repository);
        Ok(match *target {
            Target::Tag(_, tag) => {
                artifacts.untag(ns, repo, tag).await?;
                StatusCode::ACCEPTED.into_response()
            }
            _ => {
                let removed = artifacts
                    .remove_repository(&self.registry.id, &self.registry.login_server, repo)
                    .await?;
                let body = Removed {
                    manifests_deleted: removed.manifests,
                    tags_deleted: removed.tags,
                };
                (StatusCode::ACCEPTED, Json(body)).into_response()
            }
        })
    }
}

/// `</acr/v1/...?last=..&n=..&orderby=..>; rel="next"` when there is a next page.
fn next_link<T>(path: &str, listing: &Listing, listed: &Listed<T>) -> Option<String> {
    let last = listed.next.as_ref()?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("last", last);
    query.append_pair("n", &listing.n.unwrap_or(MAX_PAGE).to_string());
    if listing.order != ListOrder::Key {
        query.append_pair("orderby", listing.order.as_str());
    }
    Some(format!("<{path}?{}>; rel=\"next\"", query.finish()))
}

fn linked(mut response: Response, next: Option<String>) -> Response {
    if let Some(value) = next.and_then(|link| HeaderValue::from_str(&link).ok()) {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_repositories_tags_and_manifests() {
        assert_eq!(
            Target::parse("/acr/v1/team/app"),
            Some(Target::Repository("team/app"))
        );
        assert_eq!(
            Target::parse("/acr/v1/team/app/_tags"),
            Some(Target::Tags("team/app"))
        );
        assert_eq!(
            Target::parse("/acr/v1/app/_tags/v1"),
            Some(Target::Tag("app", "v1"))
        );
        assert_eq!(
            Target::parse("/acr/v1/app/_manifests"),
            Some(Target::Manifests("app"))
        );
        assert_eq!(
            Target::parse("/acr/v1/app/_manifests/sha256:ab"),
            Some(Target::Manifest("app", "sha256:ab"))
        );
        for refused in [
            "/acr/v1/_catalog",
            "/acr/v1/a%2fb",
            "/v2/app",
            "/acr/v1/_deleted/_catalog",
        ] {
            assert_eq!(Target::parse(refused), None, "{refused}");
        }
    }
}
