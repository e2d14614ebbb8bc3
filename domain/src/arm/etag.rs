//! Entity tags for ARM's optimistic concurrency (`ETag`, `If-Match`, `If-None-Match`).

use uuid::Uuid;

/// An opaque version stamp of a resource; a new one is minted on every write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// A fresh, unique tag.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::new_v4().simple().to_string())
    }

    /// Wraps a stored tag.
    #[must_use]
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The tag without quotes.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag as an HTTP header value: quoted, as RFC 9110 and ARM send it.
    #[must_use]
    pub fn to_header(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

/// What a write requires of the resource's current version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Precondition {
    /// `If-Match`: one of these tags, or `*` (any existing resource). Empty: no condition.
    pub if_match: Vec<String>,
    /// `If-None-Match`: none of these tags, or `*` (the resource must not exist).
    pub if_none_match: Vec<String>,
}

impl Precondition {
    /// Parses the raw header values (comma-separated lists, quoted or weak tags).
    #[must_use]
    pub fn from_headers(if_match: Option<&str>, if_none_match: Option<&str>) -> Self {
        Self {
            if_match: split_tags(if_match),
            if_none_match: split_tags(if_none_match),
        }
    }

    /// Whether the caller set no condition (then a concurrent change may simply be retried).
    #[must_use]
    pub fn is_unconditional(&self) -> bool {
        self.if_match.is_empty() && self.if_none_match.is_empty()
    }

    /// Whether the write may go ahead, given the current tag (`None`: no such resource).
    #[must_use]
    pub fn allows(&self, current: Option<&ETag>) -> bool {
        let matches = |list: &[String]| {
            list.iter()
                .any(|t| t == "*" && current.is_some() || current.is_some_and(|c| c.as_str() == t))
        };
        let match_ok = self.if_match.is_empty() || matches(&self.if_match);
        let none_match_ok = self.if_none_match.is_empty() || !matches(&self.if_none_match);
        match_ok && none_match_ok
    }
}

fn split_tags(raw: Option<&str>) -> Vec<String> {
    raw.map(|v| {
        v.split(',')
            .map(|t| {
                t.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_owned()
            })
            .filter(|t| !t.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_star_needs_an_existing_resource() {
        let p = Precondition::from_headers(Some("*"), None);
        assert!(!p.allows(None));
        assert!(p.allows(Some(&ETag::generate())));
    }

    #[test]
    fn if_none_match_star_needs_no_resource() {
        let p = Precondition::from_headers(None, Some("*"));
        assert!(p.allows(None));
        assert!(!p.allows(Some(&ETag::generate())));
    }

    #[test]
    fn quoted_and_weak_tags_compare_by_value() {
        let tag = ETag::from_stored("abc".into());
        assert!(Precondition::from_headers(Some("\"x\", W/\"abc\""), None).allows(Some(&tag)));
        assert!(!Precondition::from_headers(Some("\"x\""), None).allows(Some(&tag)));
    }
}
