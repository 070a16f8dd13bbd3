//! The UnionPay POS 8583 wire codec of Suanpan, and nothing else: no money rules, no store.
//!
//! It implements the profile in `shared/spec/cups-pos-8583.md`:
//!
//! - framing on TCP: [`split_frame`] finds a frame in a byte stream and answers
//!   [`Status::Partial`] for a half-arrived one; [`Tpdu`] and [`Header`];
//! - the field table [`FIELDS`] (format, fixed or LLVAR/LLLVAR, maximum length);
//! - one codec driven by field profiles as data ([`profile`]: the terminal profile [`POS`]
//!   and the switch link's [`SWITCH`]): a decoder, [`ProfiledMessage::decode`], that
//!   borrows every field from the caller's buffer, allocates nothing, and checks every
//!   length and byte, failing with a small `Copy` [`Error`] that names the field; and a
//!   strict encoder, [`IsoMsg`], writing whole frames into a reused `Vec<u8>`;
//! - the terminal path's typed views of them under [`POS`]: [`Message::decode`] and
//!   [`MessageBuilder`];
//! - typed views of the composite fields 48, 60, 61, 62 and 63 ([`subfields`]), with the
//!   three working-key layouts of sign-in (`001`, `003`, `004`: [`KeyLayout`]);
//! - the MAC, the PIN block and working-key transport ([`crypto`]).
//!
//! ```
//! use suanpan_iso8583::{Header, Message, MessageBuilder, Mti, Tpdu};
//!
//! let tpdu = Tpdu { destination: 0x0003, source: 0x0000 };
//! let mut b = MessageBuilder::new(tpdu, Header::POS, Mti::NETWORK_REQUEST);
//! b.set_n_u64(11, 1)?.set_ans(41, b"12345678")?.set_n(60, "00000001003")?;
//! let mut frame = Vec::new();
//! b.encode(&mut frame)?;
//! let msg = Message::decode(&frame[2..])?;
//! assert_eq!(msg.u64(11)?, 1);
//! assert_eq!(msg.field60()?.network_code, 3);
//! # Ok::<(), suanpan_iso8583::Error>(())
//! ```
#![deny(missing_docs)]

mod bcd;
mod builder;
pub mod crypto;
mod error;
mod field;
mod frame;
mod isomsg;
mod message;
pub mod profile;
pub mod subfields;
pub mod switch;

pub use builder::MessageBuilder;
pub use crypto::{MacAlgorithm, Mak, Pik, Pin, Tdk, Tmk, Zpk};
pub use error::{CryptoError, Error, KeyRole};
pub use field::{FIELDS, FieldSpec, Format, LengthKind, MAC_FIELD, spec};
pub use frame::{
    FRAME_BYTES_MAX, Frame, HEADER_BYTES, HEADER_USED_BYTES, Header, LENGTH_PREFIX_BYTES, Status,
    TPDU_BYTES, TPDU_ID, Tpdu, split_frame,
};
pub use message::{Field, Message, Mti};
pub use profile::{Encoding, Envelope, IsoMsg, POS, Profile, ProfiledMessage, RawField, SWITCH};
pub use subfields::{
    FIELD60_DIGITS_MAX, FIELD60_DIGITS_MIN, Field60, Field60Extra, Field60Terminal, Field61,
    Field63Response, KeyLayout, SettlementTotals, Totals, WORKING_KEYS_BYTES_MAX, WorkingKeys,
};
