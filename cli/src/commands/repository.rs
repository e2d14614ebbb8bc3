//! `berth acr repository ...`: a registry's repositories, tags and manifests at its login
//! server, as `az acr repository` reads and deletes them. Each command takes a registry
//! refresh token as `berth acr login` does, asks the login server's token endpoint for the
//! scope it needs (`registry:catalog:*`, `repository:<name>:metadata_read`, `...:delete`),
//! and calls the registry API (`/v2/_catalog`, manifest deletes) or ACR's (`/acr/v1/...`),
//! following `Link` pages until `--top` is reached.

use super::acr::{RegistryArgs, registry_refresh};
use crate::client::{CliError, Client};
use crate::confirm;
use clap::{Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};

/// `berth acr repository ...`.
#[derive(Debug, Subcommand)]
pub enum RepositoryCommand {
    /// List the repositories.
    List {
        #[command(flatten)]
        registry: RegistryArgs,
        /// At most this many.
        #[arg(long)]
        top: Option<usize>,
    },
    /// List a repository's tags (`--detail`: with their digests and times).
    ShowTags(ListingArgs),
    /// List a repository's manifests (`--detail`: each whole, not only its digest, tags
    /// and time).
    ShowManifests(ListingArgs),
    /// Show a repository, or an image by tag (`repo:tag`) or digest (`repo@sha256:...`).
    Show {
        #[command(flatten)]
        registry: RegistryArgs,
        /// The repository.
        #[arg(long, conflicts_with = "image", required_unless_present = "image")]
        repository: Option<String>,
        /// The image.
        #[arg(long)]
        image: Option<String>,
    },
    /// Remove a tag; the manifest stays.
    Untag {
        #[command(flatten)]
        registry: RegistryArgs,
        /// The image, `repo:tag`.
        #[arg(long)]
        image: String,
    },
    /// Delete a repository, or an image's manifest with every tag that names it.
    Delete {
        #[command(flatten)]
        registry: RegistryArgs,
        /// The repository.
        #[arg(long, conflicts_with = "image", required_unless_present = "image")]
        repository: Option<String>,
        /// The image, `repo:tag` or `repo@sha256:...`.
        #[arg(long)]
        image: Option<String>,
        /// Do not prompt for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

/// What `show-tags` and `show-manifests` take.
#[derive(Debug, clap::Args)]
pub struct ListingArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// The repository.
    #[arg(long)]
    repository: String,
    /// At most this many.
    #[arg(long)]
    top: Option<usize>,
    /// The order.
    #[arg(long, value_enum)]
    orderby: Option<OrderBy>,
    /// Every field, not only the brief ones.
    #[arg(long)]
    detail: bool,
}

/// `--orderby`, as az names it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OrderBy {
    /// Newest first.
    #[value(name = "time_desc")]
    TimeDesc,
    /// Oldest first.
    #[value(name = "time_asc")]
    TimeAsc,
}

impl OrderBy {
    fn query(self) -> &'static str {
        match self {
            Self::TimeDesc => "timedesc",
            Self::TimeAsc => "timeasc",
        }
    }
}

/// A reference to an image: its repository, and a tag or a digest.
#[derive(Debug, PartialEq, Eq)]
struct Image {
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Image {
    /// `repo@sha256:...`, `repo:tag`, or `repo` (its `latest`), as az reads them.
    fn parse(image: &str) -> Result<Self, CliError> {
        let invalid = || {
            CliError::msg(format!(
                "argument error: '{image}' is not an image: use repository:tag or repository@digest"
            ))
        };
        if let Some((repository, digest)) = image.split_once('@') {
            if repository.is_empty() || !digest.contains(':') {
                return Err(invalid());
            }
            return Ok(Self {
                repository: repository.to_owned(),
                tag: None,
                digest: Some(digest.to_owned()),
            });
        }
        let (repository, tag) = match image.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, tag),
            _ => (image, "latest"),
        };
        if repository.is_empty() || tag.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            repository: repository.to_owned(),
            tag: Some(tag.to_owned()),
            digest: None,
        })
    }
}

/// A login server and the registry refresh token of the caller there.
struct LoginServer {
    host: String,
    refresh: String,
}

impl LoginServer {
    async fn of(client: &mut Client, sub: &str, registry: &RegistryArgs) -> Result<Self, CliError> {
        let (host, refresh) = registry_refresh(client, sub, registry).await?;
        Ok(Self { host, refresh })
    }

    /// An access token for `scope`, from the login server's token endpoint.
    async fn token(&self, client: &mut Client, scope: &str) -> Result<String, CliError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("service", self.host.as_str()),
            ("scope", scope),
            ("refresh_token", self.refresh.as_str()),
        ];
        let answer = client
            .post_form_at_login_server(&self.host, "/oauth2/token", &form)
            .await?
            .ok_or_else(|| CliError::msg(format!("{} has no token endpoint", self.host)))?;
        Ok(answer["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Every entry of `field` over the pages from `path`, at most `top`.
    async fn pages(
        &self,
        client: &mut Client,
        path: String,
        token: &str,
        field: &str,
        top: Option<usize>,
    ) -> Result<Vec<Value>, CliError> {
        let mut all = Vec::new();
        let mut next = Some(path);
        while let Some(path) = next.take() {
            let (headers, page) = client
                .send_to_login_server(Method::GET, &self.host, &path, token)
                .await?;
            all.extend(page[field].as_array().cloned().unwrap_or_default());
            if top.is_some_and(|top| all.len() >= top) {
                break;
            }
            next = headers
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|link| Some(link[link.find('<')? + 1..link.find('>')?].to_owned()));
        }
        if let Some(top) = top {
            all.truncate(top);
        }
        Ok(all)
    }
}

/// A listing of a repository's tags or manifests (`/acr/v1/<repo>/_<kind>`).
struct Listed<'a> {
    repository: &'a str,
    /// `tags` or `manifests`.
    kind: &'static str,
    top: Option<usize>,
    orderby: Option<OrderBy>,
}

impl<'a> Listed<'a> {
    fn of(args: &'a ListingArgs, kind: &'static str) -> Self {
        Self {
            repository: &args.repository,
            kind,
            top: args.top,
            orderby: args.orderby,
        }
    }

    async fn fetch(
        &self,
        client: &mut Client,
        sub: &str,
        registry: &RegistryArgs,
    ) -> Result<Vec<Value>, CliError> {
        let at = LoginServer::of(client, sub, registry).await?;
        let scope = format!("repository:{}:metadata_read", self.repository);
        let token = at.token(client, &scope).await?;
        let first = format!("/acr/v1/{}/_{}", self.repository, self.kind);
        let path = listing(&first, self.top, self.orderby);
        at.pages(client, path, &token, self.kind, self.top).await
    }
}

/// The first page's path of a listing, with its size and order.
fn listing(path: &str, top: Option<usize>, orderby: Option<OrderBy>) -> String {
    let n = top.unwrap_or(100).clamp(1, 100);
    match orderby {
        Some(order) => format!("{path}?n={n}&orderby={}", order.query()),
        None => format!("{path}?n={n}"),
    }
}

pub(crate) async fn run(
    client: &mut Client,
    sub: &str,
    command: RepositoryCommand,
) -> Result<Value, CliError> {
    match command {
        RepositoryCommand::List { registry, top } => {
            let at = LoginServer::of(client, sub, &registry).await?;
            let token = at.token(client, "registry:catalog:*").await?;
            let path = listing("/v2/_catalog", top, None);
            Ok(Value::Array(
                at.pages(client, path, &token, "repositories", top).await?,
            ))
        }
        RepositoryCommand::ShowTags(args) => {
            let tags = Listed::of(&args, "tags")
                .fetch(client, sub, &args.registry)
                .await?;
            let brief = |t: Value| t["name"].clone();
            Ok(Value::Array(if args.detail {
                tags
            } else {
                tags.into_iter().map(brief).collect()
            }))
        }
        RepositoryCommand::ShowManifests(args) => {
            let listed = Listed::of(&args, "manifests");
            let manifests = listed.fetch(client, sub, &args.registry).await?;
            let brief = |m: Value| json!({"digest": m["digest"], "tags": m["tags"], "timestamp": m["lastUpdateTime"]});
            Ok(Value::Array(if args.detail {
                manifests
            } else {
                manifests.into_iter().map(brief).collect()
            }))
        }
        RepositoryCommand::Show {
            registry,
            repository,
            image,
        } => {
            let (repository, path, field) = match (repository, image) {
                (Some(repository), _) => {
                    let path = format!("/acr/v1/{repository}");
                    (repository, path, None)
                }
                (None, Some(image)) => {
                    let image = Image::parse(&image)?;
                    let (path, field) = match (&image.digest, &image.tag) {
                        (Some(digest), _) => (
                            format!("/acr/v1/{}/_manifests/{digest}", image.repository),
                            "manifest",
                        ),
                        (None, tag) => (
                            format!(
                                "/acr/v1/{}/_tags/{}",
                                image.repository,
                                tag.as_deref().unwrap_or("latest")
                            ),
                            "tag",
                        ),
                    };
                    (image.repository, path, Some(field))
                }
                (None, None) => {
                    return Err(CliError::msg(
                        "argument error: --repository or --image is required",
                    ));
                }
            };
            let at = LoginServer::of(client, sub, &registry).await?;
            let token = at
                .token(client, &format!("repository:{repository}:metadata_read"))
                .await?;
            let (_, shown) = client
                .send_to_login_server(Method::GET, &at.host, &path, &token)
                .await?;
            Ok(match field {
                Some(field) => shown[field].clone(),
                None => shown,
            })
        }
        RepositoryCommand::Untag { registry, image } => {
            let image = Image::parse(&image)?;
            let tag = image
                .tag
                .ok_or_else(|| CliError::msg("argument error: untag takes repository:tag"))?;
            let at = LoginServer::of(client, sub, &registry).await?;
            let token = at
                .token(client, &format!("repository:{}:delete", image.repository))
                .await?;
            let path = format!("/acr/v1/{}/_tags/{tag}", image.repository);
            client
                .send_to_login_server(Method::DELETE, &at.host, &path, &token)
                .await?;
            Ok(Value::Null)
        }
        RepositoryCommand::Delete {
            registry,
            repository,
            image,
            yes,
        } => delete(client, sub, &registry, repository, image, yes).await,
    }
}

/// `berth acr repository delete`: a whole repository, or one manifest (a tag's, looked up
/// first) with every tag that names it.
async fn delete(
    client: &mut Client,
    sub: &str,
    registry: &RegistryArgs,
    repository: Option<String>,
    image: Option<String>,
    yes: bool,
) -> Result<Value, CliError> {
    let at = LoginServer::of(client, sub, registry).await?;
    if let Some(repository) = repository {
        confirm(
            &format!(
                "Are you sure you want to delete the repository '{repository}' and all images under it?"
            ),
            yes,
        )?;
        let token = at
            .token(client, &format!("repository:{repository}:delete"))
            .await?;
        let path = format!("/acr/v1/{repository}");
        let (_, removed) = client
            .send_to_login_server(Method::DELETE, &at.host, &path, &token)
            .await?;
        return Ok(removed);
    }
    let image = Image::parse(image.as_deref().unwrap_or_default())?;
    let scope = format!("repository:{}:delete,metadata_read", image.repository);
    let token = at.token(client, &scope).await?;
    let digest = match (image.digest, image.tag) {
        (Some(digest), _) => digest,
        (None, tag) => {
            let path = format!(
                "/acr/v1/{}/_tags/{}",
                image.repository,
                tag.as_deref().unwrap_or("latest")
            );
            let (_, shown) = client
                .send_to_login_server(Method::GET, &at.host, &path, &token)
                .await?;
            shown["tag"]["digest"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    confirm(
        &format!(
            "This operation will delete the manifest '{digest}' and all the images it is tagged as.\nAre you sure you want to continue?"
        ),
        yes,
    )?;
    let path = format!("/v2/{}/manifests/{digest}", image.repository);
    client
        .send_to_login_server(Method::DELETE, &at.host, &path, &token)
        .await?;
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_read_as_az_reads_them() -> Result<(), CliError> {
        let tagged = Image::parse("team/app:v1")?;
        assert_eq!(
            (tagged.repository.as_str(), tagged.tag.as_deref()),
            ("team/app", Some("v1"))
        );
        let latest = Image::parse("team/app")?;
        assert_eq!(latest.tag.as_deref(), Some("latest"));
        let pinned = Image::parse("app@sha256:abc")?;
        assert_eq!(pinned.digest.as_deref(), Some("sha256:abc"));
        let ported = Image::parse("host:5000/app")?;
        assert_eq!(
            (ported.repository.as_str(), ported.tag.as_deref()),
            ("host:5000/app", Some("latest"))
        );
        for bad in ["", ":v1", "@sha256:abc", "app@abc"] {
            assert!(Image::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }
}
