//! The terminal side of the UnionPay POS 8583 profile: builds MACed requests, signs in
//! (opens the working keys under the TMK), encrypts PIN blocks and reads responses. It does
//! no IO: the emulator's link, the host's black-box tests and the load generator carry the
//! frames.

use anyhow::{Context, bail};
use suanpan_iso8583::crypto::encrypt_pin;
use suanpan_iso8583::{
    Field60, Field61, Header, KeyLayout, MacAlgorithm, Mak, Message, MessageBuilder, Mti, Pik, Pin,
    SettlementTotals, Tmk, Tpdu,
};

/// The TPDU terminals send: NII 0003 from 0000.
pub const TERMINAL_TPDU: Tpdu = Tpdu {
    destination: 0x0003,
    source: 0x0000,
};

/// A card as the terminal reads it.
#[derive(Debug, Clone)]
pub struct Card {
    /// The full PAN (test numbers only).
    pub pan: String,
    /// Expiry `YYMM`.
    pub expiry: Option<String>,
    /// The PIN the cardholder types, if any.
    pub pin: Option<String>,
    /// How it was read: field 22 digits 1-2 (`05` chip by default, `01` manual, `02`
    /// magstripe, `07` contactless).
    pub entry: &'static str,
}

impl Card {
    /// A card without PIN.
    pub fn new(pan: &str, expiry: &str) -> Card {
        Card {
            pan: pan.to_owned(),
            expiry: Some(expiry.to_owned()),
            pin: None,
            entry: "05",
        }
    }

    /// The same card read another way (field 22 digits 1-2).
    pub fn read_as(mut self, entry: &'static str) -> Card {
        self.entry = entry;
        self
    }

    /// The same card with a PIN typed.
    pub fn with_pin(mut self, pin: &str) -> Card {
        self.pin = Some(pin.to_owned());
        self
    }
}

/// The financial transactions of the spec's message table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 查询.
    Balance,
    /// 预授权.
    PreAuth,
    /// 预授权撤销.
    PreAuthVoid,
    /// 预授权完成.
    Completion,
    /// 预授权完成撤销.
    CompletionVoid,
    /// 消费.
    Sale,
    /// 消费撤销.
    Void,
    /// 退货.
    Refund,
}

impl Kind {
    /// Request MTI.
    pub fn mti(self) -> Mti {
        match self {
            Kind::PreAuth | Kind::PreAuthVoid => Mti::AUTHORIZATION_REQUEST,
            Kind::Refund => Mti::ADVICE_REQUEST,
            _ => Mti::FINANCIAL_REQUEST,
        }
    }
    /// Field 3.
    pub fn processing_code(self) -> &'static str {
        match self {
            Kind::Balance => "310000",
            Kind::PreAuth => "030000",
            Kind::Completion | Kind::Sale => "000000",
            Kind::PreAuthVoid | Kind::CompletionVoid | Kind::Void | Kind::Refund => "200000",
        }
    }
    /// Field 25.
    pub fn condition(self) -> &'static str {
        match self {
            Kind::PreAuth | Kind::PreAuthVoid | Kind::Completion | Kind::CompletionVoid => "06",
            _ => "00",
        }
    }
    /// The kind of a 60.1 (of a request this profile routes).
    pub fn from_type_code(code: u8) -> Option<Kind> {
        [
            Kind::Balance,
            Kind::PreAuth,
            Kind::PreAuthVoid,
            Kind::Completion,
            Kind::CompletionVoid,
            Kind::Sale,
            Kind::Void,
            Kind::Refund,
        ]
        .into_iter()
        .find(|k| k.type_code() == code)
    }

    /// Whether a lost response is reversed (spec's message table: all but balance and
    /// refund).
    pub fn reversible(self) -> bool {
        !matches!(self, Kind::Balance | Kind::Refund)
    }

    /// 60.1.
    pub fn type_code(self) -> u8 {
        match self {
            Kind::Balance => 1,
            Kind::PreAuth => 10,
            Kind::PreAuthVoid => 11,
            Kind::Completion => 20,
            Kind::CompletionVoid => 21,
            Kind::Sale => 22,
            Kind::Void => 23,
            Kind::Refund => 25,
        }
    }
}

/// What names the original of a void, refund, completion or pre-auth void.
#[derive(Debug, Clone, Default)]
pub struct Original {
    /// 37 of the original.
    pub rrn: Option<String>,
    /// 38 of the original.
    pub auth_code: Option<String>,
    /// 61.1.
    pub batch: u32,
    /// 61.2.
    pub stan: u32,
}

impl Original {
    /// The original as its approved response named it.
    pub fn of(r: &Response, batch: u32) -> Original {
        Original {
            rrn: r.rrn.clone(),
            auth_code: r.auth_code.clone(),
            batch,
            stan: r.stan.unwrap_or(0),
        }
    }
}

/// What a 0400 needs of the request it reverses.
#[derive(Debug, Clone, Copy)]
pub struct ReversalRecord<'a> {
    /// 60.1.
    pub type_code: u8,
    /// 11.
    pub stan: u32,
    /// 60.2.
    pub batch: u32,
    /// 4 (fen).
    pub amount: u64,
    /// 22 digits 1-2.
    pub entry: &'a str,
    /// 61.1 and 61.2, if the request carried 61.
    pub original: Option<(u32, u32)>,
    /// 37, if the request carried it.
    pub original_rrn: Option<&'a str>,
    /// 39: `98` no response, `96` terminal fault.
    pub reason: &'a str,
}

/// A response as the terminal reads it.
#[derive(Debug, Clone)]
pub struct Response {
    /// MTI.
    pub mti: Mti,
    /// Header processing requirement (3: sign in again).
    pub processing_requirement: u8,
    /// Field 39.
    pub code: String,
    /// 63.2, decoded from GBK.
    pub text: String,
    /// 11.
    pub stan: Option<u32>,
    /// 4.
    pub amount: Option<u64>,
    /// 37.
    pub rrn: Option<String>,
    /// 38.
    pub auth_code: Option<String>,
    /// 54.
    pub balance: Option<String>,
    /// 60.2.
    pub batch: Option<u32>,
    /// 48.
    pub totals: Option<SettlementTotals>,
    /// Whether 64 verified under the session MAK (`None`: absent or not a MAC message).
    pub mac_ok: Option<bool>,
}

/// One terminal: identity, keys, batch and STAN counter.
pub struct Terminal {
    /// 41.
    pub id: String,
    /// 42.
    pub merchant: String,
    /// Operator sent in 63 at sign-in.
    pub operator: String,
    /// Batch as the host told at sign-in (60.2).
    pub batch: u32,
    /// Last STAN used.
    pub stan: u32,
    /// Training mode: requests carry terminal status `1` in the header (see docs/ISO8583.md).
    pub training: bool,
    /// A sale carries field 63 `DUP`: the cashier confirmed a possible duplicate charge.
    pub confirm_duplicate: bool,
    /// The working keys the sign-in asks for (60.3): `003` by default, `001` for a
    /// single-DES terminal. The host refuses `004` (see docs/ISO8583.md).
    pub key_layout: KeyLayout,
    /// Field 59 sent with every financial request, as real chip and QR terminals send
    /// their serial number and location (acquirer-defined ASCII TLV); `None`: not sent.
    pub field59: Option<String>,
    /// The MAC algorithm this terminal is set up for (the host keeps the same choice per
    /// terminal): the POS ECB MAC by default, X9.19 with a double-length MAK.
    pub mac_algorithm: MacAlgorithm,
    tmk: Tmk,
    keys: Option<(Pik, Mak)>,
}

impl Terminal {
    /// A terminal with its master key (hex).
    ///
    /// # Errors
    /// When the key is not 32 hex digits.
    pub fn new(id: &str, merchant: &str, tmk_hex: &str) -> anyhow::Result<Terminal> {
        Ok(Terminal {
            id: id.to_owned(),
            merchant: merchant.to_owned(),
            operator: "01".to_owned(),
            batch: 1,
            stan: 0,
            training: false,
            confirm_duplicate: false,
            key_layout: KeyLayout::Double,
            field59: None,
            mac_algorithm: MacAlgorithm::PosEcb,
            tmk: Tmk::from_hex(tmk_hex).context("TMK")?,
            keys: None,
        })
    }

    /// Takes the next STAN (000001..999999).
    pub fn next_stan(&mut self) -> u32 {
        self.stan = if self.stan >= 999_999 {
            1
        } else {
            self.stan + 1
        };
        self.stan
    }

    /// True once a sign-in response delivered keys.
    pub fn signed_in(&self) -> bool {
        self.keys.is_some()
    }

    /// Forgets the working keys (as after a host restart).
    pub fn forget_keys(&mut self) {
        self.keys = None;
    }

    fn builder(&self, mti: Mti) -> anyhow::Result<MessageBuilder> {
        let header = Header {
            terminal_status: if self.training { Header::TRAINING } else { 0 },
            ..Header::POS
        };
        let mut b = MessageBuilder::new(TERMINAL_TPDU, header, mti);
        b.set_ans(41, self.id.as_bytes())?
            .set_ans(42, self.merchant.as_bytes())?;
        Ok(b)
    }

    fn network(&mut self, mti: Mti, type_code: u8, code: u16) -> anyhow::Result<MessageBuilder> {
        let stan = self.next_stan();
        let mut b = self.builder(mti)?;
        b.set_n_u64(11, u64::from(stan))?
            .set_field60(&Field60::new(type_code, self.batch, code))?;
        Ok(b)
    }

    /// 0800 sign-in asking for [`Terminal::key_layout`] (60.3 `003` by default), MACed
    /// under the sign-in key derived from the TMK: the proof that this terminal holds it
    /// (docs/ISO8583.md, "Sign-in proof").
    ///
    /// # Errors
    /// Only on encoder faults.
    pub fn sign_in(&mut self) -> anyhow::Result<Vec<u8>> {
        let b = self.sign_in_fields()?;
        let proof = self.tmk.sign_in_mak(&self.id, self.mac_algorithm);
        let mut out = Vec::new();
        b.encode_with_mac(&proof, &mut out)?;
        Ok(out)
    }

    /// The fields of a sign-in without its MAC, for tests that send it keyless or forged.
    ///
    /// # Errors
    /// Only on encoder faults.
    pub fn sign_in_fields(&mut self) -> anyhow::Result<MessageBuilder> {
        let code = self.key_layout.network_code();
        let mut b = self.network(Mti::NETWORK_REQUEST, 0, code)?;
        b.set_operator(&self.operator)?;
        Ok(b)
    }

    /// Reads a 0810: opens and checks the working keys, takes the host's batch.
    ///
    /// # Errors
    /// When the response does not decode or the keys do not check under the TMK.
    pub fn accept_sign_in(&mut self, body: &[u8]) -> anyhow::Result<Response> {
        let msg = Message::decode(body)?;
        let r = self.read(&msg);
        if r.code == "00" {
            let keys = msg.working_keys()?;
            if keys.layout() != self.key_layout {
                bail!(
                    "the host answered working keys for {:03} to a sign-in asking for {:03}",
                    keys.layout().network_code(),
                    self.key_layout.network_code()
                );
            }
            self.keys = Some(
                keys.open_for(&self.tmk, self.mac_algorithm)
                    .context("opening the working keys")?,
            );
            self.batch = msg.field60()?.batch;
        }
        Ok(r)
    }

    /// 0820 sign-out.
    ///
    /// # Errors
    /// Only on encoder faults.
    pub fn sign_out(&mut self) -> anyhow::Result<Vec<u8>> {
        let b = self.network(Mti::NETWORK_ADVICE_REQUEST, 0, 2)?;
        self.management(&b)
    }

    /// 0820 echo test.
    ///
    /// # Errors
    /// Only on encoder faults.
    pub fn echo(&mut self) -> anyhow::Result<Vec<u8>> {
        let b = self.network(Mti::NETWORK_ADVICE_REQUEST, 0, 301)?;
        self.management(&b)
    }

    /// 0500 settlement with the terminal's own totals.
    ///
    /// # Errors
    /// Only on encoder faults.
    pub fn settlement(&mut self, totals: &SettlementTotals) -> anyhow::Result<Vec<u8>> {
        let mut b = self.network(Mti::SETTLEMENT_REQUEST, 0, 201)?;
        b.set_settlement_totals(totals)?
            .set_operator(&self.operator)?;
        self.management(&b)
    }

    /// 0320 batch upload item (`last`: 60.3 `202`).
    ///
    /// # Errors
    /// Only on encoder faults.
    pub fn batch_upload(&mut self, last: bool) -> anyhow::Result<Vec<u8>> {
        let b = self.network(Mti::BATCH_UPLOAD_REQUEST, 0, if last { 202 } else { 201 })?;
        self.management(&b)
    }

    /// A management request (0320, 0500, 0820) MACed with the session MAK, as the host
    /// requires; without keys it goes without field 64 (the host answers 77: sign in).
    fn management(&self, b: &MessageBuilder) -> anyhow::Result<Vec<u8>> {
        if self.keys.is_some() {
            self.mac(b)
        } else {
            encode(b)
        }
    }

    /// A financial request with a new STAN; returns the STAN and the MACed frame.
    ///
    /// # Errors
    /// Without a sign-in, or on encoder and PIN faults.
    pub fn request(
        &mut self,
        kind: Kind,
        card: &Card,
        amount: u64,
        original: Option<&Original>,
    ) -> anyhow::Result<(u32, Vec<u8>)> {
        let stan = self.next_stan();
        let b = self.financial(kind, card, amount, original, stan)?;
        Ok((stan, self.mac(&b)?))
    }

    /// The 0400 reversal of a request sent with `stan` (same STAN, amount and 60).
    ///
    /// # Errors
    /// Without a sign-in, or on encoder faults.
    pub fn reversal(
        &self,
        kind: Kind,
        card: &Card,
        amount: u64,
        original: Option<&Original>,
        stan: u32,
        reason: &str,
    ) -> anyhow::Result<Vec<u8>> {
        let mut b = self.financial(kind, card, amount, original, stan)?;
        b.set_mti(Mti::REVERSAL_REQUEST)
            .remove(52)
            .remove(53)
            .remove(26);
        b.set_ans(39, reason.as_bytes())?;
        self.mac(&b)
    }

    /// A 0400 built from what a stored reversal record keeps (no PAN: the host finds the
    /// original by batch and STAN): 3, 4, 11, 22, 25, 39, 49, 60 (the reversed request's),
    /// 61 and 37 when the reversed request carried them.
    ///
    /// # Errors
    /// Without a sign-in, for an unknown 60.1, or on encoder faults.
    pub fn reversal_record(&self, r: &ReversalRecord<'_>) -> anyhow::Result<Vec<u8>> {
        let kind = Kind::from_type_code(r.type_code).context("60.1 of the reversed request")?;
        let mut b = self.builder(Mti::REVERSAL_REQUEST)?;
        b.set_n(3, kind.processing_code())?
            .set_n_u64(4, r.amount)?
            .set_n_u64(11, u64::from(r.stan))?
            .set_n(22, &format!("{}2", r.entry))?
            .set_n(25, kind.condition())?
            .set_ans(39, r.reason.as_bytes())?
            .set_ans(49, b"156")?
            .set_field60(&Field60::new(r.type_code, r.batch, 0))?;
        if let Some(rrn) = r.original_rrn {
            b.set_ans(37, rrn.as_bytes())?;
        }
        if let Some((batch, stan)) = r.original {
            b.set_field61(&Field61 {
                batch,
                stan,
                date_mmdd: None,
            })?;
        }
        self.mac(&b)
    }

    /// Encodes with the session MAK.
    ///
    /// # Errors
    /// Without a sign-in.
    pub fn mac(&self, b: &MessageBuilder) -> anyhow::Result<Vec<u8>> {
        let Some((_, mak)) = &self.keys else {
            bail!("not signed in");
        };
        let mut out = Vec::new();
        b.encode_with_mac(mak, &mut out)?;
        Ok(out)
    }

    /// Recomputes field 64 of a whole frame in place (length prefix first, field 64 last),
    /// for tests and tools that send what the strict encoder does not write — a real
    /// terminal's 19-digit field 60, say.
    ///
    /// # Errors
    /// Without a sign-in, or when the frame is too short to hold a MAC.
    pub fn remac(&self, frame: &mut [u8]) -> anyhow::Result<()> {
        let Some((_, mak)) = &self.keys else {
            bail!("not signed in");
        };
        let start = suanpan_iso8583::LENGTH_PREFIX_BYTES
            + suanpan_iso8583::TPDU_BYTES
            + suanpan_iso8583::HEADER_BYTES;
        let Some(end) = frame
            .len()
            .checked_sub(suanpan_iso8583::crypto::BLOCK_BYTES)
        else {
            bail!("frame too short");
        };
        if end < start {
            bail!("frame too short");
        }
        let mac = suanpan_iso8583::crypto::mac(mak, &frame[start..end]);
        frame[end..].copy_from_slice(&mac);
        Ok(())
    }

    /// The request's fields without MAC, for tests that tamper with them.
    ///
    /// # Errors
    /// On encoder and PIN faults.
    pub fn financial(
        &self,
        kind: Kind,
        card: &Card,
        amount: u64,
        original: Option<&Original>,
        stan: u32,
    ) -> anyhow::Result<MessageBuilder> {
        let mut b = self.builder(kind.mti())?;
        let pin_block = match (&card.pin, &self.keys) {
            (Some(pin), Some((pik, _))) => Some(encrypt_pin(pik, &Pin::new(pin)?, &card.pan)?),
            _ => None,
        };
        if !card.pan.is_empty() {
            // A void may go without the card (void_requires_card is off by default).
            b.set_n(2, &card.pan)?;
        }
        b.set_n(3, kind.processing_code())?
            .set_n_u64(11, u64::from(stan))?
            .set_n(
                22,
                &format!(
                    "{}{}",
                    card.entry,
                    if pin_block.is_some() { '1' } else { '2' }
                ),
            )?
            .set_n(25, kind.condition())?
            .set_ans(49, b"156")?
            .set_field60(&Field60::new(kind.type_code(), self.batch, 0))?;
        if kind != Kind::Balance {
            b.set_n_u64(4, amount)?;
        }
        if let Some(e) = &card.expiry {
            b.set_n(14, e)?;
        }
        if let Some(block) = pin_block {
            // 53 digit 2: the PIN block's algorithm, `0` single DES (a `001` PIK), `6` 3DES.
            let single = self.keys.as_ref().is_some_and(|(pik, _)| pik.is_single());
            let control = if single {
                "2000000000000000"
            } else {
                "2600000000000000"
            };
            b.set_n(26, "12")?.set_b(52, &block)?.set_n(53, control)?;
        }
        if let Some(info) = &self.field59 {
            b.set_ans(59, info.as_bytes())?;
        }
        if self.confirm_duplicate && kind == Kind::Sale {
            // The host's reading: crates/host/src/dispatch.rs, CONFIRM_DUPLICATE_63.
            b.set_ans(63, b"DUP")?;
        }
        if let Some(o) = original {
            if let Some(rrn) = &o.rrn
                && matches!(kind, Kind::Void | Kind::CompletionVoid | Kind::Refund)
            {
                b.set_ans(37, rrn.as_bytes())?;
            }
            if let Some(auth) = &o.auth_code
                && matches!(
                    kind,
                    Kind::PreAuthVoid | Kind::Completion | Kind::CompletionVoid
                )
            {
                b.set_ans(38, auth.as_bytes())?;
            }
            b.set_field61(&Field61 {
                batch: o.batch,
                stan: o.stan,
                date_mmdd: None,
            })?;
        }
        Ok(b)
    }

    /// Reads a response, verifying its MAC when it carries one and keys are known.
    ///
    /// # Errors
    /// When it does not decode.
    pub fn parse(&self, body: &[u8]) -> anyhow::Result<Response> {
        let msg = Message::decode(body)?;
        Ok(self.read(&msg))
    }

    fn read(&self, msg: &Message<'_>) -> Response {
        let f63 = msg.field63_response().ok();
        let mac_ok = match (&self.keys, msg.has(64)) {
            (Some((_, mak)), true) => Some(msg.verify_mac(mak)),
            _ => None,
        };
        Response {
            mti: msg.mti(),
            processing_requirement: msg.header().processing_requirement,
            code: msg.text(39).unwrap_or("").to_owned(),
            text: f63.map(|f| f.text).unwrap_or_default(),
            stan: msg.u64(11).ok().and_then(|s| u32::try_from(s).ok()),
            amount: msg.u64(4).ok(),
            rrn: msg.text(37).ok().map(str::to_owned),
            auth_code: msg.text(38).ok().map(str::to_owned),
            balance: msg.text(54).ok().map(str::to_owned),
            batch: msg.field60().ok().map(|f| f.batch),
            totals: msg.settlement_totals().ok(),
            mac_ok,
        }
    }
}

fn encode(b: &MessageBuilder) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    b.encode(&mut out)?;
    Ok(out)
}
