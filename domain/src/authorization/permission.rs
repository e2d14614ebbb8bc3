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
    let (p, a) = (pattern.as_bytes(), action.as_bytes());
    let (mut pi, mut ai) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ai < a.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ai));
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&a[ai]) {
            pi += 1;
            ai += 1;
        } else if let Some((star_pi, star_ai)) = star {
            pi = star_pi + 1;
            ai = star_ai + 1;
            star = Some((star_pi, star_ai + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|b| *b == b'*')
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
