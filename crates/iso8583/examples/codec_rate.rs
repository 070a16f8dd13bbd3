//! Packs and unpacks the same 0200 chip sale as `benches/codec.rs` (MAC computed on pack and
//! checked on unpack) in a timed loop and prints rates in the format of
//! `scripts/pyiso8583_bench.py`, so `scripts/bench-codec-vs-pyiso8583.sh` can put them side
//! by side. Usage: `cargo run --release -p suanpan-iso8583 --example codec_rate [SECONDS]`.

use std::hint::black_box;
use std::time::{Duration, Instant};
use suanpan_iso8583::{Error, Field60, Header, Mak, Message, MessageBuilder, Mti, Tpdu};

const TPDU: Tpdu = Tpdu {
    destination: 0x0003,
    source: 0x0000,
};

fn pack(b: &mut MessageBuilder, mak: &Mak, out: &mut Vec<u8>) -> Result<(), Error> {
    b.reset(TPDU, Header::POS, Mti::FINANCIAL_REQUEST);
    b.set_n(3, "000000")?
        .set_n_u64(4, 12_345)?
        .set_n_u64(11, 123)?;
    b.set_n(22, "051")?
        .set_n(23, "001")?
        .set_n(25, "00")?
        .set_n(26, "12")?;
    b.set_z(35, "6217001234567890123=28122011234567")?;
    b.set_ans(41, b"12345678")?
        .set_ans(42, b"898310048161234")?;
    b.set_ans(49, b"156")?
        .set_b(52, &[0x2E, 0x31, 0xBB, 0x08, 0xA8, 0x43, 0x46, 0x0C])?;
    b.set_n(53, "2600000000000000")?;
    b.set_b(55, &[0x9F; 120])?;
    b.set_field60(&Field60 {
        type_code: 22,
        batch: 1,
        network_code: 0,
        terminal: None,
    })?;
    b.encode_with_mac(mak, out)
}

fn unpack(frame: &[u8], mak: &Mak) -> Result<u64, Error> {
    let msg = Message::decode(&frame[2..])?;
    if !msg.verify_mac(mak) {
        return Err(Error::BadSubfield(64));
    }
    Ok(msg.u64(4)? + msg.u64(11)?)
}

fn rate(seconds: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut n = 0u64;
    loop {
        for _ in 0..10_000 {
            f();
        }
        n += 10_000;
        let now = Instant::now();
        if now >= deadline {
            return n as f64 / (now - start).as_secs_f64();
        }
    }
}

fn main() -> Result<(), Error> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let mak = Mak::from_bytes(*b"0123456789ABCDEF");
    let mut b = MessageBuilder::new(TPDU, Header::POS, Mti::FINANCIAL_REQUEST);
    let mut frame = Vec::with_capacity(512);
    pack(&mut b, &mak, &mut frame)?;
    unpack(&frame, &mak)?;
    let mut out = Vec::with_capacity(512);
    let enc = rate(seconds, || {
        let _ = black_box(pack(&mut b, black_box(&mak), &mut out));
    });
    let dec = rate(seconds, || {
        let _ = black_box(unpack(black_box(&frame), &mak));
    });
    let pair = 1.0 / (1.0 / enc + 1.0 / dec);
    println!(
        "suanpan frame_bytes={} encode_per_s={enc:.0} decode_per_s={dec:.0} pack_unpack_per_s={pair:.0}",
        frame.len()
    );
    Ok(())
}
