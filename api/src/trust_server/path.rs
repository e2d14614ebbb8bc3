//! Which Notary v1 route a request is, read from its method and path as notary-server's
//! router (gorilla/mux, `server/server.go`) reads it: the GUN is everything before the
//! last `/_trust/`, never contains `*`, and a metadata file is `<role>.json`,
//! `<version>.<role>.json` or `<role>.<checksum>.json`, with roles `root`, `snapshot`,
//! `timestamp` and `targets(/<name>)*`.

use axum::http::Method;
use berth_notary::TufSelector;

/// A Notary route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotaryRoute {
    /// `GET /v2/`.
    Base,
    /// `POST /v2/<gun>/_trust/tuf/`.
    Update {
        /// The GUN.
        gun: String,
    },
    /// `GET /v2/<gun>/_trust/tuf/<file>.json`.
    Metadata {
        /// The GUN.
        gun: String,
        /// The role as written (`targets/releases`).
        role: String,
        /// Which version.
        which: TufSelector,
    },
    /// `GET /v2/<gun>/_trust/tuf/{timestamp,snapshot}.key`.
    GetKey {
        /// The GUN.
        gun: String,
        /// `timestamp` or `snapshot`.
        role: String,
    },
    /// `POST /v2/<gun>/_trust/tuf/{timestamp,snapshot}.key`.
    RotateKey {
        /// The GUN.
        gun: String,
        /// `timestamp` or `snapshot`.
        role: String,
    },
    /// `DELETE /v2/<gun>/_trust/tuf/`.
    Delete {
        /// The GUN.
        gun: String,
    },
    /// `GET /v2/<gun>/_trust/changefeed`, or `/v2/_trust/changefeed` (every GUN).
    Changefeed {
        /// The GUN, or none for every one.
        gun: Option<String>,
    },
    /// Anything else (`NotFoundHandler` behind a catalog check), for these methods.
    Other,
    /// A method notary-server routes nowhere.
    MethodNotAllowed,
}

impl NotaryRoute {
    /// The GUN the route is about, if any.
    #[must_use]
    pub fn gun(&self) -> Option<&str> {
        match self {
            Self::Update { gun }
            | Self::Metadata { gun, .. }
            | Self::GetKey { gun, .. }
            | Self::RotateKey { gun, .. }
            | Self::Delete { gun } => Some(gun),
            Self::Changefeed { gun } => gun.as_deref(),
            Self::Base | Self::Other | Self::MethodNotAllowed => None,
        }
    }

    /// The actions a token must grant on the GUN (or, without one, `registry:catalog:*`).
    #[must_use]
    pub fn required_actions(&self) -> &'static [&'static str] {
        match self {
            Self::Update { .. } | Self::GetKey { .. } => &["push", "pull"],
            Self::Metadata { .. } | Self::Changefeed { gun: Some(_) } => &["pull"],
            Self::RotateKey { .. }
            | Self::Delete { .. }
            | Self::Changefeed { gun: None }
            | Self::Base
            | Self::Other => &["*"],
            Self::MethodNotAllowed => &[],
        }
    }

    /// Reads the route of `method` and `path` (the request's path, percent-decoded).
    #[must_use]
    pub fn parse(method: &Method, path: &str) -> Self {
        let routed = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::HEAD,
            Method::DELETE,
        ];
        if !routed.contains(method) {
            return Self::MethodNotAllowed;
        }
        if path == "/v2/" {
            return if *method == Method::GET {
                Self::Base
            } else {
                Self::Other
            };
        }
        if path == "/v2/_trust/changefeed" && *method == Method::GET {
            return Self::Changefeed { gun: None };
        }
        let Some(rest) = path.strip_prefix("/v2/") else {
            return Self::Other;
        };
        if let Some(gun) = rest.strip_suffix("/_trust/changefeed") {
            return match valid_gun(gun) {
                Some(gun) if *method == Method::GET => Self::Changefeed { gun: Some(gun) },
                _ => Self::Other,
            };
        }
        let Some((gun, file)) = rest.rsplit_once("/_trust/tuf/") else {
            return Self::Other;
        };
        let Some(gun) = valid_gun(gun) else {
            return Self::Other;
        };
        match (method, file) {
            (&Method::POST, "") => Self::Update { gun },
            (&Method::DELETE, "") => Self::Delete { gun },
            (&Method::GET, "timestamp.key" | "snapshot.key") => Self::GetKey {
                role: file.trim_end_matches(".key").to_owned(),
                gun,
            },
            (&Method::POST, "timestamp.key" | "snapshot.key") => Self::RotateKey {
                role: file.trim_end_matches(".key").to_owned(),
                gun,
            },
            (&Method::GET, _) => match metadata_file(file) {
                Some((role, which)) => Self::Metadata { gun, role, which },
                None => Self::Other,
            },
            _ => Self::Other,
        }
    }
}

/// `{gun:[^*]+}`.
fn valid_gun(gun: &str) -> Option<String> {
    (!gun.is_empty() && !gun.contains('*')).then(|| gun.to_owned())
}

/// `root|targets(?:/[^/\s]+)*|snapshot|timestamp`.
fn valid_role(role: &str) -> bool {
    match role {
        "root" | "snapshot" | "timestamp" | "targets" => true,
        _ => role.strip_prefix("targets/").is_some_and(|names| {
            names
                .split('/')
                .all(|n| !n.is_empty() && !n.chars().any(char::is_whitespace))
        }),
    }
}

/// A metadata file name, tried as the router tries its routes: by checksum, by version,
/// then the current file.
fn metadata_file(file: &str) -> Option<(String, TufSelector)> {
    let name = file.strip_suffix(".json")?;
    if let Some((role, checksum)) = name.rsplit_once('.')
        && matches!(checksum.len(), 64 | 96 | 128)
        && checksum.chars().all(|c| c.is_ascii_hexdigit())
        && valid_role(role)
    {
        return Some((
            role.to_owned(),
            TufSelector::Checksum(checksum.to_ascii_lowercase()),
        ));
    }
    if let Some((version, role)) = name.split_once('.')
        && !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit())
        && valid_role(role)
    {
        // Digits beyond i64 name no stored version: notary's Atoi fails with 404 too.
        let version = version.parse().ok()?;
        return Some((role.to_owned(), TufSelector::Version(version)));
    }
    valid_role(name).then(|| (name.to_owned(), TufSelector::Current))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> NotaryRoute {
        NotaryRoute::parse(&Method::GET, path)
    }

    #[test]
    fn metadata_files_are_read_as_notary_routes_them() {
        let gun = "reg.registry.localhost/team/app";
        let meta = |role: &str, which| NotaryRoute::Metadata {
            gun: gun.to_owned(),
            role: role.to_owned(),
            which,
        };
        let checksum = "AB".repeat(32);
        assert_eq!(
            get(&format!("/v2/{gun}/_trust/tuf/root.json")),
            meta("root", TufSelector::Current)
        );
        assert_eq!(
            get(&format!("/v2/{gun}/_trust/tuf/3.targets/releases.json")),
            meta("targets/releases", TufSelector::Version(3))
        );
        assert_eq!(
            get(&format!("/v2/{gun}/_trust/tuf/snapshot.{checksum}.json")),
            meta(
                "snapshot",
                TufSelector::Checksum(checksum.to_ascii_lowercase())
            )
        );
        assert_eq!(
            get(&format!("/v2/{gun}/_trust/tuf/targets/a.b.json")),
            meta("targets/a.b", TufSelector::Current)
        );
        for other in [
            format!("/v2/{gun}/_trust/tuf/other.json"),
            format!("/v2/{gun}/_trust/tuf/root"),
            format!("/v2/{gun}/_trust/tuf/targets/.json"),
            format!("/v2/{gun}/_trust/tuf/99999999999999999999.root.json"),
            "/v2/a*b/_trust/tuf/root.json".to_owned(),
            "/v2//_trust/tuf/root.json".to_owned(),
            format!("/v2/{gun}/_trust/tuf"),
            "/other".to_owned(),
        ] {
            assert_eq!(get(&other), NotaryRoute::Other, "{other}");
        }
    }

    #[test]
    fn each_route_asks_for_notary_servers_actions() {
        let gun = "r.registry.localhost/app";
        let update = NotaryRoute::parse(&Method::POST, &format!("/v2/{gun}/_trust/tuf/"));
        assert_eq!(update.required_actions(), ["push", "pull"]);
        assert_eq!(update.gun(), Some(gun));
        let delete = NotaryRoute::parse(&Method::DELETE, &format!("/v2/{gun}/_trust/tuf/"));
        assert_eq!(delete.required_actions(), ["*"]);
        let rotate =
            NotaryRoute::parse(&Method::POST, &format!("/v2/{gun}/_trust/tuf/snapshot.key"));
        assert_eq!(
            rotate,
            NotaryRoute::RotateKey {
                gun: gun.to_owned(),
                role: "snapshot".to_owned()
            }
        );
        assert_eq!(rotate.required_actions(), ["*"]);
        assert_eq!(
            get(&format!("/v2/{gun}/_trust/tuf/timestamp.key")).required_actions(),
            ["push", "pull"]
        );
        assert_eq!(
            get(&format!("/v2/{gun}/_trust/changefeed")).required_actions(),
            ["pull"]
        );
        let all = get("/v2/_trust/changefeed");
        assert_eq!((all.gun(), all.required_actions()), (None, &["*"][..]));
        assert_eq!(get("/v2/"), NotaryRoute::Base);
        assert_eq!(
            NotaryRoute::parse(&Method::PATCH, "/v2/"),
            NotaryRoute::MethodNotAllowed
        );
        // The trailing slash is required: without it, the catch-all (a catalog check).
        assert_eq!(
            NotaryRoute::parse(&Method::DELETE, &format!("/v2/{gun}/_trust/tuf")),
            NotaryRoute::Other
        );
    }
}
