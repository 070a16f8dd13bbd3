//! Audit entries in words: the timeline of a transaction or case says "后台用户 cashier
//! 提交撤销申请：被拒绝——无权执行此操作" instead of `void_request.submit • web:cashier •
//! refused:backoffice.not_permitted`. The codes stay in the JSON beside the sentence, for
//! programs.

use crate::catalog::{t, tf};
use suanpan_core::Lang;
use suanpan_store::audit::AuditEntry;

/// Who did it: a back-office user, a terminal's operator, the system.
pub fn actor(lang: Lang, actor: &str) -> String {
    if actor == "web:system" {
        return t(lang, "who.system").to_owned();
    }
    if let Some(user) = actor.strip_prefix("web:") {
        return tf(lang, "who.web", &[user.to_owned()]);
    }
    if let Some((terminal, op)) = actor.split_once('/') {
        return tf(lang, "who.counter", &[terminal.to_owned(), op.to_owned()]);
    }
    match actor {
        "system" => t(lang, "who.system").to_owned(),
        "admin" => t(lang, "who.admin").to_owned(),
        other => other.to_owned(),
    }
}

/// What was done (`void_request.submit` → 提交撤销申请).
pub fn action(lang: Lang, action: &str) -> String {
    let key = format!("audit.{action}");
    match t(lang, &key) {
        text if text == key => tf(lang, "audit.other", &[]),
        text => text.to_owned(),
    }
}

/// How it ended (`approved`, `declined:51`, `refused:KEY`, `ok`, …).
pub fn outcome(lang: Lang, outcome: &str) -> String {
    if let Some(code) = outcome.strip_prefix("declined:") {
        let why = suanpan_core::i18n::tr(lang, &format!("rc.{code}"), &[]);
        return tf(lang, "outcome.declined", &[code.to_owned(), why]);
    }
    if let Some(key) = outcome.strip_prefix("refused:") {
        let why = suanpan_core::refusal::message_of_key(lang, key)
            .or_else(|| {
                let msg = format!("{key}.msg");
                let text = t(lang, &msg);
                (text != msg).then(|| text.to_owned())
            })
            .unwrap_or_else(|| t(lang, "outcome.refused_other").to_owned());
        return tf(lang, "outcome.refused", &[why]);
    }
    if matches!(outcome, "approved" | "ok" | "") {
        return t(lang, "outcome.ok").to_owned();
    }
    // `request:1 approved`, `case:2 open`, `… pending`: the status it is in now.
    let last = outcome
        .rsplit([' ', '→'])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    for group in ["status", "case.status"] {
        let key = format!("{group}.{last}");
        match t(lang, &key) {
            text if text != key => return text.to_owned(),
            _ => {}
        }
    }
    t(lang, "outcome.recorded").to_owned()
}

/// The whole entry as one sentence, with its reason when one was given.
pub fn entry(lang: Lang, e: &AuditEntry) -> String {
    let what = [
        actor(lang, &e.actor),
        action(lang, &e.action),
        outcome(lang, &e.outcome),
    ];
    let sentence = tf(lang, "audit.sentence", &what);
    if e.reason.trim().is_empty() {
        sentence
    } else {
        tf(
            lang,
            "audit.with_reason",
            &[sentence, e.reason.trim().to_owned()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(actor: &str, action: &str, outcome: &str) -> AuditEntry {
        AuditEntry {
            seq: 1,
            at: 0,
            actor: actor.into(),
            action: action.into(),
            target: "txn:1".into(),
            reason: String::new(),
            outcome: outcome.into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn the_issues_example_reads_as_a_sentence() {
        let x = e(
            "web:cashier",
            "void_request.submit",
            "refused:backoffice.not_permitted",
        );
        let zh = entry(Lang::Zh, &x);
        assert!(
            zh.starts_with("后台用户 cashier 提交撤销申请：被拒绝——"),
            "{zh}"
        );
        assert!(
            !zh.contains("backoffice") && !zh.contains("refused"),
            "{zh}"
        );
        let en = entry(Lang::En, &x);
        assert!(
            en.starts_with("Back-office user cashier submitted a void request: refused — "),
            "{en}"
        );
    }

    #[test]
    fn counter_declines_name_the_answer() {
        let zh = entry(Lang::Zh, &e("12345678/01", "sale", "declined:51"));
        assert_eq!(zh, "终端 12345678 操作员 01 消费：拒绝（51 余额不足）");
    }
}

/// A size limit in units people read: `52428800` → `50 MiB`, `65536` → `64 KiB`.
pub fn bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn limits_read_in_units() {
        assert_eq!(super::bytes(50 * 1024 * 1024), "50 MiB");
        assert_eq!(super::bytes(64 * 1024), "64 KiB");
        assert_eq!(super::bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(super::bytes(100), "100 B");
    }
}
