//! The 0200 chip sale both the criterion bench (`benches/codec.rs`) and the rate example
//! (`examples/codec_rate.rs`, run beside pyiso8583) pack and unpack, so they measure the same
//! message.

use suanpan_iso8583::{Error, Field60, Header, Mak, Message, MessageBuilder, Mti, Tpdu};

/// The TPDU of the sample.
pub const TPDU: Tpdu = Tpdu {
    destination: 0x0003,
    source: 0x0000,
};

/// The sample MAK (single-length, as the profile's MAK is).
pub fn mak() -> Mak {
    Mak::from_bytes(*b"01234567")
}

/// A chip sale as a terminal sends it: track 2, PIN block, ICC data, field 60; MACed.
pub fn pack(b: &mut MessageBuilder, mak: &Mak, out: &mut Vec<u8>) -> Result<(), Error> {
    fill(b)?;
    b.encode_with_mac(mak, out)
}

/// Sets the sale's fields (everything but the MAC) on a reset builder.
pub fn fill(b: &mut MessageBuilder) -> Result<(), Error> {
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
    b.set_field60(&Field60::new(22, 1, 0))?;
    Ok(())
}

/// What the host does first with a request: decode, check the MAC, read fields.
pub fn unpack(frame: &[u8], mak: &Mak) -> Result<u64, Error> {
    let msg = Message::decode(&frame[2..])?;
    if !msg.verify_mac(mak) {
        return Err(Error::BadSubfield(64));
    }
    Ok(msg.u64(4)? + msg.u64(11)?)
}
