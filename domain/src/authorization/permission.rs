//! Actions and the permission blocks of role definitions, evaluated as Azure RBAC does:
//! `*` matches any run of characters (slashes included), case is ignored, and a block
//! grants its actions minus its notActions. Control-plane actions and data actions are
//! separate: a data action is granted only by `dataActions`.

use serde::{Deserialize, Serialize};

/// Whether an action acts on the control plane or on data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// ARM operations (`actions` / `notActions`).
    Control,
    /// Data-plane operations (`dataActions` / `notDataActions`).
    Data,
}

/// One permission block of a role definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// Control-plane actions granted.
    pub actions: Vec<String>,
    /// Control-plane actions taken out of `actions`.
    pub not_actions: Vec<String>,
    /// Data actions granted.
    pub data_actions: Vec<String>,
    /// Data actions taken out of `data_actions`.
    pub not_data_actions: Vec<String>,
}

impl Permission {
    /// Whether this block grants `action`.
    #[must_use]
    pub fn grants(&self, action: &str, kind: AccessKind) -> bool {
        let (allow, deny) = match kind {
            AccessKind::Control => (&self.actions, &self.not_actions),
            AccessKind::Data => (&self.data_actions, &self.not_data_actions),
        };
        allow.iter().any(|p| matches(p, action)) && !deny.iter().any(|p| matches(p, action))
    }
}

/// Matches an action against a pattern with `*` wildcards, ignoring ASCII case, without
/// allocating (the authorization decision sits on every request).
#[must_use]
pub fn matches(pattern: &str, action: &str) -> bool {
    glob(pattern.as_bytes(), action.as_bytes(), &b'*', |p, a| {
        p.eq_ignore_ascii_case(a)
    })
}

/// Whether `text` matches `pattern`, where `star` matches any run of items and `one` says
/// whether a pattern item matches a text item. Iterative, remembering only the last `star`
/// to fall back to: at most `pattern.len() * text.len()` steps whatever the pattern (a
/// backtracking matcher is exponential in the number of stars).
pub(crate) fn glob<T: PartialEq>(
    pattern: &[T],
    text: &[T],
    star: &T,
    one: impl Fn(&T, &T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0, 0);
    // The pattern position of the last star seen, and the text position it resumes from.
    let mut resume: Option<(usize, usize)> = None;
    while ti < text.len() {
        match pattern.get(pi) {
            Some(p) if p == star => {
                resume = Some((pi, ti));
                pi += 1;
            }
            Some(p) if one(p, &text[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match resume {
                Some((star_pi, star_ti)) => {
                    pi = star_pi + 1;
                    ti = star_ti + 1;
                    resume = Some((star_pi, star_ti + 1));
                }
                None => return false,
            },
        }
    }
    pattern[pi..].iter().all(|p| p == star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wildcards_match_as_azure_rbac_does() {
        assert!(matches("*", "Microsoft.ContainerRegistry/registries/read"));
        assert!(matches(
            "*/read",
            "Microsoft.ContainerRegistry/registries/read"
        ));
        assert!(!matches(
            "*/read",
            "Microsoft.ContainerRegistry/registries/write"
        ));
        assert!(matches(
            "Microsoft.Authorization/*/Write",
            "microsoft.authorization/roleAssignments/write"
        ));
        assert!(matches(
            "Microsoft.ContainerRegistry/*",
            "Microsoft.ContainerRegistry/registries/push/write"
        ));
        assert!(!matches(
            "Microsoft.ContainerRegistry/registries/pull/read",
            "Microsoft.ContainerRegistry/registries/push/write"
        ));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
    }

    #[test]
    fn not_actions_are_taken_out_of_actions() {
        let contributor = Permission {
            actions: vec!["*".into()],
            not_actions: vec!["Microsoft.Authorization/*/Write".into()],
            ..Permission::default()
        };
        assert!(contributor.grants(
            "Microsoft.ContainerRegistry/registries/write",
            AccessKind::Control
        ));
        assert!(!contributor.grants(
            "Microsoft.Authorization/roleAssignments/write",
            AccessKind::Control
        ));
        assert!(!contributor.grants(
            "Microsoft.ContainerRegistry/registries/trustedCollections/write",
            AccessKind::Data
        ));
    }

    proptest! {
        #[test]
        fn a_pattern_without_wildcards_matches_only_itself_in_any_case(a in "[a-zA-Z./]{0,20}", b in "[a-zA-Z./]{0,20}") {
            prop_assert_eq!(matches(&a, &b), a.eq_ignore_ascii_case(&b));
            prop_assert!(matches("*", &b));
            let (prefix, text) = (format!("{a}*"), format!("{}{b}", a.to_uppercase()));
            prop_assert!(matches(&prefix, &text));
        }
    }
}
