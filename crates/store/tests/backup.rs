//! Backups: create, verify, detect a corrupted copy, refuse to overwrite a live store, and
//! restore with force to exactly the data that was backed up.

mod common;

use common::*;
use jiff::Timestamp;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use suanpan_core::Policy;
use suanpan_store::StoreError;
use suanpan_store::backup::{self, Keyring, Sources, manifest_path};
use suanpan_store::keys::{Keys, MemoryKek};

/// The KEK every test store is opened under (see `common::options`).
fn test_keys() -> Keys {
    options(
        Policy::default(),
        Arc::new(suanpan_core::clock::FixedClock::new(start())),
    )
    .keys
}

/// What verification and restore get: the test KEK alone.
fn ring() -> Keyring {
    Keyring::of(test_keys())
}

/// Backs `h`'s store up into `out`, with the evidence files of `DATA_DIR/evidence`.
fn create(h: &Harness, out: &Path) -> (PathBuf, backup::Manifest) {
    let evidence = h.dir.join("evidence");
    let src = Sources {
        data_dir: &h.dir,
        evidence_dir: &evidence,
    };
    backup::create(&*h.store, &src, out, h.now()).expect("backup")
}

/// Stores `bytes` as an evidence file would be (named by its SHA-256); returns the name.
fn put_evidence(dir: &Path, bytes: &[u8]) -> String {
    use sha2::Digest;
    let name = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(&name), bytes).unwrap();
    name
}

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
    let (file, manifest) = create(&h, out.path());
    assert_eq!(manifest.transactions, backed_up.len() as i64);
    assert_eq!(manifest.audit_entries, audit_at_backup);
    assert_eq!(
        backup::verify(&file, &ring()).expect("a fresh backup verifies"),
        manifest
    );

    // One flipped byte in a copy is caught.
    let bad = duplicate(&file, "corrupted");
    let mut bytes = std::fs::read(&bad).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(&bad, bytes).unwrap();
    assert!(matches!(
        backup::verify(&bad, &ring()),
        Err(StoreError::BackupInvalid(_))
    ));

    // Life goes on after the backup.
    approved(h.sale(7_000, "approve"));
    assert_ne!(h.all_txns(), backed_up);

    // No silent overwrite of a live store; no restore from a damaged file.
    assert!(matches!(
        backup::restore(&file, &ring(), &h.dir, &h.dir.join("evidence"), false, now),
        Err(StoreError::LiveStore(_))
    ));
    assert!(matches!(
        backup::restore(&bad, &ring(), &h.dir, &h.dir.join("evidence"), true, now),
        Err(StoreError::BackupInvalid(_))
    ));

    // With force, after closing the store: the data is the backup's.
    drop(h);
    backup::restore(&file, &ring(), &data, &data.join("evidence"), true, now).expect("restore");
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
    let (file, _) = create(&h, out.path());
    let expected = h.all_txns();
    let empty = tempfile::tempdir().unwrap();
    let evidence = empty.path().join("evidence");
    backup::restore(&file, &ring(), empty.path(), &evidence, false, h.now()).expect("restore");
    let r = Harness::open_in(empty.path(), Policy::default());
    assert_eq!(r.all_txns(), expected);
}

#[test]
fn a_missing_or_edited_manifest_fails_verification() {
    // Goal: the manifest is part of the backup; without it or with a wrong hash, no trust.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    let (file, m) = create(&h, out.path());
    let copy = duplicate(&file, "edited");
    let text = std::fs::read_to_string(manifest_path(&copy))
        .unwrap()
        .replace(&m.sha256, &"0".repeat(64));
    std::fs::write(manifest_path(&copy), text).unwrap();
    assert!(matches!(
        backup::verify(&copy, &ring()),
        Err(StoreError::BackupInvalid(_))
    ));
    std::fs::remove_file(manifest_path(&copy)).unwrap();
    assert!(matches!(
        backup::verify(&copy, &ring()),
        Err(StoreError::BackupInvalid(_))
    ));
}

#[test]
fn evidence_files_travel_with_the_backup() {
    // Goal: `backup create` copies the evidence folder's files (listed with SHA-256 and
    // size), skips files still being written, keeps two backups of one moment apart, and
    // `restore` puts the files back.
    let out = tempfile::tempdir().unwrap();
    let keep = tempfile::tempdir().unwrap();
    let data = keep.path().join("data");
    install_seeded(&data);
    let h = Harness::open_in(&data, Policy::default());
    let evidence = data.join("evidence");
    let video = put_evidence(&evidence, b"\x1a\x45\xdf\xa3 a counter video");
    let photo = put_evidence(&evidence, &[0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    std::fs::write(
        evidence.join(format!("{}.partial", "a".repeat(64))),
        b"half",
    )
    .unwrap();
    let (file, m) = create(&h, out.path());
    let mut listed: Vec<_> = m.evidence.iter().map(|e| e.sha256.clone()).collect();
    listed.sort();
    let mut expected = vec![video.clone(), photo.clone()];
    expected.sort();
    assert_eq!(
        listed, expected,
        "the half-written file is not evidence yet"
    );
    assert_eq!(
        m.evidence.iter().map(|e| e.bytes).sum::<u64>(),
        (b"\x1a\x45\xdf\xa3 a counter video".len() + 7) as u64
    );
    assert_eq!(backup::verify(&file, &ring()).expect("verifies"), m);
    let (second, _) = create(&h, out.path());
    assert_ne!(
        second, file,
        "a second backup at the same moment gets its own name"
    );
    let names: Vec<_> = backup::list(out.path())
        .unwrap()
        .into_iter()
        .map(|b| (b.name, b.evidence_files, b.complete))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.iter().all(|(_, n, done)| *n == 2 && *done),
        "{names:?}"
    );

    drop(h);
    std::fs::remove_dir_all(&evidence).unwrap();
    backup::restore(&file, &ring(), &data, &evidence, true, start()).expect("restore");
    for name in [&video, &photo] {
        let (sha, _) = backup::sha256_file(&evidence.join(name)).expect("restored file");
        assert_eq!(&sha, name);
    }
}

#[test]
fn an_altered_or_missing_evidence_file_fails_verification_by_name() {
    // Goal: each evidence file in a backup is checked; a changed byte or a deleted file is a
    // failure that names the file, and a restore from such a backup is refused.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    let evidence = h.dir.join("evidence");
    let a = put_evidence(&evidence, b"%PDF-1.4 bank letter");
    let b = put_evidence(&evidence, b"%PDF-1.4 second letter");
    let (file, _) = create(&h, out.path());
    let copies = backup::evidence_copy_dir(&file);

    let sealed = std::fs::read(copies.join(&a)).unwrap();
    let mut flipped = sealed.clone();
    let i = flipped.len() - 1;
    flipped[i] ^= 0x20;
    std::fs::write(copies.join(&a), flipped).unwrap();
    let err = backup::verify_and_record(&file, &ring(), h.now()).expect_err("altered");
    assert!(
        matches!(&err, StoreError::BackupInvalid(why) if why.contains(&a) && why.contains("altered")),
        "{err}"
    );
    let listed = backup::list(out.path()).unwrap();
    assert_eq!(listed[0].checked.as_ref().map(|c| c.ok), Some(false));
    let empty = tempfile::tempdir().unwrap();
    let restored = backup::restore(
        &file,
        &ring(),
        empty.path(),
        &empty.path().join("ev"),
        false,
        h.now(),
    );
    assert!(matches!(restored, Err(StoreError::BackupInvalid(_))));
    assert!(!empty.path().join("ev").exists(), "nothing restored");

    std::fs::write(copies.join(&a), sealed).unwrap();
    assert!(backup::verify_and_record(&file, &ring(), h.now()).is_ok());
    assert_eq!(
        backup::list(out.path()).unwrap()[0]
            .checked
            .as_ref()
            .map(|c| c.ok),
        Some(true)
    );
    std::fs::remove_file(copies.join(&b)).unwrap();
    let err = backup::verify(&file, &ring()).expect_err("missing");
    assert!(
        matches!(&err, StoreError::BackupInvalid(why) if why.contains(&b) && why.contains("missing")),
        "{err}"
    );
}

#[test]
fn a_damaged_evidence_file_on_disk_fails_the_backup() {
    // Goal: a live evidence file whose bytes no longer match its name is not copied into a
    // backup as if it were fine: the backup fails, names it, and leaves nothing behind.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    let evidence = h.dir.join("evidence");
    let name = put_evidence(&evidence, b"original bytes");
    std::fs::write(evidence.join(&name), b"damaged bytes").unwrap();
    let src = Sources {
        data_dir: &h.dir,
        evidence_dir: &evidence,
    };
    let err = backup::create(&*h.store, &src, out.path(), h.now()).expect_err("damaged");
    assert!(
        matches!(&err, StoreError::BackupInvalid(why) if why.contains(&name)),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn backups_while_the_writer_books_are_consistent() {
    // Goal: a backup taken while sales are booked is one snapshot (it verifies, its audit
    // chain is whole, its count lies between the counts before and after) and does not stop
    // the writer: every sale is booked while the backups run.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    let first = h.all_txns().len() as i64;
    let sales = 150;
    let manifests = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for i in 0..sales {
                approved(h.sale(100 + i, "approve"));
            }
        });
        let mut made = Vec::new();
        for _ in 0..3 {
            made.push(create(&h, out.path()));
        }
        writer.join().expect("writer");
        made
    });
    let last = h.all_txns().len() as i64;
    assert_eq!(last, first + sales);
    for (file, m) in manifests {
        assert_eq!(backup::verify(&file, &ring()).expect("verifies"), m);
        assert!(
            (first..=last).contains(&m.transactions),
            "{} not within {first}..={last}",
            m.transactions
        );
    }
}

/// Every file of a backup (database copy, manifest, PAN key copy, evidence), read whole.
fn backup_files(file: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut paths = vec![
        file.to_path_buf(),
        manifest_path(file),
        file.with_extension("pan.key"),
    ];
    if let Ok(rd) = std::fs::read_dir(backup::evidence_copy_dir(file)) {
        paths.extend(rd.flatten().map(|e| e.path()));
    }
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_backup_shows_no_journal_content_in_clear() {
    // Goal: finding 8: a copied backup gives up nothing of the journal: no SQLite page, no
    // RRN, no masked card number, no audit text, no evidence bytes, in any of its files.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    let sale = approved(h.sale(4_321, "approve"));
    let evidence = h.dir.join("evidence");
    put_evidence(&evidence, b"%PDF-1.4 the cardholder's signed letter");
    let (file, _) = create(&h, out.path());
    let rrn = rrn(&sale);
    let masked = sale
        .masked_pan
        .as_ref()
        .expect("a card sale has a masked PAN")
        .to_string();
    let audit_actor = h.last_audit().actor;
    let needles: Vec<&[u8]> = vec![
        b"SQLite format 3",
        rrn.as_bytes(),
        masked.as_bytes(),
        audit_actor.as_bytes(),
        b"the cardholder's signed letter",
        b"CREATE TABLE",
    ];
    for (path, bytes) in backup_files(&file) {
        for n in &needles {
            assert!(
                !contains(&bytes, n),
                "{} holds {:?} in clear",
                path.display(),
                String::from_utf8_lossy(n)
            );
        }
    }
    // And the backup is whole: it verifies and restores to the same journal.
    backup::verify(&file, &ring()).expect("verifies");
}

#[test]
fn verify_names_a_flipped_byte_a_forged_manifest_a_wrong_kek_and_an_unsigned_backup() {
    // Goal: `backup verify` says which check failed, so the operator knows what happened.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    approved(h.sale(1_000, "approve"));
    let (file, m) = create(&h, out.path());

    let flipped = duplicate(&file, "flipped");
    let mut bytes = std::fs::read(&flipped).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(&flipped, bytes).unwrap();
    let err = backup::verify(&flipped, &ring()).expect_err("flipped");
    assert!(
        matches!(&err, StoreError::BackupInvalid(why) if why.contains("database copy") && why.contains("altered")),
        "{err}"
    );

    // The manifest's numbers changed (to hide a deletion): its signature no longer verifies.
    let forged = duplicate(&file, "forged");
    let text = std::fs::read_to_string(manifest_path(&forged))
        .unwrap()
        .replace(
            &format!("\"transactions\": {}", m.transactions),
            &format!("\"transactions\": {}", m.transactions + 1),
        );
    std::fs::write(manifest_path(&forged), text).unwrap();
    let err = backup::verify(&forged, &ring()).expect_err("forged");
    assert!(
        matches!(&err, StoreError::BackupInvalid(why) if why.contains("forged or edited")),
        "{err}"
    );

    // Another KEK: named as such, with both ids.
    let other = Keyring::of(Arc::new(MemoryKek::new([9; 32])));
    match backup::verify(&file, &other) {
        Err(StoreError::KekMismatch { wrapped_by, given }) => {
            assert_eq!(wrapped_by, test_keys().kek_id());
            assert_eq!(given, other.current.kek_id());
        }
        other => panic!("expected the wrong KEK named, got {other:?}"),
    }

    // The signature removed: not trusted.
    let unsigned = duplicate(&file, "unsigned");
    let text = std::fs::read_to_string(manifest_path(&unsigned))
        .unwrap()
        .replace(&m.mac, "");
    std::fs::write(manifest_path(&unsigned), text).unwrap();
    let err = backup::verify(&unsigned, &ring()).expect_err("unsigned");
    assert!(
        matches!(&err, StoreError::BackupInvalid(why) if why.contains("not signed")),
        "{err}"
    );
    backup::verify(&file, &ring()).expect("the original still verifies");
}

#[test]
fn a_backup_made_before_a_kek_rotation_verifies_and_restores_under_the_new_kek() {
    // Goal: `keys rotate-kek` leaves the old KEK as `<kek>.retired-<id>`; backups made under
    // it verify with it, and a restore re-wraps the store under the current KEK (the TMK
    // unwraps under it afterwards) and restarts the anchor from the backup's signed head.
    let out = tempfile::tempdir().unwrap();
    let h = Harness::new();
    approved(h.sale(1_000, "approve"));
    let tmk = h.store.terminal_tmk(&terminal()).unwrap().expect("a TMK");
    let head = h.last_audit();
    let (file, _) = create(&h, out.path());
    let new: Keys = Arc::new(MemoryKek::new([8; 32]));
    let kek_dir = tempfile::tempdir().unwrap();
    let anchor = kek_dir.path().join("k.kek.anchor");
    let rotated = Keyring {
        current: new.clone(),
        retired: vec![test_keys()],
        anchor: Some(anchor.clone()),
    };
    backup::verify(&file, &rotated).expect("verifies under the retired KEK");
    assert!(matches!(
        backup::verify(&file, &Keyring::of(new.clone())),
        Err(StoreError::KekMismatch { .. })
    ));
    let empty = tempfile::tempdir().unwrap();
    backup::restore(
        &file,
        &rotated,
        empty.path(),
        &empty.path().join("ev"),
        false,
        h.now(),
    )
    .expect("restore");
    let opts = suanpan_store::OpenOptions {
        keys: new.clone(),
        ..suanpan_service::open_options()
    };
    let store =
        suanpan_store::SqliteStore::open(empty.path(), opts).expect("opens under the new KEK");

    assert_eq!(store.terminal_tmk(&terminal()).unwrap(), Some(tmk));
    let a = suanpan_store::anchor::Anchor::new(&anchor, &*new).unwrap();
    let r = a
        .latest()
        .unwrap()
        .expect("the anchor restarts at the backup's head");
    assert_eq!((r.seq, r.hash), (head.seq, head.hash));
}

#[test]
fn a_postgres_backup_is_sealed_and_decrypts_for_pg_restore() {
    // Goal: on PostgreSQL the dump is sealed as it leaves pg_dump (no custom-format header
    // in clear), verifies through `pg_restore --list` on the decrypted stream, and
    // `open_dump` gives pg_restore a readable, owner-only clear dump.
    let Some(h) = Harness::on(Backend::Postgres) else {
        return skipped();
    };
    approved(h.sale(1_000, "approve"));
    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("pan.key"), "w1:x").unwrap();
    let src = Sources {
        data_dir: data.path(),
        evidence_dir: &data.path().join("evidence"),
    };
    let (file, m) = match backup::create(&*h.store, &src, out.path(), h.now()) {
        Err(StoreError::ToolMissing(_)) => return skipped(),
        other => other.expect("backup"),
    };
    let sealed = std::fs::read(&file).unwrap();
    assert!(!contains(&sealed, b"PGDMP"), "the dump is sealed");
    assert_eq!(backup::verify(&file, &ring()).expect("verifies"), m);
    assert_eq!(
        m.audit_head.as_ref().map(|a| a.seq),
        Some(h.last_audit().seq)
    );
    let clear = out.path().join("clear.dump");
    suanpan_store::pg_dump::open_dump(&file, &ring(), &clear, &data.path().join("ev"))
        .expect("decrypts");
    assert!(std::fs::read(&clear).unwrap().starts_with(b"PGDMP"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&clear).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "owner-only: {mode:o}");
    }
    let listed = std::process::Command::new("pg_restore")
        .arg("--list")
        .arg(&clear)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
}
