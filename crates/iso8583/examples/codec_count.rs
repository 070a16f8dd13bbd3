//! Decodes or encodes the sample 0200 chip sale of `benches/codec.rs` N times, for counting
//! instructions of the codec alone on a loaded machine, where wall time is noisy:
//! `valgrind --tool=callgrind target/release/examples/codec_count decode 10000`.
//! Modes: `decode` (decode, read fields 4 and 11), `encode` (set the fields, encode without
//! MAC), `unpack` (decode and check the MAC), `pack` (set the fields, encode with MAC).

use std::hint::black_box;
use suanpan_iso8583::{Error, Header, Message, MessageBuilder, Mti};

#[path = "../benches/support/sample_sale.rs"]
mod sample_sale;

use sample_sale::{TPDU, fill, mak, pack, unpack};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "decode".to_owned());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let mak = mak();
    let mut b = MessageBuilder::new(TPDU, Header::POS, Mti::FINANCIAL_REQUEST);
    let mut frame = Vec::with_capacity(512);
    pack(&mut b, &mak, &mut frame)?;
    let mut out = Vec::with_capacity(512);
    let mut sum = 0u64;
    for _ in 0..n {
        sum = sum.wrapping_add(match mode.as_str() {
            "encode" => {
                fill(&mut b)?;
                b.encode(black_box(&mut out))?;
                out.len() as u64
            }
            "pack" => {
                pack(&mut b, black_box(&mak), &mut out)?;
                out.len() as u64
            }
            "unpack" => unpack(black_box(&frame), &mak)?,
            _ => {
                let m = Message::decode(black_box(&frame[2..]))?;
                m.u64(4)? + m.u64(11)?
            }
        });
    }
    println!("{mode} {n} frames, checksum {sum}");
    Ok(())
}
