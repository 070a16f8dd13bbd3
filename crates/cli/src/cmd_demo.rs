//! `demo cards` and `demo run`: the demo data, and a scripted day at the counter.

use crate::app::{App, Fail};
use crate::args::DemoCmd;
use crate::authn;
use crate::cmd_batch::print_reports;
use crate::cmd_txn::{Shown, receipt_context};
use crate::output;
use serde_json::{Value, json};
use suanpan_core::settlement::Totals;
use suanpan_core::{
    Amount, Lang, OperatorNo, Pan, PaymentMethod, TerminalId, Transaction, TxnKind,
};
use suanpan_issuer::demo::{CARDS, WALLETS};
use suanpan_receipt::{Copy, Layout, Width};
use suanpan_store::admin::{DEMO_OPERATORS, DEMO_TERMINAL};
use suanpan_store::command::{Origin, OriginalRef};
use suanpan_store::command::{Purchase, Refund, Settle, Void};
use suanpan_store::{Ask, AskExt, Instrument, SqliteStore};

pub fn run(app: &App, cmd: DemoCmd) -> Result<(), Fail> {
    match cmd {
        DemoCmd::Cards => cards(app),
        DemoCmd::Run => day(app),
        DemoCmd::Keys => crate::cmd_serve::demo_keys(app),
    }
}

fn cards(app: &App) -> Result<(), Fail> {
    let cards: Vec<Value> = CARDS
        .iter()
        .map(|c| json!({"pan": c.pan, "expiry": c.expiry, "outcome": c.outcome, "pin_required": c.pin.is_some(),
            "pin": c.pin, "balance_fen": c.balance_fen, "credit": c.credit}))
        .collect();
    let wallets: Vec<Value> = WALLETS
        .iter()
        .map(|w| json!({"wallet": w.id, "method": w.method.as_str(), "name": w.name, "outcome": "approve", "balance_fen": w.balance_fen}))
        .collect();
    if app.json {
        output::print_json(&json!({"ok": true, "cards": cards, "wallets": wallets}));
        return Ok(());
    }
    for c in CARDS {
        let pin = c.pin.map(|p| format!(" PIN {p}")).unwrap_or_default();
        println!(
            "{:<20} {}  {:<20} {}{pin}",
            c.pan,
            c.expiry,
            c.outcome,
            Amount::from_fen(c.balance_fen).display()
        );
    }
    for w in WALLETS {
        println!(
            "{:<20} {:<11} {:<20} {}",
            w.id,
            w.method.as_str(),
            "approve",
            Amount::from_fen(w.balance_fen).display()
        );
    }
    Ok(())
}

/// The demo's counter: the store, the terminal, and the two operators signed in.
struct Counter<'a> {
    app: &'a App,
    store: SqliteStore,
    origin: Origin,
    log: Vec<Value>,
}

fn demo_password(no: &str) -> &'static str {
    DEMO_OPERATORS
        .iter()
        .find(|(n, _, _)| *n == no)
        .map(|(_, p, _)| *p)
        .unwrap_or("")
}

impl Counter<'_> {
    fn say(&mut self, zh: &str, en: &str) {
        let text = if self.app.lang == Lang::Zh { zh } else { en };
        if !self.app.json {
            println!("\n=== {text} ===");
        }
        self.log.push(json!({"step": text}));
    }

    fn card(&self, outcome: &str) -> Result<Instrument, Fail> {
        let c = CARDS
            .iter()
            .find(|c| c.outcome == outcome)
            .ok_or_else(|| Fail::Other(anyhow::anyhow!("no demo card {outcome}")))?;
        let pan = Pan::parse(c.pan).map_err(|problem| {
            Fail::from(suanpan_core::refusal::AccessRefused::BadCard { problem })
        })?;
        Ok(Instrument::Card {
            masked_pan: pan.masked(),
            fingerprint: self.app.fingerprinter()?.of(&pan),
            expiry: Some(c.expiry.into()),
        })
    }

    /// Runs a command and prints its receipt or its refusal; returns the booked transaction.
    fn go<A: Ask<Reply: Into<Shown>>>(
        &mut self,
        cmd: A,
        copy: Copy,
    ) -> Result<Option<Transaction>, Fail> {
        let lang = self.app.lang;
        match self.store.ask(cmd)?.into() {
            Shown::Txn(t) | Shown::Balance { txn: t, .. } => {
                let layout = Layout {
                    width: Width::W32,
                    lang,
                    copy,
                    reprint: false,
                };
                let text = suanpan_receipt::render_receipt(
                    &t,
                    &receipt_context(&self.store, &t)?,
                    &layout,
                );
                if !self.app.json {
                    print!("{text}");
                }
                self.log
                    .push(json!({"transaction": output::txn_json(&t, lang), "receipt": text}));
                Ok(Some(t))
            }
            Shown::Refused(r) => {
                if !self.app.json {
                    println!(
                        "{} [{}]\n{}",
                        r.message(lang),
                        suanpan_host::codes::response_code(r.as_ref()).code(),
                        r.remedy(lang)
                    );
                }
                self.log.push(json!({"refused": r.key(), "message": r.message(lang), "remedy": r.remedy(lang)}));
                Ok(None)
            }
            Shown::NothingToReverse => Ok(None),
        }
    }

    fn sale(
        &mut self,
        yuan: &str,
        instrument: Instrument,
        method: PaymentMethod,
        pin: Option<&str>,
    ) -> Result<Option<Transaction>, Fail> {
        let amount = crate::cmd_txn::amount_arg(yuan)?;
        let purchase = |confirm_duplicate: bool| Purchase {
            origin: self.origin.clone(),
            kind: TxnKind::Sale,
            amount,
            instrument: instrument.clone(),
            method,
            pin: pin.map(suanpan_issuer::EnteredPin::clear),
            linked_id: None,
            confirm_duplicate,
        };
        let (first, confirmed) = (purchase(false), purchase(true));
        let booked = self.go(first, Copy::Cardholder)?;
        let duplicate =
            self.log.last().and_then(|l| l["refused"].as_str()) == Some("risk.possible_duplicate");
        if booked.is_some() || !duplicate {
            return Ok(booked);
        }
        // The same card and amount within minutes (the demo run again soon after): the
        // cashier asks the customer, who confirms a second purchase, and sends it again as
        // the terminal's 确认 key does.
        self.say(
            "疑似重复：与顾客核对后确认，再次发送",
            "Possible duplicate: checked with the customer, confirmed and sent again",
        );
        self.go(confirmed, Copy::Cardholder)
    }

    fn supervised(&self) -> Origin {
        Origin {
            supervisor: Some(OperatorNo::SUPERVISOR),
            ..self.origin.clone()
        }
    }
}

/// Opens the data directory, creating it with demo data when it does not exist yet.
fn open_or_init(app: &App) -> Result<SqliteStore, Fail> {
    // The scripted day seeds and reads the data directory's own store, never a shared database.
    if app.database()?.is_some() {
        return Err(Fail::Message {
            key: "error.sqlite_only",
            args: Vec::new(),
        });
    }
    if !app.data_dir.join(suanpan_store::sqlite::DB_FILE).exists() {
        if app.json {
            let opts = suanpan_store::OpenOptions {
                policy: app.policy()?,
                ..suanpan_service::open_options()
            };
            app.create_store(opts, true)?;
        } else {
            crate::cmd_admin::init(app, true)?;
        }
    }
    app.open()
}

fn day(app: &App) -> Result<(), Fail> {
    let store = open_or_init(app)?;
    let terminal = TerminalId::parse(DEMO_TERMINAL)
        .map_err(|e| Fail::Other(anyhow::anyhow!(e.to_string())))?;
    let term = store.terminal(&terminal)?.map_err(Fail::from)?;
    let cashier =
        OperatorNo::parse("01").map_err(|e| Fail::Other(anyhow::anyhow!(e.to_string())))?;
    // The demo signs in with the documented demo passwords, through the same checks as anyone.
    authn::authenticate(
        &store,
        &term.merchant_id,
        cashier,
        "login",
        demo_password("01"),
    )?;
    authn::authenticate(
        &store,
        &term.merchant_id,
        OperatorNo::SUPERVISOR,
        "supervisor",
        demo_password("00"),
    )?;
    let origin = Origin {
        terminal_id: terminal.clone(),
        operator: cashier,
        supervisor: None,
        voucher: None,
        batch: None,
        training: false,
        idempotency: None,
        terminal_info: None,
    };
    let mut c = Counter {
        app,
        store,
        origin,
        log: Vec::new(),
    };

    c.say("1. 消费 ¥88.00（芯片卡）", "1. Sale ¥88.00 (chip card)");
    let first = c.sale("88.00", c.card("approve")?, PaymentMethod::Chip, None)?;
    c.say(
        "2. 消费 ¥5,000.00 —— 余额不足的卡被拒",
        "2. Sale ¥5,000.00 — a card with insufficient funds is declined",
    );
    c.sale(
        "5000",
        c.card("insufficient_funds")?,
        PaymentMethod::Magstripe,
        None,
    )?;
    c.say(
        "3. 消费 ¥128.50（需输密码的卡）",
        "3. Sale ¥128.50 (card with PIN)",
    );
    let second = c.sale(
        "128.50",
        c.card("approve_with_pin")?,
        PaymentMethod::Chip,
        Some("123456"),
    )?;
    c.say("4. 支付宝扫码 ¥36.00", "4. Alipay QR ¥36.00");
    let qr = c.sale(
        "36",
        Instrument::Wallet {
            id: WALLETS[0].id.into(),
        },
        PaymentMethod::QrAlipay,
        None,
    )?;

    let first =
        first.ok_or_else(|| Fail::Other(anyhow::anyhow!("demo sale 1 was not approved")))?;
    let second =
        second.ok_or_else(|| Fail::Other(anyhow::anyhow!("demo sale 3 was not approved")))?;
    c.say(
        "5. 撤销第 1 笔（主管授权，顾客同意）",
        "5. Void sale 1 (supervisor authorized, customer agreed)",
    );
    let void = |c: &Counter<'_>, t: &Transaction| Void {
        origin: c.supervised(),
        kind: TxnKind::Void,
        original: OriginalRef::Voucher(t.voucher_no),
        amount: Some(t.amount),
        reason: "顾客取消购买 customer cancelled".into(),
        customer_consent: true,
        card_fingerprint: None,
    };
    c.go(void(&c, &first), Copy::Merchant)?;
    c.say(
        "6. 再次撤销同一笔 —— 拒绝",
        "6. Void the same sale again — refused",
    );
    c.go(void(&c, &first), Copy::Merchant)?;
    c.say(
        "7. 第 3 笔部分退货 ¥28.50",
        "7. Partial refund ¥28.50 of sale 3",
    );
    let rrn = second
        .rrn
        .as_ref()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    c.go(
        Refund {
            origin: c.supervised(),
            original: OriginalRef::Rrn(rrn),
            amount: Amount::from_fen(2850),
            reason: "部分商品退回 items returned".into(),
        },
        Copy::Merchant,
    )?;

    c.say(
        "8. 批结算（终端总额与主机一致）",
        "8. Settlement (terminal totals match the host)",
    );
    let theirs = Totals {
        debit_fen: 12_850 + 3_600,
        debit_count: 2,
        credit_fen: 2_850,
        credit_count: 1,
    };
    let report = c.store.ask(Settle {
        terminal_id: terminal,
        actor: format!("{DEMO_TERMINAL}/00"),
        terminal_totals: Some(theirs),
    })?;
    if !app.json {
        print_reports(
            app,
            &c.store,
            std::slice::from_ref(&report),
            &[],
            OperatorNo::SUPERVISOR,
            32,
        )?;
    }
    c.log.push(json!({"settlement": report.settlement.reconciliation.as_str(), "batch_no": report.batch_no.to_string()}));
    c.say(
        "9. 结算后撤销第 4 笔 —— 拒绝，请做退货",
        "9. Void sale 4 after settlement — refused, use refund",
    );
    let qr = qr.ok_or_else(|| Fail::Other(anyhow::anyhow!("demo sale 4 was not approved")))?;
    c.go(void(&c, &qr), Copy::Merchant)?;

    c.say(
        "10. 核对：审计链与资金守恒",
        "10. Check: audit chain and money conservation",
    );
    let audit = c.store.verify_audit()?;
    let money = c.store.conservation()?;
    if !app.json {
        println!(
            "audit: {} entries, intact: {}",
            audit.entries,
            audit.first_broken.is_none()
        );
        println!("money conserved: {}", money.holds());
    }
    c.log.push(json!({"audit_entries": audit.entries, "audit_intact": audit.first_broken.is_none(), "money_conserved": money.holds()}));
    if app.json {
        output::print_json(&json!({"ok": true, "steps": c.log}));
    }
    if audit.first_broken.is_some() || !money.holds() {
        return Err(Fail::Other(anyhow::anyhow!("demo check failed")));
    }
    Ok(())
}
