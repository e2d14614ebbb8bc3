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

/// Whether `name` is a repository name Distribution accepts: path components separated by
/// `/`, each lowercase alphanumerics joined by one separator (`.`, `_`, `__` or a run of
/// `-`), at most 255 characters in all (Distribution's reference grammar).
#[must_use]
pub fn is_repository_name(name: &str) -> bool {
    name.len() <= 255 && name.split('/').all(is_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        // A run of alphanumerics.
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        // One separator, then alphanumerics again.
        let sep_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[sep_start..i];
        let dashes = separator.bytes().all(|b| b == b'-');
        if !(dashes || matches!(separator, "." | "_" | "__")) {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repository_names_follow_distribution() {
        for good in ["app", "team/app", "a.b-c_d/e__f", "x9/y", "a---b", "0"] {
            assert!(is_repository_name(good), "{good}");
        }
        for bad in [
            "App",
            "/app",
            "app/",
            "team//app",
            "-app",
            "app-",
            "a b",
            "",
            "a..b",
            "..",
            "a/../b",
            "a.-b",
            "a___b",
            "a%2fb",
            "a/_trust",
            "a\u{e9}",
        ] {
            assert!(!is_repository_name(bad), "{bad}");
        }
        assert!(is_repository_name(&"a".repeat(255)));
        assert!(!is_repository_name(&"a".repeat(256)));
    }

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
