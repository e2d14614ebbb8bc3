//! The embedded trust server's store of TUF metadata (`SeaOrmTufStore`) on a real SQLite
//! file and a real PostgreSQL schema: versions, selectors, atomic updates, exact-GUN
//! deletion and the changefeed. The files are the real notary CLI uploads of the TUF
//! fixtures (notary/tests/fixtures/tuf).

use super::*;
use berth_infra::persistence::SeaOrmTufStore;
use berth_notary::encoding::sha256_hex;
use berth_notary::{
    ChangeCategory, ChangeWindow, RoleName, TufMetadataStore, TufSelector, TufWriteError, WriteGate,
};
use berth_tests::tuf::{GUN, file, first_update, fixture};
use std::sync::Arc;

both_backends! {
    async fn updates_are_stored_whole_and_read_back_by_version_checksum_and_newest(app) {
        let store = SeaOrmTufStore::new(app.database().await);
        store.update(GUN, &first_update(), WriteGate::Open).await.unwrap();
        let timestamp2 = br#"{"signed":{"_type":"Timestamp","version":2}}"#;
        store
            .update(
                GUN,
                &[
                    file("targets", 3, b"targets v3"),
                    file("snapshot", 3, b"snapshot v3"),
                    file("timestamp", 2, timestamp2),
                ],
                WriteGate::Open,
            )
            .await
            .unwrap();

        let current = store.current(GUN).await.unwrap();
        assert_eq!(current.len(), 4);
        assert_eq!(current[&RoleName::Root], fixture("root"));
        assert_eq!(current[&RoleName::Targets], b"targets v3");
        let targets = |which| {
            let store = store.clone();
            async move { store.get(GUN, &RoleName::Targets, &which).await.unwrap() }
        };
        assert_eq!(targets(TufSelector::Current).await.unwrap().version, 3);
        let v2 = targets(TufSelector::Version(2)).await.unwrap();
        assert_eq!((v2.version, v2.data.clone()), (2, fixture("targets")));
        assert_eq!(v2.sha256, sha256_hex(&fixture("targets")));
        let by_sum = targets(TufSelector::Checksum(v2.sha256.to_ascii_uppercase()))
            .await
            .unwrap();
        assert_eq!(by_sum.version, 2, "checksums compare without regard to case");
        assert!(targets(TufSelector::Version(9)).await.is_none());
        assert!(targets(TufSelector::Checksum("00".repeat(32))).await.is_none());
        assert!(
            store
                .get("reg.registry.localhost/other", &RoleName::Root, &TufSelector::Current)
                .await
                .unwrap()
                .is_none()
        );

        let changes = store.changes(ChangeWindow::After(0), 100, None).await.unwrap();
        assert_eq!(
            changes
                .iter()
                .map(|c| (c.gun.as_str(), c.version, c.sha256.clone(), c.category))
                .collect::<Vec<_>>(),
            vec![
                (GUN, 1, sha256_hex(br#"{"signed":{"_type":"Timestamp","version":1}}"#), ChangeCategory::Update),
                (GUN, 2, sha256_hex(timestamp2), ChangeCategory::Update),
            ],
            "one change per update, with its timestamp"
        );
        assert_eq!(store.guns().await.unwrap(), vec![GUN.to_owned()]);
    }

    async fn an_old_or_repeated_version_is_refused_and_nothing_of_the_update_is_kept(app) {
        let store = SeaOrmTufStore::new(app.database().await);
        store.update(GUN, &first_update(), WriteGate::Open).await.unwrap();
        // targets v3 is new, but snapshot v2 is a replay: none of it may be stored.
        let refused = store
            .update(
                GUN,
                &[file("targets", 3, b"targets v3"), file("snapshot", 2, b"replayed")],
                WriteGate::Open,
            )
            .await;
        assert_eq!(
            refused,
            Err(TufWriteError::OldVersion { gun: GUN.to_owned(), role: RoleName::Snapshot })
        );
        let older = store.update(GUN, &[file("root", 0, b"older root")], WriteGate::Open).await;
        assert!(matches!(older, Err(TufWriteError::OldVersion { .. })), "{older:?}");
        let current = store.current(GUN).await.unwrap();
        assert_eq!(current[&RoleName::Targets], fixture("targets"), "targets v3 was not kept");
        assert_eq!(current[&RoleName::Snapshot], fixture("snapshot"));
        assert_eq!(store.changes(ChangeWindow::After(0), 100, None).await.unwrap().len(), 1);
    }

    async fn concurrent_writers_of_one_version_store_it_once(app) {
        let store = Arc::new(SeaOrmTufStore::new(app.database().await));
        store.update(GUN, &first_update(), WriteGate::Open).await.unwrap();
        let writers = (0..6).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .update(
                        GUN,
                        &[
                            file("targets", 3, format!("targets from writer {i}").as_bytes()),
                            file("timestamp", 2, format!("timestamp from writer {i}").as_bytes()),
                        ],
                        WriteGate::Open,
                    )
                    .await
            })
        });
        let mut stored = 0;
        for writer in writers {
            match writer.await.unwrap() {
                Ok(()) => stored += 1,
                Err(TufWriteError::OldVersion { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(stored, 1, "exactly one writer wins version 3");
        let winner = store
            .get(GUN, &RoleName::Targets, &TufSelector::Current)
            .await
            .unwrap()
            .unwrap();
        let timestamp = store
            .get(GUN, &RoleName::Timestamp, &TufSelector::Current)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(winner.data).unwrap().replace("targets", ""),
            String::from_utf8(timestamp.data).unwrap().replace("timestamp", ""),
            "the winner's files were stored together"
        );
        assert_eq!(store.changes(ChangeWindow::After(0), 100, Some(GUN)).await.unwrap().len(), 2);
    }

    async fn deleting_removes_exactly_one_gun_and_feeds_the_deletion(app) {
        let store = SeaOrmTufStore::new(app.database().await);
        let longer = format!("{GUN}-two");
        let nested = format!("{GUN}/nested");
        for gun in [GUN, longer.as_str(), nested.as_str()] {
            store.update(gun, &first_update(), WriteGate::Open).await.unwrap();
        }
        assert!(store.delete(GUN).await.unwrap());
        assert!(!store.delete(GUN).await.unwrap(), "nothing left to delete");
        assert!(store.current(GUN).await.unwrap().is_empty());
        assert_eq!(store.guns().await.unwrap(), vec![longer.clone(), nested.clone()]);
        assert_eq!(store.current(&longer).await.unwrap().len(), 4);

        let all = store.changes(ChangeWindow::After(0), 100, None).await.unwrap();
        assert_eq!(all.len(), 4, "three updates and one deletion");
        let last = all.last().unwrap();
        assert_eq!(
            (last.gun.as_str(), last.version, last.sha256.as_str(), last.category),
            (GUN, 0, "", ChangeCategory::Deletion)
        );
        let mine = store.changes(ChangeWindow::After(0), 100, Some(GUN)).await.unwrap();
        assert_eq!(mine.len(), 2);
        // Paging: after the first change, at most one.
        let page = store.changes(ChangeWindow::After(all[0].id), 1, None).await.unwrap();
        assert_eq!(page, vec![all[1].clone()]);
        // A deleted GUN starts again from version 1.
        store.update(GUN, &first_update(), WriteGate::Open).await.unwrap();
        assert_eq!(store.current(GUN).await.unwrap().len(), 4);
    }
}
