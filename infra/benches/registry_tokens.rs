//! Benchmark of the registry token server's cryptography, in one run on one core:
//! - the ceiling: raw `jsonwebtoken` ES256 `encode` and `decode` on the same key, and
//!   `1 / (t_verify + t_sign)`, the refresh-to-access exchanges a core could make if refresh
//!   tokens were ES256 too;
//! - Berth's access-token signing (the key parsed once into aws-lc) against that `encode`;
//! - Berth's refresh-token check (HS256, key looked up by `kid`) against the ES256 verify.
//!
//! Run with `cargo bench -p berth-infra --bench registry_tokens`.

use berth_domain::registry_token::{
    AccessClaims, AccessEntry, RefreshClaims, RefreshPermissions, RegistryTokenKeys,
};
use berth_infra::persistence::{Database, DatabaseTarget};
use berth_infra::registry_token::TokenServerKeys;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: u32 = 20_000;
const ISSUER: &str = "berth-token-server";

fn per_op_micros(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(&DatabaseTarget::Sqlite(dir.path().join("bench.db"))).await?;
    let sealing = std::sync::Arc::new(berth_infra::sealing::AesGcmBox::new(&[3; 32])?);
    let keys = TokenServerKeys::open(db, sealing, &dir.path().join("certs.pem")).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let access = AccessClaims {
        jti: uuid::Uuid::new_v4().simple().to_string(),
        sub: "0b6a3a77-1d0e-4d8f-9c55-bb6d3c2f0a11".into(),
        nbf: now,
        exp: now + 900,
        iat: now,
        iss: ISSUER.into(),
        aud: "benchreg0.registry.localhost".into(),
        version: "1.0".into(),
        access: vec![
            AccessEntry {
                kind: "repository".into(),
                name: "team/app".into(),
                actions: vec!["pull".into(), "push".into()],
            },
            AccessEntry {
                kind: "repository".into(),
                name: "team/base".into(),
                actions: vec!["pull".into()],
            },
        ],
        roles: Vec::new(),
        grant_type: "refresh_token".into(),
    };
    let refresh = RefreshClaims {
        jti: uuid::Uuid::new_v4().simple().to_string(),
        sub: "0b6a3a77-1d0e-4d8f-9c55-bb6d3c2f0a11".into(),
        oid: "5b6f0a3e-0000-4000-8000-000000000001".into(),
        nbf: now,
        exp: now + 3 * 3600,
        iat: now,
        iss: ISSUER.into(),
        aud: "benchreg0.registry.localhost".into(),
        version: "1.0".into(),
        grant_type: "refresh_token".into(),
        tenant: "0c4d6a1e-3d7f-4f5e-9b1a-111111111111".into(),
        permissions: RefreshPermissions {
            actions: vec!["*".into()],
            not_actions: Vec::new(),
        },
        roles: Vec::new(),
    };

    // The ceiling's key: a P-256 key as jsonwebtoken takes it (PEM, parsed on every encode).
    let pair = rcgen::KeyPair::generate()?;
    let raw_encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes())?;
    let raw_decoding = DecodingKey::from_ec_pem(pair.public_key_pem().as_bytes())?;
    let header = Header::new(Algorithm::ES256);
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.validate_aud = false;
    let raw_token = jsonwebtoken::encode(&header, &refresh, &raw_encoding)?;
    let refresh_token = keys.sign_refresh(&refresh)?;

    for _ in 0..2_000 {
        black_box(jsonwebtoken::encode(&header, &access, &raw_encoding)?);
        black_box(keys.sign_access(&access)?);
        black_box(jsonwebtoken::decode::<RefreshClaims>(
            &raw_token,
            &raw_decoding,
            &validation,
        )?);
        black_box(keys.verify_refresh(&refresh_token, ISSUER)?);
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(jsonwebtoken::encode(
            &header,
            black_box(&access),
            &raw_encoding,
        )?);
    }
    let raw_sign = per_op_micros(start);
    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(jsonwebtoken::decode::<RefreshClaims>(
            black_box(&raw_token),
            &raw_decoding,
            &validation,
        )?);
    }
    let raw_verify = per_op_micros(start);
    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(keys.sign_access(black_box(&access))?);
    }
    let sign = per_op_micros(start);
    let start = Instant::now();
    for _ in 0..ROUNDS {
        black_box(keys.verify_refresh(black_box(&refresh_token), ISSUER)?);
    }
    let verify = per_op_micros(start);

    let ceiling = 1e6 / (raw_verify + raw_sign);
    println!("Registry token cryptography, {ROUNDS} rounds each, one core:");
    println!("  raw jsonwebtoken ES256 encode:        {raw_sign:.1} us/op");
    println!("  raw jsonwebtoken ES256 decode:        {raw_verify:.1} us/op");
    println!("  ceiling 1/(verify + sign):            {ceiling:.0} exchanges/s per core");
    println!(
        "  TokenServerKeys::sign_access (ES256): {sign:.1} us/op  ({:.2}x the raw encode)",
        sign / raw_sign
    );
    println!(
        "  TokenServerKeys::verify_refresh (HS256): {verify:.1} us/op  ({:.2}x the raw ES256 decode)",
        verify / raw_verify
    );
    println!(
        "  Berth's crypto per exchange:          {:.1} us  ({:.0} exchanges/s per core)",
        sign + verify,
        1e6 / (sign + verify)
    );
    Ok(())
}
