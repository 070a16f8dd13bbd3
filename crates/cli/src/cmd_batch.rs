//! `batch …`: the open batch, settlement (批结算) and the settlement slip.

use crate::app::{App, Fail};
use crate::args::BatchCmd;
use crate::authn;
use crate::cmd_txn::width;
use crate::output;
use serde_json::{Value, json};
use suanpan_core::refusal::{AccessRefused, Refusal, SettleRefused};
use suanpan_core::settlement::{self, Totals};
use suanpan_core::{Amount, Lang, OperatorNo, TerminalId};
use suanpan_receipt::{Copy, Layout, SlipData};
use suanpan_store::command::Settle;
use suanpan_store::command::SettleReport;
use suanpan_store::reply::{ExpireHolds, PassedBatch};
use suanpan_store::{AskExt, Store, repo};

pub fn run(app: &App, cmd: BatchCmd) -> Result<(), Fail> {
    match cmd {
        BatchCmd::Status { terminal } => status(app, &terminal),
        BatchCmd::Settle {
            terminal: Some(t),
            totals,
            all_due: false,
            operator,
            width,
        } => settle(app, &t, totals.as_deref(), &operator, width),
        BatchCmd::Settle {
            all_due: true,
            width,
            ..
        } => settle_all_due(app, width),
        BatchCmd::Settle { .. } => Err(Fail::Other(anyhow::anyhow!(
            "give --terminal T or --all-due"
        ))),
        BatchCmd::ExpireHolds => {
            let n = app.open_store()?.ask(ExpireHolds)?;
            if app.json {
                output::print_json(&json!({"ok": true, "expired": n}));
            } else {
                println!("{n}");
            }
            Ok(())
        }
    }
}

fn terminal(text: &str) -> Result<TerminalId, Fail> {
    TerminalId::parse(text)
        .map_err(|_| suanpan_core::refusal::AccessRefused::UnknownTerminal.into())
}

fn status(app: &App, t: &str) -> Result<(), Fail> {
    let store = app.open_store()?;
    let id = terminal(t)?;
    // A read: shown also when the terminal may not trade, with why.
    let (term, access) =
        suanpan_store::read(&*store, |c| repo::terminals::load_for_reading(c, &id))?
            .ok_or_else(|| Fail::from(AccessRefused::UnknownTerminal))?;
    let refused = access.err();
    // The whole open batch, however busy the terminal (not the newest page of its rows).
    let open = suanpan_store::read(&*store, |c| {
        suanpan_store::query::batch_lines_in(c, t, term.batch_id)
    })?;
    let totals = settlement::batch_totals(&open).map_err(|_| {
        Fail::Refused(Box::new(SettleRefused::Untotallable {
            terminal: t.to_owned(),
            batch_no: term.batch_no.to_string(),
        }))
    })?;
    if app.json {
        output::print_json(
            &json!({"ok": true, "terminal_id": t, "batch_no": term.batch_no.to_string(),
            "opened_at": term.batch_opened_at.to_string(), "transactions": open.len(), "totals": totals_json(&totals),
            "due": store.policy().batch_is_due(term.batch_opened_at, store.now()),
            "refused": refused.as_ref().map(|r| json!({"code": r.key(), "message": r.message(app.lang), "remedy": r.remedy(app.lang)}))}),
        );
    } else {
        let zh = app.lang == Lang::Zh;
        println!(
            "{} {t}  {} {}  ({})",
            if zh { "终端" } else { "Terminal" },
            if zh { "批次号" } else { "batch" },
            term.batch_no,
            term.batch_opened_at
        );
        println!(
            "{} {} / {}",
            if zh { "借记" } else { "Debit" },
            totals.debit_count,
            totals.debit().display()
        );
        println!(
            "{} {} / {}",
            if zh { "贷记" } else { "Credit" },
            totals.credit_count,
            totals.credit().display()
        );
        println!(
            "{} {}",
            if zh { "净额" } else { "Net" },
            totals.net().display()
        );
        if let Some(r) = &refused {
            println!("{}", r.message(app.lang));
            println!("{}", r.remedy(app.lang));
        }
    }
    Ok(())
}

fn totals_json(t: &Totals) -> Value {
    json!({"debit_fen": t.debit_fen, "debit_count": t.debit_count, "credit_fen": t.credit_fen, "credit_count": t.credit_count, "net_fen": t.net().fen()})
}

/// Parses `DEBIT_YUAN,DEBIT_COUNT,CREDIT_YUAN,CREDIT_COUNT`.
fn parse_totals(text: &str) -> Result<Totals, Fail> {
    let bad = || {
        Fail::Other(anyhow::anyhow!(
            "--totals DEBIT_YUAN,DEBIT_COUNT,CREDIT_YUAN,CREDIT_COUNT, e.g. 100.00,2,0,0"
        ))
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [d, dc, c, cc] = parts.as_slice() else {
        return Err(bad());
    };
    let yuan = |v: &str| -> Result<i64, Fail> {
        // Zero totals are normal here (no refunds today), unlike amounts to charge.
        match Amount::from_yuan_str(v) {
            Ok(a) => Ok(a.fen()),
            Err(suanpan_core::AmountError::Zero) => Ok(0),
            Err(_) => Err(bad()),
        }
    };
    Ok(Totals {
        debit_fen: yuan(d)?,
        debit_count: dc.parse().map_err(|_| bad())?,
        credit_fen: yuan(c)?,
        credit_count: cc.parse().map_err(|_| bad())?,
    })
}

fn settle(app: &App, t: &str, totals: Option<&str>, operator: &str, w: u32) -> Result<(), Fail> {
    let theirs = totals.map(parse_totals).transpose()?;
    let store = app.open_store()?;
    let tid = terminal(t)?;
    let term = store.terminal(&tid)?.map_err(Fail::from)?;
    let op = authn::operator_no(operator)?;
    let password = authn::secret(authn::OPERATOR_PASSWORD_ENV, "操作员密码 operator password")?;
    authn::authenticate(&*store, &term.merchant_id, op, "login", &password)?;
    let report = store.ask(Settle {
        terminal_id: tid,
        actor: format!("{t}/{op}"),
        terminal_totals: theirs,
    })?;
    print_reports(app, &*store, &[report], &[], op, w)
}

fn settle_all_due(app: &App, w: u32) -> Result<(), Fail> {
    let store = app.open_store()?;
    let cutoff = suanpan_service::settlement::settle_due(&*store);
    // What was settled before an error is settled: its slips are printed, then the batches
    // left open, then the error.
    print_reports(
        app,
        &*store,
        &cutoff.reports,
        &cutoff.passed,
        OperatorNo::SUPERVISOR,
        w,
    )?;
    if let Some(e) = cutoff.error {
        return Err(e.into());
    }
    // Batches left open are the operators' to see to: the exit code says so.
    if cutoff.passed.is_empty() {
        Ok(())
    } else {
        Err(Fail::Reported)
    }
}

/// Prints settlement results and their slips, then the due batches the cutoff left open.
pub fn print_reports(
    app: &App,
    store: &dyn Store,
    reports: &[SettleReport],
    passed: &[PassedBatch],
    op: OperatorNo,
    w: u32,
) -> Result<(), Fail> {
    let layout = Layout {
        width: width(w)?,
        lang: app.lang,
        copy: Copy::Merchant,
        reprint: false,
    };
    let mut out = Vec::new();
    for r in reports {
        let term = store.terminal(&r.terminal_id)?.map_err(Fail::from)?;
        let slip = suanpan_receipt::render_settlement_slip(
            &SlipData {
                merchant_name: suanpan_store::admin::merchant_name(store, &term.merchant_id)?
                    .unwrap_or_default(),
                merchant_id: term.merchant_id.clone(),
                terminal_id: r.terminal_id.clone(),
                operator: op,
                batch_no: r.batch_no,
                settled_at: r.settled_at,
                settlement: r.settlement.clone(),
                terminal_totals: r.terminal_totals,
            },
            &layout,
        );
        let s = &r.settlement;
        out.push(json!({
            "terminal_id": r.terminal_id.as_str(), "batch_no": r.batch_no.to_string(), "next_batch_no": r.next_batch_no.to_string(),
            "reconciliation": s.reconciliation.as_str(), "reconciliation_code": s.reconciliation.code().to_string(),
            "totals": totals_json(&s.totals),
            "differences": s.differences.iter().map(|d| json!({"field": d.field, "host": d.host, "terminal": d.terminal})).collect::<Vec<_>>(),
            "by_method": s.by_method.iter().map(|m| json!({"method": m.method.as_str(), "totals": totals_json(&m.totals)})).collect::<Vec<_>>(),
            "slip": slip,
        }));
        if !app.json {
            print!("{slip}");
        }
    }
    // A due batch the cutoff may not settle, and why, in the reader's language.
    let lines: Vec<String> = passed
        .iter()
        .map(|p| {
            let why = suanpan_core::refusal::message_of_key(app.lang, p.refusal)
                .unwrap_or_else(|| p.refusal.to_owned());
            if app.lang == Lang::Zh {
                format!("终端 {} 的批次未结算，保持未结：{why}", p.terminal_id)
            } else {
                format!(
                    "Terminal {}: its batch was not settled and stays open: {why}",
                    p.terminal_id
                )
            }
        })
        .collect();
    if app.json {
        let not_settled: Vec<Value> = passed
            .iter()
            .zip(&lines)
            .map(|(p, line)| json!({"terminal_id": p.terminal_id.as_str(), "code": p.refusal, "message": line}))
            .collect();
        output::print_json(&json!({"ok": passed.is_empty(), "settlements": out,
            "not_settled": not_settled}));
    } else {
        for line in &lines {
            println!("{line}");
        }
    }
    if !app.json && reports.is_empty() && passed.is_empty() {
        println!(
            "{}",
            if app.lang == Lang::Zh {
                "没有到期需要结算的批次"
            } else {
                "No batch is due for settlement"
            }
        );
    }
    let unbalanced = reports
        .iter()
        .any(|r| r.settlement.reconciliation == settlement::Reconciliation::Unbalanced);
    if unbalanced && !app.json {
        eprintln!(
            "{}",
            if app.lang == Lang::Zh {
                "对账不平：请做批上送并核对差异"
            } else {
                "Unbalanced: do a batch upload and check the differences"
            }
        );
    }
    Ok(())
}
