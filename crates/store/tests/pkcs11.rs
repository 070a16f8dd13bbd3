//! The PKCS#11 provider against a fresh SoftHSM2 token (issue 11): the KEK and the TMKs are
//! token objects, wrap/unwrap/derive run in the token, working keys are sealed under the
//! TMK there and the PIN key decrypts inside it. Skips with a message when SoftHSM2 is
//! missing, fails under CI=true.

use cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::TdesEde2;
use std::sync::Arc;
use suanpan_core::{MerchantId, TerminalId};
use suanpan_store::keys::{self, KeyProvider, MemoryKek};
use suanpan_store::pkcs11::{Pkcs11Config, Pkcs11Kek, test_token};
use suanpan_store::sqlite::{OpenOptions, SqliteStore};
use suanpan_store::{StoreError, terminal_keys};
use zeroize::Zeroizing;

const TMK: &str = "0123456789ABCDEFFEDCBA9876543210";

fn tdes(key: &[u8]) -> TdesEde2 {
    TdesEde2::new_from_slice(key).expect("16-byte key")
}

fn ecb(key: &[u8], data: &[u8], encrypt: bool) -> Vec<u8> {
    let c = tdes(key);
    let mut out = data.to_vec();
    for b in out.chunks_exact_mut(8) {
        if encrypt {
            c.encrypt_block(b.into());
        } else {
            c.decrypt_block(b.into());
        }
    }
    out
}

// Goal: one test walks the whole provider, so that the token's environment variable is set
// once for this process (SoftHSM2 reads SOFTHSM2_CONF at C_Initialize).
#[test]
fn pkcs11_provider_in_softhsm() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some((cfg, conf)) = test_token::make(dir.path()) else {
        return;
    };
    // SAFETY: this test binary has one test; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };

    // Not initialized yet: named, not a crash.
    let e = Pkcs11Kek::open(&cfg).err().expect("no KEK yet");
    assert!(matches!(e, StoreError::KekMissing(_)), "{e}");
    let wrong_pin = Pkcs11Config {
        pin: Zeroizing::new("000000".into()),
        ..cfg.clone()
    };
    let e = Pkcs11Kek::create(&wrong_pin).expect_err("wrong PIN");
    assert!(e.to_string().contains("SUANPAN_PKCS11_PIN"), "{e}");
    let no_token = Pkcs11Config {
        token: "nope".into(),
        ..cfg.clone()
    };
    assert!(
        Pkcs11Kek::open(&no_token)
            .err()
            .expect("no token")
            .to_string()
            .contains("nope")
    );

    let id = Pkcs11Kek::create(&cfg).expect("keys init --pkcs11");
    assert!(Pkcs11Kek::create(&cfg).is_err(), "never overwritten");
    let k = Pkcs11Kek::open(&cfg).expect("open");
    assert_eq!(k.kek_id(), id);
    assert_eq!(Pkcs11Kek::open(&cfg).expect("again").kek_id(), id, "stable");

    // wrap / unwrap: AES-GCM in the token, bound to the identity and the KEK.
    let w = k.wrap("totp:staff:1", b"secret").expect("wrap");
    assert!(keys::is_wrapped(&w) && !w.contains(&hex::encode(b"secret")));
    assert_eq!(
        k.unwrap("totp:staff:1", &w).expect("unwrap").expose(),
        b"secret"
    );
    assert!(
        k.unwrap("totp:staff:2", &w).is_err(),
        "moved to another row"
    );
    let mut bad = w.clone();
    let last = bad.pop().expect("char");
    bad.push(if last == '0' { '1' } else { '0' });
    assert!(k.unwrap("totp:staff:1", &bad).is_err(), "altered");
    assert!(matches!(
        MemoryKek::new([1; 32]).unwrap("totp:staff:1", &w),
        Err(StoreError::KekMismatch { .. })
    ));
    // derive: HMAC in the token, deterministic, one key per purpose.
    let a = k.derive("request.hash").expect("derive");
    assert_eq!(a.expose().len(), 32);
    assert_eq!(
        a.expose(),
        k.derive("request.hash").expect("again").expose()
    );
    assert_ne!(a.expose(), k.derive("backup.enc").expect("other").expose());

    // A store under the HSM: the TMK goes into the token, the row keeps a reference.
    let data = dir.path().join("data");
    let store = SqliteStore::create(
        &data,
        OpenOptions {
            keys: k.clone(),
            ..suanpan_service::open_options()
        },
    )
    .expect("create store");
    let m = MerchantId::parse("898440154110001").expect("mid");
    let t = TerminalId::parse("T0000001").expect("tid");
    store.add_merchant(&m, "HSM 商户").expect("merchant");
    store.add_terminal(&t, &m, Some(TMK)).expect("terminal");
    let stored = suanpan_store::Store::terminal_tmk(&store, &t);
    assert!(
        stored.is_err(),
        "a held TMK is never unwrapped into the host"
    );
    let hsm = k.hsm().expect("an HSM provider");
    assert!(hsm.has_tmk("tmk:T0000001").expect("has"));
    let tmk = hex::decode(TMK).expect("hex");
    let kcv = ecb(&tmk, &[0; 8], true);
    assert_eq!(hsm.tmk_check("tmk:T0000001").expect("check").to_vec(), kcv);
    let digests = terminal_keys::tmk_digests(&store).expect("digests");
    assert_eq!(digests.len(), 1);
    // set-tmk replaces the token object; the reference and the digest follow.
    assert!(
        terminal_keys::set_terminal_tmk(&store, &t, "13579BDF02468ACEFEDCBA9876543210")
            .expect("set")
    );
    assert_ne!(
        terminal_keys::tmk_digests(&store).expect("digests"),
        digests
    );
    assert!(terminal_keys::set_terminal_tmk(&store, &t, TMK).expect("set back"));
    assert_eq!(
        terminal_keys::tmk_digests(&store).expect("digests"),
        digests
    );
    let raw = std::fs::read(data.join("suanpan.db")).unwrap_or_default();
    assert!(
        !raw.windows(16).any(|w| w == tmk.as_slice()),
        "no raw TMK in the database"
    );
    drop(store);

    // Working keys: sealed under the TMK as field 62 carries them, check values right.
    for len in [8, 16] {
        let pik = hsm.working_key("tmk:T0000001", len, false).expect("PIK");
        assert!(pik.clear.is_none(), "a PIK never leaves the token");
        assert_eq!(pik.sealed.len(), len);
        let clear = ecb(&tmk, &pik.sealed, false);
        let full = if len == 8 {
            [clear.clone(), clear.clone()].concat()
        } else {
            clear.clone()
        };
        assert_eq!(pik.check.to_vec(), ecb(&full, &[0; 8], true), "check value");
        // A PIN block the terminal encrypts under it decrypts inside the token.
        let block = [0x04, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        let sealed: [u8; 8] = ecb(&full, &block, true).try_into().expect("8");
        assert_eq!(*pik.handle.decrypt_block(&sealed).expect("decrypt"), block);
        let mak = hsm.working_key("tmk:T0000001", 8, true).expect("MAK");
        let clear = mak.clear.expect("the MAK is exported");
        assert_eq!(ecb(&tmk, &mak.sealed, false), clear.expose());
    }
    assert!(
        hsm.working_key("tmk:T0000009", 8, false).is_err(),
        "no such TMK"
    );
    let _: Arc<dyn KeyProvider> = k;
}
