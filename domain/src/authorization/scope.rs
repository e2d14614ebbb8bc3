//! Scopes: the ARM paths role assignments attach to, from the root `/` down to a
//! repository of a registry. Compared without regard to case, as ARM does.

use crate::arm::SubscriptionId;
use std::fmt;

/// Why a scope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The scope '{scope}' is not valid: {reason}")]
pub struct ScopeError {
    /// The scope as given.
    pub scope: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// A parsed scope. Its text keeps the case it was given in; its key is lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    text: String,
    key: String,
    /// Byte lengths of this scope's ancestors and itself (root excluded), shortest first.
    ancestors: Vec<usize>,
}

/// The levels of the scope hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScopeLevel {
    /// `/`.
    Root,
    /// `/subscriptions/{id}`.
    Subscription,
    /// `.../resourceGroups/{name}`.
    ResourceGroup,
    /// `.../providers/{namespace}/{type}/{name}` (a registry, or another resource).
    Resource,
    /// `.../registries/{name}/repositories/{repository}`.
    Repository,
}

impl Scope {
    /// The root scope `/`.
    #[must_use]
    pub fn root() -> Self {
        Self {
            text: "/".to_owned(),
            key: "/".to_owned(),
            ancestors: Vec::new(),
        }
    }

    /// Parses a scope: `/`, `/subscriptions/{guid}`, `.../resourceGroups/{name}`,
    /// `.../providers/{Namespace}/{type}/{name}`, and for registries
    /// `.../repositories/{repository}` (a repository name may contain `/`).
    /// A trailing slash is ignored.
    ///
    /// # Errors
    /// A [`ScopeError`] saying what is wrong.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let err = |reason| ScopeError {
            scope: s.to_owned(),
            reason,
        };
        if !s.starts_with('/') {
            return Err(err("a scope starts with '/'"));
        }
        if s.len() > 2048 || s.chars().any(char::is_control) {
            return Err(err("it is too long or has control characters"));
        }
        let trimmed = s.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let segments: Vec<&str> = trimmed[1..].split('/').collect();
        if segments.iter().any(|seg| seg.is_empty()) {
            return Err(err("it has an empty segment"));
        }
        // A scope is never a relative path: tools that normalize paths would read it as
        // another scope than the one it grants at.
        if segments.iter().any(|seg| *seg == "." || *seg == "..") {
            return Err(err("it has a '.' or '..' segment"));
        }
        let mut ends = Vec::new();
        let mut offset = 0;
        let mut end_of = |count: usize, segments: &[&str]| {
            offset += segments[..count]
                .iter()
                .map(|seg| seg.len() + 1)
                .sum::<usize>();
            offset
        };
        let mut rest = &segments[..];
        // /subscriptions/{guid}
        match rest {
            [key, id, ..] if key.eq_ignore_ascii_case("subscriptions") => {
                SubscriptionId::parse(id).map_err(|_| err("the subscription id is not a GUID"))?;
                ends.push(end_of(2, rest));
                rest = &rest[2..];
            }
            _ => return Err(err("it must start with /subscriptions/{subscriptionId}")),
        }
        // /resourceGroups/{name}
        if let [key, _name, ..] = rest
            && key.eq_ignore_ascii_case("resourceGroups")
        {
            ends.push(end_of(2, rest));
            rest = &rest[2..];
        }
        // /providers/{namespace}/{type}/{name}
        if let [key, ..] = rest
            && key.eq_ignore_ascii_case("providers")
        {
            if ends.len() < 2 {
                return Err(err("a resource scope needs a resource group"));
            }
            let [_, namespace, kind, _name, ..] = rest else {
                return Err(err(
                    "a resource scope is /providers/{namespace}/{type}/{name}",
                ));
            };
            ends.push(end_of(4, rest));
            let is_registry = namespace.eq_ignore_ascii_case("Microsoft.ContainerRegistry")
                && kind.eq_ignore_ascii_case("registries");
            rest = &rest[4..];
            // /repositories/{repository}, the rest of the path
            if let [key, repository @ ..] = rest
                && key.eq_ignore_ascii_case("repositories")
                && is_registry
            {
                if repository.is_empty() {
                    return Err(err("a repository scope names the repository"));
                }
                // Distribution's grammar (case aside: scopes compare without it), so no
                // `..` or `.` segment can make the path read as another scope.
                if !crate::registry::is_repository_name(&repository.join("/").to_ascii_lowercase())
                {
                    return Err(err(
                        "the repository name must be lowercase path components of letters and digits joined by '.', '_' or '-'",
                    ));
                }
                ends.push(trimmed.len());
                rest = &[];
            }
        }
        if !rest.is_empty() {
            return Err(err("it names no known scope level"));
        }
        Ok(Self {
            key: trimmed.to_ascii_lowercase(),
            text: trimmed.to_owned(),
            ancestors: ends,
        })
    }

    /// The scope as given (without a trailing slash).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The lowercase form scopes are compared by.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The level of this scope.
    #[must_use]
    pub fn level(&self) -> ScopeLevel {
        match self.ancestors.len() {
            0 => ScopeLevel::Root,
            1 => ScopeLevel::Subscription,
            2 => ScopeLevel::ResourceGroup,
            3 => ScopeLevel::Resource,
            _ => ScopeLevel::Repository,
        }
    }

    /// The keys of this scope and every scope above it, this one first, the root last.
    pub fn self_and_ancestor_keys(&self) -> impl Iterator<Item = &str> {
        self.ancestors
            .iter()
            .rev()
            .map(|end| &self.key[..*end])
            .chain(std::iter::once("/"))
    }

    /// Whether `self` is `other` or lies below it.
    #[must_use]
    pub fn is_within(&self, other: &Scope) -> bool {
        self.self_and_ancestor_keys().any(|k| k == other.key)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SUB: &str = "/subscriptions/6d951973-ab00-47fe-9831-74ce4de9ec6d";

    #[test]
    fn every_level_parses_and_knows_its_ancestors() {
        let repo = format!(
            "{SUB}/resourceGroups/RG/providers/Microsoft.ContainerRegistry/registries/Reg1/repositories/library/nginx/"
        );
        let scope = Scope::parse(&repo).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scope.level(), ScopeLevel::Repository);
        assert_eq!(scope.as_str(), repo.trim_end_matches('/'));
        let keys: Vec<&str> = scope.self_and_ancestor_keys().collect();
        let sub = SUB.to_owned();
        assert_eq!(
            keys,
            [
                repo.trim_end_matches('/').to_lowercase().as_str(),
                format!(
                    "{sub}/resourcegroups/rg/providers/microsoft.containerregistry/registries/reg1"
                )
                .as_str(),
                format!("{sub}/resourcegroups/rg").as_str(),
                sub.as_str(),
                "/"
            ]
        );
        assert_eq!(Scope::parse("/").map(|s| s.level()), Ok(ScopeLevel::Root));
        assert_eq!(
            Scope::parse(SUB).map(|s| s.level()),
            Ok(ScopeLevel::Subscription)
        );
    }

    #[test]
    fn malformed_scopes_are_refused() {
        for bad in [
            "",
            "subscriptions/x",
            "/subscriptions/not-a-guid",
            "/subscriptions",
            &format!("{SUB}/resourceGroups"),
            &format!("{SUB}//resourceGroups/rg"),
            &format!("{SUB}/providers/Microsoft.ContainerRegistry/registries/r"),
            &format!("{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries"),
            &format!(
                "{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/repositories"
            ),
            &format!("{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/s/repositories/x"),
            &format!("{SUB}/resourceGroups/rg/extra/thing"),
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_scope_cannot_climb_out_of_a_repository_with_dot_segments() {
        let registry =
            format!("{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r");
        for bad in [
            format!("{registry}/repositories/../../../../resourceGroups/rg"),
            format!("{registry}/repositories/app/.."),
            format!("{registry}/repositories/./app"),
            format!("{registry}/repositories/team/-app"),
            format!("{registry}/repositories/a b"),
            format!("{registry}/repositories/app:tag"),
            format!("{SUB}/resourceGroups/../providers/Microsoft.ContainerRegistry/registries/r"),
            format!("{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/.."),
        ] {
            assert!(Scope::parse(&bad).is_err(), "{bad}");
        }
        for good in [
            format!("{registry}/repositories/team/app"),
            format!("{registry}/repositories/Team/App"),
            format!("{registry}/repositories/a.b-c_d/e__f"),
        ] {
            assert!(Scope::parse(&good).is_ok(), "{good}");
        }
    }

    #[test]
    fn containment_ignores_case() {
        let registry = Scope::parse(&format!(
            "{SUB}/resourceGroups/RG/providers/Microsoft.ContainerRegistry/registries/R"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let group = Scope::parse(&format!(
            "{}/resourcegroups/rg",
            SUB.to_uppercase().replace("SUBSCRIPTIONS", "subscriptions")
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(registry.is_within(&group));
        assert!(registry.is_within(&Scope::root()));
        assert!(!group.is_within(&registry));
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_ancestors_parse(s in "(/[a-zA-Z0-9.-]{0,12}){0,12}/?") {
            if let Ok(scope) = Scope::parse(&s) {
                for key in scope.self_and_ancestor_keys() {
                    let parent = Scope::parse(key).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert!(scope.is_within(&parent));
                }
            }
        }

        #[test]
        fn registry_scopes_round_trip(rg in "[A-Za-z0-9_.()-]{1,20}[A-Za-z0-9]", name in "[a-zA-Z0-9]{5,20}", repo in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}") {
            let text = format!("{SUB}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}/repositories/{repo}");
            let scope = Scope::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(scope.as_str(), text.as_str());
            prop_assert_eq!(scope.level(), ScopeLevel::Repository);
            prop_assert_eq!(scope.self_and_ancestor_keys().count(), 5);
        }
    }
}
