//! Runs the machine's effects: jobs go to the host through [`Net`], printouts to the
//! receipts directory, saves to the state file. Also script mode: key presses from a file
//! or stdin, the screen printed after each line, so flows run in tests without a tty.

use crate::link::Link;
use crate::machine::{App, Effect, Job, Key, Printout, Reply};
use crate::net::Net;
use anyhow::{Context, bail};
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;

/// Longest script accepted (lines); a runaway file is refused, not run.
pub const SCRIPT_LINES_MAX: usize = 10_000;
/// Most ticks one `TICK*N` token may ask for.
pub const TICKS_PER_TOKEN_MAX: u32 = 3_600;
/// Longest `WAIT:ms` of a script.
pub const WAIT_MS_MAX: u64 = 60_000;

/// One step of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A key press.
    Key(Key),
    /// Real time passing (lets a test restart the host meanwhile).
    Wait(std::time::Duration),
}

/// The application with its effects wired to the world.
pub struct Driver<L: Link> {
    /// The screens.
    pub app: App,
    /// The host.
    pub net: Net<L>,
    /// The state file (`None`: nothing saved, tests).
    pub state_path: Option<PathBuf>,
    /// Where receipts are written (`None`: preview only).
    pub receipts: Option<PathBuf>,
    /// Every printout of this run, in order.
    pub printed: Vec<Printout>,
}

impl<L: Link> Driver<L> {
    /// Wires an app to a link.
    pub fn new(
        app: App,
        net: Net<L>,
        state_path: Option<PathBuf>,
        receipts: Option<PathBuf>,
    ) -> Self {
        Driver {
            app,
            net,
            state_path,
            receipts,
            printed: Vec::new(),
        }
    }

    /// One key; `busy` is called with the app before each host exchange (to draw it).
    /// Returns `false` once the app asked to quit.
    ///
    /// # Errors
    /// When the state file or a receipt cannot be written.
    pub fn press(&mut self, k: Key, busy: &mut dyn FnMut(&App)) -> anyhow::Result<bool> {
        self.app.now = self.net.now();
        let fx = self.app.key(k);
        self.run(fx, busy)
    }

    fn run(&mut self, fx: Vec<Effect>, busy: &mut dyn FnMut(&App)) -> anyhow::Result<bool> {
        let mut queue: VecDeque<Effect> = fx.into();
        while let Some(e) = queue.pop_front() {
            match e {
                Effect::Save => self.save()?,
                Effect::Print(p) => self.print(p)?,
                Effect::Quit => return Ok(false),
                Effect::Send(job) => {
                    busy(&self.app);
                    let reply = self.perform(job);
                    self.app.now = self.net.now();
                    queue.extend(self.app.reply(reply));
                }
            }
        }
        Ok(true)
    }

    fn perform(&mut self, job: Job) -> Reply {
        let state = &mut self.app.state;
        match job {
            Job::SignIn(op) => {
                let r = self.net.sign_in(state, &op);
                if r.is_ok() && state.pending_reversal.is_some() {
                    // A reversal left from before (a lost response, a crash) goes first.
                    let _ = self.net.flush_reversal(state, true);
                }
                Reply::SignIn(r)
            }
            Job::SignOut => Reply::SignOut(self.net.sign_out(state)),
            Job::Txn(req) => {
                let (stan, r) = self.net.financial(state, &req);
                Reply::Txn(stan, r)
            }
            Job::Settle(op) => Reply::Settle(self.net.settle(state, &op)),
            Job::Reversal(force) => Reply::Reversal(self.net.flush_reversal(state, force)),
        }
    }

    fn save(&self) -> anyhow::Result<()> {
        match &self.state_path {
            Some(p) => self.app.state.save(p),
            None => Ok(()),
        }
    }

    fn print(&mut self, p: Printout) -> anyhow::Result<()> {
        if p.name.is_empty() {
            // The printer is out of paper: nothing comes out.
            return Ok(());
        }
        if let Some(dir) = &self.receipts {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(format!("{}.txt", p.name));
            std::fs::write(&path, &p.text)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        self.printed.push(p);
        Ok(())
    }

    /// Runs a script, writing the screen after each line to `out`.
    ///
    /// # Errors
    /// On a bad token (with its line number; nothing after it runs) or an IO error.
    pub fn run_script(&mut self, script: &str, out: &mut dyn Write) -> anyhow::Result<()> {
        let steps = parse_script(script)?;
        writeln!(out, "== start\n{}", self.app.view().to_text())?;
        for (line_no, line, keys) in steps {
            let mut printed_before = self.printed.len();
            for action in keys {
                let k = match action {
                    Action::Key(k) => k,
                    Action::Wait(d) => {
                        std::thread::sleep(d);
                        continue;
                    }
                };
                if !self.press(k, &mut |_| {})? {
                    return Ok(());
                }
                for p in &self.printed[printed_before..] {
                    writeln!(out, "[printed {}]", p.name)?;
                }
                printed_before = self.printed.len();
            }
            writeln!(out, "== {line_no}: {line}\n{}", self.app.view().to_text())?;
        }
        Ok(())
    }
}

/// Parses a script: per line, whitespace-separated tokens — digits (`1234`, one key each),
/// `ENTER`/`OK`, `CANCEL`/`ESC`, `BACK`/`BS`, `UP`, `DOWN`, `TICK` or `TICK*N`, and
/// `TEXT:words_with_underscores` (letters, `_` = space), `WAIT:ms`. `#` starts a comment.
///
/// # Errors
/// An unknown token, with its line number.
pub fn parse_script(script: &str) -> anyhow::Result<Vec<(usize, String, Vec<Action>)>> {
    let mut steps = Vec::new();
    for (i, raw) in script.lines().enumerate() {
        if i >= SCRIPT_LINES_MAX {
            bail!("script longer than {SCRIPT_LINES_MAX} lines");
        }
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut keys = Vec::new();
        for tok in line.split_whitespace() {
            parse_token(tok, &mut keys)
                .with_context(|| format!("script line {}: {tok:?}", i + 1))?;
        }
        steps.push((i + 1, line.to_owned(), keys));
    }
    Ok(steps)
}

fn parse_token(tok: &str, keys: &mut Vec<Action>) -> anyhow::Result<()> {
    let upper = tok.to_ascii_uppercase();
    if tok.bytes().all(|b| b.is_ascii_digit()) {
        keys.extend(tok.bytes().map(|b| Action::Key(Key::Digit(b - b'0'))));
        return Ok(());
    }
    if let Some(text) = upper.starts_with("TEXT:").then(|| &tok[5..]) {
        keys.extend(
            text.chars()
                .map(|c| Action::Key(Key::Char(if c == '_' { ' ' } else { c }))),
        );
        return Ok(());
    }
    if let Some(ms) = upper.strip_prefix("WAIT:") {
        let ms: u64 = ms.parse().context("WAIT:ms needs a number")?;
        if ms > WAIT_MS_MAX {
            bail!("at most {WAIT_MS_MAX} ms per WAIT");
        }
        keys.push(Action::Wait(std::time::Duration::from_millis(ms)));
        return Ok(());
    }
    if let Some(n) = upper.strip_prefix("TICK*") {
        let n: u32 = n.parse().context("TICK*N needs a number")?;
        if n > TICKS_PER_TOKEN_MAX {
            bail!("at most {TICKS_PER_TOKEN_MAX} ticks per token");
        }
        keys.extend(std::iter::repeat_n(Action::Key(Key::Tick), n as usize));
        return Ok(());
    }
    let k = match upper.as_str() {
        "ENTER" | "OK" => Key::Enter,
        "CANCEL" | "ESC" => Key::Cancel,
        "BACK" | "BS" => Key::Back,
        "UP" => Key::Up,
        "DOWN" => Key::Down,
        "TICK" => Key::Tick,
        _ => bail!(
            "unknown key (digits, ENTER, CANCEL, BACK, UP, DOWN, TICK, TICK*N, TEXT:..., WAIT:ms)"
        ),
    };
    keys.push(Action::Key(k));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_keys_ticks_text_and_waits_with_comments() {
        // Goal: every token kind becomes the keys it names; comments and blank lines vanish.
        let steps = parse_script("01 ENTER # operator\n\n TICK*3 text:a_b WAIT:5 esc\n");
        let steps = steps.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(steps.len(), 2);
        assert_eq!(
            steps[0].2,
            [
                Action::Key(Key::Digit(0)),
                Action::Key(Key::Digit(1)),
                Action::Key(Key::Enter)
            ]
        );
        let second = &steps[1].2;
        assert_eq!(second[..3], [Action::Key(Key::Tick); 3]);
        assert_eq!(second[3], Action::Key(Key::Char('a')));
        assert_eq!(second[5], Action::Key(Key::Char('b')));
        assert_eq!(second[6], Action::Wait(std::time::Duration::from_millis(5)));
        assert_eq!(second[7], Action::Key(Key::Cancel));
    }

    #[test]
    fn bad_tokens_and_limits_are_refused_with_the_line() {
        // Goal: a typo or an unbounded request stops the script before it runs, naming the
        // line.
        for (script, line) in [
            ("ENTER\nENTRE\n", "line 2"),
            ("TICK*99999\n", "line 1"),
            ("WAIT:600000\n", "line 1"),
            ("TICK*x\n", "line 1"),
        ] {
            let e = parse_script(script).err().map(|e| format!("{e:#}"));
            assert!(
                e.as_deref().unwrap_or("").contains(line),
                "{script:?}: {e:?}"
            );
        }
    }
}
