//! What people and scripts see: one JSON shape per thing, one human line per thing, and
//! failures with a message and a remedy in the chosen language.

use crate::app::{App, Fail};
use serde_json::{Value, json};
use suanpan_core::i18n::tr;
use suanpan_core::{Lang, Refusal, Transaction};

/// The JSON of a transaction (issue 2's field list, plus what a person needs to act on it).
pub fn txn_json(t: &Transaction, lang: Lang) -> Value {
    json!({
        "id": t.id.0,
        "kind": t.kind.as_str(),
        "status": t.status.as_str(),
        "amount_fen": t.amount.fen(),
        "amount": t.amount.yuan(),
        "currency": t.currency.code(),
        "method": t.method.as_str(),
        "masked_pan": t.masked_pan.as_ref().map(|m| m.as_str()),
        "wallet_id": t.wallet_id,
        "merchant_id": t.merchant_id.as_str(),
        "terminal_id": t.terminal_id.as_str(),
        "operator": t.operator.to_string(),
        "supervisor": t.supervisor.map(|s| s.to_string()),
        "batch_no": t.batch_no.to_string(),
        "voucher_no": t.voucher_no.to_string(),
        "rrn": t.rrn.as_ref().map(|r| r.as_str()),
        "auth_code": t.auth_code.as_ref().map(|a| a.as_str()),
        "response_code": t.response_code.code(),
        "message": t.response_code.text(lang),
        "original_id": t.original_id.map(|i| i.0),
        "linked_id": t.linked_id.map(|i| i.0),
        "reason": t.reason,
        "customer_consent": t.customer_consent,
        "refunded_fen": t.refunded.fen(),
        "refundable_fen": t.refundable().fen(),
        "settled": t.settled,
        "hidden": t.hidden,
        "training": t.training,
        "created_at": t.created_at.to_string(),
    })
}

/// One line for a person.
pub fn txn_line(t: &Transaction, app: &App) -> String {
    let lang = app.lang;
    let who = t
        .masked_pan
        .as_ref()
        .map(|m| m.to_string())
        .or_else(|| t.wallet_id.clone())
        .unwrap_or_default();
    let flags = format!(
        "{}{}",
        if t.hidden {
            if lang == Lang::Zh {
                " [已删除]"
            } else {
                " [hidden]"
            }
        } else {
            ""
        },
        if t.training {
            if lang == Lang::Zh {
                " [培训]"
            } else {
                " [training]"
            }
        } else {
            ""
        },
    );
    format!(
        "#{:<5} {} {:<15} {:<18} {:>14} {:<20} {} {} {} {}{flags}",
        t.id.0,
        app.local_time(t.created_at),
        t.kind.as_str(),
        t.status.as_str(),
        t.amount.display(),
        who,
        t.voucher_no,
        t.rrn.as_ref().map(|r| r.as_str()).unwrap_or("-"),
        t.response_code.code(),
        t.response_code.text(lang),
    )
}

/// Prints a JSON value on stdout.
pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Prints a booked transaction: approved on stdout.
pub fn approved(app: &App, t: &Transaction, extra: Value) {
    if app.json {
        let mut v = txn_json(t, app.lang);
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        print_json(&json!({"ok": true, "transaction": v}));
        return;
    }
    let head = if app.lang == Lang::Zh {
        "交易成功"
    } else {
        "Approved"
    };
    println!("{head}: {}", txn_line(t, app));
}

fn refusal_json(r: &dyn Refusal, lang: Lang) -> Value {
    json!({
        "ok": false,
        "code": r.key(),
        "response_code": suanpan_host::codes::response_code(r).code(),
        "message": r.message(lang),
        "remedy": remedy(r, lang),
    })
}

/// A refusal's remedy as the CLI says it: a possible duplicate charge is confirmed here with
/// `--confirm-duplicate` (the terminal's and the API's ways are theirs).
fn remedy(r: &dyn Refusal, lang: Lang) -> String {
    if r.key() == "risk.possible_duplicate" {
        return tr(lang, "warn.duplicate.fix", &[]);
    }
    r.remedy(lang)
}

/// Prints a failure: JSON on stdout (scripts parse one stream), text on stderr.
pub fn failure(app: &App, fail: &Fail) {
    let lang = app.lang;
    let (json_value, text) = match fail {
        Fail::Refused(r) => (
            refusal_json(r.as_ref(), lang),
            format!("{}\n{}", r.message(lang), remedy(r.as_ref(), lang)),
        ),
        Fail::Declined(t) => {
            let code = t.response_code.code();
            let fix = tr(lang, &format!("rc.{code}.fix"), &[]);
            let fix = if fix.starts_with("rc.") {
                String::new()
            } else {
                fix
            };
            let mut v = json!({"ok": false, "code": format!("declined.{code}"), "response_code": code,
                "message": t.response_code.text(lang), "remedy": fix, "transaction": txn_json(t, lang)});
            if let Value::Object(m) = &mut v {
                m.insert("declined".into(), Value::Bool(true));
            }
            let head = if lang == Lang::Zh {
                "交易失败"
            } else {
                "Declined"
            };
            (
                v,
                format!(
                    "{head} {code} {}\n{}\n{fix}",
                    t.response_code.text(lang),
                    txn_line(t, app)
                ),
            )
        }
        Fail::Store(e) => (
            json!({"ok": false, "code": e.key(), "message": e.message(lang), "remedy": e.remedy(lang), "detail": e.to_string()}),
            format!("{}\n{}\n({e})", e.message(lang), e.remedy(lang)),
        ),
        Fail::Message { key, args } => {
            let msg = tr(lang, &format!("{key}.msg"), args);
            let fix = tr(lang, &format!("{key}.fix"), args);
            (
                json!({"ok": false, "code": key, "message": msg, "remedy": fix}),
                format!("{msg}\n{fix}"),
            )
        }
        Fail::Reported => return,
        Fail::Other(e) => {
            let head = if lang == Lang::Zh { "出错" } else { "Error" };
            (
                json!({"ok": false, "code": "error", "message": format!("{e:#}")}),
                format!("{head}: {e:#}"),
            )
        }
    };
    if app.json {
        print_json(&json_value);
    } else {
        eprintln!("{text}");
    }
}
