//! `suanpan switch-sim`: the card network as its own process (crates/switch), with its
//! ledger and clearing files in `<data dir>/switch-sim/`.

use crate::app::{App, Fail};
use serde_json::json;
use std::time::Duration;
use suanpan_iso8583::Zpk;
use suanpan_switch::{Faults, Switch, SwitchConfig, ledger::Totals};

/// Sub-directory of the data directory that holds switch-sim's ledger and clearing files.
pub const SWITCH_DIR: &str = "switch-sim";

/// `switch-sim` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SwitchArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8600")]
    pub listen: String,
    /// The zone PIN key shared with the acquirer host (32 hex digits); better given as
    /// SUANPAN_UPSTREAM_ZPK.
    #[arg(long, env = "SUANPAN_UPSTREAM_ZPK", hide_env_values = true)]
    pub zpk: Option<String>,
    /// Delay before each answer (ms).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0..1) that an answer is lost after the request took effect.
    #[arg(long, default_value_t = 0.0)]
    pub drop: f64,
    /// Probability (0..1) that a request arrives twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate: f64,
    /// Go down (close every connection, stop listening) after this many messages.
    #[arg(long)]
    pub down_after: Option<u64>,
    /// Print the ledger totals every this many ms (0: only at exit).
    #[arg(long, default_value_t = 10_000)]
    pub totals_every_ms: u64,
}

pub fn run(app: &App, a: SwitchArgs) -> Result<(), Fail> {
    let zpk = match a.zpk.as_deref() {
        Some(hex) => {
            Some(Zpk::from_hex(hex).map_err(|e| Fail::Other(anyhow::anyhow!("--zpk: {e}")))?)
        }
        None => None,
    };
    let probability = |p: f64, what: &str| {
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(Fail::Other(anyhow::anyhow!(
                "{what} must be between 0 and 1"
            )))
        }
    };
    let config = SwitchConfig {
        listen: a.listen.clone(),
        data_dir: app.data_dir.join(SWITCH_DIR),
        zpk,
        faults: Faults {
            latency_ms: a.latency_ms,
            drop: probability(a.drop, "--drop")?,
            duplicate: probability(a.duplicate, "--duplicate")?,
        },
        down_after: a.down_after,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::Other(e.into()))?;
    runtime.block_on(serve(app, config, a.totals_every_ms))
}

async fn serve(app: &App, config: SwitchConfig, every_ms: u64) -> Result<(), Fail> {
    let sw = Switch::start(config)
        .await
        .map_err(|e| Fail::Other(e.into()))?;
    if !app.json {
        println!("switch-sim listening on {}", sw.local_addr());
    }
    let period = Duration::from_millis(if every_ms == 0 {
        u64::MAX / 4
    } else {
        every_ms
    });
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sw.stopped() => break,
            _ = tick.tick() => {
                // Past the cutoff (end of the UTC day of field 7): yesterday's file and older.
                let yesterday = jiff::Timestamp::now()
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .date()
                    .yesterday()
                    .map(|d| d.to_string())
                    .ok();
                if let Err(e) = sw.write_clearing(yesterday.as_deref()) {
                    tracing::error!("switch-sim clearing: {e}");
                }
                report(app, &sw, false);
            }
        }
    }
    let files = sw.write_clearing(None).map_err(|e| Fail::Other(e.into()))?;
    report(app, &sw, true);
    for f in files {
        if !app.json {
            println!("clearing file: {}", f.display());
        }
    }
    sw.stop().await;
    Ok(())
}

fn report(app: &App, sw: &Switch, last: bool) {
    let t: Totals = match sw.totals() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("switch-sim totals: {e}");
            return;
        }
    };
    if app.json {
        println!(
            "{}",
            json!({"final": last, "net_debited_fen": t.net_debited_fen, "held_fen": t.held_fen,
                   "approved": t.approved, "declined": t.declined, "reversals": t.reversals})
        );
        return;
    }
    println!(
        "switch-sim totals: net debited {} fen, held {} fen, approved {}, declined {}, reversal advices {}",
        t.net_debited_fen, t.held_fen, t.approved, t.declined, t.reversals
    );
}
