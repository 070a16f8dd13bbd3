//! Pack and unpack of a typical 0200 sale, MAC computed on pack and checked on unpack.
//! Reports bytes per second of frame so runs on other machines compare.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use suanpan_iso8583::{Error, Field60, Header, Mak, Message, MessageBuilder, Mti, Tpdu};

const TPDU: Tpdu = Tpdu {
    destination: 0x0003,
    source: 0x0000,
};

fn mak() -> Mak {
    Mak::from_bytes(*b"0123456789ABCDEF")
}

/// A chip sale as a terminal sends it: track 2, PIN block, ICC data, field 60.
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

/// What the host does first with a request: split, decode, check the MAC, read fields.
fn unpack(frame: &[u8], mak: &Mak) -> Result<u64, Error> {
    let msg = Message::decode(&frame[2..])?;
    if !msg.verify_mac(mak) {
        return Err(Error::BadSubfield(64));
    }
    Ok(msg.u64(4)? + msg.u64(11)?)
}

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
