//! What a request to a login server's registry API names, read from its raw path (never
//! percent-decoded: no name, reference or digest needs `%`, so any `%` is refused), and the
//! access its token must grant, as Distribution's token access controller asks it:
//! `pull` to read, `pull` and `push` to write, `delete` to delete, `registry:catalog:*` for
//! the catalog, and `pull` on the source of a cross-repository mount.

use axum::http::{Method, StatusCode};

/// The longest reference (tag or digest) or upload id taken.
const MAX_SEGMENT: usize = 256;

/// A registry API route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// `/v2/`.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/<name>/...`.
    Repository {
        /// The client's repository name.
        name: &'a str,
        /// What in it.
        resource: Resource<'a>,
    },
    /// `/v2/<gun>/_trust/...`: the trust store.
    Trust {
        /// The GUN (`<loginServer>/<repo>`).
        gun: &'a str,
    },
}

/// What in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resource<'a> {
    /// `tags/list`.
    Tags,
    /// `manifests/<reference>`.
    Manifest(&'a str),
    /// `blobs/<digest>`.
    Blob(&'a str),
    /// `blobs/uploads/` or `blobs/uploads/<id>`.
    Upload(Option<&'a str>),
}

/// Why a path is refused before the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        status,
        code,
        message: message.into(),
    }
}

/// Reads a login server's path.
///
/// # Errors
/// [`Refused`] for a path that is not the registry API, or holds a malformed part.
pub(crate) fn parse(path: &str) -> Result<Route<'_>, Refused> {
    let Some(rest) = path.strip_prefix("/v2") else {
        return Err(not_found(path));
    };
    if rest.is_empty() || rest == "/" {
        return Ok(Route::Base);
    }
    let rest = rest.strip_prefix('/').ok_or_else(|| not_found(path))?;
    if rest.contains('%') {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            "percent-encoded characters are not allowed in registry paths",
        ));
    }
    if rest == "_catalog" {
        return Ok(Route::Catalog);
    }
    if let Some(at) = rest.find("/_trust/") {
        return Ok(Route::Trust { gun: &rest[..at] });
    }
    let (name, resource) = if let Some(name) = rest.strip_suffix("/tags/list") {
        (name, Resource::Tags)
    } else if let Some(name) = rest.strip_suffix("/blobs/uploads/") {
        (name, Resource::Upload(None))
    } else if let Some((name, tail)) = split_last(rest, "/blobs/uploads/") {
        (
            name,
            Resource::Upload(Some(segment(tail, "BLOB_UPLOAD_INVALID")?)),
        )
    } else if let Some((name, tail)) = split_last(rest, "/blobs/") {
        (name, Resource::Blob(digest(tail)?))
    } else if let Some((name, tail)) = split_last(rest, "/manifests/") {
        (name, Resource::Manifest(reference(tail)?))
    } else {
        return Err(not_found(path));
    };
    Ok(Route::Repository { name, resource })
}

fn not_found(path: &str) -> Refused {
    let shown: String = path.chars().take(128).collect();
    refused(
        StatusCode::NOT_FOUND,
        "UNSUPPORTED",
        format!("'{shown}' is not a route of the registry API"),
    )
}

/// `name` and the one segment after the last `sep`, when that segment holds no `/`.
fn split_last<'a>(rest: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let at = rest.rfind(sep)?;
    let tail = &rest[at + sep.len()..];
    (!tail.contains('/')).then_some((&rest[..at], tail))
}

/// A path segment of the characters references, digests and upload ids use.
fn segment<'a>(text: &'a str, code: &'static str) -> Result<&'a str, Refused> {
    let ok = !text.is_empty()
        && text.len() <= MAX_SEGMENT
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:=+-".contains(&b));
    if ok {
        Ok(text)
    } else {
        let shown: String = text.chars().take(64).collect();
        Err(refused(
            StatusCode::BAD_REQUEST,
            code,
            format!("invalid path segment '{shown}'"),
        ))
    }
}

/// `algorithm:hex`, as Distribution's digest grammar (hex of 32 characters or more).
fn digest(text: &str) -> Result<&str, Refused> {
    let valid = text.split_once(':').is_some_and(|(algorithm, hex)| {
        !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b))
            && hex.len() >= 32
            && hex.len() <= MAX_SEGMENT
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if valid {
        Ok(text)
    } else {
        segment(text, "DIGEST_INVALID")?;
        Err(refused(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
        ))
    }
}

/// A tag (`[\w][\w.-]{0,127}`) or a digest.
fn reference(text: &str) -> Result<&str, Refused> {
    if text.contains(':') {
        return digest(text);
    }
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let valid = !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-');
    if valid {
        Ok(text)
    } else {
        let shown: String = text.chars().take(64).collect();
        Err(refused(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            format!("invalid tag '{shown}'"),
        ))
    }
}

/// The largest page (`n`) a listing gives: Distribution's default `catalog.maxentries`, as
/// ACR's repository API pages too.
pub(crate) const MAX_PAGE: usize = berth_domain::registry::MAX_PAGE;

/// A listing's page size `n`, from 1 to [`MAX_PAGE`].
///
/// # Errors
/// 400 `PAGINATION_NUMBER_INVALID` for anything else.
pub(crate) fn page_size(value: &str) -> Result<usize, Refused> {
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(refused(
            StatusCode::BAD_REQUEST,
            "PAGINATION_NUMBER_INVALID",
            format!("n must be a number from 1 to {MAX_PAGE}"),
        )),
    }
}

/// The actions a request needs on its repository: Distribution's mapping of methods.
///
/// # Errors
/// 405 for a method the registry API does not have.
pub(crate) fn actions(method: &Method) -> Result<&'static [&'static str], Refused> {
    Ok(match *method {
        Method::GET | Method::HEAD => &["pull"],
        Method::POST | Method::PUT | Method::PATCH => &["pull", "push"],
        Method::DELETE => &["delete"],
        _ => {
            return Err(refused(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                format!("the registry API has no {method} method"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> (String, Resource<'_>) {
        match parse(path) {
            Ok(Route::Repository { name, resource }) => (name.to_owned(), resource),
            other => panic!("{path}: {other:?}"),
        }
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn registry_routes_are_read_from_the_end() {
        assert_eq!(parse("/v2/"), Ok(Route::Base));
        assert_eq!(parse("/v2"), Ok(Route::Base));
        assert_eq!(parse("/v2/_catalog"), Ok(Route::Catalog));
        assert_eq!(
            repo("/v2/team/app/tags/list"),
            ("team/app".into(), Resource::Tags)
        );
        assert_eq!(
            repo("/v2/a/manifests/manifests/v1"),
            ("a/manifests".into(), Resource::Manifest("v1"))
        );
        let path = format!("/v2/app/blobs/{DIGEST}");
        assert_eq!(repo(&path), ("app".into(), Resource::Blob(DIGEST)));
        assert_eq!(
            repo("/v2/app/blobs/uploads/"),
            ("app".into(), Resource::Upload(None))
        );
        assert_eq!(
            repo("/v2/app/blobs/uploads/5f1c-42"),
            ("app".into(), Resource::Upload(Some("5f1c-42")))
        );
        assert_eq!(
            parse("/v2/host:443/app/_trust/tuf/root.json"),
            Ok(Route::Trust {
                gun: "host:443/app"
            })
        );
    }

    #[test]
    fn malformed_paths_are_refused_before_the_backend() {
        let code = |p: &str| parse(p).map(|_| ()).map_err(|r| (r.status, r.code));
        assert_eq!(
            code("/v2/a%2fb/tags/list"),
            Err((StatusCode::BAD_REQUEST, "NAME_INVALID"))
        );
        assert_eq!(
            code("/v2/app/manifests/-x"),
            Err((StatusCode::BAD_REQUEST, "TAG_INVALID"))
        );
        assert_eq!(
            code(&format!("/v2/app/manifests/{}", "t".repeat(129))),
            Err((StatusCode::BAD_REQUEST, "TAG_INVALID"))
        );
        assert_eq!(
            code("/v2/app/blobs/sha256:short"),
            Err((StatusCode::BAD_REQUEST, "DIGEST_INVALID"))
        );
        assert_eq!(
            code("/v2/app/unknown"),
            Err((StatusCode::NOT_FOUND, "UNSUPPORTED"))
        );
        assert_eq!(code("/v1/app"), Err((StatusCode::NOT_FOUND, "UNSUPPORTED")));
        assert_eq!(
            code("/v2/app/manifests/a/b"),
            Err((StatusCode::NOT_FOUND, "UNSUPPORTED"))
        );
    }

    #[test]
    fn methods_need_distributions_actions() {
        assert_eq!(actions(&Method::HEAD), Ok(&["pull"][..]));
        assert_eq!(actions(&Method::PATCH), Ok(&["pull", "push"][..]));
        assert_eq!(actions(&Method::DELETE), Ok(&["delete"][..]));
        assert!(actions(&Method::OPTIONS).is_err());
    }
}
