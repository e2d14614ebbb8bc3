//! The embedded trust server's use cases over the real stores (SQLite file, PostgreSQL
//! schema) and the real crypto: the notary CLI's own uploads (notary/tests/fixtures/tuf)
//! are published one after another and end where Debian's notary-server ended; replays and
//! tampering are refused with notary's codes and change nothing; the server's keys are made
//! once, sealed at rest, and forgotten with the collection.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_domain::clock::Clock;
use berth_domain::registry::SecretBox;
use berth_domain::trust::TrustStore;
use berth_infra::persistence::entities::tuf_server_key;
use berth_infra::persistence::{SeaOrmTufServerKeys, SeaOrmTufStore};
use berth_infra::sealing::AesGcmBox;
use berth_infra::tuf_crypto::AwsLcTufCrypto;
use berth_notary::{
    EmbeddedTrustServer, KeyError, PublishError, RoleName, TufSelector, UploadedFile,
};
use sea_orm::{ActiveValue::Set, EntityTrait};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;

const APP: &str = "example.com/app";
const SRVSNAP: &str = "example.com/srvsnap";

/// The day the fixtures were made (their root certificates last ten years).
struct FixtureDay;

impl Clock for FixtureDay {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_651_200).unwrap()
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../notary/tests/fixtures/tuf")
}

fn read_json(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(path)).unwrap()).unwrap()
}

/// The parts of one captured upload, named as the notary CLI names them.
fn upload(dir: &str) -> Vec<UploadedFile> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<UploadedFile>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let name = path.strip_prefix(base).unwrap().to_string_lossy();
                out.push(UploadedFile {
                    filename: name.trim_end_matches(".json").to_owned(),
                    data: std::fs::read(&path).unwrap(),
                });
            }
        }
    }
    let base = fixtures().join(dir);
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out
}

struct Setup {
    server: EmbeddedTrustServer,
    secrets: Arc<dyn SecretBox>,
    db: berth_infra::persistence::Database,
}

async fn setup(app: &TestApp) -> Setup {
    app.create_group("fixtures").await;
    app.create_registry("fixtures", "example", "Premium").await;
    let registry = app.registry_path("fixtures", "example");
    let on = berth_tests::fixtures::set_trust(app, &registry, "enabled").await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    assert_eq!(on.body["properties"]["loginServer"], "example.com");
    let db = app.database().await;
    let secrets: Arc<dyn SecretBox> =
        Arc::new(AesGcmBox::from_config(None, app.data_dir.path()).unwrap());
    let crypto = Arc::new(AwsLcTufCrypto);
    let server = EmbeddedTrustServer::new(
        Arc::new(SeaOrmTufStore::new(db.clone())),
        Arc::new(SeaOrmTufServerKeys::new(db.clone(), secrets.clone())),
        crypto.clone(),
        crypto,
        Arc::new(FixtureDay),
    );
    Setup {
        server,
        secrets,
        db,
    }
}

/// Puts the lab notary-server's keys into the key store, sealed as Berth seals
/// its own, so that the server signs as notary-server signed.
async fn seed_notary_keys(setup: &Setup) {
    for key in read_json("server-keys.json").as_array().unwrap() {
        let row = tuf_server_key::ActiveModel {
            gun: Set(key["gun"].as_str().unwrap().to_owned()),
            role: Set(key["role"].as_str().unwrap().to_owned()),
            generation: Set(0),
            key_id: Set(key["key_id"].as_str().unwrap().to_owned()),
            keytype: Set(key["keytype"].as_str().unwrap().to_owned()),
            private_sealed: Set(setup
                .secrets
                .seal(
                    key["private_pkcs8"].as_str().unwrap(),
                    &berth_infra::sealing::tuf_key_aad(
                        key["gun"].as_str().unwrap(),
                        key["role"].as_str().unwrap(),
                        0,
                    ),
                )
                .unwrap()),
            created_at: Set(0),
        };
        tuf_server_key::Entity::insert(row)
            .exec(setup.db.writer())
            .await
            .unwrap();
    }
}

fn version(bytes: &[u8]) -> i64 {
    serde_json::from_slice::<Value>(bytes).unwrap()["signed"]["version"]
        .as_i64()
        .unwrap()
}

fn code(e: &PublishError) -> &'static str {
    match e {
        PublishError::Refused(refused) => refused.code(),
        PublishError::NotAccepted(gun) => panic!("{gun}: the registry refused trust data"),
        PublishError::Store(s) => panic!("store: {s}"),
    }
}

// The fixtures' GUNs are the notary CLI's (`example.com/...`): registries are named so
// that the registry `example` has that login server, and accepts trust data.
berth_tests::both_backends_with! {
    berth_tests::SpawnOptions {
        env: berth_tests::settings(&[("BERTH_LOGIN_SERVER_SUFFIX", "com")]),
        ..berth_tests::SpawnOptions::default()
    };

    async fn the_notary_clis_uploads_publish_as_on_notary_server(app) {
        let setup = setup(&app).await;
        seed_notary_keys(&setup).await;
        let server = &setup.server;
        for n in 1..=9 {
            server
                .publish(APP, &upload(&format!("app/upload-{n:02}")))
                .await
                .unwrap_or_else(|e| panic!("upload {n}: {e}"));
        }
        let current = |role: RoleName| {
            let server = server.clone();
            async move {
                server
                    .metadata(APP, &role, &TufSelector::Current)
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        // Where notary-server ended after the same nine uploads.
        for role in ["root", "targets", "snapshot", "timestamp"] {
            let theirs = version(&std::fs::read(fixtures().join(format!("app/server/current.{role}.json"))).unwrap());
            let ours = current(RoleName::parse(role).unwrap()).await;
            assert_eq!(ours.version, theirs, "{role}");
        }
        let targets = current(RoleName::Targets).await;
        assert_eq!(
            targets.data,
            std::fs::read(fixtures().join("app/server/current.targets.json")).unwrap(),
            "client-signed files are served byte for byte"
        );
        let by_version = server
            .metadata(APP, &RoleName::Root, &TufSelector::Version(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_version.data, std::fs::read(fixtures().join("app/server/1.root.json")).unwrap());

        // A replay, and a tampered signature, change nothing.
        let timestamp = current(RoleName::Timestamp).await;
        // The last upload again: still validly signed, but not newer (notary checks
        // versions after validation, so an older upload signed with a since-rotated key
        // is INVALID_UPDATE instead).
        let replay = server.publish(APP, &upload("app/upload-09")).await.unwrap_err();
        assert_eq!(code(&replay), "VERSION", "{replay}");
        let stale = server.publish(APP, &upload("app/upload-02")).await.unwrap_err();
        assert_eq!(code(&stale), "INVALID_UPDATE", "{stale}");
        let mut tampered = upload("app/upload-09");
        let part = tampered.iter_mut().find(|p| p.filename == "targets").unwrap();
        let mut doc: Value = serde_json::from_slice(&part.data).unwrap();
        let sig = doc["signatures"][0]["sig"].as_str().unwrap().to_owned();
        let mut raw = STANDARD.decode(&sig).unwrap();
        raw[10] ^= 0x01;
        doc["signatures"][0]["sig"] = json!(STANDARD.encode(raw));
        doc["signed"]["version"] = json!(version(&targets.data) + 1);
        part.data = serde_json::to_vec(&doc).unwrap();
        let refused = server.publish(APP, &tampered).await.unwrap_err();
        assert_eq!(code(&refused), "INVALID_UPDATE", "{refused}");
        assert_eq!(current(RoleName::Timestamp).await, timestamp, "nothing was stored");
        assert_eq!(current(RoleName::Targets).await, targets);

        // A collection whose snapshot the server manages from the start (`init` with the
        // snapshot key delegated, then an upload of nothing).
        server.publish(SRVSNAP, &upload("srvsnap/upload-10")).await.unwrap();
        server.publish(SRVSNAP, &[]).await.unwrap();
        for role in ["snapshot", "timestamp"] {
            let theirs = version(&std::fs::read(fixtures().join(format!("srvsnap/server/current.{role}.json"))).unwrap());
            let ours = server
                .metadata(SRVSNAP, &RoleName::parse(role).unwrap(), &TufSelector::Current)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(ours.version, theirs, "srvsnap {role}");
        }
        server.delete_collection(SRVSNAP).await.unwrap();

        // The collection is a trust store's collection: listed, then deleted exactly.
        assert_eq!(server.list_collections().await.unwrap(), vec![APP.to_owned()]);
        assert!(server.has_collection(APP).await.unwrap());
        server.delete_collection(APP).await.unwrap();
        assert!(!server.has_collection(APP).await.unwrap());
        assert!(server.list_collections().await.unwrap().is_empty());
        server.health().await.unwrap();
    }

    async fn server_keys_are_made_once_sealed_and_forgotten_with_the_collection(app) {
        let setup = setup(&app).await;
        let server = &setup.server;
        let gun = "example.com/app";
        // A registry without content trust (here: none at all) gets no server key.
        assert!(matches!(
            server.key("reg.registry.localhost/app", &RoleName::Timestamp).await,
            Err(KeyError::NotAccepted(_))
        ));
        let (first, again) = tokio::join!(
            server.key(gun, &RoleName::Timestamp),
            server.key(gun, &RoleName::Timestamp)
        );
        let (first, again) = (first.unwrap(), again.unwrap());
        assert_eq!(first.id(), again.id(), "concurrent first calls agree on one key");
        assert_eq!(first.keytype, "ecdsa");
        let snapshot = server.key(gun, &RoleName::Snapshot).await.unwrap();
        assert_ne!(snapshot.id(), first.id());
        assert!(matches!(
            server.key(gun, &RoleName::Targets).await,
            Err(KeyError::NotServerManaged(_))
        ));

        let rows = tuf_server_key::Entity::find().all(setup.db.reader()).await.unwrap();
        assert_eq!(rows.len(), 2);
        for row in &rows {
            assert!(row.private_sealed.starts_with("v2:"), "sealed: {}", row.role);
            let aad = berth_infra::sealing::tuf_key_aad(&row.gun, &row.role, row.generation);
            let opened = setup.secrets.open(&row.private_sealed, &aad).unwrap();
            assert!(!row.private_sealed.contains(&opened), "no plain key at rest");
        }

        assert!(!server.delete(gun).await.unwrap(), "no trust data was published");
        let renewed = server.key(gun, &RoleName::Timestamp).await.unwrap();
        assert_ne!(renewed.id(), first.id(), "a deleted collection gets new keys");
    }
}
