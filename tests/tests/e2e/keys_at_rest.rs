//! Keys at rest: the data directory and its files are the owner's only, the database holds
//! no usable private key (each is sealed with the secrets key and its row's identity), a
//! database an older `berthd` left with plaintext keys is sealed at start without breaking
//! the tokens already out, and a sealed value moved to another row does not open.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_domain::registry::SecretBox;
use berth_infra::persistence::Database;
use berth_infra::persistence::entities::{admin_password, signing_key, token_server_key};
use berth_infra::sealing::{AesGcmBox, signing_key_aad, token_server_key_aad};
use berth_tests::fixtures::{access, login_server, signed_in};
use berth_tests::{Backend, SpawnOptions, per_backend, spawn_app_with};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Every path under `dir` (itself included), with its mode.
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = vec![(
        dir.to_owned(),
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
    )];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(modes(&path));
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            out.push((path, mode));
        }
    }
    out
}

fn readable_by_others(dir: &Path) -> Vec<String> {
    modes(dir)
        .into_iter()
        .filter(|(_, mode)| mode & 0o077 != 0)
        .map(|(path, mode)| format!("{} {mode:o}", path.display()))
        .collect()
}

fn sealing_of(dir: &Path) -> AesGcmBox {
    AesGcmBox::from_config(None, dir).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_local_users_cannot_read_the_data_directory_or_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory berthd makes itself (a temporary directory would be 0700 already).
    let dir = tmp.path().join("berth-data");
    let options = SpawnOptions {
        tls: true,
        reuse: Some((dir.clone(), None)),
        ..SpawnOptions::default()
    };
    let mut app = spawn_app_with(Backend::Sqlite, options.clone()).await;
    let names: Vec<String> = modes(&dir)
        .iter()
        .filter_map(|(p, _)| p.strip_prefix(&dir).ok())
        .map(|p| p.display().to_string())
        .collect();
    for expected in [
        "berth.db",
        "berth.db-wal",
        "berth.db-shm",
        "secrets.key",
        "bootstrap-owner.json",
        "tls/dev-key.pem",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert_eq!(readable_by_others(&dir), Vec::<String>::new());

    // A directory an older berthd left 0755 with 0644 files is tightened at start.
    app.stop().await;
    for (path, _) in modes(&dir) {
        let loose = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
    }
    assert!(!readable_by_others(&dir).is_empty());
    let again = spawn_app_with(Backend::Sqlite, options).await;
    assert_eq!(readable_by_others(&dir), Vec::<String>::new());
    let (status, _) = again.get("/subscriptions?api-version=2022-12-01").await;
    assert_eq!(status, StatusCode::OK);
}

/// The raw bytes of the SQLite database and its write-ahead log.
fn database_bytes(dir: &Path) -> Vec<u8> {
    ["berth.db", "berth.db-wal"]
        .iter()
        .flat_map(|f| std::fs::read(dir.join(f)).unwrap_or_default())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The HS256 secrets of the registry token server, opened with the secrets key.
async fn refresh_secrets(db: &Database, sealing: &AesGcmBox) -> Vec<Vec<u8>> {
    token_server_key::Entity::find()
        .filter(token_server_key::Column::Purpose.eq("refresh-hs256"))
        .all(db.reader())
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let aad = token_server_key_aad(&row.purpose, &row.kid);
            STANDARD
                .decode(sealing.open(&row.material, &aad).unwrap())
                .unwrap()
        })
        .collect()
}

fn assert_no_key_in(dir: &Path, secrets: &[Vec<u8>]) {
    let bytes = database_bytes(dir);
    assert!(!bytes.is_empty());
    assert!(
        !contains(&bytes, b"PRIVATE KEY"),
        "a PEM private key in the database file"
    );
    for secret in secrets {
        assert!(!contains(&bytes, secret), "a raw HS256 secret in the file");
        assert!(
            !contains(&bytes, STANDARD.encode(secret).as_bytes()),
            "an HS256 secret in base64 in the file"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_file_gives_no_signing_key_to_whoever_reads_it() {
    let app = spawn_app_with(Backend::Sqlite, SpawnOptions::default()).await;
    let dir = app.data_dir.path();
    let db = app.database().await;
    let sealing = sealing_of(dir);
    let secrets = refresh_secrets(&db, &sealing).await;
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].len(), 32);
    assert_no_key_in(dir, &secrets);
    for row in signing_key::Entity::find().all(db.reader()).await.unwrap() {
        assert!(row.private_pem.starts_with("v2:"), "sealed: {}", row.kid);
    }
    for row in token_server_key::Entity::find()
        .all(db.reader())
        .await
        .unwrap()
    {
        assert!(row.material.starts_with("v2:"), "sealed: {}", row.kid);
    }
}

/// The built-in issuer's published keys.
async fn issuer_keys(app: &TestApp) -> Value {
    let (_, config) = app
        .get("/common/v2.0/.well-known/openid-configuration")
        .await;
    let (_, keys) = app.get(config["jwks_uri"].as_str().unwrap()).await;
    assert!(
        keys["keys"].as_array().is_some_and(|k| !k.is_empty()),
        "{keys}"
    );
    keys
}

/// Opens every key row and writes it back in plaintext, as berthd kept keys before they
/// were sealed.
async fn unseal_key_rows(db: &Database, sealing: &AesGcmBox) -> usize {
    let mut n = 0;
    for row in signing_key::Entity::find().all(db.writer()).await.unwrap() {
        let pem = sealing
            .open(&row.private_pem, &signing_key_aad(&row.kid))
            .unwrap();
        assert!(pem.contains("PRIVATE KEY"));
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::PrivatePem, Expr::value(pem))
            .filter(signing_key::Column::Kid.eq(row.kid.as_str()))
            .exec(db.writer())
            .await
            .unwrap();
        n += 1;
    }
    for row in token_server_key::Entity::find()
        .all(db.writer())
        .await
        .unwrap()
    {
        let material = sealing
            .open(&row.material, &token_server_key_aad(&row.purpose, &row.kid))
            .unwrap();
        token_server_key::Entity::update_many()
            .col_expr(token_server_key::Column::Material, Expr::value(material))
            .filter(token_server_key::Column::Kid.eq(row.kid.as_str()))
            .exec(db.writer())
            .await
            .unwrap();
        n += 1;
    }
    n
}

per_backend! {
    async fn plaintext_keys_an_older_berthd_left_are_sealed_at_start_and_its_tokens_still_work(backend) {
        let mut app = spawn_app_with(
            backend,
            SpawnOptions {
                process: Some(env!("CARGO_BIN_EXE_berthd-e2e").into()),
                ..SpawnOptions::default()
            },
        )
        .await;
        app.create_group("rest").await;
        app.create_registry("rest", "restreg01", "Basic").await;
        let registry = app.registry_path("rest", "restreg01");
        let service = login_server(&app, &registry).await;
        let (_, _, refresh) = signed_in(&app, &registry, berth_tests::roles::ACR_PULL, "reader").await;
        let arm_token = app.management_token.clone();
        let keys_before = issuer_keys(&app).await;

        app.kill().await;
        let db = app.database().await;
        let sealing = sealing_of(app.data_dir.path());
        assert_eq!(unseal_key_rows(&db, &sealing).await, 3, "one issuer key, two token server keys");
        app.restart().await;

        for row in signing_key::Entity::find().all(db.reader()).await.unwrap() {
            assert!(row.private_pem.starts_with("v2:"), "sealed at start: {}", row.kid);
            assert!(!row.private_pem.contains("PRIVATE KEY"));
        }
        for row in token_server_key::Entity::find().all(db.reader()).await.unwrap() {
            assert!(row.material.starts_with("v2:"), "sealed at start: {}", row.kid);
        }
        if backend == Backend::Sqlite {
            let secrets = refresh_secrets(&db, &sealing).await;
            assert_no_key_in(app.data_dir.path(), &secrets);
        }
        assert!(app.log().contains("sealed the secrets"), "{}", app.log());
        assert_eq!(issuer_keys(&app).await, keys_before, "the same issuer keys");

        // Tokens signed before the migration still verify: the issuer's ES256 (ARM) and the
        // token server's HS256 (refresh) and ES256 (access).
        let subs = app
            .send_as(
                reqwest::Method::GET,
                "/subscriptions?api-version=2022-12-01",
                None,
                &[("authorization", &format!("Bearer {arm_token}"))],
            )
            .await;
        assert_eq!(subs.status, StatusCode::OK, "{:?}", subs.body);
        let token = access(&app, &service, "repository:team/app:pull", &refresh).await;
        assert_eq!(token.status, StatusCode::OK, "{:?}", token.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_password_copied_into_another_registrys_row_does_not_open() {
    let app = spawn_app_with(Backend::Sqlite, SpawnOptions::default()).await;
    app.create_group("swap").await;
    let mut passwords = Vec::new();
    for name in ["swapreg01", "swapreg02"] {
        app.create_registry("swap", name, "Basic").await;
        let registry = app.registry_path("swap", name);
        let on = app
            .patch(
                &format!("{registry}?api-version={API}"),
                &json!({"properties": {"adminUserEnabled": true}}),
            )
            .await;
        assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
        let list = format!("{registry}/listCredentials?api-version={API}");
        let creds = app.send(reqwest::Method::POST, &list, None, &[]).await;
        assert_eq!(creds.status, StatusCode::OK, "{:?}", creds.body);
        passwords.push((registry, list, creds.body));
    }
    // Someone who can write the database, but has not the secrets key, copies the second
    // registry's sealed passwords over the first's.
    let db = app.database().await;
    let rows = admin_password::Entity::find()
        .all(db.writer())
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    let second = passwords[1].0.to_lowercase();
    for row in rows.iter().filter(|r| r.registry_key == second) {
        admin_password::Entity::update_many()
            .col_expr(
                admin_password::Column::Sealed,
                Expr::value(row.sealed.clone()),
            )
            .filter(admin_password::Column::RegistryKey.ne(second.as_str()))
            .filter(admin_password::Column::Name.eq(row.name.as_str()))
            .exec(db.writer())
            .await
            .unwrap();
    }
    let swapped = app
        .send(reqwest::Method::POST, &passwords[0].1, None, &[])
        .await;
    assert_eq!(
        swapped.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{:?}",
        swapped.body
    );
    let text = swapped.body.to_string();
    for value in passwords[1].2["passwords"].as_array().unwrap() {
        let value = value["value"].as_str().unwrap();
        assert!(!text.contains(value), "the other registry's password leaks");
    }
    // The second registry is unharmed.
    let untouched = app
        .send(reqwest::Method::POST, &passwords[1].1, None, &[])
        .await;
    assert_eq!(untouched.status, StatusCode::OK);
    assert_eq!(untouched.body["passwords"], passwords[1].2["passwords"]);
}
