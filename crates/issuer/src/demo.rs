//! The seeded demo cards and wallets: one of each outcome a cashier meets at the counter.
//! These PANs are test numbers (valid Luhn, no real account); they are printed by
//! `suanpan demo cards` and in the README.

use crate::{Account, CardStatus, Instrument, pin_hash};
use suanpan_core::{Pan, PaymentMethod};

/// A demo card as listed for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCard {
    /// The full test PAN.
    pub pan: &'static str,
    /// Expiry `YYMM`.
    pub expiry: &'static str,
    /// What using it produces.
    pub outcome: &'static str,
    /// Its PIN, if it has one.
    pub pin: Option<&'static str>,
    /// Opening balance (or credit line) in fen.
    pub balance_fen: i64,
    /// Credit card.
    pub credit: bool,
    /// Standing.
    pub status: CardStatus,
}

/// A demo QR wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoWallet {
    /// Wallet id as typed with `--wallet`.
    pub id: &'static str,
    /// Network.
    pub method: PaymentMethod,
    /// Display name.
    pub name: &'static str,
    /// Opening balance in fen.
    pub balance_fen: i64,
}

/// The demo cards.
pub const CARDS: &[DemoCard] = &[
    DemoCard {
        pan: "6222021234567890128",
        expiry: "3012",
        outcome: "approve",
        pin: None,
        balance_fen: 10_000_000,
        credit: false,
        status: CardStatus::Active,
    },
    DemoCard {
        pan: "6225881234567898",
        expiry: "3012",
        outcome: "approve_with_pin",
        pin: Some("123456"),
        balance_fen: 5_000_000,
        credit: false,
        status: CardStatus::Active,
    },
    DemoCard {
        pan: "6228480012345678903",
        expiry: "3012",
        outcome: "insufficient_funds",
        pin: None,
        balance_fen: 1_000,
        credit: false,
        status: CardStatus::Active,
    },
    DemoCard {
        pan: "6217001234567893",
        expiry: "2401",
        outcome: "expired",
        pin: None,
        balance_fen: 1_000_000,
        credit: false,
        status: CardStatus::Active,
    },
    DemoCard {
        pan: "6013821234567890",
        expiry: "3012",
        outcome: "lost",
        pin: None,
        balance_fen: 1_000_000,
        credit: false,
        status: CardStatus::Lost,
    },
    DemoCard {
        pan: "6226091234567893",
        expiry: "3012",
        outcome: "stolen",
        pin: None,
        balance_fen: 1_000_000,
        credit: false,
        status: CardStatus::Stolen,
    },
    DemoCard {
        pan: "6259651234567894",
        expiry: "3106",
        outcome: "approve_credit",
        pin: None,
        balance_fen: 2_000_000,
        credit: true,
        status: CardStatus::Active,
    },
];

/// The demo wallets.
pub const WALLETS: &[DemoWallet] = &[
    DemoWallet {
        id: "alipay-demo-001",
        method: PaymentMethod::QrAlipay,
        name: "支付宝演示钱包 Alipay demo",
        balance_fen: 500_000,
    },
    DemoWallet {
        id: "wechat-demo-001",
        method: PaymentMethod::QrWechat,
        name: "微信演示钱包 WeChat demo",
        balance_fen: 300_000,
    },
    DemoWallet {
        id: "unionpay-demo-001",
        method: PaymentMethod::QrUnionpay,
        name: "云闪付演示钱包 UnionPay QR demo",
        balance_fen: 200_000,
    },
];

/// The issuer accounts for the demo data; `fingerprint` turns a PAN into the account id (the
/// store's keyed HMAC), so the issuer never holds a PAN either.
pub fn accounts(fingerprint: &dyn Fn(&Pan) -> String) -> Vec<Account> {
    let mut out = Vec::new();
    for c in CARDS {
        let Ok(pan) = Pan::parse(c.pan) else { continue };
        let id = fingerprint(&pan);
        out.push(Account {
            instrument: Instrument::Card {
                masked_pan: pan.masked().to_string(),
                expiry: c.expiry.to_owned(),
                pin_hash: c.pin.map(|p| pin_hash(&id, p)),
                credit: c.credit,
                status: c.status,
                pin_failures: 0,
            },
            id,
            balance_fen: c.balance_fen,
            held_fen: 0,
        });
    }
    for w in WALLETS {
        out.push(Account {
            id: w.id.to_owned(),
            instrument: Instrument::Wallet {
                method: w.method,
                name: w.name.to_owned(),
            },
            balance_fen: w.balance_fen,
            held_fen: 0,
        });
    }
    out
}

/// The BIN of the load cards: `bench load` and `bench seed` pay with cards of their own, so
/// no run drains the demo cards a person tries at the counter.
pub const LOAD_CARD_BIN: &str = "621999";
/// Expiry of every load card.
pub const LOAD_CARD_EXPIRY: &str = "3012";
/// Opening balance of each load card (¥10,000,000): at 0.10 yuan a sale, a hundred million
/// sales per card.
pub const LOAD_CARD_BALANCE_FEN: i64 = 1_000_000_000;

/// Load card no. `i` (19 digits: the BIN, `i` in 12 digits, the Luhn check digit).
pub fn load_card_pan(i: u32) -> String {
    let body = format!("{LOAD_CARD_BIN}{i:012}");
    let check = suanpan_core::pan::luhn_check_digit(&body);
    format!("{body}{check}")
}

/// The issuer account of load card `pan` (debit, no PIN, active).
pub fn load_card_account(pan: &Pan, fingerprint: &dyn Fn(&Pan) -> String) -> Account {
    Account {
        id: fingerprint(pan),
        instrument: Instrument::Card {
            masked_pan: pan.masked().to_string(),
            expiry: LOAD_CARD_EXPIRY.to_owned(),
            pin_hash: None,
            credit: false,
            status: CardStatus::Active,
            pin_failures: 0,
        },
        balance_fen: LOAD_CARD_BALANCE_FEN,
        held_fen: 0,
    }
}
