//! Parsed names of the ARM hierarchy: subscription ids, resource-group names, locations.

use std::fmt;
use uuid::Uuid;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct NameError {
    /// What was wrong, in words a caller can act on.
    pub message: String,
}

impl NameError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// A subscription id: a GUID, kept in its lowercase hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(Uuid);

impl SubscriptionId {
    /// Parses a GUID in any case, with or without braces.
    ///
    /// # Errors
    /// A [`NameError`] when the text is not a GUID.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        Uuid::parse_str(s.trim_matches(|c| c == '{' || c == '}'))
            .map(Self)
            .map_err(|_| NameError::new(format!("The subscription id '{s}' is not a valid GUID.")))
    }

    /// A new random subscription id.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A resource-group name as ARM allows it: 1–90 characters of letters, digits, `_`, `-`,
/// `.`, `(` and `)`, not ending in a period. Compared case-insensitively, case kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceGroupName(String);

impl ResourceGroupName {
    /// Parses a resource-group name.
    ///
    /// # Errors
    /// A [`NameError`] naming the rule the text breaks.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let len = s.chars().count();
        let ok_chars = s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'));
        if !(1..=90).contains(&len) || !ok_chars || s.ends_with('.') {
            return Err(NameError::new(format!(
                "Resource group name '{s}' is invalid: it must be 1-90 characters of letters, digits, \
                 underscores, hyphens, periods and parentheses, and cannot end with a period."
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as given at creation.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceGroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Azure-style location, normalized as ARM does (`West US` -> `westus`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location(String);

impl Location {
    /// Parses and normalizes a location.
    ///
    /// # Errors
    /// A [`NameError`] when the location is empty, too long, or has characters other than
    /// letters, digits and spaces.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let normalized: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if normalized.is_empty()
            || normalized.len() > 64
            || !normalized.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(NameError::new(format!(
                "The location '{s}' is invalid: use a region name such as 'westus'."
            )));
        }
        Ok(Self(normalized))
    }

    /// The normalized location.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn locations_are_normalized_as_arm_does() {
        assert_eq!(
            Location::parse("West US 2").map(|l| l.0),
            Ok("westus2".to_owned())
        );
        assert!(Location::parse("  ").is_err());
        assert!(Location::parse("west/us").is_err());
    }

    #[test]
    fn resource_group_names_follow_arm_rules() {
        assert!(ResourceGroupName::parse("my-rg_(1).x").is_ok());
        assert!(ResourceGroupName::parse("ends.").is_err());
        assert!(ResourceGroupName::parse("").is_err());
        assert!(ResourceGroupName::parse(&"a".repeat(91)).is_err());
        assert!(ResourceGroupName::parse("a/b").is_err());
    }

    proptest! {
        #[test]
        fn resource_group_parse_never_panics_and_keeps_the_text(s in "\\PC{0,100}") {
            if let Ok(name) = ResourceGroupName::parse(&s) {
                prop_assert_eq!(name.as_str(), s.as_str());
            }
        }

        #[test]
        fn subscription_ids_round_trip_lowercase(u in any::<u128>()) {
            let text = Uuid::from_u128(u).hyphenated().to_string().to_uppercase();
            let id = SubscriptionId::parse(&text).map_err(|e| TestCaseError::fail(e.message))?;
            prop_assert_eq!(id.to_string(), text.to_lowercase());
        }
    }
}
