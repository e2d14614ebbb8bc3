//! Token verification is strict: signature by one of the issuer's keys (ES256 only), issuer,
//! audience, expiry and not-before. Each attack here must fail.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_domain::identity::{TokenClaims, TokenSigner, TokenUse};
use berth_infra::jwt::JwtSigner;
use berth_infra::persistence::{Database, DatabaseTarget};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::sync::Arc;

const ISSUER: &str = "https://127.0.0.1:8443/0c4d6a1e-3d7f-4f5e-9b1a-111111111111/v2.0";
const AUDIENCE: &str = "https://management.berth.local/";

async fn signer(dir: &tempfile::TempDir) -> Arc<JwtSigner> {
    let db = Database::open(&DatabaseTarget::Sqlite(dir.path().join("keys.db")))
        .await
        .unwrap();
    let sealing = Arc::new(berth_infra::sealing::AesGcmBox::new(&[3; 32]).unwrap());
    Arc::new(JwtSigner::open(db, sealing).await.unwrap())
}

fn claims(exp_offset: i64, nbf_offset: i64) -> TokenClaims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    TokenClaims {
        iss: ISSUER.into(),
        sub: "5b6f0a3e-0000-4000-8000-000000000001".into(),
        aud: AUDIENCE.into(),
        exp: now + exp_offset,
        nbf: now + nbf_offset,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        oid: "5b6f0a3e-0000-4000-8000-000000000001".into(),
        tid: "0c4d6a1e-3d7f-4f5e-9b1a-111111111111".into(),
        idtyp: "app".into(),
        ver: "2.0".into(),
        token_use: TokenUse::Access,
        appid: None,
        azp: None,
        upn: None,
        preferred_username: None,
        name: None,
        nonce: None,
    }
}

fn audiences() -> Vec<String> {
    vec![AUDIENCE.to_owned()]
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn a_good_token_verifies_and_every_broken_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let signer = signer(&dir).await;
    let good = signer.sign(&claims(3600, 0)).await.unwrap();
    assert_eq!(
        signer
            .verify(&good, ISSUER, &audiences())
            .await
            .unwrap()
            .oid,
        claims(0, 0).oid
    );

    let expired = signer.sign(&claims(-3600, -7200)).await.unwrap();
    assert!(
        signer.verify(&expired, ISSUER, &audiences()).await.is_err(),
        "expired"
    );
    let early = signer.sign(&claims(7200, 3600)).await.unwrap();
    assert!(
        signer.verify(&early, ISSUER, &audiences()).await.is_err(),
        "not yet valid"
    );
    let skewed = signer.sign(&claims(3600, 30)).await.unwrap();
    assert!(
        signer.verify(&skewed, ISSUER, &audiences()).await.is_ok(),
        "a little clock skew is tolerated"
    );
    assert!(
        signer
            .verify(&good, ISSUER, &["https://other.example/".to_owned()])
            .await
            .is_err(),
        "wrong audience"
    );
    assert!(
        signer
            .verify(&good, "https://evil.example/v2.0", &audiences())
            .await
            .is_err(),
        "wrong issuer"
    );

    let parts: Vec<&str> = good.split('.').collect();
    let kid = kid_of(&good);
    let none_header =
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
    let unsigned = format!("{none_header}.{}.", parts[1]);
    assert!(
        signer
            .verify(&unsigned, ISSUER, &audiences())
            .await
            .is_err(),
        "alg none"
    );

    // HS256 keyed with the issuer's public key (the classic confusion attack).
    let jwks = signer.public_keys().await;
    let public = format!("{}{}", jwks[0].x, jwks[0].y);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.clone());
    let hmac = jsonwebtoken::encode(
        &header,
        &claims(3600, 0),
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert!(
        signer.verify(&hmac, ISSUER, &audiences()).await.is_err(),
        "HS256 with the public key"
    );

    let mut forged_claims = berth_tests::jwt_claims(&good);
    forged_claims["oid"] = serde_json::json!("00000000-0000-0000-0000-000000000000");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    assert!(
        signer
            .verify(&tampered, ISSUER, &audiences())
            .await
            .is_err(),
        "tampered payload"
    );

    // A token from another issuer's key, even under a kid this issuer knows.
    let stranger = rcgen::KeyPair::generate().unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid);
    let foreign = jsonwebtoken::encode(
        &header,
        &claims(3600, 0),
        &EncodingKey::from_ec_pem(stranger.serialize_pem().as_bytes()).unwrap(),
    )
    .unwrap();
    assert!(
        signer.verify(&foreign, ISSUER, &audiences()).await.is_err(),
        "signed by another key"
    );
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("unknown".into());
    let unknown = jsonwebtoken::encode(
        &header,
        &claims(3600, 0),
        &EncodingKey::from_ec_pem(stranger.serialize_pem().as_bytes()).unwrap(),
    )
    .unwrap();
    assert!(
        signer.verify(&unknown, ISSUER, &audiences()).await.is_err(),
        "unknown kid"
    );
    assert!(
        signer
            .verify("garbage", ISSUER, &audiences())
            .await
            .is_err(),
        "garbage"
    );
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let signer = signer(&dir).await;
    let before = signer.sign(&claims(3600, 0)).await.unwrap();
    let new_kid = signer.rotate().await.unwrap();
    let after = signer.sign(&claims(3600, 0)).await.unwrap();
    assert_eq!(kid_of(&after), new_kid);
    assert_ne!(kid_of(&before), new_kid);
    assert!(
        signer.verify(&before, ISSUER, &audiences()).await.is_ok(),
        "the old key stays published"
    );
    assert_eq!(signer.public_keys().await.len(), 2);
    // Another replica (or a restart) on the same database sees both keys.
    let replica = self::signer(&dir).await;
    assert!(replica.verify(&before, ISSUER, &audiences()).await.is_ok());
    assert!(replica.verify(&after, ISSUER, &audiences()).await.is_ok());
    assert_eq!(
        kid_of(&replica.sign(&claims(3600, 0)).await.unwrap()),
        new_kid,
        "the newest key signs"
    );
}
