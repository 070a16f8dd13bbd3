//! What a screen shows, as plain lines: a title, a status line (operator, batch, 培训,
//! 冲正中), the body and a key hint. Pure; the ratatui renderer and script mode both draw it.

use crate::machine::{App, Draft, Flow, MENU, Screen, VOID_REASONS, local_time, yuan};
use unicode_width::UnicodeWidthStr;

/// Width of the POS screen in cells (a CJK character takes two).
pub const SCREEN_COLS: u16 = 32;
/// Height of the POS screen body in lines.
pub const SCREEN_ROWS: u16 = 14;

/// A rendered screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Title bar.
    pub title: String,
    /// Status line.
    pub status: String,
    /// Body lines.
    pub body: Vec<String>,
    /// Keys.
    pub hint: String,
}

impl View {
    /// The screen as text (script mode, logs), framed the way the TUI frames it.
    pub fn to_text(&self) -> String {
        let mut out = format!("[{}] {}\n", self.title, self.status);
        for l in &self.body {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&format!("<{}>\n", self.hint));
        out
    }
}

fn masked(n: usize) -> String {
    "*".repeat(n)
}

fn amount_of(digits: &str) -> String {
    yuan(digits.parse().unwrap_or(0))
}

/// Cuts a line to the screen's width.
pub fn fit(line: &str, cols: usize) -> String {
    wrap(line, cols).into_iter().next().unwrap_or_default()
}

/// Breaks a line into lines of at most `cols` cells (a CJK character takes two), at
/// spaces where it can, inside a word only when the word alone is too long.
pub fn wrap(line: &str, cols: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for word in line.split_inclusive(' ') {
        let cur = out.last().map_or(0, |l| l.width());
        let fits = cur + word.trim_end().width() <= cols;
        if !fits && cur > 0 && word.trim_end().width() <= cols {
            trim_last(&mut out);
            out.push(String::new());
        }
        for ch in word.chars() {
            let cur = out.last().map_or(0, |l| l.width());
            if cur + ch.to_string().width() > cols {
                trim_last(&mut out);
                out.push(String::new());
            }
            if let Some(l) = out.last_mut() {
                l.push(ch);
            }
        }
    }
    trim_last(&mut out);
    out
}

fn trim_last(out: &mut [String]) {
    if let Some(l) = out.last_mut() {
        let t = l.trim_end().len();
        l.truncate(t);
    }
}

impl App {
    /// The current screen as lines.
    pub fn view(&self) -> View {
        let (title, mut body, hint) = self.body();
        let lesson = self.lesson_lines();
        if !lesson.is_empty() {
            body.push(String::new());
            body.extend(lesson);
        }
        let mut status = Vec::new();
        if let Some(op) = &self.operator {
            status.push(self.tf("status.operator", std::slice::from_ref(op)));
        }
        status.push(self.tf("status.batch", &[format!("{:06}", self.state.batch)]));
        if self.training {
            status.push(self.t("status.training"));
        }
        if self.state.pending_reversal.is_some() {
            status.push(self.t("status.reversal"));
        }
        let cols = usize::from(SCREEN_COLS);
        View {
            title: self.t(title),
            status: fit(&status.join(" "), cols),
            body: body.iter().flat_map(|l| wrap(l, cols)).collect(),
            hint: self.t(hint),
        }
    }

    fn flow_title(&self, d: &Draft) -> &'static str {
        match d.flow {
            Flow::Sale => "menu.sale",
            Flow::Void => "menu.void",
            Flow::Refund => "menu.refund",
            Flow::Balance => "menu.balance",
            Flow::Recharge => "title.recharge",
            Flow::PreAuth => "preauth.preauth",
            Flow::PreAuthVoid => "preauth.void",
            Flow::Completion => "preauth.complete",
            Flow::CompletionVoid => "preauth.complete_void",
        }
    }

    fn body(&self) -> (&'static str, Vec<String>, &'static str) {
        match &self.screen {
            Screen::Login { .. }
            | Screen::Menu { .. }
            | Screen::Amount { .. }
            | Screen::Card { .. }
            | Screen::Pin { .. } => self.body_entry(),
            Screen::Voucher { .. }
            | Screen::Original { .. }
            | Screen::Reason { .. }
            | Screen::Supervisor { .. }
            | Screen::Rrn { .. }
            | Screen::Grace { .. } => self.body_void(),
            Screen::Busy { .. }
            | Screen::Result { .. }
            | Screen::Receipt { .. }
            | Screen::Query { .. }
            | Screen::Detail { .. } => self.body_outcome(),
            Screen::Print { .. }
            | Screen::Settle
            | Screen::Manage { .. }
            | Screen::Lessons
            | Screen::SignMenu => self.body_records(),
            Screen::Passwd { .. }
            | Screen::AddCashier { .. }
            | Screen::Clear { .. }
            | Screen::PreAuthMenu
            | Screen::Params { .. }
            | Screen::AuthCode { .. } => self.body_admin(),
        }
    }

    fn body_entry(&self) -> (&'static str, Vec<String>, &'static str) {
        let mut b: Vec<String> = Vec::new();
        match &self.screen {
            Screen::Login {
                op,
                pw,
                pw_stage,
                error,
            } => {
                b.push(self.tf(
                    "login.terminal",
                    std::slice::from_ref(&self.state.terminal_id),
                ));
                b.push(self.tf("login.op", std::slice::from_ref(op)));
                if *pw_stage {
                    b.push(self.tf("login.pw", &[masked(pw.len())]));
                }
                push_error(&mut b, error);
                ("title.login", b, "hint.enter")
            }
            Screen::Menu { cursor, notice } => {
                for (i, key) in MENU.iter().enumerate() {
                    let n = match i {
                        0..=8 => format!("{}", i + 1),
                        9 => "0".to_owned(),
                        _ => " ".to_owned(),
                    };
                    let mark = if i == *cursor { '>' } else { ' ' };
                    b.push(format!("{mark}{n} {}", self.t(key)));
                }
                if let Some(n) = notice {
                    b.push(format!("* {n}"));
                }
                ("title.menu", b, "hint.menu")
            }
            Screen::Amount {
                draft,
                digits,
                error,
            } => {
                b.push(self.t("amount.prompt"));
                b.push(String::new());
                b.push(format!("    {}", amount_of(digits)));
                push_error(&mut b, error);
                (self.flow_title(draft), b, "hint.enter")
            }
            Screen::Card {
                draft,
                manual,
                error,
            } => {
                if let Some(amount) = draft.amount {
                    b.push(self.tf("card.amount", &[yuan(amount)]));
                }
                match manual {
                    Some(pan) => {
                        b.push(self.t("card.manual_prompt"));
                        b.push(pan.clone());
                    }
                    None => {
                        let (_, mode) = crate::flows::READ_MODES
                            [self.read_mode % crate::flows::READ_MODES.len()];
                        b.push(self.tf("card.read", &[self.t(mode)]));
                        for (i, c) in self.cards.iter().enumerate().take(8) {
                            let last4 = c.pan.get(c.pan.len().saturating_sub(4)..).unwrap_or("");
                            b.push(format!("{} *{last4} {}", i + 1, c.note));
                        }
                        b.push(format!("0 {}", self.t("card.manual")));
                    }
                }
                push_error(&mut b, error);
                (self.flow_title(draft), b, "hint.enter")
            }
            Screen::Pin { draft, pin } => {
                if let Some(amount) = draft.amount {
                    b.push(self.tf("card.amount", &[yuan(amount)]));
                }
                b.push(self.t("pin.prompt"));
                b.push(format!("    {}", masked(pin.len())));
                b.push(self.t("pin.none"));
                (self.flow_title(draft), b, "hint.enter")
            }
            _ => ("title.menu", b, "hint.back"),
        }
    }

    fn body_void(&self) -> (&'static str, Vec<String>, &'static str) {
        let mut b: Vec<String> = Vec::new();
        match &self.screen {
            Screen::Voucher {
                draft,
                input,
                error,
            } => {
                b.push(self.t("void.voucher_prompt"));
                b.push(format!("    {input}"));
                b.push(self.t("void.pick"));
                push_error(&mut b, error);
                (self.flow_title(draft), b, "hint.enter")
            }
            Screen::Original { draft } => {
                self.original_lines(draft, &mut b);
                b.push(String::new());
                b.push(self.t("void.consent"));
                (self.flow_title(draft), b, "hint.confirm")
            }
            Screen::Reason {
                draft,
                cursor,
                other,
            } => {
                b.push(self.t("void.reason_prompt"));
                for (i, key) in VOID_REASONS.iter().enumerate() {
                    let mark = if i == *cursor { '>' } else { ' ' };
                    b.push(format!("{mark}{} {}", i + 1, self.t(key)));
                }
                let mark = if *cursor == VOID_REASONS.len() {
                    '>'
                } else {
                    ' '
                };
                b.push(format!(
                    "{mark}{} {}",
                    VOID_REASONS.len() + 1,
                    self.t("reason.other")
                ));
                if let Some(text) = other {
                    b.push(format!("  {text}_"));
                }
                (self.flow_title(draft), b, "hint.enter")
            }
            Screen::Supervisor { draft, pw, error } => {
                b.push(self.t("supervisor.prompt"));
                b.push(format!("    {}", masked(pw.len())));
                push_error(&mut b, error);
                (self.flow_title(draft), b, "hint.enter")
            }
            Screen::Rrn {
                draft,
                input,
                error,
            } => {
                b.push(self.t("refund.rrn_prompt"));
                b.push(format!("    {input}"));
                push_error(&mut b, error);
                (self.flow_title(draft), b, "hint.enter")
            }
            Screen::Grace { draft, left } => {
                self.original_lines(draft, &mut b);
                b.push(String::new());
                b.push(self.tf("void.grace", &[left.to_string()]));
                (self.flow_title(draft), b, "hint.withdraw")
            }
            _ => ("title.menu", b, "hint.back"),
        }
    }

    fn body_outcome(&self) -> (&'static str, Vec<String>, &'static str) {
        let mut b: Vec<String> = Vec::new();
        match &self.screen {
            Screen::Busy { what } => {
                b.push(String::new());
                b.push(self.t(what));
                ("title.busy", b, "hint.wait")
            }
            Screen::Result { outcome, recharge } => {
                b.extend(outcome.lines.iter().cloned());
                let hint = if recharge.as_ref().is_some_and(|d| d.confirm_duplicate) {
                    "hint.confirm"
                } else if recharge.is_some() {
                    "hint.recharge"
                } else if self.last_print.is_some() {
                    "hint.result"
                } else {
                    "hint.to_menu"
                };
                (static_key(&outcome.head), b, hint)
            }
            Screen::Receipt { text, scroll } => {
                b.extend(
                    text.lines()
                        .skip(*scroll)
                        .take(usize::from(SCREEN_ROWS))
                        .map(str::to_owned),
                );
                ("title.receipt", b, "hint.scroll")
            }
            Screen::Query { cursor, input } => {
                let rows = self.state.batch_rows();
                if rows.is_empty() {
                    b.push(self.t("query.empty"));
                }
                let first = cursor.saturating_sub(usize::from(SCREEN_ROWS) - 3);
                for (i, t) in rows
                    .iter()
                    .enumerate()
                    .skip(first)
                    .take(usize::from(SCREEN_ROWS) - 2)
                {
                    let mark = if i == *cursor { '>' } else { ' ' };
                    b.push(format!(
                        "{mark}{:06} {} {} {}{}",
                        t.stan,
                        self.t(&format!("kind.{}", t.kind)),
                        yuan(t.amount_fen),
                        self.row_status(t),
                        if t.training { " [T]" } else { "" }
                    ));
                }
                if !input.is_empty() {
                    b.push(format!("# {input}"));
                }
                ("menu.query", b, "hint.query")
            }
            Screen::Detail { stan } => {
                match self.state.find(*stan) {
                    Some(t) => {
                        b.push(format!(
                            "{} {}",
                            self.t(&format!("kind.{}", t.kind)),
                            self.row_status(t)
                        ));
                        b.push(self.tf("detail.voucher", &[format!("{:06}", t.stan)]));
                        b.push(self.tf("result.amount", &[yuan(t.amount_fen)]));
                        b.push(self.tf("detail.card", std::slice::from_ref(&t.masked_pan)));
                        if let Some(r) = &t.rrn {
                            b.push(self.tf("result.rrn", std::slice::from_ref(r)));
                        }
                        b.push(self.tf("detail.time", &[time_of(&t.at)]));
                        b.push(self.tf("detail.operator", std::slice::from_ref(&t.operator)));
                        if let Some(l) = t.linked_stan {
                            b.push(self.tf("detail.linked", &[format!("{l:06}")]));
                        }
                        if t.training {
                            b.push(self.t("status.training"));
                        }
                    }
                    None => b.push(self.t("print.unknown")),
                }
                ("title.detail", b, "hint.detail")
            }
            _ => ("title.menu", b, "hint.back"),
        }
    }

    fn body_records(&self) -> (&'static str, Vec<String>, &'static str) {
        let mut b: Vec<String> = Vec::new();
        match &self.screen {
            Screen::Print { input, error } => {
                match input {
                    Some(v) => {
                        b.push(self.t("print.voucher_prompt"));
                        b.push(format!("    {v}"));
                    }
                    None => {
                        b.push(format!("1 {}", self.t("print.last")));
                        b.push(format!("2 {}", self.t("print.any")));
                        b.push(format!("3 {}", self.t("print.settlement")));
                    }
                }
                push_error(&mut b, error);
                ("menu.print", b, "hint.enter")
            }
            Screen::Settle => {
                b.push(self.tf("settle.batch", &[format!("{:06}", self.state.batch)]));
                match self.state.totals() {
                    Ok(t) => {
                        b.push(self.tf(
                            "settle.debit",
                            &[t.debit_count.to_string(), yuan(t.debit_fen)],
                        ));
                        b.push(self.tf(
                            "settle.credit",
                            &[t.credit_count.to_string(), yuan(t.credit_fen)],
                        ));
                    }
                    Err(_) => b.push(self.t("settle.too_large")),
                }
                b.push(self.t("settle.training_note"));
                b.push(String::new());
                b.push(self.t("settle.confirm"));
                ("menu.settle", b, "hint.confirm")
            }
            Screen::Manage { notice } => {
                let admin = self.operator.as_deref() == Some("99");
                b.push(format!("1 {}", self.t("manage.passwd")));
                if !admin {
                    b.push(format!("2 {}", self.t("manage.cashier")));
                }
                let paper = if self.state.paper_out {
                    "manage.paper_load"
                } else {
                    "manage.paper_out"
                };
                b.push(format!("3 {}", self.t(paper)));
                if self.state.pending_reversal.is_some() {
                    b.push(format!("4 {}", self.t("manage.reversal")));
                }
                if admin {
                    b.push(format!("5 {}", self.t("manage.clear")));
                    b.push(format!("6 {}", self.t("manage.params_edit")));
                }
                b.push(self.tf(
                    "manage.params",
                    &[
                        self.state.params.void_grace_seconds.to_string(),
                        yuan(self.state.params.amount_max_fen),
                    ],
                ));
                if let Some(n) = notice {
                    b.push(format!("* {n}"));
                }
                ("menu.manage", b, "hint.back")
            }
            Screen::Lessons => {
                b.push(self.t("lessons.pick"));
                for (i, (key, _)) in crate::lesson::LESSONS.iter().enumerate() {
                    b.push(format!("{} {}", i + 1, self.t(key)));
                }
                ("title.lessons", b, "hint.back")
            }
            Screen::SignMenu => {
                b.push(format!("1 {}", self.t("sign.in")));
                b.push(format!("2 {}", self.t("sign.out")));
                let key = if self.signed_in {
                    "sign.state_in"
                } else {
                    "sign.state_out"
                };
                b.push(self.t(key));
                ("menu.signin", b, "hint.back")
            }
            _ => ("title.menu", b, "hint.back"),
        }
    }

    fn body_admin(&self) -> (&'static str, Vec<String>, &'static str) {
        let mut b: Vec<String> = Vec::new();
        match &self.screen {
            Screen::Passwd {
                fields,
                input,
                error,
            } => {
                let prompts = ["passwd.old", "passwd.new", "passwd.again"];
                b.push(self.t(prompts[fields.len().min(2)]));
                b.push(format!("    {}", masked(input.len())));
                push_error(&mut b, error);
                ("manage.passwd", b, "hint.enter")
            }
            Screen::AddCashier {
                fields,
                input,
                error,
            } => {
                let prompts = ["supervisor.prompt", "cashier.no", "cashier.pw"];
                b.push(self.t(prompts[fields.len().min(2)]));
                let shown = if fields.len() == 1 {
                    input.clone()
                } else {
                    masked(input.len())
                };
                b.push(format!("    {shown}"));
                push_error(&mut b, error);
                ("manage.cashier", b, "hint.enter")
            }
            Screen::Clear { pw, error } => {
                b.push(self.t("clear.prompt"));
                b.push(format!("    {}", masked(pw.len())));
                push_error(&mut b, error);
                ("manage.clear", b, "hint.enter")
            }
            Screen::Params {
                grace,
                input,
                error,
            } => {
                match grace {
                    None => {
                        b.push(self.tf(
                            "params.grace",
                            &[self.state.params.void_grace_seconds.to_string()],
                        ));
                        b.push(format!("    {input}"));
                    }
                    Some(_) => {
                        b.push(self.tf("params.limit", &[yuan(self.state.params.amount_max_fen)]));
                        b.push(format!("    {}", amount_of(input)));
                    }
                }
                push_error(&mut b, error);
                ("manage.params_edit", b, "hint.enter")
            }
            Screen::PreAuthMenu => {
                for (i, key) in [
                    "preauth.preauth",
                    "preauth.void",
                    "preauth.complete",
                    "preauth.complete_void",
                ]
                .iter()
                .enumerate()
                {
                    b.push(format!("{} {}", i + 1, self.t(key)));
                }
                ("menu.preauth", b, "hint.back")
            }
            Screen::AuthCode {
                draft,
                input,
                error,
            } => {
                b.push(self.t("auth.prompt"));
                b.push(format!("    {input}"));
                push_error(&mut b, error);
                (self.flow_title(draft), b, "hint.enter")
            }
            _ => ("title.menu", b, "hint.back"),
        }
    }

    fn original_lines(&self, d: &Draft, b: &mut Vec<String>) {
        if let Some(o) = &d.original {
            b.push(self.tf("detail.voucher", &[format!("{:06}", o.stan)]));
            b.push(self.tf("result.amount", &[yuan(o.amount_fen)]));
            b.push(self.tf("detail.card", std::slice::from_ref(&o.masked_pan)));
            b.push(self.tf("detail.time", &[time_of(&o.at)]));
            if let Some(r) = &o.rrn {
                b.push(self.tf("result.rrn", std::slice::from_ref(r)));
            }
        }
    }

    fn row_status(&self, t: &crate::state::LocalTxn) -> String {
        let key = if !t.approved() {
            "status.declined"
        } else if t.voided {
            "status.voided"
        } else if t.completed {
            "status.completed"
        } else if t.refunded_fen > 0 {
            "status.refunded"
        } else {
            "status.ok"
        };
        self.t(key)
    }
}

/// An error under the screen's input, marked `!`.
fn push_error(b: &mut Vec<String>, e: &Option<String>) {
    if let Some(e) = e {
        b.push(String::new());
        b.push(format!("! {e}"));
    }
}

fn time_of(at: &str) -> String {
    at.parse::<jiff::Timestamp>()
        .map(local_time)
        .unwrap_or_else(|_| at.to_owned())
}

/// Result headlines are catalog keys chosen in code; map them back to `'static` keys.
fn static_key(head: &str) -> &'static str {
    const HEADS: [&str; 8] = [
        "result.ok",
        "result.declined",
        "result.unknown",
        "result.not_sent",
        "result.signin_failed",
        "result.settled",
        "result.reversed",
        "result.reversing",
    ];
    HEADS
        .iter()
        .find(|h| **h == head)
        .copied()
        .unwrap_or("result.not_sent")
}
