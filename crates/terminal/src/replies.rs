//! What the terminal does with the host's answers: book the local journal, print the slip,
//! show the result with the response code's text, the 63.2 reason and a remedy.

use crate::flows::recharge_of;
use crate::machine::{App, Draft, Effect, Flow, Outcome, Printout, Reply, Screen, code_text, yuan};
use crate::net::{NotSent, SettleResult, TxnResult, is_possible_duplicate};
use crate::proto::Response;
use crate::state::LocalTxn;
use suanpan_core::settlement::{Reconciliation, Settlement, Totals, differences, settle};
use suanpan_core::{
    Amount, BatchNo, MerchantId, OperatorNo, Rrn, TerminalId, Transaction, VoucherNo,
};
use suanpan_receipt::{Copy, Layout, ReceiptContext, SlipData, Width};

/// Remedies the terminal shows per response code (catalog `fix.<code>`).
const CODES_WITH_FIX: [&str; 16] = [
    "03", "05", "12", "13", "14", "25", "41", "43", "51", "54", "55", "61", "64", "65", "75", "94",
];

impl App {
    /// The driver's answer to the last [`crate::machine::Job`].
    pub fn reply(&mut self, r: Reply) -> Vec<Effect> {
        let fx = self.reply_unguided(r);
        self.lesson_after_reply();
        fx
    }

    fn reply_unguided(&mut self, r: Reply) -> Vec<Effect> {
        match r {
            Reply::SignIn(Ok(())) => {
                self.signed_in = true;
                self.menu(Some(
                    self.tf("signin.ok", &[format!("{:06}", self.state.batch)]),
                ))
            }
            Reply::SignIn(Err(e)) => {
                self.signed_in = false;
                let lines = self.not_sent_lines(&e);
                self.show("result.signin_failed", lines, None)
            }
            Reply::SignOut(sent) => {
                self.signed_in = false;
                self.operator = None;
                let key = if sent { "signout.ok" } else { "signout.local" };
                self.screen = crate::machine::login(Some(self.t(key)));
                Vec::new()
            }
            Reply::Reversal(Ok(done)) => {
                let key = if done {
                    "reversal.done"
                } else {
                    "reversal.pending"
                };
                // An idle retry leaves the cashier's place in the menu alone.
                let cursor = match self.screen {
                    Screen::Menu { cursor, .. } => cursor,
                    _ => 0,
                };
                self.screen = Screen::Menu {
                    cursor,
                    notice: Some(self.t(key)),
                };
                Vec::new()
            }
            Reply::Reversal(Err(e)) => {
                let lines = self.not_sent_lines(&e);
                self.show("result.not_sent", lines, None)
            }
            Reply::Txn(stan, result) => self.txn_reply(stan, result),
            Reply::Settle(r) => self.settle_reply(r),
        }
    }

    fn show(&mut self, head: &str, lines: Vec<String>, recharge: Option<Draft>) -> Vec<Effect> {
        self.screen = Screen::Result {
            outcome: Outcome {
                head: head.to_owned(),
                lines,
            },
            recharge,
        };
        Vec::new()
    }

    fn not_sent_lines(&self, e: &NotSent) -> Vec<String> {
        match e {
            NotSent::Unreachable(why) => vec![
                self.t("net.unreachable"),
                why.clone(),
                self.t("net.unreachable.fix"),
            ],
            NotSent::ReversalPending { escalated: false } => {
                vec![self.t("reversal.pending"), self.t("reversal.pending.fix")]
            }
            NotSent::ReversalPending { escalated: true } => {
                vec![
                    self.t("reversal.escalated"),
                    self.t("reversal.escalated.fix"),
                ]
            }
            NotSent::SignIn(code, text) => vec![
                format!("{code} {}", code_text(self.lang, code)),
                text.clone(),
                self.t("signin.fix"),
            ],
            NotSent::Fault(why) => vec![self.t("net.fault"), why.clone()],
        }
    }

    fn txn_reply(&mut self, stan: u32, result: TxnResult) -> Vec<Effect> {
        let Some(d) = self.pending.take() else {
            return self.menu(None);
        };
        match result {
            TxnResult::NotSent(e) => {
                let mut lines = self.not_sent_lines(&e);
                lines.push(self.t("result.no_charge"));
                self.show("result.not_sent", lines, None)
            }
            TxnResult::NoAnswer { reversed, reason } => {
                let key = if !d.flow.kind().reversible() {
                    "result.check_first"
                } else if reversed {
                    "result.reversed"
                } else {
                    "result.reversing"
                };
                let mut lines = vec![self.t(key)];
                if reason == "96" {
                    lines.insert(0, self.t("result.bad_mac"));
                }
                lines.push(self.tf("result.voucher", &[format!("{stan:06}")]));
                self.show("result.unknown", lines, None)
            }
            TxnResult::Answered(r) => self.answered(stan, d, r),
        }
    }

    fn answered(&mut self, stan: u32, d: Draft, r: Response) -> Vec<Effect> {
        let approved = r.code == "00";
        let row = self.row_of(stan, &d, &r);
        let mut fx = vec![];
        if d.flow != Flow::Balance || approved {
            self.state.book(row.clone());
        }
        if approved {
            self.apply_to_original(&d);
        }
        fx.push(Effect::Save);
        let mut lines = vec![format!("{} {}", r.code, code_text(self.lang, &r.code))];
        if !r.text.is_empty() && !approved {
            lines.push(r.text.clone());
        }
        // The possible-duplicate 94 carries its own remedy in 63 (确认后重试), not the
        // used-STAN 94's.
        if let Some(fix) = self.fix_for(&r.code).filter(|_| !is_possible_duplicate(&r)) {
            lines.push(fix);
        }
        lines.push(self.tf("result.voucher", &[format!("{stan:06}")]));
        if d.flow == Flow::Balance {
            if let Some(b) = row.balance_fen {
                lines.push(self.tf("result.balance", &[yuan(b)]));
            }
        } else {
            lines.push(self.tf("result.amount", &[yuan(row.amount_fen)]));
        }
        if let Some(rrn) = &r.rrn {
            lines.push(self.tf("result.rrn", &[rrn.trim().to_owned()]));
        }
        if let Some(code) = r
            .auth_code
            .as_ref()
            .filter(|_| approved && d.flow == Flow::PreAuth)
        {
            // The completion and the pre-auth void name their original by this code.
            lines.push(self.tf("result.auth", &[code.trim().to_owned()]));
        }
        let head = if approved {
            "result.ok"
        } else {
            "result.declined"
        };
        let recharge = match (&d.flow, approved, &d.original) {
            (Flow::Void, true, Some(o)) => {
                lines.push(self.t("void.recharge_offer"));
                Some(recharge_of(o))
            }
            // 疑似重复: the cashier checks with the customer, then [确认] sends it again
            // as confirmed; [取消] leaves it.
            _ if is_possible_duplicate(&r) && !d.confirm_duplicate => {
                lines.push(self.t("dup.confirm_offer"));
                Some(Draft {
                    confirm_duplicate: true,
                    ..d.clone()
                })
            }
            _ => None,
        };
        if approved && d.flow != Flow::Balance {
            fx.extend(self.print_row(&row, false));
            if d.flow == Flow::Recharge {
                fx.extend(self.print_recharge_note(&row));
            }
        }
        if let Some(msg) = self.paper_message(&fx) {
            lines.push(msg);
        }
        fx.extend(self.show(head, lines, recharge));
        fx
    }

    fn row_of(&self, stan: u32, d: &Draft, r: &Response) -> LocalTxn {
        let kind = d.flow.txn_kind().as_str();
        let masked = match (&d.card, &d.original) {
            (Some(c), _) => suanpan_core::Pan::parse(&c.pan)
                .map(|p| p.masked().as_str().to_owned())
                .unwrap_or_default(),
            (None, Some(o)) => o.masked_pan.clone(),
            _ => String::new(),
        };
        let amount_fen = match d.flow.voids() {
            Some(_) => d.original.as_ref().map_or(0, |o| o.amount_fen),
            None => d.amount.unwrap_or(0),
        };
        LocalTxn {
            kind: kind.to_owned(),
            stan,
            batch: r.batch.unwrap_or(self.state.batch),
            amount_fen,
            masked_pan: masked,
            entry: d.card.as_ref().map_or("05", |c| c.entry).to_owned(),
            rrn: r.rrn.as_ref().map(|s| s.trim().to_owned()),
            auth_code: r.auth_code.as_ref().map(|s| s.trim().to_owned()),
            code: r.code.clone(),
            at: self.now.to_string(),
            operator: self.operator.clone().unwrap_or_default(),
            supervisor: d.flow.supervised().then(|| "00".to_owned()),
            training: self.training,
            voided: false,
            refunded_fen: 0,
            original_stan: match d.flow {
                Flow::Sale | Flow::Recharge | Flow::Balance | Flow::PreAuth => None,
                _ => d.original.as_ref().map(|o| o.stan),
            },
            original_rrn: d.rrn.clone(),
            linked_stan: (d.flow == Flow::Recharge)
                .then(|| d.original.as_ref().map(|o| o.stan))
                .flatten(),
            reason: d.reason.clone(),
            balance_fen: r.balance.as_deref().and_then(balance_fen),
            completed: false,
        }
    }

    fn apply_to_original(&mut self, d: &Draft) {
        let Some(o) = &d.original else { return };
        match d.flow {
            Flow::Void | Flow::CompletionVoid => {
                if let Some(t) = self.state.find_mut(o.stan) {
                    t.voided = true;
                }
            }
            Flow::PreAuthVoid | Flow::Completion => {
                let code = d.auth_code.clone();
                if let Some(t) =
                    self.state.journal.iter_mut().rev().find(|t| {
                        t.kind == "preauth" && t.auth_code.is_some() && t.auth_code == code
                    })
                {
                    if d.flow == Flow::Completion {
                        t.completed = true;
                    } else {
                        t.voided = true;
                    }
                }
            }
            Flow::Refund => {
                let rrn = d.rrn.clone();
                if let Some(t) = self
                    .state
                    .journal
                    .iter_mut()
                    .rev()
                    .find(|t| t.rrn.is_some() && t.rrn == rrn)
                {
                    t.refunded_fen += d.amount.unwrap_or(0);
                }
            }
            _ => {}
        }
    }

    fn fix_for(&self, code: &str) -> Option<String> {
        CODES_WITH_FIX
            .contains(&code)
            .then(|| self.t(&format!("fix.{code}")))
    }

    fn ids(&self) -> Option<(TerminalId, MerchantId)> {
        Some((
            TerminalId::parse(&self.state.terminal_id).ok()?,
            MerchantId::parse(&self.state.merchant_id).ok()?,
        ))
    }

    /// The slip of a booked row; a paper-out printer prints nothing and says so.
    pub(crate) fn print_row(&mut self, row: &LocalTxn, reprint: bool) -> Vec<Effect> {
        let Some((tid, mid)) = self.ids() else {
            return Vec::new();
        };
        let Some(txn) = row.to_core(&tid, &mid) else {
            return Vec::new();
        };
        let text = self.render(&txn, row, reprint);
        let name = format!(
            "{:06}-{}-{:06}{}",
            row.batch,
            row.kind,
            row.stan,
            if reprint { "-reprint" } else { "" }
        );
        self.print(Printout { name, text })
    }

    fn render(&self, txn: &Transaction, row: &LocalTxn, reprint: bool) -> String {
        let original_voucher = row.original_stan.and_then(|s| VoucherNo::new(s).ok());
        let ctx = ReceiptContext {
            merchant_name: self.state.merchant_name.clone(),
            merchant_id: txn.merchant_id.clone(),
            original_voucher: if matches!(row.kind.as_str(), "void" | "completion_void") {
                original_voucher
            } else {
                None
            },
            original_rrn: row.original_rrn.as_deref().and_then(|r| Rrn::parse(r).ok()),
            balance: row.balance_fen.map(Amount::from_fen),
            acquirer: "Suanpan 算盘".to_owned(),
            issuer: String::new(),
        };
        let layout = Layout {
            width: Width::W32,
            lang: self.lang,
            copy: Copy::Merchant,
            reprint,
        };
        suanpan_receipt::render_receipt(txn, &ctx, &layout)
    }

    fn print_recharge_note(&mut self, row: &LocalTxn) -> Vec<Effect> {
        let voided = row.linked_stan.unwrap_or(0);
        let mut text = String::new();
        for key in ["note.title", "note.body1", "note.body2"] {
            text.push_str(&self.tf(
                key,
                &[
                    format!("{voided:06}"),
                    format!("{:06}", row.stan),
                    yuan(row.amount_fen),
                ],
            ));
            text.push('\n');
        }
        self.print(Printout {
            name: format!("{:06}-recharge-note-{:06}", row.batch, row.stan),
            text,
        })
    }

    pub(crate) fn print(&mut self, p: Printout) -> Vec<Effect> {
        if self.state.paper_out {
            // Nothing comes out; the row stays in the journal for 重打印 once paper is in.
            self.last_print = None;
            return vec![Effect::Print(Printout {
                name: String::new(),
                text: String::new(),
            })];
        }
        self.last_print = Some(p.clone());
        vec![Effect::Print(p)]
    }

    /// "打印机缺纸" when a print effect came back empty (the printer is out of paper).
    pub(crate) fn paper_message(&self, fx: &[Effect]) -> Option<String> {
        fx.iter()
            .any(|e| matches!(e, Effect::Print(p) if p.name.is_empty()))
            .then(|| self.t("printer.paper_out"))
    }

    fn settle_reply(&mut self, r: Result<SettleResult, NotSent>) -> Vec<Effect> {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let lines = self.not_sent_lines(&e);
                return self.show("result.not_sent", lines, None);
            }
        };
        if r.code != "00" {
            let lines = vec![
                format!("{} {}", r.code, code_text(self.lang, &r.code)),
                r.text.clone(),
            ];
            return self.show("result.declined", lines, None);
        }
        let ours = core_totals(&r.ours.domestic);
        let host = r.host.map(|h| core_totals(&h.domestic)).unwrap_or(ours);
        let diffs = differences(&host, &ours);
        let balanced = diffs.is_empty();
        let mut lines = vec![self.t(if balanced {
            "settle.balanced"
        } else {
            "settle.unbalanced"
        })];
        if !balanced {
            lines.push(self.tf("settle.uploaded", &[r.uploaded.to_string()]));
        }
        let mut fx = vec![Effect::Save];
        if let Some(text) = self.slip(host, ours, diffs) {
            self.state.last_settlement_slip = Some(text.clone());
            let name = format!(
                "{:06}-settlement",
                self.state.batch.saturating_sub(1).max(1)
            );
            fx.extend(self.print(Printout { name, text }));
        }
        if let Some(msg) = self.paper_message(&fx) {
            lines.push(msg);
        }
        lines.push(self.t(if r.signed_out {
            "settle.signed_out"
        } else {
            "signout.local"
        }));
        self.signed_in = false;
        self.operator = None;
        fx.extend(self.show("result.settled", lines, None));
        fx
    }

    fn slip(
        &self,
        host: Totals,
        ours: Totals,
        diffs: Vec<suanpan_core::settlement::Difference>,
    ) -> Option<String> {
        let (tid, mid) = self.ids()?;
        let closed = self.state.batch.saturating_sub(1).max(1);
        let rows: Vec<Transaction> = self
            .state
            .journal
            .iter()
            .filter(|t| t.batch == closed)
            .filter_map(|t| t.to_core(&tid, &mid))
            .collect();
        let settlement = Settlement {
            totals: host,
            by_method: settle(&rows, None).ok()?.by_method,
            reconciliation: if diffs.is_empty() {
                Reconciliation::Balanced
            } else {
                Reconciliation::Unbalanced
            },
            differences: diffs,
        };
        let data = SlipData {
            merchant_name: self.state.merchant_name.clone(),
            merchant_id: mid,
            terminal_id: tid,
            operator: OperatorNo::parse(self.operator.as_deref().unwrap_or("00")).ok()?,
            batch_no: BatchNo::new(closed).ok()?,
            settled_at: self.now,
            settlement,
            terminal_totals: Some(ours),
        };
        let layout = Layout {
            width: Width::W32,
            lang: self.lang,
            copy: Copy::Merchant,
            reprint: false,
        };
        Some(suanpan_receipt::render_settlement_slip(&data, &layout))
    }
}

fn core_totals(t: &suanpan_iso8583::Totals) -> Totals {
    Totals {
        debit_fen: i64::try_from(t.debit_amount).unwrap_or(i64::MAX),
        debit_count: u32::from(t.debit_count),
        credit_fen: i64::try_from(t.credit_amount).unwrap_or(i64::MAX),
        credit_count: u32::from(t.credit_count),
    }
}

/// Field 54: `10` `02` `156` sign n12 → fen.
fn balance_fen(field: &str) -> Option<i64> {
    let sign = field.get(7..8)?;
    let fen: i64 = field.get(8..20)?.parse().ok()?;
    Some(if sign == "D" { -fen } else { fen })
}
