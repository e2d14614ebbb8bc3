//! ARM resource tags, with ARM's limits.

use std::collections::BTreeMap;

/// Why a tag set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TagsError(pub String);

/// At most 50 name/value pairs; names up to 512 characters, values up to 256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(BTreeMap<String, String>);

impl Tags {
    /// Checks ARM's limits.
    ///
    /// # Errors
    /// A [`TagsError`] naming the limit that was exceeded.
    pub fn parse(map: BTreeMap<String, String>) -> Result<Self, TagsError> {
        if map.len() > 50 {
            return Err(TagsError(format!(
                "A resource can have at most 50 tags; {} were given.",
                map.len()
            )));
        }
        for (k, v) in &map {
            if k.is_empty()
                || k.chars().count() > 512
                || k.contains(['<', '>', '%', '&', '\\', '?', '/'])
            {
                return Err(TagsError(format!(
                    "The tag name '{k}' is invalid: 1-512 characters, none of < > % & \\ ? /."
                )));
            }
            if v.chars().count() > 256 {
                return Err(TagsError(format!(
                    "The value of tag '{k}' is longer than 256 characters."
                )));
            }
        }
        Ok(Self(map))
    }

    /// The pairs.
    #[must_use]
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}
