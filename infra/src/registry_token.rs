//! The token server's keys, kept in the database so every replica signs alike and keys
//! survive restarts, sealed with the secrets key and their purpose and `kid`:
//! - access tokens: ES256 with a P-256 key parsed once into aws-lc (not per token, as
//!   `jsonwebtoken::encode` would), `kid` the key's libtrust id, which Distribution 2.8 and
//!   Notary match against the certificates of their `rootcertbundle`; the certificates of
//!   the published keys are written to one PEM file to give them as that bundle;
//! - refresh tokens: HS256 with a 256-bit secret, since only Berth verifies them (4 µs,
//!   against 50 µs for an ES256 verify).

use crate::persistence::entities::token_server_key;
use crate::persistence::{Database, millis, store_error};
use crate::sealing::token_server_key_aad;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use berth_domain::identity::TokenRejected;
use berth_domain::registry::SecretBox;
use berth_domain::registry_token::{AccessClaims, RefreshClaims, RegistryTokenKeys};
use berth_domain::store::StoreError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

/// A retired key stays published (and trusted by the bundle) this long.
const RETIRED_KEPT: time::Duration = time::Duration::days(1);
const ACCESS: &str = "access-es256";
const REFRESH: &str = "refresh-hs256";

struct AccessKey {
    kid: String,
    pair: EcdsaKeyPair,
    certificate_pem: String,
}

struct RefreshKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

#[derive(Default)]
struct Keys {
    access: Vec<AccessKey>,
    refresh: Vec<RefreshKey>,
}

/// The token server's keys.
pub struct TokenServerKeys {
    db: Database,
    sealing: Arc<dyn SecretBox>,
    bundle: PathBuf,
    keys: RwLock<Keys>,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServerKeys")
            .field("bundle", &self.bundle)
            .finish_non_exhaustive()
    }
}

/// The libtrust key id of a public key: SHA-256 of its DER SubjectPublicKeyInfo, the first
/// 30 bytes in RFC 4648 base32, in 12 groups of 4 joined by `:`.
#[must_use]
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki_der);
    let bytes = &digest.as_ref()[..30];
    let mut out = String::with_capacity(59);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            if !out.is_empty() && (out.len() + 1).is_multiple_of(5) {
                out.push(':');
            }
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    out
}

fn corrupt(kid: &str, e: &dyn std::fmt::Display) -> StoreError {
    StoreError(format!("token server key {kid} cannot be read: {e}"))
}

/// The row's key material, opened.
fn material(row: &token_server_key::Model, sealing: &dyn SecretBox) -> Result<String, StoreError> {
    sealing
        .open(&row.material, &token_server_key_aad(&row.purpose, &row.kid))
        .map_err(|e| corrupt(&row.kid, &e))
}

fn load_access(
    row: &token_server_key::Model,
    sealing: &dyn SecretBox,
) -> Result<AccessKey, StoreError> {
    let pem =
        rcgen::KeyPair::from_pem(&material(row, sealing)?).map_err(|e| corrupt(&row.kid, &e))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pem.serialize_der())
        .map_err(|e| corrupt(&row.kid, &e))?;
    Ok(AccessKey {
        kid: row.kid.clone(),
        pair,
        certificate_pem: row.certificate_pem.clone().unwrap_or_default(),
    })
}

fn load_refresh(
    row: &token_server_key::Model,
    sealing: &dyn SecretBox,
) -> Result<RefreshKey, StoreError> {
    let secret = STANDARD
        .decode(material(row, sealing)?)
        .map_err(|e| corrupt(&row.kid, &e))?;
    Ok(RefreshKey {
        kid: row.kid.clone(),
        encoding: EncodingKey::from_secret(&secret),
        decoding: DecodingKey::from_secret(&secret),
    })
}

impl TokenServerKeys {
    /// Loads the keys (sealed with `sealing`), making the first ones when there are none,
    /// and writes the bundle of signing certificates to `bundle`.
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be read (or opened: a key moved from another row
    /// does not open), made or written out.
    pub async fn open(
        db: Database,
        sealing: Arc<dyn SecretBox>,
        bundle: &Path,
    ) -> Result<Self, StoreError> {
        let keys = Self {
            db,
            sealing,
            bundle: bundle.to_owned(),
            keys: RwLock::default(),
            rng: SystemRandom::new(),
        };
        keys.reload().await?;
        let (no_access, no_refresh) = keys
            .keys
            .read()
            .map(|k| (k.access.is_empty(), k.refresh.is_empty()))
            .unwrap_or((true, true));
        if no_access {
            keys.rotate(ACCESS).await?;
        }
        if no_refresh {
            keys.rotate(REFRESH).await?;
        }
        Ok(keys)
    }

    /// The PEM file of the certificates a registry or Notary server should trust.
    #[must_use]
    pub fn bundle_path(&self) -> &Path {
        &self.bundle
    }

    /// Makes new access and refresh keys; the old ones stay published for a day, so
    /// tokens they signed keep working until they expire. Registries must be given the
    /// new bundle.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn rotate_all(&self) -> Result<(), StoreError> {
        self.rotate(ACCESS).await?;
        self.rotate(REFRESH).await
    }

    async fn rotate(&self, purpose: &str) -> Result<(), StoreError> {
        let (kid, material, certificate_pem) = if purpose == ACCESS {
            let pair = rcgen::KeyPair::generate()
                .map_err(|e| StoreError(format!("cannot make a key: {e}")))?;
            let kid = libtrust_key_id(&rcgen::PublicKeyData::subject_public_key_info(&pair));
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
                .map_err(|e| StoreError(format!("cannot make a certificate: {e}")))?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "Berth registry token signer");
            params.not_before = OffsetDateTime::now_utc() - time::Duration::days(1);
            params.not_after = OffsetDateTime::now_utc() + time::Duration::days(3650);
            let cert = params
                .self_signed(&pair)
                .map_err(|e| StoreError(format!("cannot make a certificate: {e}")))?;
            (kid, pair.serialize_pem(), Some(cert.pem()))
        } else {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)
                .map_err(|e| StoreError(format!("no randomness for a key: {e}")))?;
            (
                uuid::Uuid::new_v4().simple().to_string(),
                STANDARD.encode(secret),
                None,
            )
        };
        let txn = self.db.begin_write().await?;
        let newest = token_server_key::Entity::find()
            .filter(token_server_key::Column::Purpose.eq(purpose))
            .order_by_desc(token_server_key::Column::CreatedAt)
            .one(&txn)
            .await
            .map_err(store_error)?
            .map_or(i64::MIN, |k| k.created_at);
        let now = millis(OffsetDateTime::now_utc()).max(newest.saturating_add(1));
        token_server_key::Entity::update_many()
            .col_expr(token_server_key::Column::RetiredAt, Expr::value(now))
            .filter(token_server_key::Column::Purpose.eq(purpose))
            .filter(token_server_key::Column::RetiredAt.is_null())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let sealed = self
            .sealing
            .seal(&material, &token_server_key_aad(purpose, &kid))?;
        token_server_key::Entity::insert(token_server_key::ActiveModel {
            kid: Set(kid),
            purpose: Set(purpose.to_owned()),
            material: Set(sealed),
            certificate_pem: Set(certificate_pem),
            created_at: Set(now),
            retired_at: Set(None),
        })
        .exec(&txn)
        .await
        .map_err(store_error)?;
        txn.commit().await?;
        self.reload().await
    }

    /// Reads the published keys, newest first, and rewrites the certificate bundle.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn reload(&self) -> Result<(), StoreError> {
        let oldest = millis(OffsetDateTime::now_utc() - RETIRED_KEPT);
        let rows = token_server_key::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(token_server_key::Column::RetiredAt.is_null())
                    .add(token_server_key::Column::RetiredAt.gt(oldest)),
            )
            .order_by_desc(token_server_key::Column::CreatedAt)
            .all(self.db.writer())
            .await
            .map_err(store_error)?;
        let mut fresh = Keys::default();
        for row in &rows {
            match row.purpose.as_str() {
                ACCESS => fresh.access.push(load_access(row, self.sealing.as_ref())?),
                REFRESH => fresh
                    .refresh
                    .push(load_refresh(row, self.sealing.as_ref())?),
                _ => {}
            }
        }
        let bundle: String = fresh
            .access
            .iter()
            .map(|k| k.certificate_pem.as_str())
            .collect();
        if let Some(dir) = self.bundle.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError(format!("cannot write {}: {e}", self.bundle.display())))?;
        }
        if std::fs::read_to_string(&self.bundle).ok().as_deref() != Some(bundle.as_str()) {
            // Owner-only like everything in the data directory.
            crate::files::write_private(&self.bundle, bundle.as_bytes())
                .map_err(|e| StoreError(format!("cannot write {}: {e}", self.bundle.display())))?;
        }
        if let Ok(mut keys) = self.keys.write() {
            *keys = fresh;
        }
        Ok(())
    }
}

impl RegistryTokenKeys for TokenServerKeys {
    fn claimed_principal(&self, token: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Claimed {
            oid: String,
        }
        let claimed: Claimed = crate::jwt::unverified_claims(token)?;
        uuid::Uuid::parse_str(&claimed.oid)
            .ok()
            .map(|u| u.to_string())
    }

    fn sign_access(&self, claims: &AccessClaims) -> Result<String, StoreError> {
        let keys = self
            .keys
            .read()
            .map_err(|_| StoreError("token keys lock poisoned".to_owned()))?;
        let key = keys
            .access
            .first()
            .ok_or_else(|| StoreError("no access-token key".to_owned()))?;
        let header = serde_json::json!({"alg": "ES256", "kid": key.kid, "typ": "JWT"});
        let payload = serde_json::to_vec(claims)
            .map_err(|e| StoreError(format!("cannot encode the claims: {e}")))?;
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let signature = key
            .pair
            .sign(&self.rng, token.as_bytes())
            .map_err(|e| StoreError(format!("cannot sign: {e}")))?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Ok(token)
    }

    fn sign_refresh(&self, claims: &RefreshClaims) -> Result<String, StoreError> {
        let keys = self
            .keys
            .read()
            .map_err(|_| StoreError("token keys lock poisoned".to_owned()))?;
        let key = keys
            .refresh
            .first()
            .ok_or_else(|| StoreError("no refresh-token key".to_owned()))?;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| StoreError(format!("cannot sign: {e}")))
    }

    fn verify_refresh(&self, token: &str, issuer: &str) -> Result<RefreshClaims, TokenRejected> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| TokenRejected(format!("malformed: {e}")))?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenRejected(format!(
                "algorithm {:?} is not a refresh token's",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenRejected("no kid".to_owned()))?;
        let key = self
            .keys
            .read()
            .map_err(|_| TokenRejected("token keys lock poisoned".to_owned()))?
            .refresh
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| k.decoding.clone())
            .ok_or_else(|| TokenRejected(format!("unknown kid {kid}")))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 60;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<RefreshClaims>(token, &key, &validation)
            .map_err(|e| TokenRejected(e.to_string()))?
            .claims;
        if claims.grant_type != "refresh_token" {
            return Err(TokenRejected("not a refresh token".to_owned()));
        }
        Ok(claims)
    }

    fn verify_access(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        now: i64,
        leeway_secs: i64,
    ) -> Result<AccessClaims, TokenRejected> {
        let reject = |why: &str| TokenRejected(why.to_owned());
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(reject("malformed: not three parts"));
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| reject("malformed: not base64url"))
        };
        let header: serde_json::Value = serde_json::from_slice(&decode(header)?)
            .map_err(|_| reject("malformed: the header is not JSON"))?;
        if header["alg"] != "ES256" {
            return Err(TokenRejected(format!(
                "algorithm {} is not an access token's",
                header["alg"]
            )));
        }
        let kid = header["kid"].as_str().ok_or_else(|| reject("no kid"))?;
        let public = self
            .keys
            .read()
            .map_err(|_| reject("token keys lock poisoned"))?
            .access
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| k.pair.public_key().as_ref().to_vec())
            .ok_or_else(|| TokenRejected(format!("unknown kid {kid}")))?;
        let signed = &token[..token.len() - signature.len() - 1];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
            .verify(signed.as_bytes(), &decode(signature)?)
            .map_err(|_| reject("bad signature"))?;
        let claims: AccessClaims = serde_json::from_slice(&decode(payload)?)
            .map_err(|e| TokenRejected(format!("malformed claims: {e}")))?;
        if claims.iss != issuer {
            return Err(TokenRejected(format!(
                "issuer {} is not {issuer}",
                claims.iss
            )));
        }
        if claims.aud != audience {
            return Err(TokenRejected(format!(
                "audience {} is not {audience}",
                claims.aud
            )));
        }
        if claims.exp + leeway_secs <= now {
            return Err(reject("expired"));
        }
        if claims.nbf - leeway_secs > now {
            return Err(reject("not yet valid"));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::DatabaseTarget;

    const ISSUER: &str = "berth-token-server";
    const SERVICE: &str = "berth-trust";
    const NOW: i64 = 1_795_651_200;

    async fn keys(dir: &Path) -> TokenServerKeys {
        let db = Database::open(&DatabaseTarget::Sqlite(dir.join("berth.db")))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let sealing = crate::sealing::AesGcmBox::new(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        TokenServerKeys::open(db, Arc::new(sealing), &dir.join("bundle.pem"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            jti: "j".to_owned(),
            sub: "signer".to_owned(),
            nbf: NOW,
            exp: NOW + 300,
            iat: NOW,
            iss: ISSUER.to_owned(),
            aud: SERVICE.to_owned(),
            version: "1.0".to_owned(),
            access: Vec::new(),
            roles: Vec::new(),
            grant_type: "refresh_token".to_owned(),
        }
    }

    fn reason(keys: &TokenServerKeys, token: &str, at: i64) -> String {
        match keys.verify_access(token, ISSUER, SERVICE, at, 60) {
            Ok(_) => "accepted".to_owned(),
            Err(TokenRejected(why)) => why,
        }
    }

    #[tokio::test]
    async fn access_tokens_are_verified_strictly() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError(e.to_string()))?;
        let keys = keys(dir.path()).await;
        let token = keys.sign_access(&claims())?;
        assert_eq!(
            keys.verify_access(&token, ISSUER, SERVICE, NOW, 60),
            Ok(claims())
        );
        assert_eq!(
            reason(&keys, &token, NOW + 359),
            "accepted",
            "within the leeway"
        );
        assert_eq!(reason(&keys, &token, NOW + 360), "expired");
        assert_eq!(reason(&keys, &token, NOW - 61), "not yet valid");
        assert!(
            keys.verify_access(&token, "someone-else", SERVICE, NOW, 60)
                .is_err_and(|e| e.0.contains("issuer"))
        );
        assert!(
            keys.verify_access(&token, ISSUER, "docker-registry", NOW, 60)
                .is_err_and(|e| e.0.contains("audience"))
        );

        // Another audience written into the payload breaks the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims();
        forged.aud = "anything".to_owned();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap_or_default());
        let swapped = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert_eq!(reason(&keys, &swapped, NOW), "bad signature");

        // No other algorithm, no unknown key, nothing malformed.
        for alg in ["none", "HS256", "ES384", "RS256"] {
            let header =
                URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"x","typ":"JWT"}}"#));
            let other = format!("{header}.{}.{}", parts[1], parts[2]);
            assert!(reason(&keys, &other, NOW).starts_with("algorithm"), "{alg}");
        }
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"AAAA:BBBB","typ":"JWT"}"#);
        let unknown = format!("{header}.{}.{}", parts[1], parts[2]);
        assert_eq!(reason(&keys, &unknown, NOW), "unknown kid AAAA:BBBB");
        for bad in ["", "a.b", "a.b.c.d", &format!("{}.{}", parts[0], parts[1])] {
            assert!(reason(&keys, bad, NOW).starts_with("malformed"), "{bad:?}");
        }

        // After a rotation the old token still verifies (its key stays published) and new
        // tokens are signed with the new key.
        keys.rotate_all().await?;
        assert_eq!(reason(&keys, &token, NOW), "accepted");
        let fresh = keys.sign_access(&claims())?;
        assert_ne!(
            fresh.split('.').next(),
            token.split('.').next(),
            "another kid"
        );
        assert_eq!(reason(&keys, &fresh, NOW), "accepted");
        Ok(())
    }

    #[tokio::test]
    async fn a_refresh_token_is_bucketed_by_the_principal_it_claims_or_as_unparseable() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let keys = keys(dir.path()).await;
        let oid = uuid::Uuid::new_v4();
        let payload = serde_json::json!({"oid": oid.to_string().to_uppercase(), "sub": "x"});
        let b64 = URL_SAFE_NO_PAD.encode(payload.to_string());
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{b64}.sig");
        assert_eq!(keys.claimed_principal(&token), Some(oid.to_string()));
        assert_eq!(keys.claimed_principal("garbage"), None);
        assert_eq!(keys.claimed_principal("a.!!!.c"), None);
        assert_eq!(
            keys.claimed_principal("a.eyJvaWQiOiJub3QtYS1ndWlkIn0.c"),
            None
        );
        assert_eq!(keys.claimed_principal(&"a.".repeat(5000)), None);
    }

    #[test]
    fn libtrust_ids_have_twelve_groups_of_four() {
        let id = libtrust_key_id(b"any key bytes");
        assert_eq!(id.len(), 59);
        assert_eq!(id.split(':').count(), 12);
        assert!(id.split(':').all(|g| g.len() == 4));
        assert!(
            id.chars()
                .all(|c| c == ':' || c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
    }
}
