//! Key handlers of the non-trading screens: query, detail, print, settlement, management
//! (password, cashiers, printer, reversal, clearing records) and sign-in/out.

use crate::flows::push;
use crate::machine::{App, Effect, Job, Key, Screen, login};

/// Shortest operator password accepted.
const PASSWORD_LEN_MIN: usize = 4;
/// Longest void grace window the administrator may set (seconds).
pub const VOID_GRACE_SECONDS_MAX: u32 = 120;

impl App {
    fn home(&mut self, notice: Option<String>) -> Vec<Effect> {
        if self.operator.as_deref() == Some("99") {
            self.screen = Screen::Manage { notice };
            Vec::new()
        } else {
            self.menu(notice)
        }
    }

    pub(crate) fn query_key(&mut self, k: Key, cursor: usize, mut input: String) -> Vec<Effect> {
        let rows: Vec<u32> = self.state.batch_rows().iter().map(|t| t.stan).collect();
        if push(&mut input, k, 6) {
            let want: u32 = input.parse().unwrap_or(0);
            let cursor = rows.iter().position(|s| *s == want).unwrap_or(cursor);
            self.screen = Screen::Query { cursor, input };
            return Vec::new();
        }
        let cursor = match k {
            Key::Up => cursor.saturating_sub(1),
            Key::Down => (cursor + 1).min(rows.len().saturating_sub(1)),
            Key::Cancel => return self.menu(None),
            Key::Enter => match rows.get(cursor) {
                Some(stan) => {
                    self.screen = Screen::Detail { stan: *stan };
                    return Vec::new();
                }
                None => return self.menu(None),
            },
            _ => cursor,
        };
        self.screen = Screen::Query {
            cursor,
            input: String::new(),
        };
        Vec::new()
    }

    pub(crate) fn detail_key(&mut self, k: Key, stan: u32) -> Vec<Effect> {
        match k {
            Key::Digit(8) => match self.state.find(stan).cloned() {
                Some(row) => {
                    let mut fx = self.print_row(&row, true);
                    let notice = self
                        .paper_message(&fx)
                        .or_else(|| Some(self.t("print.done")));
                    fx.extend(self.menu(notice));
                    fx
                }
                None => self.menu(None),
            },
            Key::Enter | Key::Cancel => {
                self.screen = Screen::Query {
                    cursor: 0,
                    input: String::new(),
                };
                Vec::new()
            }
            _ => {
                self.screen = Screen::Detail { stan };
                Vec::new()
            }
        }
    }

    pub(crate) fn print_key(
        &mut self,
        k: Key,
        input: Option<String>,
        error: Option<String>,
    ) -> Vec<Effect> {
        if let Some(mut v) = input {
            if push(&mut v, k, 6) {
                self.screen = Screen::Print {
                    input: Some(v),
                    error: None,
                };
                return Vec::new();
            }
            return match k {
                Key::Enter => {
                    let stan: u32 = v.parse().unwrap_or(0);
                    match self.state.find(stan).cloned() {
                        Some(row) => self.reprint(&row),
                        None => {
                            let e = self.t("print.unknown");
                            self.screen = Screen::Print {
                                input: Some(v),
                                error: Some(e),
                            };
                            Vec::new()
                        }
                    }
                }
                Key::Cancel => self.menu(None),
                _ => {
                    self.screen = Screen::Print {
                        input: Some(v),
                        error,
                    };
                    Vec::new()
                }
            };
        }
        match k {
            Key::Digit(1) => match self.state.journal.last().cloned() {
                Some(row) => self.reprint(&row),
                None => self.menu(Some(self.t("print.nothing"))),
            },
            Key::Digit(2) => {
                self.screen = Screen::Print {
                    input: Some(String::new()),
                    error: None,
                };
                Vec::new()
            }
            Key::Digit(3) => match self.state.last_settlement_slip.clone() {
                Some(text) => {
                    let text = format!("{}\n{text}", self.t("print.reprint_mark"));
                    let mut fx = self.print(crate::machine::Printout {
                        name: format!("{:06}-settlement-reprint", self.state.batch),
                        text,
                    });
                    let notice = self
                        .paper_message(&fx)
                        .or_else(|| Some(self.t("print.done")));
                    fx.extend(self.menu(notice));
                    fx
                }
                None => self.menu(Some(self.t("print.nothing"))),
            },
            Key::Cancel => self.menu(None),
            _ => {
                self.screen = Screen::Print { input: None, error };
                Vec::new()
            }
        }
    }

    fn reprint(&mut self, row: &crate::state::LocalTxn) -> Vec<Effect> {
        let mut fx = self.print_row(row, true);
        let notice = self
            .paper_message(&fx)
            .or_else(|| Some(self.t("print.done")));
        fx.extend(self.menu(notice));
        fx
    }

    pub(crate) fn settle_key(&mut self, k: Key) -> Vec<Effect> {
        match k {
            Key::Enter => {
                let op = self.operator.clone().unwrap_or_default();
                self.screen = Screen::Busy {
                    what: "busy.settle".into(),
                };
                vec![Effect::Send(Job::Settle(op))]
            }
            Key::Cancel => self.menu(None),
            _ => {
                self.screen = Screen::Settle;
                Vec::new()
            }
        }
    }

    pub(crate) fn manage_key(&mut self, k: Key, notice: Option<String>) -> Vec<Effect> {
        let admin = self.operator.as_deref() == Some("99");
        match k {
            Key::Digit(1) => {
                self.screen = Screen::Passwd {
                    fields: Vec::new(),
                    input: String::new(),
                    error: None,
                };
                Vec::new()
            }
            Key::Digit(2) if !admin => {
                self.screen = Screen::AddCashier {
                    fields: Vec::new(),
                    input: String::new(),
                    error: None,
                };
                Vec::new()
            }
            Key::Digit(3) => {
                self.state.paper_out = !self.state.paper_out;
                let key = if self.state.paper_out {
                    "printer.now_out"
                } else {
                    "printer.loaded"
                };
                self.screen = Screen::Manage {
                    notice: Some(self.t(key)),
                };
                vec![Effect::Save]
            }
            Key::Digit(4) if self.state.pending_reversal.is_some() => {
                self.screen = Screen::Busy {
                    what: "busy.reversal".into(),
                };
                vec![Effect::Send(Job::Reversal(true))]
            }
            Key::Digit(6) if admin => {
                self.screen = Screen::Params {
                    grace: None,
                    input: String::new(),
                    error: None,
                };
                Vec::new()
            }
            Key::Digit(5) if admin => {
                self.screen = Screen::Clear {
                    pw: String::new(),
                    error: None,
                };
                Vec::new()
            }
            Key::Cancel if admin => {
                self.operator = None;
                self.screen = login(None);
                Vec::new()
            }
            Key::Cancel => self.menu(None),
            _ => {
                self.screen = Screen::Manage { notice };
                Vec::new()
            }
        }
    }

    pub(crate) fn passwd_key(
        &mut self,
        k: Key,
        mut fields: Vec<String>,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        if push(&mut input, k, 12) {
            self.screen = Screen::Passwd {
                fields,
                input,
                error: None,
            };
            return Vec::new();
        }
        match k {
            Key::Cancel => self.home(None),
            Key::Enter => {
                fields.push(std::mem::take(&mut input));
                if fields.len() < 3 {
                    self.screen = Screen::Passwd {
                        fields,
                        input,
                        error: None,
                    };
                    return Vec::new();
                }
                let op = self.operator.clone().unwrap_or_default();
                let problem = if let Err(e) = self.check_password(&op, &fields[0]) {
                    Some(e)
                } else if fields[1].len() < PASSWORD_LEN_MIN || fields[1] == fields[0] {
                    Some(self.t("passwd.weak"))
                } else if fields[1] != fields[2] {
                    Some(self.t("passwd.mismatch"))
                } else {
                    None
                };
                if let Some(e) = problem {
                    self.screen = Screen::Passwd {
                        fields: Vec::new(),
                        input,
                        error: Some(e),
                    };
                    return vec![Effect::Save];
                }
                match self.state.set_password(&op, &fields[1]) {
                    Ok(()) => {
                        let mut fx = vec![Effect::Save];
                        fx.extend(self.home(Some(self.t("passwd.done"))));
                        fx
                    }
                    Err(e) => self.home(Some(e.to_string())),
                }
            }
            _ => {
                self.screen = Screen::Passwd {
                    fields,
                    input,
                    error,
                };
                Vec::new()
            }
        }
    }

    pub(crate) fn add_cashier_key(
        &mut self,
        k: Key,
        mut fields: Vec<String>,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        let max = if fields.len() == 1 { 2 } else { 12 };
        if push(&mut input, k, max) {
            self.screen = Screen::AddCashier {
                fields,
                input,
                error: None,
            };
            return Vec::new();
        }
        let again = |app: &mut App, fields, e: String| {
            app.screen = Screen::AddCashier {
                fields,
                input: String::new(),
                error: Some(e),
            };
            vec![Effect::Save]
        };
        match k {
            Key::Cancel => self.home(None),
            Key::Enter if fields.is_empty() => match self.check_password("00", &input) {
                Ok(()) => {
                    self.screen = Screen::AddCashier {
                        fields: vec![String::new()],
                        input: String::new(),
                        error: None,
                    };
                    vec![Effect::Save]
                }
                Err(e) => again(self, Vec::new(), e),
            },
            Key::Enter if fields.len() == 1 => {
                let n: u8 = input.parse().unwrap_or(0);
                if input.len() != 2 || !(1..=98).contains(&n) {
                    let e = self.t("cashier.bad_no");
                    return again(self, fields, e);
                }
                fields.push(input);
                self.screen = Screen::AddCashier {
                    fields,
                    input: String::new(),
                    error: None,
                };
                Vec::new()
            }
            Key::Enter => {
                if input.len() < PASSWORD_LEN_MIN {
                    let e = self.t("passwd.weak");
                    return again(self, fields, e);
                }
                let no = fields[1].clone();
                match self.state.set_password(&no, &input) {
                    Ok(()) => {
                        let mut fx = vec![Effect::Save];
                        fx.extend(self.home(Some(self.tf("cashier.added", &[no]))));
                        fx
                    }
                    Err(e) => self.home(Some(e.to_string())),
                }
            }
            _ => {
                self.screen = Screen::AddCashier {
                    fields,
                    input,
                    error,
                };
                Vec::new()
            }
        }
    }

    pub(crate) fn clear_key(
        &mut self,
        k: Key,
        mut pw: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        if push(&mut pw, k, 12) {
            self.screen = Screen::Clear { pw, error: None };
            return Vec::new();
        }
        match k {
            Key::Cancel => self.home(None),
            Key::Enter => match self.check_password("99", &pw) {
                Ok(()) => {
                    // Clears what settlement already closed; the open batch stays (its totals
                    // are the terminal's side of the next settlement) and so does a pending
                    // reversal (money may hang on it). The host keeps its own journal.
                    let batch = self.state.batch;
                    self.state.journal.retain(|t| t.batch == batch);
                    self.state.withdrawn_voids.clear();
                    self.state.last_settlement_slip = None;
                    let mut fx = vec![Effect::Save];
                    fx.extend(self.home(Some(self.t("clear.done"))));
                    fx
                }
                Err(e) => {
                    self.screen = Screen::Clear {
                        pw: String::new(),
                        error: Some(e),
                    };
                    vec![Effect::Save]
                }
            },
            _ => {
                self.screen = Screen::Clear { pw, error };
                Vec::new()
            }
        }
    }

    pub(crate) fn params_key(
        &mut self,
        k: Key,
        grace: Option<u32>,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Effect> {
        let max = if grace.is_none() { 3 } else { 12 };
        if push(&mut input, k, max) {
            self.screen = Screen::Params {
                grace,
                input,
                error: None,
            };
            return Vec::new();
        }
        let again = |app: &mut App, grace, e: String| {
            app.screen = Screen::Params {
                grace,
                input: String::new(),
                error: Some(e),
            };
            Vec::new()
        };
        match (k, grace) {
            (Key::Cancel, _) => self.home(None),
            (Key::Enter, None) => match input.parse::<u32>() {
                Ok(g) if g <= VOID_GRACE_SECONDS_MAX => {
                    self.screen = Screen::Params {
                        grace: Some(g),
                        input: String::new(),
                        error: None,
                    };
                    Vec::new()
                }
                _ => {
                    let e = self.tf("params.grace_range", &[VOID_GRACE_SECONDS_MAX.to_string()]);
                    again(self, None, e)
                }
            },
            (Key::Enter, Some(g)) => match input.parse::<i64>() {
                Ok(fen) if fen > 0 => {
                    self.state.params.void_grace_seconds = g;
                    self.state.params.amount_max_fen = fen;
                    let mut fx = vec![Effect::Save];
                    fx.extend(self.home(Some(self.t("params.saved"))));
                    fx
                }
                _ => {
                    let e = self.t("amount.zero");
                    again(self, Some(g), e)
                }
            },
            (_, grace) => {
                self.screen = Screen::Params {
                    grace,
                    input,
                    error,
                };
                Vec::new()
            }
        }
    }

    pub(crate) fn sign_menu_key(&mut self, k: Key) -> Vec<Effect> {
        match k {
            Key::Digit(1) => {
                let op = self.operator.clone().unwrap_or_default();
                self.screen = Screen::Busy {
                    what: "busy.signin".into(),
                };
                vec![Effect::Send(Job::SignIn(op))]
            }
            Key::Digit(2) => {
                self.screen = Screen::Busy {
                    what: "busy.signout".into(),
                };
                vec![Effect::Send(Job::SignOut)]
            }
            Key::Cancel => self.menu(None),
            _ => {
                self.screen = Screen::SignMenu;
                Vec::new()
            }
        }
    }
}
