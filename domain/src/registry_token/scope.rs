//! Docker token scopes: `type:name:actions`, where the name may itself hold `:` (a Notary
//! GUN such as `host:5000/app`), so the first and the last colon split it.

use super::TokenServerError;
use serde::Serialize;

/// Scopes one request may ask for.
pub const MAX_SCOPES: usize = 32;
/// The longest scope string.
pub const MAX_SCOPE_LEN: usize = 512;

/// One requested scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequest {
    /// `repository` or `registry`.
    pub kind: String,
    /// A repository (or GUN), or `catalog`.
    pub name: String,
    /// Requested actions: `pull`, `push`, `delete`, `metadata_read`, `metadata_write`, `*`.
    pub actions: Vec<String>,
}

/// One granted entry of an access token's `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AccessEntry {
    /// `repository` or `registry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository (or GUN), or `catalog`.
    pub name: String,
    /// The granted actions.
    pub actions: Vec<String>,
}

/// Parses the `scope` parameters: each may repeat, and each may hold several scopes
/// separated by spaces (Docker's refresh POST joins them so).
///
/// # Errors
/// `InvalidRequest` for a malformed or oversized scope, or too many.
pub fn parse_scopes(raw: &[String]) -> Result<Vec<ScopeRequest>, TokenServerError> {
    let mut scopes = Vec::new();
    for text in raw
        .iter()
        .flat_map(|r| r.split(' '))
        .filter(|s| !s.is_empty())
    {
        if scopes.len() == MAX_SCOPES {
            return Err(TokenServerError::InvalidRequest(format!(
                "at most {MAX_SCOPES} scopes may be asked for at once"
            )));
        }
        scopes.push(parse_scope(text)?);
    }
    Ok(scopes)
}

fn parse_scope(text: &str) -> Result<ScopeRequest, TokenServerError> {
    let bad = |why: &str| {
        let shown: String = text.chars().take(64).collect();
        TokenServerError::InvalidRequest(format!("invalid scope '{shown}': {why}"))
    };
    if text.len() > MAX_SCOPE_LEN {
        return Err(bad(&format!("longer than {MAX_SCOPE_LEN} characters")));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(bad("it has control characters"));
    }
    let (Some(first), Some(last)) = (text.find(':'), text.rfind(':')) else {
        return Err(bad("expected type:name:actions"));
    };
    if first == last {
        return Err(bad("expected type:name:actions"));
    }
    let (kind, name, actions) = (&text[..first], &text[first + 1..last], &text[last + 1..]);
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(bad("the type must be lowercase letters"));
    }
    if name.is_empty() {
        return Err(bad("the name is empty"));
    }
    let actions: Vec<String> = actions.split(',').map(str::to_owned).collect();
    if actions.iter().any(|a| {
        a.is_empty()
            || !a
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'*')
    }) {
        return Err(bad("actions are comma-separated words such as pull,push"));
    }
    Ok(ScopeRequest {
        kind: kind.to_owned(),
        name: name.to_owned(),
        actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_the_first_and_last_colon_and_on_spaces() -> Result<(), TokenServerError> {
        let scopes = parse_scopes(&[
            "repository:reg.example:5000/app:pull,push registry:catalog:*".to_owned(),
            "repository:team/app:delete".to_owned(),
        ])?;
        assert_eq!(scopes.len(), 3);
        assert_eq!(scopes[0].name, "reg.example:5000/app");
        assert_eq!(scopes[0].actions, ["pull", "push"]);
        assert_eq!(
            (scopes[1].kind.as_str(), scopes[1].actions[0].as_str()),
            ("registry", "*")
        );
        Ok(())
    }

    #[test]
    fn malformed_and_oversized_scopes_are_refused() {
        let long = format!("repository:{}:pull", "a".repeat(600));
        for bad in [
            "repository",
            "repository:app",
            "Repository:app:pull",
            "repository::pull",
            "repository:app:",
            "repository:app:pull,,push",
            "repository:app:PULL",
            long.as_str(),
            "repository:a\u{7}pp:pull",
        ] {
            assert!(parse_scopes(&[bad.to_owned()]).is_err(), "{bad}");
        }
        let many = vec!["repository:app:pull".to_owned(); MAX_SCOPES + 1];
        assert!(parse_scopes(&many).is_err());
    }
}
