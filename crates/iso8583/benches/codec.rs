//! Pack and unpack of a typical 0200 sale, MAC computed on pack and checked on unpack.
//! Reports bytes per second of frame so runs on other machines compare.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use suanpan_iso8583::{Header, Message, MessageBuilder, Mti};

#[path = "support/sample_sale.rs"]
mod sample_sale;

use sample_sale::{TPDU, fill, mak, pack, unpack};

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
    g.bench_function("pack only", |bch| {
        bch.iter(|| fill(&mut b).and_then(|()| b.encode(&mut out)))
    });
    g.bench_function("unpack+verify", |bch| {
        bch.iter(|| unpack(black_box(&frame), &mak))
    });
    g.bench_function("unpack only", |bch| {
        bch.iter(|| Message::decode(black_box(&frame[2..])).map(|m| m.has(64)))
    });
    g.finish();

    // The MAC alone over the sale's MAC block: the POS ECB MAC (two DES blocks whatever
    // the length) against X9.19 (one DES block per 8 bytes, the last through 3DES).
    let mab = match Message::decode(&frame[2..]) {
        Ok(m) => m.mac_data().to_vec(),
        Err(e) => panic!("bench frame does not decode: {e}"),
    };
    let x919 = suanpan_iso8583::Mak::from_double(
        *b"\x01\x23\x45\x67\x89\xAB\xCD\xEF\xFE\xDC\xBA\x98\x76\x54\x32\x10",
    );
    let mut g = c.benchmark_group("MAC of the 0200 sale");
    g.throughput(Throughput::Bytes(mab.len() as u64));
    g.bench_function("pos ecb", |bch| {
        bch.iter(|| suanpan_iso8583::crypto::mac(black_box(&mak), black_box(&mab)))
    });
    g.bench_function("x9.19", |bch| {
        bch.iter(|| suanpan_iso8583::crypto::mac(black_box(&x919), black_box(&mab)))
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
