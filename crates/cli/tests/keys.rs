//! Issue 11, the disk side: a copy of the data directory or of a backup gives up no key and
//! no card number. Each test opens with the finding it reproduces.

mod common;

use common::{Demo, Secrets, TERMINAL, run, run_json, suanpan};
use std::path::{Path, PathBuf};
use suanpan_store::admin::DEMO_TMK_HEX;

const PIN: &str = common::CARD_PIN_PIN;
const TOTP_CLEAR: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle == PIN.as_bytes() {
        // The demo terminal id 12345678 holds the demo PIN's digits: only other
        // occurrences count.
        return hay
            .windows(needle.len() + 2)
            .any(|w| w.starts_with(needle) && &w[needle.len()..] != b"78");
    }
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir` that holds one of `needles`, named with the needle's label.
fn leaks(dir: &Path, needles: &[(&str, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for f in files(dir) {
        let bytes = std::fs::read(&f).expect("read");
        for (label, n) in needles {
            if contains(&bytes, n) {
                found.push(format!("{label} in {}", f.display()));
            }
        }
    }
    found
}

/// Turns a demo store back into what an earlier build left on disk: the TMK in clear in
/// `terminals.tmk_hex`, `pan.key` in clear hex, a TOTP secret in clear.
fn make_old_store(d: &Demo) -> [u8; 32] {
    // The store's own key, unwrapped with the KEK, written back in clear.
    let keys =
        suanpan_store::keys::FileKek::load(&d.tmp.path().join("data.kek"), &d.dir()).expect("kek");
    let wrapped = std::fs::read_to_string(d.dir().join("pan.key")).expect("pan.key");
    assert!(wrapped.starts_with("w1:"), "pan.key is stored wrapped");
    let pan_key: [u8; 32] = keys
        .unwrap("pan.key", wrapped.trim())
        .expect("unwrap")
        .expose()
        .try_into()
        .expect("32 bytes");
    std::fs::write(d.dir().join("pan.key"), hex::encode(pan_key)).expect("pan.key");
    let conn = rusqlite::Connection::open(d.dir().join("suanpan.db")).expect("db");
    conn.execute("UPDATE terminals SET tmk_hex = ?1", [DEMO_TMK_HEX])
        .expect("clear tmk");
    conn.execute(
        "UPDATE staff SET totp_secret = ?1 WHERE username = 'admin'",
        [TOTP_CLEAR],
    )
    .expect("clear totp");
    pan_key
}

fn needles(pan_key: &[u8; 32]) -> Vec<(&'static str, Vec<u8>)> {
    let tmk = hex::decode(DEMO_TMK_HEX).expect("hex");
    vec![
        ("TMK hex", DEMO_TMK_HEX.as_bytes().to_vec()),
        ("TMK hex (lower)", DEMO_TMK_HEX.to_lowercase().into_bytes()),
        ("TMK raw", tmk),
        ("pan.key hex", hex::encode(pan_key).into_bytes()),
        ("pan.key raw", pan_key.to_vec()),
        ("TOTP secret", TOTP_CLEAR.as_bytes().to_vec()),
        ("PIN", PIN.as_bytes().to_vec()),
    ]
}

// Findings 1, 2 and 8: an older store's clear TMK, clear pan.key and clear TOTP secret are
// wrapped on the first open with a KEK, and then neither the data directory nor a backup
// of it holds any of them (hex or raw bytes), nor the demo PIN.
#[test]
fn no_key_in_data_dir_or_backup() {
    let d = Demo::new();
    let pan_key = make_old_store(&d);
    let before = leaks(&d.dir(), &needles(&pan_key));
    assert!(!before.is_empty(), "the old store is in clear: {before:?}");
    // The first open with the KEK migrates.
    run(d.cmd().args(["admin", "terminal", "list"])).ok();
    // A PIN card's sale (the PIN must not be stored anywhere either), and a backup.
    run(d
        .sale_cmd("1.00", common::CARD_PIN)
        .args(["--pin"])
        .pin(common::CARD_PIN_PIN))
    .ok();
    run(d.cmd().args(["backup", "create"])).ok();
    let found = leaks(&d.dir(), &needles(&pan_key));
    assert!(found.is_empty(), "clear secrets on disk: {found:?}");
    // Still usable: the same fingerprint key (the sale above matched the card's history),
    // the TMK unwraps (its digest is computed for the list).
    let (code, v) = run_json(d.cmd().args(["admin", "terminal", "list"]));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["terminals"][0]["has_tmk"], true);
}

// The KEK lies beside the data directory, 0600, and the data directory is 0700.
#[test]
fn kek_beside_not_inside() {
    let d = Demo::new();
    let kek = d.tmp.path().join("data.kek");
    assert!(
        kek.exists(),
        "init --demo makes the KEK beside the data directory"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&kek), 0o600);
        assert_eq!(mode(&d.dir()), 0o700);
        assert_eq!(mode(&d.dir().join("pan.key")), 0o600);
        // Finding 8: database, WAL, backups and exports were 0644.
        run(&mut d.sale_cmd("1.00", common::CARD_OK)).ok();
        run(d.cmd().args(["backup", "create"])).ok();
        let csv = d.dir().join("day.csv");
        run(d
            .cmd()
            .args(["export", "--format", "csv", "--output"])
            .arg(&csv))
        .ok();
        for f in files(&d.dir()) {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
        assert_eq!(mode(&d.dir().join("backups")), 0o700);
    }
    assert!(!files(&d.dir()).iter().any(|f| f.ends_with("data.kek")));
    // A KEK inside the data directory is refused.
    let inside = d.dir().join("kek");
    let out = run(suanpan(&d.dir())
        .args(["--lang", "en", "--kek-file"])
        .arg(&inside)
        .args(["keys", "init"]));
    assert_ne!(out.code, 0);
    assert!(
        out.text().contains("inside the data directory"),
        "{}",
        out.text()
    );
}

// A missing or a wrong KEK stops `serve` with a clear message before anything listens.
#[test]
fn serve_refuses_missing_or_wrong_kek() {
    let d = Demo::new();
    let other = d.tmp.path().join("other.kek");
    run(suanpan(&d.dir())
        .arg("--kek-file")
        .arg(&other)
        .args(["keys", "init"]))
    .ok();
    let serve = |lang: &str, kek: &Path| {
        run(suanpan(&d.dir())
            .args(["--lang", lang, "--kek-file"])
            .arg(kek)
            .args([
                "serve",
                "--iso8583-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
            ]))
    };
    let wrong = serve("en", &other);
    assert_eq!(wrong.code, 1, "{}", wrong.text());
    assert!(
        wrong.text().contains("Wrong key-encryption key"),
        "{}",
        wrong.text()
    );
    let missing = serve("zh", &d.tmp.path().join("gone.kek"));
    assert_eq!(missing.code, 1, "{}", missing.text());
    assert!(
        missing.text().contains("找不到密钥加密密钥"),
        "{}",
        missing.text()
    );
    assert!(!missing.text().contains("已启动"), "nothing listened");
}

// `keys rotate-kek` re-wraps everything: the new KEK opens the store, the retired one no
// longer does, and the keys still work (the TMK digests, a card sale with the PAN key).
#[test]
fn rotate_kek_rewraps_everything() {
    let d = Demo::new();
    let kek = d.tmp.path().join("data.kek");
    let old = std::fs::read(&kek).expect("kek");
    let (code, made) = run_json(d.cmd().args(["backup", "create"]));
    assert_eq!(code, 0, "{made}");
    let before = made["file"].as_str().expect("backup file").to_owned();
    let (code, v) = run_json(d.cmd().args(["keys", "rotate-kek"]));
    assert_eq!(code, 0, "{v}");
    // The backup made under the old KEK still verifies (with the retired KEK beside the new
    // one), and the audit anchor was re-signed under the new KEK.
    let (code, checked) = run_json(d.cmd().args(["backup", "verify", &before]));
    assert_eq!(code, 0, "{checked}");
    let (code, audit) = run_json(d.cmd().args(["audit", "verify"]));
    assert_eq!(code, 0, "{audit}");
    assert!(
        audit["verification"]["anchored"].as_i64().is_some(),
        "{audit}"
    );
    assert_ne!(std::fs::read(&kek).expect("kek"), old);
    let retired = PathBuf::from(v["retired"].as_str().expect("retired"));
    assert_eq!(std::fs::read(&retired).expect("retired"), old);
    run(&mut d.sale_cmd("2.00", common::CARD_OK)).ok();
    run(d.cmd().args(["admin", "terminal", "list"])).ok();
    let out = run(suanpan(&d.dir())
        .args(["--lang", "en", "--kek-file"])
        .arg(&retired)
        .args(["admin", "terminal", "list"]));
    assert_eq!(out.code, 1);
    assert!(
        out.text().contains("Wrong key-encryption key"),
        "{}",
        out.text()
    );
}

// Finding 8 (weak keys): an all-zero TMK, equal halves or a parity error is refused when a
// TMK is set; terminals sharing a TMK are named by `admin terminal list`.
#[test]
fn weak_and_shared_tmks() {
    let d = Demo::new();
    for weak in [
        "00000000000000000000000000000000",
        "0123456789ABCDEF0123456789ABCDEF",
        "00112233445566778899AABBCCDDEEFF",
    ] {
        let out = run(d
            .cmd()
            .args([
                "--lang", "en", "admin", "terminal", "set-tmk", "--id", TERMINAL,
            ])
            .env("SUANPAN_TMK", weak));
        assert_eq!(out.code, 1, "{weak}: {}", out.text());
        assert!(out.text().contains("Weak key refused"), "{}", out.text());
    }
    run(d
        .cmd()
        .args(["admin", "terminal", "add", "--id", "T0000002", "--merchant"])
        .arg(common::MERCHANT)
        .env("SUANPAN_TMK", DEMO_TMK_HEX))
    .ok();
    let (code, v) = run_json(d.cmd().args(["admin", "terminal", "list"]));
    assert_eq!(code, 0);
    assert_eq!(
        v["shared_tmk"][0],
        serde_json::json!([TERMINAL, "T0000002"])
    );
    let text = run(d.cmd().args(["--lang", "en", "admin", "terminal", "list"])).text();
    assert!(text.contains("share one master key"), "{text}");
    assert!(!text.contains(DEMO_TMK_HEX), "never the clear key");
}

/// Every 64-hex-digit string in `bytes` (fingerprints, request hashes, hex keys).
fn hex32s(bytes: &[u8], out: &mut std::collections::BTreeSet<[u8; 32]>) {
    let mut run = 0usize;
    for (i, b) in bytes.iter().enumerate() {
        run = if b.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= 64
            && let Ok(v) = hex::decode(&bytes[i + 1 - 64..=i])
            && let Ok(a) = v.try_into()
        {
            out.insert(a);
        }
    }
}

/// The attack of finding 2/3: take every 32-byte string in the files (hex strings and raw
/// windows) as a candidate key, and every hex 32-byte value as a target; a PAN is recovered
/// when HMAC-SHA256(candidate, PAN) or SHA-256(PAN) is a target. `pans` are the guesses
/// (here: the 10³ numbers that differ from the real one in three middle digits).
fn recovered(dir: &Path, pans: &[String]) -> Vec<String> {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let mut hexes = std::collections::BTreeSet::new();
    let mut raw = std::collections::BTreeSet::new();
    for f in files(dir) {
        let bytes = std::fs::read(&f).expect("read");
        hex32s(&bytes, &mut hexes);
        // A random key has ~30 distinct byte values; pages of text and zeros have far fewer.
        // Keeping only windows with 24+ (which every random key but one in ~10⁹ has) keeps
        // the attack's work within a test's time.
        for w in bytes.windows(32) {
            let mut seen = [false; 256];
            let distinct = w
                .iter()
                .filter(|&&b| !std::mem::replace(&mut seen[b as usize], true))
                .count();
            if distinct >= 24 {
                raw.insert(<[u8; 32]>::try_from(w).expect("32"));
            }
        }
    }
    let mut found = Vec::new();
    for pan in pans {
        if hexes.contains(&<[u8; 32]>::from(Sha256::digest(pan.as_bytes()))) {
            found.push(format!("{pan} by unkeyed SHA-256"));
        }
        for k in &hexes {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(k).expect("key");
            m.update(pan.as_bytes());
            if hexes.contains(&<[u8; 32]>::from(m.finalize().into_bytes())) {
                found.push(format!("{pan} under a hex key found on disk"));
            }
        }
    }
    // Raw windows are many: try them against the real number only.
    for k in &raw {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(k).expect("key");
        m.update(pans[0].as_bytes());
        if hexes.contains(&<[u8; 32]>::from(m.finalize().into_bytes())) {
            found.push(format!("{} under raw bytes found on disk", pans[0]));
        }
    }
    found
}

fn guesses(pan: &str) -> Vec<String> {
    let mut out = vec![pan.to_owned()];
    for n in 0..1_000u32 {
        let g = format!("{}{n:03}{}", &pan[..8], &pan[11..]);
        if g != pan {
            out.push(g);
        }
    }
    out
}

// Findings 2 and 3: with the clear pan.key of an older store, the stored fingerprints give
// the card number back by brute force; after the migration, nothing on disk — the data
// directory with a backup in it, after 8583 sales whose request hashes are stored — lets
// any 32-byte string found there recover it.
#[test]
fn no_pan_recoverable_by_brute_force() {
    let d = Demo::new();
    let pan = common::CARD_OK;
    run(&mut d.sale_cmd("3.00", pan)).ok();
    // The layout of an older build: pan.key in clear beside the fingerprints.
    let pan_key = make_old_store(&d);
    let before = recovered(&d.dir(), &guesses(pan));
    assert!(
        before.iter().any(|f| f.starts_with(pan)),
        "the old layout gives the PAN up: {before:?}"
    );
    let _ = pan_key;
    // Migrated on the next start; sales over 8583 store keyed request hashes.
    let (server, addr, _) = common::serve_at(&d.dir(), false, "127.0.0.1:0");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        use suanpan_host::client::{Card, Connection, Kind, Terminal};
        let mut t = Terminal::new(TERMINAL, common::MERCHANT, DEMO_TMK_HEX).expect("terminal");
        let mut c = Connection::connect(addr).await.expect("connect");
        let frame = t.sign_in().expect("sign-in");
        let r = t
            .accept_sign_in(&c.call(&frame).await.expect("call"))
            .expect("answer");
        assert_eq!(r.code, "00", "{}", r.text);
        for amount in [100, 200] {
            let (_, frame) = t
                .request(Kind::Sale, &Card::new(pan, "3012"), amount, None)
                .expect("sale");
            let body = c.call(&frame).await.expect("call");
            assert_eq!(t.parse(&body).expect("answer").code, "00");
        }
    });
    drop(server);
    run(d.cmd().args(["backup", "create"])).ok();
    let conn = rusqlite::Connection::open(d.dir().join("suanpan.db")).expect("db");
    let hashes: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM txns WHERE request_hash IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(hashes, 2, "the 8583 sales stored their request hashes");
    drop(conn);
    let after = recovered(&d.dir(), &guesses(pan));
    assert!(after.is_empty(), "PAN recovered: {after:?}");
}

// Finding 9: `serve --demo` and every command anchor the audit head beside the KEK; deleting
// the newest audit rows from the database file is named by `audit verify`, which fails.
#[test]
fn audit_verify_names_a_truncated_chain() {
    let d = Demo::new();
    run(&mut d.sale_cmd("3.00", common::CARD_OK)).ok();
    assert!(
        d.tmp.path().join("data.kek.anchor").is_file(),
        "the anchor beside the KEK"
    );
    let (code, v) = run_json(d.cmd().args(["audit", "verify"]));
    assert_eq!(code, 0, "{v}");
    let last = v["verification"]["entries"].as_i64().expect("entries");
    assert_eq!(v["verification"]["anchored"].as_i64(), Some(last), "{v}");
    let db = rusqlite::Connection::open(d.dir().join("suanpan.db")).expect("db");
    db.execute("DELETE FROM audit WHERE seq > ?1", [last - 2])
        .expect("delete");
    drop(db);
    let out = run(d.cmd().args(["--lang", "en", "audit", "verify"]));
    assert_eq!(out.code, 1, "{}", out.text());
    assert!(out.text().contains("truncated"), "{}", out.text());
}
