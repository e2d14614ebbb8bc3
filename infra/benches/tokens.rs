//! Benchmark of token verification: `JwtSigner::verify` (key lookup by `kid`, strict
//! validation) against a raw `jsonwebtoken::decode` with a key parsed beforehand, in the
//! same run. Run with `cargo bench -p berth-infra --bench tokens`.

use berth_domain::identity::{TokenClaims, TokenSigner, TokenUse};
use berth_infra::jwt::JwtSigner;
use berth_infra::persistence::{Database, DatabaseTarget};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::hint::black_box;
use std::time::Instant;

const ISSUER: &str = "https://127.0.0.1:8443/0c4d6a1e-3d7f-4f5e-9b1a-111111111111/v2.0";
const AUDIENCE: &str = "https://management.berth.local/";
const ROUNDS: u32 = 20_000;

fn per_op_micros(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let signer = JwtSigner::open(
        Database::open(&DatabaseTarget::Sqlite(dir.path().join("bench.db"))).await?,
        std::sync::Arc::new(berth_infra::sealing::AesGcmBox::new(&[3; 32])?),
    )
    .await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = TokenClaims {
        iss: ISSUER.into(),
        sub: "5b6f0a3e-0000-4000-8000-000000000001".into(),
        aud: AUDIENCE.into(),
        exp: now + 3600,
        nbf: now,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        oid: "5b6f0a3e-0000-4000-8000-000000000001".into(),
        tid: "0c4d6a1e-3d7f-4f5e-9b1a-111111111111".into(),
        idtyp: "app".into(),
        ver: "2.0".into(),
        token_use: TokenUse::Access,
        appid: Some("0b6a3a77-1d0e-4d8f-9c55-bb6d3c2f0a11".into()),
        azp: None,
        upn: None,
        preferred_username: None,
        nonce: None,
        name: Some("bench".into()),
    };
    let token = signer.sign(&claims).await?;
    let audiences = vec![AUDIENCE.to_owned()];
    let jwk = signer.public_keys().await.remove(0);
    let raw_key = DecodingKey::from_ec_components(&jwk.x, &jwk.y)?;
    let mut raw_validation = Validation::new(Algorithm::ES256);
    raw_validation.set_issuer(&[ISSUER]);
    raw_validation.set_audience(&[AUDIENCE]);

    for _ in 0..2_000 {
        black_box(signer.verify(&token, ISSUER, &audiences).await?);
        black_box(jsonwebtoken::decode::<TokenClaims>(
            &token,
            &raw_key,
            &raw_validation,
        )?);
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(jsonwebtoken::decode::<TokenClaims>(
            black_box(&token),
            &raw_key,
            &raw_validation,
        )?);
    }
    let raw = per_op_micros(start);
    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(signer.verify(black_box(&token), ISSUER, &audiences).await?);
    }
    let ours = per_op_micros(start);
    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(signer.sign(black_box(&claims)).await?);
    }
    let sign = per_op_micros(start);
    println!("ES256 token verification, {ROUNDS} rounds each, one core:");
    println!("  raw jsonwebtoken::decode:  {raw:.1} us/op");
    println!(
        "  JwtSigner::verify:         {ours:.1} us/op  ({:.2}x raw)",
        ours / raw
    );
    println!("  JwtSigner::sign:           {sign:.1} us/op");
    Ok(())
}
