//! Backups: create, verify, detect a corrupted copy, refuse to overwrite a live store, and
//! restore with force to exactly the data that was backed up.

mod common;

use common::*;
use jiff::Timestamp;
use std::path::{Path, PathBuf};
use suanpan_core::Policy;
use suanpan_store::StoreError;
use suanpan_store::backup::{self, manifest_path};

/// Copies a backup (database, manifest, PAN key copy) under a new stem.
fn duplicate(file: &Path, stem: &str) -> PathBuf {
    let dir = file.parent().unwrap();
    let copy = dir.join(format!("{stem}.db"));
    std::fs::copy(file, &copy).unwrap();
    std::fs::copy(manifest_path(file), manifest_path(&copy)).unwrap();
    std::fs::copy(
        file.with_extension("pan.key"),
        copy.with_extension("pan.key"),
    )
    .unwrap();
    copy
}

#[test]
fn backup_verify_corrupt_and_restore() {
    // Goal: the whole backup life cycle, with the data after restore equal to the backup's.
    let out = tempfile::tempdir().unwrap();
    let keep = tempfile::tempdir().unwrap();
    let data = keep.path().join("data");
    install_seeded(&data);
    let h = Harness::open_in(&data, Policy::default());
    let a = approved(h.sale(1_000, "approve"));
    approved(h.refund(&rrn(&a), 300));
    approved(h.wallet_sale(500, 2));
    let backed_up = h.all_txns();
    let balance_at_backup = h.balance("approve");
    let audit_at_backup = h.last_audit().seq;

    let now: Timestamp = h.now();
    let (file, manifest) = backup::create(&h.dir, out.path(), now).expect("backup");
    assert_eq!(manifest.transactions, backed_up.len() as i64);
    assert_eq!(manifest.audit_entries, audit_at_backup);
    assert_eq!(
        backup::verify(&file).expect("a fresh backup verifies"),
        manifest
    );

    // One flipped byte in a copy is caught.
    let bad = duplicate(&file, "corrupted");
    let mut bytes = std::fs::read(&bad).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(&bad, bytes).unwrap();
    assert!(matches!(
        backup::verify(&bad),
        Err(StoreError::BackupInvalid(_))
    ));

    // Life goes on after the backup.
    approved(h.sale(7_000, "approve"));
    assert_ne!(h.all_txns(), backed_up);

    // No silent overwrite of a live store; no restore from a damaged file.
    assert!(matches!(
        backup::restore(&file, &h.dir, false, now),
        Err(StoreError::LiveStore(_))
    ));
    assert!(matches!(
        backup::restore(&bad, &h.dir, true, now),
        Err(StoreError::BackupInvalid(_))
    ));

    // With force, after closing the store: the data is the backup's.
    drop(h);
    backup::restore(&file, &data, true, now).expect("restore");
    assert!(
        data.join("backups").read_dir().unwrap().next().is_some(),
        "the live store was backed up first"
    );
    let restored = Harness::open_in(&data, Policy::default());
    assert_eq!(restored.all_txns(), backed_up);
    assert_eq!(restored.balance("approve"), balance_at_backup);
    assert_eq!(restored.last_audit().seq, audit_at_backup);
    // And it works: the next sale continues the numbering of the backup.
    let next = approved(restored.sale(1, "approve"));
    assert!(backed_up.iter().all(|t| t.voucher_no != next.voucher_no));
}

#[test]
fn restore_into_an_empty_directory() {
    // Goal: restoring where no store exists needs no force.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    approved(h.sale(1_000, "approve"));
    let (file, _) = backup::create(&h.dir, out.path(), h.now()).unwrap();
    let expected = h.all_txns();
    let empty = tempfile::tempdir().unwrap();
    backup::restore(&file, empty.path(), false, h.now()).expect("restore");
    let r = Harness::open_in(empty.path(), Policy::default());
    assert_eq!(r.all_txns(), expected);
}

#[test]
fn a_missing_or_edited_manifest_fails_verification() {
    // Goal: the manifest is part of the backup; without it or with a wrong hash, no trust.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    let (file, m) = backup::create(&h.dir, out.path(), h.now()).unwrap();
    let copy = duplicate(&file, "edited");
    let text = std::fs::read_to_string(manifest_path(&copy))
        .unwrap()
        .replace(&m.sha256, &"0".repeat(64));
    std::fs::write(manifest_path(&copy), text).unwrap();
    assert!(matches!(
        backup::verify(&copy),
        Err(StoreError::BackupInvalid(_))
    ));
    std::fs::remove_file(manifest_path(&copy)).unwrap();
    assert!(matches!(
        backup::verify(&copy),
        Err(StoreError::BackupInvalid(_))
    ));
}
