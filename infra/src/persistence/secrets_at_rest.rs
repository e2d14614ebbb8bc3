//! Brings every secret kept in the database to the current sealing, at start, before any is
//! read: signing keys written in plaintext by older versions (`signing_keys.private_pem`,
//! `token_server_keys.material`) are sealed, and values sealed without associated data
//! (`v1:` admin passwords and trust server keys) are re-sealed with their row's identity.
//! After one start no plaintext key and no `v1:` value remains, and nothing but a current
//! value opens.
//!
//! Idempotent and safe with several replicas starting at once: each row is rewritten only
//! if it still holds the value read (compare-and-set), and any replica's new value opens for
//! all, since they share the key. The key material is unchanged, so tokens signed before
//! still verify.

use super::entities::{admin_password, signing_key, token_server_key, tuf_server_key};
use super::{Database, store_error};
use crate::sealing::{
    AesGcmBox, SealState, seal_state, signing_key_aad, token_server_key_aad, tuf_key_aad,
};
use berth_domain::registry::{SecretBox, admin_password_aad};
use berth_domain::store::StoreError;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter};

/// How many values a start sealed anew.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Plaintext signing keys (issuer and token server) now sealed.
    pub plaintext_keys: usize,
    /// `v1:` values (admin passwords, trust server keys) re-sealed with their row's identity.
    pub legacy_values: usize,
}

/// The value to store instead of `value` for the row named `aad`, if it must change:
/// plaintext is sealed only where `plain_allowed` (the key tables once held plaintext),
/// `v1:` is opened and re-sealed.
fn resealed(
    sealing: &AesGcmBox,
    value: &str,
    aad: &str,
    plain_allowed: bool,
    what: &str,
) -> Result<Option<(String, SealState)>, StoreError> {
    let state = seal_state(value);
    let plain = match state {
        SealState::Sealed => return Ok(None),
        SealState::Legacy => sealing
            .open_legacy(value)
            .map_err(|e| StoreError(format!("{what}: {e}")))?,
        SealState::Plain if plain_allowed => value.to_owned(),
        SealState::Plain => {
            return Err(StoreError(format!(
                "{what} is neither sealed nor a key: refusing to start"
            )));
        }
    };
    Ok(Some((sealing.seal(&plain, aad)?, state)))
}

fn count(done: &mut Resealed, state: SealState) {
    match state {
        SealState::Plain => done.plaintext_keys += 1,
        SealState::Legacy => done.legacy_values += 1,
        SealState::Sealed => {}
    }
}

/// Seals what older versions left in plaintext or sealed without associated data.
///
/// # Errors
/// [`StoreError`] when the rows cannot be read or written, or a `v1:` value does not open
/// with this key (the wrong `BERTH_SECRETS_KEY`).
pub async fn seal_secrets_at_rest(
    db: &Database,
    sealing: &AesGcmBox,
) -> Result<Resealed, StoreError> {
    let conn = db.writer();
    let mut done = Resealed::default();

    for row in signing_key::Entity::find()
        .all(conn)
        .await
        .map_err(store_error)?
    {
        let what = format!("signing key {}", row.kid);
        let aad = signing_key_aad(&row.kid);
        if let Some((new, state)) = resealed(sealing, &row.private_pem, &aad, true, &what)? {
            signing_key::Entity::update_many()
                .col_expr(signing_key::Column::PrivatePem, Expr::value(new))
                .filter(signing_key::Column::Kid.eq(row.kid.as_str()))
                .filter(signing_key::Column::PrivatePem.eq(row.private_pem.as_str()))
                .exec(conn)
                .await
                .map_err(store_error)?;
            count(&mut done, state);
        }
    }

    for row in token_server_key::Entity::find()
        .all(conn)
        .await
        .map_err(store_error)?
    {
        let what = format!("token server key {}", row.kid);
        let aad = token_server_key_aad(&row.purpose, &row.kid);
        if let Some((new, state)) = resealed(sealing, &row.material, &aad, true, &what)? {
            token_server_key::Entity::update_many()
                .col_expr(token_server_key::Column::Material, Expr::value(new))
                .filter(token_server_key::Column::Kid.eq(row.kid.as_str()))
                .filter(token_server_key::Column::Material.eq(row.material.as_str()))
                .exec(conn)
                .await
                .map_err(store_error)?;
            count(&mut done, state);
        }
    }

    for row in admin_password::Entity::find()
        .all(conn)
        .await
        .map_err(store_error)?
    {
        let what = format!("admin password {} of {}", row.name, row.registry_key);
        let aad = admin_password_aad(&row.registry_key, &row.name);
        if let Some((new, state)) = resealed(sealing, &row.sealed, &aad, false, &what)? {
            admin_password::Entity::update_many()
                .col_expr(admin_password::Column::Sealed, Expr::value(new))
                .filter(admin_password::Column::RegistryKey.eq(row.registry_key.as_str()))
                .filter(admin_password::Column::Name.eq(row.name.as_str()))
                .filter(admin_password::Column::Sealed.eq(row.sealed.as_str()))
                .exec(conn)
                .await
                .map_err(store_error)?;
            count(&mut done, state);
        }
    }

    for row in tuf_server_key::Entity::find()
        .all(conn)
        .await
        .map_err(store_error)?
    {
        let what = format!("trust key {} of {} ({})", row.generation, row.gun, row.role);
        let aad = tuf_key_aad(&row.gun, &row.role, row.generation);
        if let Some((new, state)) = resealed(sealing, &row.private_sealed, &aad, false, &what)? {
            tuf_server_key::Entity::update_many()
                .col_expr(tuf_server_key::Column::PrivateSealed, Expr::value(new))
                .filter(tuf_server_key::Column::Gun.eq(row.gun.as_str()))
                .filter(tuf_server_key::Column::Role.eq(row.role.as_str()))
                .filter(tuf_server_key::Column::Generation.eq(row.generation))
                .filter(tuf_server_key::Column::PrivateSealed.eq(row.private_sealed.as_str()))
                .exec(conn)
                .await
                .map_err(store_error)?;
            count(&mut done, state);
        }
    }

    if done.plaintext_keys > 0 && conn.get_database_backend() == DbBackend::Sqlite {
        // The plaintext is gone from the rows, not yet from the file: rebuild it (free pages
        // keep old cells) and empty the write-ahead log (it keeps old pages).
        for statement in ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"] {
            conn.execute_unprepared(statement)
                .await
                .map_err(store_error)?;
        }
    }
    if done != Resealed::default() {
        tracing::info!(
            secrets.plaintext_keys = done.plaintext_keys,
            secrets.legacy_values = done.legacy_values,
            "sealed the secrets older versions kept in plaintext or without their row's identity"
        );
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::JwtSigner;
    use crate::persistence::DatabaseTarget;
    use berth_domain::identity::{TokenClaims, TokenSigner};
    use std::sync::Arc;

    async fn db(dir: &std::path::Path) -> Database {
        Database::open(&DatabaseTarget::Sqlite(dir.join("berth.db")))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn sealing() -> Arc<AesGcmBox> {
        Arc::new(AesGcmBox::new(&[9; 32]).unwrap_or_else(|e| panic!("{e}")))
    }

    fn claims() -> TokenClaims {
        serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": "s", "aud": "a", "exp": 4_102_444_800_i64,
            "nbf": 0, "iat": 0, "jti": "j", "oid": "o", "tid": "t", "idtyp": "app",
            "ver": "2.0", "token_use": "access"
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_plaintext_signing_key_is_sealed_at_start_and_its_tokens_still_verify() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = db(dir.path()).await;
        let sealing = sealing();
        let signer = JwtSigner::open(db.clone(), sealing.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let token = signer
            .sign(&claims())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // As an older berthd kept it: the PEM itself.
        let row = signing_key::Entity::find()
            .one(db.writer())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no key"));
        let pem = sealing
            .open(&row.private_pem, &signing_key_aad(&row.kid))
            .unwrap_or_else(|e| panic!("{e}"));
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::PrivatePem, Expr::value(pem.clone()))
            .exec(db.writer())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            JwtSigner::open(db.clone(), sealing.clone()).await.is_err(),
            "a plaintext key is not used as is"
        );

        let done = seal_secrets_at_rest(&db, &sealing)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.plaintext_keys, 1);
        let again = seal_secrets_at_rest(&db, &sealing)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, Resealed::default(), "idempotent");
        let row = signing_key::Entity::find()
            .one(db.writer())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no key"));
        assert_eq!(seal_state(&row.private_pem), SealState::Sealed);
        assert!(!row.private_pem.contains("PRIVATE KEY"));
        let reopened = JwtSigner::open(db.clone(), sealing.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            reopened
                .verify(&token, "i", &["a".to_owned()])
                .await
                .is_ok(),
            "a token signed before the migration verifies after it"
        );
    }

    #[tokio::test]
    async fn signing_keys_swapped_between_rows_do_not_open() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = db(dir.path()).await;
        let sealing = sealing();
        let signer = JwtSigner::open(db.clone(), sealing.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        signer.rotate().await.unwrap_or_else(|e| panic!("{e}"));
        let rows = signing_key::Entity::find()
            .all(db.writer())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let [a, b] = rows.as_slice() else {
            panic!("two keys expected, got {}", rows.len());
        };
        for (row, value) in [(a, &b.private_pem), (b, &a.private_pem)] {
            signing_key::Entity::update_many()
                .col_expr(signing_key::Column::PrivatePem, Expr::value(value.clone()))
                .filter(signing_key::Column::Kid.eq(row.kid.as_str()))
                .exec(db.writer())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let refused = JwtSigner::open(db.clone(), sealing.clone()).await;
        let why = refused.err().map(|e| e.0).unwrap_or_default();
        assert!(
            why.contains("cannot be opened") && why.contains("signing key"),
            "{why}"
        );
        assert!(
            seal_secrets_at_rest(&db, &sealing).await.is_ok(),
            "the migration leaves sealed values alone"
        );
    }

    #[tokio::test]
    async fn admin_passwords_sealed_without_their_row_are_resealed_with_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = db(dir.path()).await;
        let sealing = sealing();
        let key =
            "/subscriptions/s/resourcegroups/g/providers/microsoft.containerregistry/registries/r";
        admin_password::Entity::insert(admin_password::ActiveModel {
            registry_key: sea_orm::ActiveValue::Set(key.to_owned()),
            name: sea_orm::ActiveValue::Set("password".to_owned()),
            sealed: sea_orm::ActiveValue::Set(sealing.seal_legacy("hunter2")),
            created_at: sea_orm::ActiveValue::Set(0),
        })
        .exec(db.writer())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let done = seal_secrets_at_rest(&db, &sealing)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.legacy_values, 1);
        let row = admin_password::Entity::find()
            .one(db.writer())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no row"));
        assert_eq!(seal_state(&row.sealed), SealState::Sealed);
        let aad = admin_password_aad(key, "password");
        assert_eq!(
            sealing.open(&row.sealed, &aad).ok().as_deref(),
            Some("hunter2")
        );
        assert!(
            sealing
                .open(&row.sealed, &admin_password_aad(key, "password2"))
                .is_err()
        );
    }
}
