//! What the PKCS#11 provider costs on the paths that use the token (SoftHSM2, a fresh token
//! in a temporary directory): the working keys of a sign-in, and one PIN block decrypted in
//! the token against the same 3DES block in host memory (the file provider's path).
//!
//! Run: `cargo bench -p suanpan-store --bench pkcs11` (skips without SoftHSM2).

use cipher::{BlockDecrypt, KeyInit};
use criterion::{Criterion, criterion_group, criterion_main};
use des::TdesEde2;
use suanpan_store::pkcs11::{Pkcs11Kek, test_token};

const TMK: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
];

fn hsm(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let Some((cfg, conf)) = test_token::make(dir.path()) else {
        return;
    };
    // SAFETY: set before any thread of this bench reads the environment.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    Pkcs11Kek::create(&cfg).expect("keys init --pkcs11");
    let keys = Pkcs11Kek::open(&cfg).expect("open");
    keys.store_tmk("tmk:B1", &TMK).expect("TMK");
    let hsm = keys.hsm().expect("hsm");
    let mut g = c.benchmark_group("pkcs11");
    g.bench_function("sign_in_working_keys", |b| {
        b.iter(|| {
            let pik = hsm.working_key("tmk:B1", 16, false).expect("PIK");
            let mak = hsm.working_key("tmk:B1", 8, true).expect("MAK");
            (pik.check, mak.check)
        })
    });
    let pik = hsm.working_key("tmk:B1", 16, false).expect("PIK");
    let block = [0x5Au8; 8];
    g.bench_function("pin_block_in_token", |b| {
        b.iter(|| {
            pik.handle
                .decrypt_block(std::hint::black_box(&block))
                .expect("decrypt")
        })
    });
    let cipher = TdesEde2::new_from_slice(&TMK).expect("key");
    g.bench_function("pin_block_in_memory", |b| {
        b.iter(|| {
            let mut x = std::hint::black_box(block);
            cipher.decrypt_block((&mut x).into());
            x
        })
    });
    g.finish();
}

criterion_group!(benches, hsm);
criterion_main!(benches);
