//! `$top`, `$skipToken` and `$filter`, and the absolute `nextLink` a list answers with.

use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_domain::store::PageRequest;
use std::fmt::Write;

/// The list parameters of a request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The page asked for.
    pub page: PageRequest,
    /// `$filter`, verbatim (decoded).
    pub filter: Option<String>,
    /// Whether `$top` was given (it is carried into `nextLink`).
    top_given: bool,
}

impl ListQuery {
    /// Parses a raw query string.
    ///
    /// # Errors
    /// `InvalidQueryParameterValue` for a bad `$top`, `InvalidSkipToken` for a bad token.
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let mut top = None;
        let mut after = None;
        let mut filter = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match k.to_ascii_lowercase().as_str() {
                "$top" | "top" => {
                    let n: u32 = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=PageRequest::MAX_TOP).contains(n))
                        .ok_or_else(|| ApiError::invalid_top(&v, PageRequest::MAX_TOP))?;
                    top = Some(n);
                }
                "$skiptoken" => {
                    after = Some(decode_token(&v).ok_or_else(ApiError::invalid_skip_token)?);
                }
                "$filter" => filter = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(Self {
            page: PageRequest {
                top: top.unwrap_or(PageRequest::DEFAULT_TOP),
                after,
            },
            filter,
            top_given: top.is_some(),
        })
    }

    /// The absolute link to the page after `next`, keeping `$top` and `$filter`.
    #[must_use]
    pub fn next_link(
        &self,
        base: &str,
        path: &str,
        api_version: &str,
        next: Option<&str>,
    ) -> Option<String> {
        next.map(|key| {
            let mut link = format!(
                "{base}{path}?api-version={api_version}&$skipToken={}",
                encode_token(key)
            );
            if self.top_given {
                let _ = write!(link, "&$top={}", self.page.top);
            }
            if let Some(filter) = &self.filter {
                let _ = write!(link, "&$filter={}", urlencoding::encode(filter));
            }
            link
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_query(parts.uri.query())
    }
}

/// Tokens are the hex of the last key, so they are URL-safe and opaque to clients.
fn encode_token(key: &str) -> String {
    key.bytes()
        .fold(String::with_capacity(key.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn decode_token(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) || token.len() > 4096 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let key = "/subscriptions/x/resourcegroups/ü";
        assert_eq!(decode_token(&encode_token(key)).as_deref(), Some(key));
        assert!(decode_token("zz").is_none());
    }

    #[test]
    fn top_is_bounded() {
        assert!(ListQuery::from_query(Some("$top=0")).is_err());
        assert!(ListQuery::from_query(Some("$top=1001")).is_err());
        assert!(ListQuery::from_query(Some("%24top=5")).is_ok_and(|q| q.page.top == 5));
    }
}
