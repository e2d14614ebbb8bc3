//! The authorization-code grant with PKCE (RFC 6749 §4.1, RFC 7636), as Entra serves it at
//! `/{tenant}/oauth2/v2.0/authorize` to browser-based and native clients: the client sends
//! the person to the authorize endpoint with a `code_challenge`; the person signs in on the
//! issuer's own page; the issuer sends the browser back to the client's `redirect_uri` with a
//! single-use code; the client redeems the code at the token endpoint with the
//! `code_verifier` only it knows.
//!
//! What is checked, and where an error goes:
//! - the client and its redirect URI first: until both are known good, nothing is sent to
//!   the redirect URI (no open redirect) and the error is shown on the issuer's page;
//! - then the rest (`response_type`, PKCE, scope): errors go back to the client's redirect
//!   URI as `error` and `error_description`, with its `state`.
//!
//! Only `S256` challenges are taken (`plain` would let a stolen code be redeemed), and the
//! clients that may use the flow are the first-party ones, each held to its redirect URIs:
//! the portal to its own callback on this issuer's origin, the Azure CLI and PowerShell
//! (public clients) to a loopback URI on any port (RFC 8252 §7.3).

use super::service::FIRST_PARTY_CLIENTS;
use crate::store::StoreError;
use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The portal's client id: a first-party client, signed in without consent.
pub const PORTAL_CLIENT_ID: &str = "5e1b3c4d-8a2f-4b6e-9d71-2c0f4a8e6b31";
/// Where the portal's sign-in comes back to, under the issuer's base URL.
pub const PORTAL_CALLBACK_PATH: &str = "/portal/auth/callback";
/// How long a code may wait to be redeemed (Entra's codes live ten minutes; a browser
/// redirect takes seconds).
pub const CODE_LIFETIME: Duration = Duration::minutes(5);

/// An authorize request, as its query (or form) came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `response_type` (`code`).
    pub response_type: Option<String>,
    /// `response_mode` (`query`, the default for codes).
    pub response_mode: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `state`, returned as it came.
    pub state: Option<String>,
    /// `nonce`, put in the id token.
    pub nonce: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method` (`S256`).
    pub code_challenge_method: Option<String>,
    /// `login_hint`: the user name to fill in.
    pub login_hint: Option<String>,
}

/// A checked authorize request: the sign-in page may be shown for it, and a code issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The client, canonical.
    pub client_id: String,
    /// Where the code goes.
    pub redirect_uri: String,
    /// The resource the tokens will be for.
    pub resource: String,
    /// The scope as asked (shown back in the token answer).
    pub scope: String,
    /// The client's `state`.
    pub state: Option<String>,
    /// The client's `nonce`.
    pub nonce: Option<String>,
    /// The S256 challenge.
    pub code_challenge: String,
    /// The user name to fill in.
    pub login_hint: Option<String>,
}

/// Why an authorize request cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    /// The client or its redirect URI is not known good: shown on the issuer's page, never
    /// sent anywhere.
    #[error("{0}")]
    Shown(String),
    /// Sent back to the client's redirect URI.
    #[error("{description}")]
    Redirected {
        /// The client's redirect URI.
        redirect_uri: String,
        /// The client's `state`.
        state: Option<String>,
        /// The OAuth 2.0 `error`.
        error: &'static str,
        /// `error_description`.
        description: String,
    },
}

impl AuthorizeError {
    fn redirected(request: &AuthorizeRequest, uri: &str, error: &'static str, text: &str) -> Self {
        Self::Redirected {
            redirect_uri: uri.to_owned(),
            state: request.state.clone(),
            error,
            description: text.to_owned(),
        }
    }
}

/// What a code stands for until it is redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to (the token request must name the same).
    pub redirect_uri: String,
    /// The resource of the tokens.
    pub resource: String,
    /// The person who signed in.
    pub object_id: Uuid,
    /// The S256 challenge the verifier must match.
    pub code_challenge: String,
    /// The client's `nonce`.
    pub nonce: Option<String>,
    /// When the code stops being redeemable.
    pub expires_at: OffsetDateTime,
}

/// Single-use codes, kept where every replica finds them.
#[async_trait]
pub trait AuthorizationCodes: Send + Sync {
    /// Keeps `grant` under a new random code, and returns the code.
    ///
    /// # Errors
    /// `StoreError` when it cannot be kept.
    async fn issue(&self, grant: &CodeGrant) -> Result<String, StoreError>;

    /// Takes the grant of `code`: a code is taken once, by one caller, even across
    /// replicas; an expired code is found by nobody.
    ///
    /// # Errors
    /// `StoreError` when the store fails.
    async fn redeem(
        &self,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<Option<CodeGrant>, StoreError>;

    /// The S256 challenge of `verifier`: BASE64URL(SHA-256(verifier)), no padding.
    fn challenge_of(&self, verifier: &str) -> String;
}

/// Checks who the client is and where it may be sent; the rest of the request is checked
/// by [`check_request`].
///
/// # Errors
/// [`AuthorizeError::Shown`] for an unknown client or a redirect URI it may not use.
pub fn check_client(
    request: &AuthorizeRequest,
    base_url: &str,
) -> Result<(String, String), AuthorizeError> {
    let given = request.client_id.as_deref().unwrap_or_default();
    let client_id = Uuid::parse_str(given)
        .ok()
        .map(|u| u.to_string())
        .filter(|c| c == PORTAL_CLIENT_ID || FIRST_PARTY_CLIENTS.contains(&c.as_str()))
        .ok_or_else(|| {
            AuthorizeError::Shown(format!(
                "AADSTS700016: Application with identifier '{}' was not found in the directory, or it may not sign people in here.",
                given.chars().take(64).collect::<String>()
            ))
        })?;
    let uri = request.redirect_uri.as_deref().unwrap_or_default();
    let allowed = if client_id == PORTAL_CLIENT_ID {
        uri == format!("{}{PORTAL_CALLBACK_PATH}", base_url.trim_end_matches('/'))
    } else {
        is_loopback(uri)
    };
    if !allowed {
        return Err(AuthorizeError::Shown(format!(
            "AADSTS50011: The redirect URI '{}' specified in the request does not match the redirect URIs configured for the application '{client_id}'.",
            uri.chars().take(256).collect::<String>()
        )));
    }
    Ok((client_id, uri.to_owned()))
}

/// Checks the rest of a request whose client and redirect URI are good; `resource` finds
/// the resource of a scope (as the token endpoint does).
///
/// # Errors
/// [`AuthorizeError::Redirected`] with the OAuth error to send back.
pub fn check_request(
    request: &AuthorizeRequest,
    (client_id, redirect_uri): (String, String),
    resource: impl Fn(Option<&str>) -> Option<String>,
) -> Result<Authorization, AuthorizeError> {
    let back = |error, text: &str| AuthorizeError::redirected(request, &redirect_uri, error, text);
    if request.response_type.as_deref() != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "AADSTS700054: response_type must be 'code' here (the authorization-code flow).",
        ));
    }
    if !matches!(request.response_mode.as_deref(), None | Some("query")) {
        return Err(back(
            "invalid_request",
            "AADSTS900144: response_mode must be 'query'.",
        ));
    }
    let challenge = request.code_challenge.as_deref().unwrap_or_default();
    if request.code_challenge_method.as_deref() != Some("S256") || !is_challenge(challenge) {
        return Err(back(
            "invalid_request",
            "AADSTS9002325: Proof Key for Code Exchange is required: send code_challenge (43 base64url characters) with code_challenge_method=S256.",
        ));
    }
    let scope = request.scope.clone().unwrap_or_default();
    let Some(resource) = resource(Some(&scope)) else {
        return Err(back(
            "invalid_scope",
            "AADSTS70011: The provided request must include a 'scope' naming a resource this issuer serves.",
        ));
    };
    Ok(Authorization {
        client_id,
        redirect_uri,
        resource,
        scope,
        state: request.state.clone(),
        nonce: request.nonce.clone(),
        code_challenge: challenge.to_owned(),
        login_hint: request.login_hint.clone(),
    })
}

/// Whether `verifier` is a PKCE code verifier: 43 to 128 unreserved characters.
#[must_use]
pub fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Whether `challenge` is an S256 challenge: 43 base64url characters.
fn is_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

/// Whether `uri` is an `http` loopback URI (`localhost`, `127.0.0.1` or `[::1]`, any port),
/// with no credentials, query or fragment to smuggle anything in.
fn is_loopback(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") && !uri.contains(['?', '#', '@', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://berth.example:8443";
    const CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn request(client: &str, uri: &str) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: Some(client.to_owned()),
            redirect_uri: Some(uri.to_owned()),
            response_type: Some("code".to_owned()),
            scope: Some("https://management.example/.default openid".to_owned()),
            state: Some("s1".to_owned()),
            code_challenge: Some(CHALLENGE.to_owned()),
            code_challenge_method: Some("S256".to_owned()),
            ..AuthorizeRequest::default()
        }
    }

    fn resource(scope: Option<&str>) -> Option<String> {
        scope
            .filter(|s| s.contains("management.example"))
            .map(|_| "https://management.example".to_owned())
    }

    #[test]
    fn each_first_party_client_is_held_to_its_redirect_uris() {
        let portal = format!("{BASE}{PORTAL_CALLBACK_PATH}");
        assert!(check_client(&request(PORTAL_CLIENT_ID, &portal), BASE).is_ok());
        for uri in [
            "http://localhost:8400",
            "http://localhost",
            "http://127.0.0.1:51234/",
            "http://[::1]:8400/cb",
        ] {
            assert!(check_client(&request(CLI, uri), BASE).is_ok(), "{uri}");
        }
        let refused = [
            (
                PORTAL_CLIENT_ID,
                "https://evil.example/portal/auth/callback",
            ),
            (PORTAL_CLIENT_ID, "http://localhost:8400"),
            (
                PORTAL_CLIENT_ID,
                "https://berth.example:8443/portal/auth/callback/../x",
            ),
            (CLI, "https://localhost:8400"),
            (CLI, "http://localhost.evil.example"),
            (CLI, "http://localhost:80@evil.example"),
            (CLI, "http://evil.example/?localhost"),
            (CLI, "http://localhost:8400/?next=https://evil.example"),
            (CLI, ""),
            (
                "00000000-0000-0000-0000-000000000001",
                "http://localhost:8400",
            ),
            ("not-a-guid", "http://localhost:8400"),
        ];
        for (client, uri) in refused {
            let checked = check_client(&request(client, uri), BASE);
            assert!(
                matches!(checked, Err(AuthorizeError::Shown(_))),
                "{client} {uri}"
            );
        }
    }

    #[test]
    fn pkce_with_s256_is_required_and_errors_go_back_with_the_state() {
        let good = request(CLI, "http://localhost:8400");
        let client = || check_client(&good, BASE).unwrap_or_else(|e| panic!("{e}"));
        let checked = check_request(&good, client(), resource).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.resource, "https://management.example");
        assert_eq!(checked.code_challenge, CHALLENGE);

        let mut plain = good.clone();
        plain.code_challenge_method = Some("plain".to_owned());
        let mut none = good.clone();
        none.code_challenge = None;
        let mut token = good.clone();
        token.response_type = Some("token".to_owned());
        let mut elsewhere = good.clone();
        elsewhere.scope = Some("https://other.example/.default".to_owned());
        let mut fragment = good.clone();
        fragment.response_mode = Some("fragment".to_owned());
        for (bad, error) in [
            (plain, "invalid_request"),
            (none, "invalid_request"),
            (token, "unsupported_response_type"),
            (elsewhere, "invalid_scope"),
            (fragment, "invalid_request"),
        ] {
            match check_request(&bad, client(), resource) {
                Err(AuthorizeError::Redirected {
                    error: got,
                    state,
                    redirect_uri,
                    ..
                }) => {
                    assert_eq!((got, state.as_deref()), (error, Some("s1")));
                    assert_eq!(redirect_uri, "http://localhost:8400");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn verifiers_follow_rfc_7636s_grammar() {
        assert!(is_verifier(&"a".repeat(43)));
        assert!(is_verifier(&"A-._~9".repeat(20)));
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
    }
}
