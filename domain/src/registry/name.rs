//! The registry name: 5–50 ASCII alphanumerics, unique in the deployment without regard to
//! case, because it makes the login server.

use crate::arm::NameError;
use std::fmt;

/// A parsed registry name, case kept as given at creation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryName(String);

impl RegistryName {
    /// Parses a registry name.
    ///
    /// # Errors
    /// A [`NameError`] saying which rule the name breaks.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if !(5..=50).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(NameError::new(format!(
                "The registry name '{s}' is invalid: it must be 5 to 50 characters long and contain only \
                 alphanumeric characters (a-z, A-Z, 0-9)."
            )));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form names are compared and made unique by.
    #[must_use]
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for RegistryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_need_five_to_fifty_alphanumerics() {
        assert!(RegistryName::parse("abcd").is_err());
        assert!(RegistryName::parse("abcde").is_ok());
        assert!(RegistryName::parse(&"a".repeat(50)).is_ok());
        assert!(RegistryName::parse(&"a".repeat(51)).is_err());
        assert!(RegistryName::parse("my-registry").is_err());
        assert!(RegistryName::parse("régistry").is_err());
    }

    proptest! {
        #[test]
        fn parse_accepts_exactly_the_documented_pattern(s in "\\PC{0,60}") {
            let valid = (5..=50).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric());
            prop_assert_eq!(RegistryName::parse(&s).is_ok(), valid);
        }
    }
}
