//! Pack and unpack of a typical 0200 sale, MAC computed on pack and checked on unpack.
//! Reports bytes per second of frame so runs on other machines compare.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use suanpan_iso8583::{Header, Message, MessageBuilder, Mti};

#[path = "support/sample_sale.rs"]
mod sample_sale;

use sample_sale::{TPDU, mak, pack, unpack};

fn codec(c: &mut Criterion) {
    let mak = mak();
    let mut b = MessageBuilder::new(TPDU, Header::POS, Mti::FINANCIAL_REQUEST);
    let mut frame = Vec::with_capacity(512);
    if let Err(e) = pack(&mut b, &mak, &mut frame) {
        panic!("bench message does not encode: {e}");
    }
    let mut g = c.benchmark_group("0200 sale");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    let mut out = Vec::with_capacity(512);
    g.bench_function("pack+mac", |bch| {
        bch.iter(|| pack(&mut b, black_box(&mak), &mut out))
    });
    g.bench_function("unpack+verify", |bch| {
        bch.iter(|| unpack(black_box(&frame), &mak))
    });
    g.bench_function("unpack only", |bch| {
        bch.iter(|| Message::decode(black_box(&frame[2..])).map(|m| m.has(64)))
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
