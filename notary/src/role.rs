//! TUF role names as Notary accepts them: the four base roles and delegated targets roles
//! `targets/<name>[/<name>…]` (Notary's `data.ValidRole` / `data.IsDelegation`).

use std::cmp::Ordering;
use std::fmt;

/// A role Notary accepts metadata for. Parsed once; never re-checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoleName {
    /// `root`.
    Root,
    /// `targets`.
    Targets,
    /// `snapshot`.
    Snapshot,
    /// `timestamp`.
    Timestamp,
    /// A delegated targets role, `targets/...` (the whole name).
    Delegation(String),
}

/// Why a name is not a role Notary accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is an invalid role")]
pub struct InvalidRoleName(pub String);

impl RoleName {
    /// Parses a role name as Notary's `data.ValidRole` does. A delegation name starts with
    /// `targets/`, uses only `a-z`, `0-9`, `-`, `_` and `/`, is shorter than 256 bytes and is
    /// a clean path (no empty segment, no trailing `/`).
    ///
    /// # Errors
    /// [`InvalidRoleName`] for anything else.
    pub fn parse(name: &str) -> Result<Self, InvalidRoleName> {
        match name {
            "root" => Ok(Self::Root),
            "targets" => Ok(Self::Targets),
            "snapshot" => Ok(Self::Snapshot),
            "timestamp" => Ok(Self::Timestamp),
            _ if is_delegation(name) => Ok(Self::Delegation(name.to_owned())),
            _ => Err(InvalidRoleName(name.to_owned())),
        }
    }

    /// The name as written in metadata and file names.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Root => "root",
            Self::Targets => "targets",
            Self::Snapshot => "snapshot",
            Self::Timestamp => "timestamp",
            Self::Delegation(name) => name,
        }
    }

    /// Whether this is `targets` or a delegation of it (metadata of type `Targets`).
    #[must_use]
    pub fn is_targets_kind(&self) -> bool {
        matches!(self, Self::Targets | Self::Delegation(_))
    }

    /// The parent of a delegation (`targets/a/b` -> `targets/a`, `targets/a` -> `targets`);
    /// `None` for base roles.
    #[must_use]
    pub fn parent(&self) -> Option<Self> {
        match self {
            Self::Delegation(name) => {
                let (parent, _) = name.rsplit_once('/')?;
                Self::parse(parent).ok()
            }
            _ => None,
        }
    }

    /// Notary's `utils.RoleList` order: fewer `/`-segments first, then by name.
    #[must_use]
    pub fn hierarchy_cmp(&self, other: &Self) -> Ordering {
        let segments = |r: &Self| r.as_str().split('/').count();
        segments(self)
            .cmp(&segments(other))
            .then_with(|| self.as_str().cmp(other.as_str()))
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialOrd for RoleName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RoleName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// Notary's `data.IsDelegation`.
fn is_delegation(name: &str) -> bool {
    name.starts_with("targets/")
        && name.len() < 256
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'/'))
        && !name.contains("//")
        && !name.ends_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn base_roles_and_clean_delegations_parse() {
        for name in [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/releases",
            "targets/a/b-c_9",
        ] {
            assert_eq!(
                RoleName::parse(name).map(|r| r.to_string()),
                Ok(name.to_owned())
            );
        }
    }

    #[test]
    fn names_notary_refuses_do_not_parse() {
        for name in [
            "",
            "Root",
            "targets/",
            "targets//a",
            "targets/a/",
            "targets/A",
            "targets/a.b",
            "targets/../root",
            "foo",
            "targetsfoo",
            "mirror",
        ] {
            assert!(RoleName::parse(name).is_err(), "{name}");
        }
        assert!(RoleName::parse(&format!("targets/{}", "a".repeat(247))).is_ok());
        assert!(RoleName::parse(&format!("targets/{}", "a".repeat(248))).is_err());
    }

    #[test]
    fn parents_and_hierarchy_order() {
        let deep = RoleName::parse("targets/a/b").unwrap_or(RoleName::Root);
        assert_eq!(
            deep.parent().map(|r| r.to_string()),
            Some("targets/a".to_owned())
        );
        let a = RoleName::parse("targets/a").unwrap_or(RoleName::Root);
        assert_eq!(a.parent(), Some(RoleName::Targets));
        assert_eq!(RoleName::Targets.parent(), None);
        let mut roles = [
            deep.clone(),
            RoleName::parse("targets/z").unwrap_or(RoleName::Root),
            a.clone(),
            RoleName::Targets,
        ];
        roles.sort_by(RoleName::hierarchy_cmp);
        assert_eq!(
            roles.iter().map(RoleName::as_str).collect::<Vec<_>>(),
            ["targets", "targets/a", "targets/z", "targets/a/b"]
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_round_trips(name in "\\PC{0,40}|targets/[a-z/_-]{0,20}") {
            if let Ok(role) = RoleName::parse(&name) {
                prop_assert_eq!(role.as_str(), name.as_str());
            }
        }
    }
}
