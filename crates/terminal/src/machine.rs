//! The screens as a pure state machine: a key (or a host reply) in, the next screen and a
//! list of effects out. No IO, no clock of its own (the driver sets `now`, and the grace
//! countdown moves on [`Key::Tick`]), so every screen is unit-tested and script mode needs
//! no tty.

use crate::net::{NotSent, SettleResult, TxnRequest, TxnResult};
use crate::proto::{Card, Kind, Original};
use crate::state::{LocalTxn, TermState, verify_password};
use crate::text::{t, tf};
use jiff::Timestamp;
use suanpan_core::auth::LoginState;
use suanpan_core::{Amount, Lang, Policy, ResponseCode, TxnKind};

/// A key of the POS keypad (plus `Tick`, one second of the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// 0-9.
    Digit(u8),
    /// A letter (free-text reason only).
    Char(char),
    /// 确认.
    Enter,
    /// 取消.
    Cancel,
    /// 退格.
    Back,
    /// ↑.
    Up,
    /// ↓.
    Down,
    /// One second passed.
    Tick,
}

/// A demo card the cashier can "present".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardChoice {
    /// Full test PAN.
    pub pan: String,
    /// `YYMM`.
    pub expiry: String,
    /// What it does (shown next to it).
    pub note: String,
    /// Field 22 digits 1-2 it is read with.
    pub entry: &'static str,
}

/// Work for the driver.
#[derive(Debug, Clone)]
pub enum Job {
    /// 0800 for this operator.
    SignIn(String),
    /// 0820.
    SignOut,
    /// A financial request.
    Txn(TxnRequest),
    /// 0500 (+ 0320, 0820).
    Settle(String),
    /// Send the pending reversal: now (`true`), or only if its back-off has run out.
    Reversal(bool),
}

/// A slip to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printout {
    /// File stem, e.g. `000003-sale`.
    pub name: String,
    /// The text.
    pub text: String,
}

/// What the driver must do.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Talk to the host, then feed the [`Reply`] back.
    Send(Job),
    /// Print (write the receipt file).
    Print(Printout),
    /// Save the state file.
    Save,
    /// Leave the program.
    Quit,
}

/// The driver's answer to a [`Job`].
#[derive(Debug, Clone)]
pub enum Reply {
    /// Sign-in.
    SignIn(Result<(), NotSent>),
    /// Sign-out (sent or not).
    SignOut(bool),
    /// A financial request: the STAN and how it ended.
    Txn(u32, TxnResult),
    /// Settlement.
    Settle(Result<SettleResult, NotSent>),
    /// Reversal: `Ok(true)` nothing pending any more.
    Reversal(Result<bool, NotSent>),
}

/// The flows that collect a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// 消费.
    Sale,
    /// 撤销.
    Void,
    /// 退货.
    Refund,
    /// 余额查询.
    Balance,
    /// 重新收款 after a mistaken void.
    Recharge,
    /// 预授权.
    PreAuth,
    /// 预授权撤销 (by authorization code).
    PreAuthVoid,
    /// 预授权完成 (by authorization code).
    Completion,
    /// 预授权完成撤销 (by voucher no., like a void).
    CompletionVoid,
}

impl Flow {
    /// The request the flow sends.
    pub fn kind(self) -> Kind {
        match self {
            Flow::Sale | Flow::Recharge => Kind::Sale,
            Flow::Void => Kind::Void,
            Flow::Refund => Kind::Refund,
            Flow::Balance => Kind::Balance,
            Flow::PreAuth => Kind::PreAuth,
            Flow::PreAuthVoid => Kind::PreAuthVoid,
            Flow::Completion => Kind::Completion,
            Flow::CompletionVoid => Kind::CompletionVoid,
        }
    }

    /// The journal kind of what it books.
    pub fn txn_kind(self) -> TxnKind {
        match self {
            Flow::Sale | Flow::Recharge => TxnKind::Sale,
            Flow::Void => TxnKind::Void,
            Flow::Refund => TxnKind::Refund,
            Flow::Balance => TxnKind::BalanceInquiry,
            Flow::PreAuth => TxnKind::PreAuth,
            Flow::PreAuthVoid => TxnKind::PreAuthVoid,
            Flow::Completion => TxnKind::Completion,
            Flow::CompletionVoid => TxnKind::CompletionVoid,
        }
    }

    /// For the flows that void by voucher no.: the kind of the original.
    pub fn voids(self) -> Option<TxnKind> {
        match self {
            Flow::Void => Some(TxnKind::Sale),
            Flow::CompletionVoid => Some(TxnKind::Completion),
            _ => None,
        }
    }

    /// The flows the supervisor (00) authorizes.
    pub fn supervised(self) -> bool {
        matches!(
            self,
            Flow::Void | Flow::Refund | Flow::PreAuthVoid | Flow::CompletionVoid
        )
    }
}

/// The original a void or refund acts on, as shown to the cashier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalView {
    /// 凭证号.
    pub stan: u32,
    /// 批次号.
    pub batch: u32,
    /// Fen.
    pub amount_fen: i64,
    /// Masked PAN.
    pub masked_pan: String,
    /// When.
    pub at: String,
    /// 参考号.
    pub rrn: Option<String>,
    /// 授权码.
    pub auth_code: Option<String>,
}

impl OriginalView {
    pub(crate) fn of(t: &LocalTxn) -> OriginalView {
        OriginalView {
            stan: t.stan,
            batch: t.batch,
            amount_fen: t.amount_fen,
            masked_pan: t.masked_pan.clone(),
            at: t.at.clone(),
            rrn: t.rrn.clone(),
            auth_code: t.auth_code.clone(),
        }
    }
    fn wire(&self) -> Original {
        Original {
            rrn: self.rrn.clone(),
            auth_code: self.auth_code.clone(),
            batch: self.batch,
            stan: self.stan,
        }
    }
}

/// A transaction being assembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Which flow.
    pub flow: Flow,
    /// Fen.
    pub amount: Option<i64>,
    /// Void/refund original, or the voided sale of a re-charge.
    pub original: Option<OriginalView>,
    /// Refund: the original's RRN as typed.
    pub rrn: Option<String>,
    /// The card.
    pub card: Option<CardChoice>,
    /// PIN step done (`Some("")`: no PIN).
    pub pin: Option<String>,
    /// Void: 客户已同意.
    pub consent: bool,
    /// Void reason.
    pub reason: Option<String>,
    /// The supervisor authorized.
    pub supervisor_ok: bool,
    /// The grace window ran out (or is off).
    pub grace_done: bool,
    /// Pre-auth void and completion: the pre-authorization's 授权码.
    pub auth_code: Option<String>,
    /// A sale the cashier confirmed after the possible-duplicate refusal (sent with 63 `DUP`).
    pub confirm_duplicate: bool,
}

impl Draft {
    pub(crate) fn new(flow: Flow) -> Draft {
        Draft {
            flow,
            amount: None,
            original: None,
            rrn: None,
            card: None,
            pin: None,
            consent: false,
            reason: None,
            supervisor_ok: false,
            grace_done: false,
            auth_code: None,
            confirm_duplicate: false,
        }
    }
}

/// Main menu entries, in order (keys 1-9, 0, then ↑/↓).
pub const MENU: [&str; 11] = [
    "menu.sale",
    "menu.void",
    "menu.refund",
    "menu.preauth",
    "menu.balance",
    "menu.query",
    "menu.settle",
    "menu.print",
    "menu.manage",
    "menu.signin",
    "menu.training",
];

/// Void reasons offered (then 其他 with free text).
pub const VOID_REASONS: [&str; 3] = ["reason.customer", "reason.amount", "reason.duplicate"];

/// The result screen's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Headline key (`result.ok`, `result.declined`, `result.unknown`, `result.not_sent`).
    pub head: String,
    /// Lines under it (already translated).
    pub lines: Vec<String>,
}

/// One screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// Operator no. then password.
    Login {
        /// Operator no. typed.
        op: String,
        /// Password typed (shown masked).
        pw: String,
        /// Typing the password.
        pw_stage: bool,
        /// Message.
        error: Option<String>,
    },
    /// 主菜单.
    Menu {
        /// Highlighted entry.
        cursor: usize,
        /// A one-line notice.
        notice: Option<String>,
    },
    /// Amount entry (digits accumulate as on a POS: 1 → 0.01).
    Amount {
        /// The draft.
        draft: Draft,
        /// Digits typed.
        digits: String,
        /// Message.
        error: Option<String>,
    },
    /// Card: pick a demo card or type a PAN.
    Card {
        /// The draft.
        draft: Draft,
        /// Manual entry digits, when typing a PAN.
        manual: Option<String>,
        /// Message.
        error: Option<String>,
    },
    /// PIN (masked).
    Pin {
        /// The draft.
        draft: Draft,
        /// Digits.
        pin: String,
    },
    /// 凭证号 of the sale to void (pre-filled with the last sale; ↑/↓ through the batch).
    Voucher {
        /// The draft.
        draft: Draft,
        /// Digits.
        input: String,
        /// Message.
        error: Option<String>,
    },
    /// The original shown, 客户已同意?
    Original {
        /// The draft.
        draft: Draft,
    },
    /// Void reason.
    Reason {
        /// The draft.
        draft: Draft,
        /// Highlighted reason (last = other).
        cursor: usize,
        /// Free text, when typing "other".
        other: Option<String>,
    },
    /// Supervisor (00) password.
    Supervisor {
        /// The draft.
        draft: Draft,
        /// Digits.
        pw: String,
        /// Message.
        error: Option<String>,
    },
    /// Refund: original RRN.
    Rrn {
        /// The draft.
        draft: Draft,
        /// Digits.
        input: String,
        /// Message.
        error: Option<String>,
    },
    /// Void grace countdown.
    Grace {
        /// The draft.
        draft: Draft,
        /// Seconds left.
        left: u32,
    },
    /// Waiting for the host.
    Busy {
        /// Catalog key of what is going on.
        what: String,
    },
    /// A result.
    Result {
        /// What to show.
        outcome: Outcome,
        /// After a committed void: the re-charge it offers.
        recharge: Option<Draft>,
    },
    /// Paper-strip preview of the last printout.
    Receipt {
        /// Text.
        text: String,
        /// First line shown.
        scroll: usize,
    },
    /// Current batch list.
    Query {
        /// Highlighted row.
        cursor: usize,
        /// Voucher digits typed.
        input: String,
    },
    /// One row in detail.
    Detail {
        /// Its STAN.
        stan: u32,
    },
    /// 打印: 1 last, 2 by voucher, 3 last settlement slip.
    Print {
        /// Voucher digits when reprinting by voucher.
        input: Option<String>,
        /// Message.
        error: Option<String>,
    },
    /// 结算: totals and confirmation.
    Settle,
    /// 管理.
    Manage {
        /// Message.
        notice: Option<String>,
    },
    /// Change own password: old, new, new again.
    Passwd {
        /// Fields typed so far.
        fields: Vec<String>,
        /// The field being typed.
        input: String,
        /// Message.
        error: Option<String>,
    },
    /// Add a cashier (supervisor password, cashier no., password).
    AddCashier {
        /// Fields typed so far.
        fields: Vec<String>,
        /// The field being typed.
        input: String,
        /// Message.
        error: Option<String>,
    },
    /// Clear the terminal's records (99's password).
    Clear {
        /// Digits.
        pw: String,
        /// Message.
        error: Option<String>,
    },
    /// 签到签退.
    SignMenu,
    /// Training: pick a guided lesson, or practise freely.
    Lessons,
    /// 预授权类: 1 预授权, 2 预授权撤销, 3 预授权完成, 4 预授权完成撤销.
    PreAuthMenu,
    /// The system administrator's parameters: void grace seconds, then the amount limit.
    Params {
        /// Grace seconds once typed.
        grace: Option<u32>,
        /// Digits being typed.
        input: String,
        /// Message.
        error: Option<String>,
    },
    /// The pre-authorization's 授权码 (pre-auth void, completion).
    AuthCode {
        /// The draft.
        draft: Draft,
        /// Digits.
        input: String,
        /// Message.
        error: Option<String>,
    },
}

/// The terminal application: state file, session and the current screen.
pub struct App {
    /// The persisted state.
    pub state: TermState,
    /// Screen language.
    pub lang: Lang,
    /// The current screen.
    pub screen: Screen,
    /// Who is logged in.
    pub operator: Option<String>,
    /// Signed in to the host (keys held).
    pub signed_in: bool,
    /// 培训模式.
    pub training: bool,
    /// Now, set by the driver before each key.
    pub now: Timestamp,
    /// Demo cards to choose from.
    pub cards: Vec<CardChoice>,
    /// The last printout (for the preview).
    pub last_print: Option<Printout>,
    pub(crate) policy: Policy,
    /// The draft in flight while the host is asked.
    pub(crate) pending: Option<Draft>,
    /// The training walkthrough under way.
    pub lesson: Option<crate::lesson::Lesson>,
    /// How demo cards are read (index into `flows::READ_MODES`), switched with ↑/↓.
    pub read_mode: usize,
}

/// Digits of an amount entry, at most n12.
pub(crate) const AMOUNT_DIGITS_MAX: usize = 12;
/// Longest password typed.
const PASSWORD_DIGITS_MAX: usize = 12;
/// Longest free-text reason.
pub(crate) const REASON_CHARS_MAX: usize = 30;

fn push_digit(s: &mut String, d: u8, max: usize) {
    if s.len() < max && d < 10 {
        s.push(char::from(b'0' + d));
    }
}

/// A yuan display of fen: `¥88.00`.
pub fn yuan(fen: i64) -> String {
    Amount::from_fen(fen).display()
}

impl App {
    /// A terminal showing the login screen.
    pub fn new(state: TermState, lang: Lang, cards: Vec<CardChoice>, now: Timestamp) -> App {
        App {
            state,
            lang,
            screen: login(None),
            operator: None,
            signed_in: false,
            training: false,
            now,
            cards,
            last_print: None,
            policy: Policy::default(),
            pending: None,
            lesson: None,
            read_mode: 0,
        }
    }

    pub(crate) fn t(&self, key: &str) -> String {
        t(self.lang, key)
    }

    pub(crate) fn tf(&self, key: &str, args: &[String]) -> String {
        tf(self.lang, key, args)
    }

    pub(crate) fn menu(&mut self, notice: Option<String>) -> Vec<Effect> {
        self.screen = Screen::Menu { cursor: 0, notice };
        Vec::new()
    }

    /// One key (checked by the walkthrough first while a lesson runs).
    pub fn key(&mut self, k: Key) -> Vec<Effect> {
        match self.lesson.clone() {
            Some(l) => self.lesson_key(l, k),
            None => self.key_unguided(k),
        }
    }

    pub(crate) fn key_unguided(&mut self, k: Key) -> Vec<Effect> {
        let screen = std::mem::replace(
            &mut self.screen,
            Screen::Busy {
                what: "busy.wait".into(),
            },
        );
        match screen {
            Screen::Login {
                op,
                pw,
                pw_stage,
                error,
            } => self.login_key(k, op, pw, pw_stage, error),
            Screen::Menu { cursor, notice } => self.menu_key(k, cursor, notice),
            Screen::Amount {
                draft,
                digits,
                error,
            } => self.amount_key(k, draft, digits, error),
            Screen::Card {
                draft,
                manual,
                error,
            } => self.card_key(k, draft, manual, error),
            Screen::Pin { draft, pin } => self.pin_key(k, draft, pin),
            Screen::Voucher {
                draft,
                input,
                error,
            } => self.voucher_key(k, draft, input, error),
            Screen::Original { draft } => self.original_key(k, draft),
            Screen::Reason {
                draft,
                cursor,
                other,
            } => self.reason_key(k, draft, cursor, other),
            Screen::Supervisor { draft, pw, error } => self.supervisor_key(k, draft, pw, error),
            Screen::Rrn {
                draft,
                input,
                error,
            } => self.rrn_key(k, draft, input, error),
            Screen::Grace { draft, left } => self.grace_key(k, draft, left),
            s @ Screen::Busy { .. } => {
                self.screen = s;
                Vec::new()
            }
            Screen::Result { outcome, recharge } => self.result_key(k, outcome, recharge),
            Screen::Receipt { text, scroll } => self.receipt_key(k, text, scroll),
            Screen::Query { cursor, input } => self.query_key(k, cursor, input),
            Screen::Detail { stan } => self.detail_key(k, stan),
            Screen::Print { input, error } => self.print_key(k, input, error),
            Screen::Settle => self.settle_key(k),
            Screen::Manage { notice } => self.manage_key(k, notice),
            Screen::Passwd {
                fields,
                input,
                error,
            } => self.passwd_key(k, fields, input, error),
            Screen::AddCashier {
                fields,
                input,
                error,
            } => self.add_cashier_key(k, fields, input, error),
            Screen::Clear { pw, error } => self.clear_key(k, pw, error),
            Screen::SignMenu => self.sign_menu_key(k),
            Screen::Lessons => self.lessons_key(k),
            Screen::PreAuthMenu => self.preauth_menu_key(k),
            Screen::Params {
                grace,
                input,
                error,
            } => self.params_key(k, grace, input, error),
            Screen::AuthCode {
                draft,
                input,
                error,
            } => self.auth_code_key(k, draft, input, error),
        }
    }

    // ----- login ------------------------------------------------------------------------

    fn login_key(
        &mut self,
        k: Key,
        mut op: String,
        mut pw: String,
        pw_stage: bool,
        error: Option<String>,
    ) -> Vec<Effect> {
        match (k, pw_stage) {
            (Key::Digit(d), false) => push_digit(&mut op, d, 2),
            (Key::Digit(d), true) => push_digit(&mut pw, d, PASSWORD_DIGITS_MAX),
            (Key::Back, false) => {
                op.pop();
            }
            (Key::Back, true) => {
                pw.pop();
            }
            (Key::Cancel, _) => {
                self.screen = login(None);
                return Vec::new();
            }
            (Key::Enter, false) => {
                if self.state.operator(&op).is_none() {
                    self.screen = login(Some(self.t("login.unknown")));
                    return Vec::new();
                }
                self.screen = Screen::Login {
                    op,
                    pw,
                    pw_stage: true,
                    error: None,
                };
                return Vec::new();
            }
            (Key::Enter, true) => return self.try_login(op, pw),
            _ => {}
        }
        self.screen = Screen::Login {
            op,
            pw,
            pw_stage,
            error,
        };
        Vec::new()
    }

    /// Checks a password with the core's lockout rule; `Err(message)` when refused.
    pub(crate) fn check_password(&mut self, no: &str, pw: &str) -> Result<(), String> {
        let now = self.now;
        let policy = self.policy.clone();
        let lang = self.lang;
        let Some(o) = self.state.operators.iter_mut().find(|o| o.no == no) else {
            return Err(t(lang, "login.unknown"));
        };
        let standing = o.login_state();
        if let Some(until) = standing.locked(now) {
            return Err(tf(lang, "login.locked", &[local_time(until)]));
        }
        if verify_password(&o.hash, pw) {
            o.set_login_state(LoginState::default());
            return Ok(());
        }
        let after = standing.after_failure(&policy, now);
        o.set_login_state(after);
        match after.locked(now) {
            Some(until) => Err(tf(lang, "login.locked", &[local_time(until)])),
            None => Err(tf(
                lang,
                "login.wrong",
                &[after.remaining(&policy).to_string()],
            )),
        }
    }

    fn try_login(&mut self, op: String, pw: String) -> Vec<Effect> {
        match self.check_password(&op, &pw) {
            Err(msg) => {
                self.screen = Screen::Login {
                    op,
                    pw: String::new(),
                    pw_stage: true,
                    error: Some(msg),
                };
                vec![Effect::Save]
            }
            Ok(()) if op == "99" => {
                // The system administrator sets parameters and clears records; no trading.
                self.operator = Some(op);
                self.screen = Screen::Manage { notice: None };
                vec![Effect::Save]
            }
            Ok(()) => {
                self.operator = Some(op.clone());
                self.screen = Screen::Busy {
                    what: "busy.signin".into(),
                };
                vec![Effect::Save, Effect::Send(Job::SignIn(op))]
            }
        }
    }

    // ----- menu -------------------------------------------------------------------------

    fn menu_key(&mut self, k: Key, cursor: usize, notice: Option<String>) -> Vec<Effect> {
        let pick = match k {
            Key::Digit(0) => Some(9),
            Key::Digit(d) => Some(usize::from(d) - 1),
            Key::Enter => Some(cursor),
            Key::Up => {
                self.screen = Screen::Menu {
                    cursor: (cursor + MENU.len() - 1) % MENU.len(),
                    notice,
                };
                return Vec::new();
            }
            Key::Down => {
                self.screen = Screen::Menu {
                    cursor: (cursor + 1) % MENU.len(),
                    notice,
                };
                return Vec::new();
            }
            Key::Tick if self.state.pending_reversal.is_some() && self.signed_in => {
                // Store-and-forward: an idle terminal retries its reversal when due.
                self.screen = Screen::Menu { cursor, notice };
                return vec![Effect::Send(Job::Reversal(false))];
            }
            Key::Cancel => {
                // Logging out of the counter; the host session stays until sign-out.
                self.operator = None;
                self.screen = login(None);
                return Vec::new();
            }
            _ => None,
        };
        let Some(i) = pick else {
            self.screen = Screen::Menu { cursor, notice };
            return Vec::new();
        };
        self.open(i)
    }

    fn open(&mut self, i: usize) -> Vec<Effect> {
        if matches!(i, 0..=4) && self.state.pending_reversal.is_some() {
            // Spec: no financial request while a reversal is pending; try it now.
            self.screen = Screen::Busy {
                what: "busy.reversal".into(),
            };
            return vec![Effect::Send(Job::Reversal(true))];
        }
        match i {
            0 => self.advance(Draft::new(Flow::Sale)),
            1 => self.advance(Draft::new(Flow::Void)),
            2 => self.advance(Draft::new(Flow::Refund)),
            3 => {
                self.screen = Screen::PreAuthMenu;
                Vec::new()
            }
            4 => self.advance(Draft::new(Flow::Balance)),
            5 => {
                self.screen = Screen::Query {
                    cursor: 0,
                    input: String::new(),
                };
                Vec::new()
            }
            6 => {
                self.screen = Screen::Settle;
                Vec::new()
            }
            7 => {
                self.screen = Screen::Print {
                    input: None,
                    error: None,
                };
                Vec::new()
            }
            8 => {
                self.screen = Screen::Manage { notice: None };
                Vec::new()
            }
            9 => {
                self.screen = Screen::SignMenu;
                Vec::new()
            }
            _ if !self.training => {
                self.training = true;
                self.screen = Screen::Lessons;
                Vec::new()
            }
            _ => {
                self.training = false;
                self.lesson = None;
                self.menu(Some(self.t("training.off")))
            }
        }
    }

    fn lessons_key(&mut self, k: Key) -> Vec<Effect> {
        match k {
            Key::Digit(d) if (1..=crate::lesson::LESSONS.len()).contains(&usize::from(d)) => {
                self.start_lesson(usize::from(d) - 1)
            }
            Key::Cancel | Key::Enter => self.menu(Some(self.t("training.on"))),
            _ => {
                self.screen = Screen::Lessons;
                Vec::new()
            }
        }
    }

    // ----- the draft's next step ----------------------------------------------------------

    /// Shows the next missing piece of the draft, or sends it.
    pub(crate) fn advance(&mut self, d: Draft) -> Vec<Effect> {
        let by_voucher = d.flow.voids().is_some();
        let by_auth = matches!(d.flow, Flow::PreAuthVoid | Flow::Completion);
        self.screen = match d.flow {
            Flow::Refund | Flow::PreAuthVoid if !d.supervisor_ok => supervisor(d),
            Flow::Refund if d.rrn.is_none() => self.rrn_screen(d),
            _ if by_auth && d.auth_code.is_none() => self.auth_code_screen(d),
            _ if by_voucher && d.original.is_none() => self.voucher_screen(d),
            _ if by_voucher && !d.consent => Screen::Original { draft: d },
            Flow::Void if d.reason.is_none() => Screen::Reason {
                draft: d,
                cursor: 0,
                other: None,
            },
            _ if by_voucher && !d.supervisor_ok => supervisor(d),
            Flow::Void if !d.grace_done => {
                let left = self.state.params.void_grace_seconds;
                if left == 0 {
                    let mut d = d;
                    d.grace_done = true;
                    return self.advance(d);
                }
                Screen::Grace { draft: d, left }
            }
            _ if by_voucher => return self.send(d),
            Flow::Balance | Flow::Recharge => return self.card_then_pin(d),
            _ if d.amount.is_none() => Screen::Amount {
                draft: d,
                digits: String::new(),
                error: None,
            },
            _ => return self.card_then_pin(d),
        };
        Vec::new()
    }

    /// Card, then PIN (not for refunds and pre-auth voids), then send.
    fn card_then_pin(&mut self, d: Draft) -> Vec<Effect> {
        let wants_pin = !matches!(d.flow, Flow::Refund | Flow::PreAuthVoid);
        self.screen = if d.card.is_none() {
            Screen::Card {
                draft: d,
                manual: None,
                error: None,
            }
        } else if wants_pin && d.pin.is_none() {
            Screen::Pin {
                draft: d,
                pin: String::new(),
            }
        } else {
            return self.send(d);
        };
        Vec::new()
    }

    fn rrn_screen(&self, d: Draft) -> Screen {
        let input = self
            .state
            .last_refundable(self.training)
            .and_then(|t| t.rrn.clone())
            .unwrap_or_default();
        Screen::Rrn {
            draft: d,
            input,
            error: None,
        }
    }

    fn voucher_screen(&self, d: Draft) -> Screen {
        let input = d
            .flow
            .voids()
            .and_then(|k| self.state.last_voidable(k, self.training))
            .map(|t| format!("{:06}", t.stan))
            .unwrap_or_default();
        Screen::Voucher {
            draft: d,
            input,
            error: None,
        }
    }

    fn auth_code_screen(&self, d: Draft) -> Screen {
        let input = self
            .state
            .last_voidable(TxnKind::PreAuth, self.training)
            .and_then(|t| t.auth_code.clone())
            .unwrap_or_default();
        Screen::AuthCode {
            draft: d,
            input,
            error: None,
        }
    }

    fn preauth_menu_key(&mut self, k: Key) -> Vec<Effect> {
        let flow = match k {
            Key::Digit(1) => Flow::PreAuth,
            Key::Digit(2) => Flow::PreAuthVoid,
            Key::Digit(3) => Flow::Completion,
            Key::Digit(4) => Flow::CompletionVoid,
            Key::Cancel => return self.menu(None),
            _ => {
                self.screen = Screen::PreAuthMenu;
                return Vec::new();
            }
        };
        self.advance(Draft::new(flow))
    }

    fn send(&mut self, d: Draft) -> Vec<Effect> {
        let kind = d.flow.kind();
        let card = match (&d.card, &d.original) {
            (Some(c), _) => {
                let mut card = Card::new(&c.pan, &c.expiry).read_as(c.entry);
                if c.expiry.is_empty() {
                    // Typed without expiry: none is presented (field 14 absent).
                    card.expiry = None;
                }
                if let Some(pin) = d.pin.as_deref().filter(|p| !p.is_empty()) {
                    card = card.with_pin(pin);
                }
                card
            }
            // A void is sent without the card (void_requires_card is off by default); the
            // request carries the original's masked-free references only.
            (None, _) => Card {
                pan: String::new(),
                expiry: None,
                pin: None,
                entry: "05",
            },
        };
        let original = match d.flow {
            Flow::Refund => Some(Original {
                rrn: d.rrn.clone(),
                auth_code: None,
                batch: d.original.as_ref().map_or(0, |o| o.batch),
                stan: d.original.as_ref().map_or(0, |o| o.stan),
            }),
            Flow::PreAuthVoid | Flow::Completion => Some(Original {
                rrn: None,
                auth_code: d.auth_code.clone(),
                batch: d.original.as_ref().map_or(0, |o| o.batch),
                stan: d.original.as_ref().map_or(0, |o| o.stan),
            }),
            _ => d.original.as_ref().map(OriginalView::wire),
        };
        let amount = match d.flow.voids() {
            Some(_) => d.original.as_ref().map_or(0, |o| o.amount_fen),
            None => d.amount.unwrap_or(0),
        };
        let req = TxnRequest {
            kind,
            card,
            amount: u64::try_from(amount).unwrap_or(0),
            original,
            training: self.training,
            confirm_duplicate: d.confirm_duplicate,
        };
        self.screen = Screen::Busy {
            what: "busy.send".into(),
        };
        // The result's preview shows this transaction's slip or none, never an older one.
        self.last_print = None;
        self.pending = Some(d);
        vec![Effect::Send(Job::Txn(req))]
    }
}

pub(crate) fn supervisor(d: Draft) -> Screen {
    Screen::Supervisor {
        draft: d,
        pw: String::new(),
        error: None,
    }
}

pub(crate) fn login(error: Option<String>) -> Screen {
    Screen::Login {
        op: String::new(),
        pw: String::new(),
        pw_stage: false,
        error,
    }
}

/// `HH:MM` in the merchant's zone (Asia/Shanghai).
pub fn local_time(t: Timestamp) -> String {
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC);
    t.to_zoned(zone).strftime("%H:%M").to_string()
}

/// The response code's meaning in the screen's language.
pub fn code_text(lang: Lang, code: &str) -> String {
    ResponseCode::parse(code)
        .map(|c| c.text(lang))
        .unwrap_or_else(|| code.to_owned())
}
