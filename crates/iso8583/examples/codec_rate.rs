//! Packs and unpacks the same 0200 chip sale as `benches/codec.rs` (MAC computed on pack and
//! checked on unpack) in a timed loop and prints rates in the format of
//! `scripts/pyiso8583_bench.py`, so `scripts/bench-codec-vs-pyiso8583.sh` can put them side
//! by side. Usage: `cargo run --release -p suanpan-iso8583 --example codec_rate [SECONDS]`.

use std::hint::black_box;
use std::time::{Duration, Instant};
use suanpan_iso8583::{Error, Header, MessageBuilder, Mti};

#[path = "../benches/support/sample_sale.rs"]
mod sample_sale;

use sample_sale::{TPDU, mak, pack, unpack};

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
    let mak = mak();
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
