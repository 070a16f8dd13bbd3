//! `terminal`: the cashier terminal emulator against a running `serve`, interactive
//! (ratatui) or scripted (`--script FILE|-`).

use crate::app::{App, Fail};
use anyhow::{Context, anyhow};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use suanpan_core::clock::SystemClock;
use suanpan_store::admin::{
    DEMO_MERCHANT, DEMO_MERCHANT_NAME, DEMO_OPERATORS, DEMO_TERMINAL, DEMO_TMK_HEX,
};
use suanpan_terminal::driver::Driver;
use suanpan_terminal::link::TcpLink;
use suanpan_terminal::machine::{App as Pos, CardChoice};
use suanpan_terminal::net::Net;
use suanpan_terminal::proto::Terminal;
use suanpan_terminal::state::TermState;

/// Environment variable of the terminal master key (the demo key with `--demo`).
pub const TMK_ENV: &str = crate::cmd_serve::TMK_ENV;

/// `terminal` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct TerminalArgs {
    /// The POS center's 8583 address, HOST:PORT.
    #[arg(long, env = "SUANPAN_HOST", default_value = "127.0.0.1:5800")]
    pub host: String,
    /// Terminal id (field 41; default: the demo terminal).
    #[arg(long)]
    pub terminal: Option<String>,
    /// Merchant id (field 42; default: the demo merchant).
    #[arg(long)]
    pub merchant: Option<String>,
    /// First start: seed the state file with the demo operators (99/00/01 and the README's
    /// passwords) and use the demo master key; demo cards to choose from.
    #[arg(long)]
    pub demo: bool,
    /// Directory of the terminal's state file.
    #[arg(long, default_value = "./suanpan-terminal")]
    pub state_dir: PathBuf,
    /// Key presses from FILE (or `-` for stdin) instead of the keyboard; the screen is
    /// printed after each line.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Write every printed slip to DIR as a text file.
    #[arg(long)]
    pub receipts: Option<PathBuf>,
    /// Void grace window in seconds (stored in the state file; 0: off).
    #[arg(long)]
    pub void_grace_seconds: Option<u32>,
    /// Response time-out in milliseconds (stored in the state file).
    #[arg(long)]
    pub response_timeout_ms: Option<u64>,
    /// Connect over TLS, trusting the CA (or the host's self-signed certificate) in this
    /// PEM file; the certificate must name the host part of --host.
    #[arg(long, env = "SUANPAN_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// MAC algorithm this terminal is set up for, as the host has it (`admin terminal
    /// set-mac`): ecb (UnionPay POS ECB) or x919 (ANSI X9.19).
    #[arg(long, env = "SUANPAN_TERMINAL_MAC", default_value = "ecb", value_parser = parse_mac)]
    pub mac: suanpan_iso8583::MacAlgorithm,
}

/// `--mac`: `ecb` or `x919`.
pub fn parse_mac(text: &str) -> Result<suanpan_iso8583::MacAlgorithm, String> {
    suanpan_iso8583::MacAlgorithm::parse(text).ok_or_else(|| {
        format!("MAC 算法只能是 ecb 或 x919 / the MAC algorithm is ecb or x919, not {text:?}")
    })
}

pub fn run(app: &App, a: TerminalArgs) -> Result<(), Fail> {
    let tid = a
        .terminal
        .clone()
        .unwrap_or_else(|| DEMO_TERMINAL.to_owned());
    let mid = a
        .merchant
        .clone()
        .unwrap_or_else(|| DEMO_MERCHANT.to_owned());
    let path = TermState::path_in(&a.state_dir);
    let mut state = match TermState::load(&path)? {
        Some(s) => s,
        None if a.demo => {
            let mut s = TermState::new(&tid, &mid, DEMO_MERCHANT_NAME);
            for (no, pw, _) in DEMO_OPERATORS {
                s.set_password(no, pw)?;
            }
            s
        }
        None => {
            return Err(Fail::Other(anyhow!(
                "{} holds no terminal state: start once with --demo (demo operators), \
                 or copy a state file there / 没有终端状态文件：首次请加 --demo",
                a.state_dir.display()
            )));
        }
    };
    if let Some(g) = a.void_grace_seconds {
        state.params.void_grace_seconds = g;
    }
    if let Some(t) = a.response_timeout_ms {
        state.params.response_timeout_ms = t;
    }
    state.save(&path)?;
    let tmk = match std::env::var(TMK_ENV) {
        Ok(k) => k,
        Err(_) if a.demo => DEMO_TMK_HEX.to_owned(),
        Err(_) => {
            return Err(Fail::Other(anyhow!(
                "the terminal master key comes from {TMK_ENV} (32 hex digits) / 请在 {TMK_ENV} 中提供终端主密钥"
            )));
        }
    };
    let mut proto = Terminal::new(&state.terminal_id, &state.merchant_id, &tmk)?;
    proto.mac_algorithm = a.mac;
    let clock = Arc::new(SystemClock);
    let link = match &a.tls_ca {
        Some(ca) => TcpLink::with_tls(&a.host, ca)?,
        None => TcpLink::new(&a.host),
    };
    let net = Net::new(proto, link, Some(path.clone()), clock);
    let cards = if a.demo { demo_cards(app) } else { Vec::new() };
    let pos = Pos::new(state, app.lang, cards, jiff::Timestamp::now());
    let mut d = Driver::new(pos, net, Some(path), a.receipts.clone());
    match &a.script {
        Some(file) => {
            let mut text = String::new();
            if file.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the script from stdin")?;
            } else {
                text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
            }
            let mut out = std::io::stdout().lock();
            d.run_script(&text, &mut out)?;
        }
        None => suanpan_terminal::tui::run(&mut d)?,
    }
    Ok(())
}

fn demo_cards(app: &App) -> Vec<CardChoice> {
    suanpan_issuer::demo::CARDS
        .iter()
        .map(|c| CardChoice {
            pan: c.pan.to_owned(),
            expiry: c.expiry.to_owned(),
            note: suanpan_terminal::text::t(app.lang, &format!("outcome.{}", c.outcome)),
            entry: "05",
        })
        .collect()
}
