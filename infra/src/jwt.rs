//! The built-in issuer's keys and tokens: ES256 keys kept in the database (so every replica
//! signs and verifies alike, and keys survive restarts), sealed with the secrets key and
//! their `kid` (so only a process holding that key can read or plant one), signing with the
//! newest, verifying strictly with `jsonwebtoken`.

use crate::persistence::entities::signing_key;
use crate::persistence::{Database, millis, store_error};
use crate::sealing::signing_key_aad;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_domain::identity::{Jwk, TokenClaims, TokenRejected, TokenSigner};
use berth_domain::registry::SecretBox;
use berth_domain::store::StoreError;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// A retired key stays published this long: the longest a token it signed lives.
const RETIRED_KEPT: time::Duration = time::Duration::days(90);
/// An unknown `kid` reloads the keys at most this often, so a flood of bad tokens cannot
/// hammer the database.
const RELOAD_FLOOR: Duration = Duration::from_secs(5);

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

/// ES256 keys in the database.
pub struct JwtSigner {
    db: Database,
    sealing: Arc<dyn SecretBox>,
    keys: RwLock<Vec<Key>>,
    last_reload: RwLock<Option<Instant>>,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner").finish_non_exhaustive()
    }
}

fn load_key(row: &signing_key::Model, sealing: &dyn SecretBox) -> Result<Key, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| {
        StoreError(format!("signing key {} cannot be read: {e}", row.kid))
    };
    let pem = sealing
        .open(&row.private_pem, &signing_key_aad(&row.kid))
        .map_err(|e| corrupt(&e))?;
    let pair = rcgen::KeyPair::from_pem(&pem).map_err(|e| corrupt(&e))?;
    let point = pair.public_key_raw();
    // An uncompressed P-256 point: 0x04, then 32 bytes of x and 32 of y.
    if point.len() != 65 || point[0] != 4 {
        return Err(corrupt(&"not a P-256 key"));
    }
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..]),
    );
    Ok(Key {
        kid: row.kid.clone(),
        encoding: EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| corrupt(&e))?,
        decoding: DecodingKey::from_ec_components(&x, &y).map_err(|e| corrupt(&e))?,
        jwk: Jwk {
            kty: "EC".to_owned(),
            use_: "sig".to_owned(),
            kid: row.kid.clone(),
            alg: "ES256".to_owned(),
            crv: "P-256".to_owned(),
            x,
            y,
        },
    })
}

impl JwtSigner {
    /// Loads the keys (sealed with `sealing`), making the first one when there is none.
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be read (or opened: a key moved from another row
    /// does not open) or made.
    pub async fn open(db: Database, sealing: Arc<dyn SecretBox>) -> Result<Self, StoreError> {
        let signer = Self {
            db,
            sealing,
            keys: RwLock::new(Vec::new()),
            last_reload: RwLock::new(None),
        };
        signer.reload().await?;
        if signer.keys.read().map_or(true, |k| k.is_empty()) {
            signer.rotate().await?;
        }
        Ok(signer)
    }

    /// Makes a new key, which signs from now on; older keys stay published until the
    /// tokens they signed have expired.
    ///
    /// # Errors
    /// [`StoreError`] when the key cannot be made or stored.
    pub async fn rotate(&self) -> Result<String, StoreError> {
        let pair = rcgen::KeyPair::generate()
            .map_err(|e| StoreError(format!("cannot make a signing key: {e}")))?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        // Keys are ordered by creation: two rotations within one millisecond must not tie.
        let txn = self.db.begin_write().await?;
        let newest = signing_key::Entity::find()
            .order_by_desc(signing_key::Column::CreatedAt)
            .one(&txn)
            .await
            .map_err(store_error)?
            .map_or(i64::MIN, |k| k.created_at);
        let now = millis(OffsetDateTime::now_utc()).max(newest.saturating_add(1));
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::RetiredAt, Expr::value(now))
            .filter(signing_key::Column::RetiredAt.is_null())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let row = signing_key::ActiveModel {
            kid: Set(kid.clone()),
            private_pem: Set(self
                .sealing
                .seal(&pair.serialize_pem(), &signing_key_aad(&kid))?),
            created_at: Set(now),
            retired_at: Set(None),
        };
        signing_key::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Reads the published keys, newest first: a key rotated by another process signs
    /// here from then on.
    ///
    /// # Errors
    /// [`StoreError`] when the keys cannot be read.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let oldest = millis(OffsetDateTime::now_utc() - RETIRED_KEPT);
        let rows = signing_key::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(signing_key::Column::RetiredAt.is_null())
                    .add(signing_key::Column::RetiredAt.gt(oldest)),
            )
            .order_by_desc(signing_key::Column::CreatedAt)
            .all(self.db.writer())
            .await
            .map_err(store_error)?;
        let keys = rows
            .iter()
            .map(|row| load_key(row, self.sealing.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if let Ok(mut slot) = self.keys.write() {
            *slot = keys;
        }
        if let Ok(mut last) = self.last_reload.write() {
            *last = Some(Instant::now());
        }
        Ok(())
    }

    fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .ok()?
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| k.decoding.clone())
    }
}

/// A claim of a JWT's payload, read *without* verifying anything: only to pick a key or a
/// failure bucket, never to trust. `None` for oversized input or anything that is not a
/// JWT whose payload has the claim.
pub(crate) fn unverified_claims<T: serde::de::DeserializeOwned>(token: &str) -> Option<T> {
    /// Longer input is not a token of ours, and is not decoded at all.
    const MAX_TOKEN: usize = 8 * 1024;
    if token.len() > MAX_TOKEN {
        return None;
    }
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice(&payload).ok()
}

#[async_trait]
impl TokenSigner for JwtSigner {
    fn claimed_issuer(&self, token: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Claimed {
            iss: String,
        }
        unverified_claims::<Claimed>(token).map(|c| c.iss)
    }

    async fn sign(&self, claims: &TokenClaims) -> Result<String, StoreError> {
        let (kid, key) = {
            let keys = self
                .keys
                .read()
                .map_err(|_| StoreError("signing keys lock poisoned".to_owned()))?;
            let newest = keys
                .first()
                .ok_or_else(|| StoreError("no signing key".to_owned()))?;
            (newest.kid.clone(), newest.encoding.clone())
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid);
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &key)
            .map_err(|e| StoreError(format!("cannot sign: {e}")))
    }

    async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[String],
    ) -> Result<TokenClaims, TokenRejected> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| TokenRejected(format!("malformed: {e}")))?;
        if header.alg != Algorithm::ES256 {
            return Err(TokenRejected(format!(
                "algorithm {:?} is not allowed",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| TokenRejected("no kid".to_owned()))?;
        let mut key = self.decoding_key(&kid);
        if key.is_none() {
            let due = self
                .last_reload
                .read()
                .ok()
                .and_then(|l| *l)
                .is_none_or(|l| l.elapsed() >= RELOAD_FLOOR);
            if due {
                self.reload()
                    .await
                    .map_err(|e| TokenRejected(format!("cannot reload keys: {e}")))?;
                key = self.decoding_key(&kid);
            }
        }
        let key = key.ok_or_else(|| TokenRejected(format!("unknown kid {kid}")))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<TokenClaims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| TokenRejected(e.to_string()))
    }

    async fn public_keys(&self) -> Vec<Jwk> {
        self.keys
            .read()
            .map(|keys| keys.iter().map(|k| k.jwk.clone()).collect())
            .unwrap_or_default()
    }
}
