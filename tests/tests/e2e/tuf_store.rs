//! The trust store's write gate against a real `berthd`: metadata for a GUN is stored only
//! while its registry, driven through ARM, accepts trust data (content trust on, no wipe
//! running). The store's own behaviour is tested in the `services` target.

use super::*;
use berth_infra::persistence::SeaOrmTufStore;
use berth_notary::{ChangeWindow, TufMetadataStore, TufWriteError, WriteGate};
use berth_tests::tuf::{GUN, file, first_update};

both_backends! {
    async fn a_gated_update_is_stored_only_while_the_registry_accepts_trust_data(app) {
        let store = SeaOrmTufStore::new(app.database().await);
        let gated = WriteGate::RegistryAcceptsTrustData;
        let refused = |gun: &str| Err(TufWriteError::NotAccepted { gun: gun.to_owned() });
        // No registry has the GUN's login server.
        assert_eq!(store.update(GUN, &first_update(), gated).await, refused(GUN));
        assert!(store.current(GUN).await.unwrap().is_empty());

        app.create_group("gate").await;
        app.create_registry("gate", "gatereg01", "Premium").await;
        let registry = app.registry_path("gate", "gatereg01");
        let gun = format!("{}/app", berth_tests::fixtures::login_server(&app, &registry).await);
        // Content trust off.
        assert_eq!(store.update(&gun, &first_update(), gated).await, refused(&gun));
        let on = berth_tests::fixtures::set_trust(&app, &registry, "enabled").await;
        assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
        store.update(&gun, &first_update(), gated).await.unwrap();
        // From the moment the disable is accepted (its wipe runs), nothing more is stored.
        let off = berth_tests::fixtures::set_trust(&app, &registry, "disabled").await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        let next = [file("targets", 3, b"targets v3"), file("snapshot", 3, b"snapshot v3")];
        assert_eq!(store.update(&gun, &next, gated).await, refused(&gun));
        assert!(
            store.changes(ChangeWindow::After(0), 100, Some(&gun)).await.unwrap().iter()
                .all(|c| c.version <= 1),
            "only the first update (or the wipe's deletion) is in the feed"
        );
    }
}
