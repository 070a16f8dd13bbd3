//! `suanpan sim`: the deterministic simulation (crates/sim) from the command line — one seed
//! (`--seed S`, its trace on failure) or many (`--seeds N`, from `--from`).

use crate::app::{App, Fail};
use crate::output;
use serde_json::json;
use suanpan_sim::{Options, Outcome, run, run_and_shrink};

/// `sim` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Run this one seed (and print its whole trace with `--trace`).
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Run this many seeds, from `--from`.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// The first seed of `--seeds`.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Simulated terminals per run.
    #[arg(long, default_value_t = 4)]
    pub terminals: usize,
    /// Operations per run.
    #[arg(long, default_value_t = 200)]
    pub ops: u32,
    /// Print the trace of a passing seed too.
    #[arg(long)]
    pub trace: bool,
}

/// Most terminals one run may simulate.
const TERMINALS_MAX: usize = 64;
/// Most operations one run may play.
const OPS_MAX: u32 = 100_000;

pub fn run_cmd(app: &App, a: SimArgs) -> Result<(), Fail> {
    let opts = Options {
        terminals: a.terminals.clamp(1, TERMINALS_MAX),
        ops: a.ops.clamp(1, OPS_MAX),
    };
    let seeds = match (a.seed, a.seeds) {
        (Some(s), _) => s..s + 1,
        (None, Some(n)) => a.from..a.from.saturating_add(n),
        (None, None) => 0..1,
    };
    let started = std::time::Instant::now();
    let mut failed: Vec<Outcome> = Vec::new();
    let (mut runs, mut crashes, mut booked) = (0u64, 0u64, 0u64);
    for seed in seeds.clone() {
        let o = run(seed, &opts).map_err(Fail::Other)?;
        runs += 1;
        crashes += u64::from(o.crashes);
        booked += o.booked as u64;
        if !o.violations.is_empty() {
            // Shrink to the shortest failing run of this seed for the report.
            failed.push(run_and_shrink(seed, &opts).map_err(Fail::Other)?);
        } else if a.trace && !app.json {
            println!("{}", o.trace.join("\n"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if app.json {
        output::print_json(&json!({
            "seeds": runs, "from": seeds.start, "terminals": opts.terminals, "ops": opts.ops,
            "failed": failed.iter().map(|o| json!({
                "seed": o.seed, "ops": o.ops, "violations": o.violations, "trace": o.trace,
            })).collect::<Vec<_>>(),
            "host_crashes": crashes, "booked": booked, "seconds": secs,
        }));
    } else {
        for o in &failed {
            println!("seed {} FAILS (shortest run: {} ops):", o.seed, o.ops);
            for v in &o.violations {
                println!("  ✗ {v}");
            }
            println!("  trace:");
            for line in &o.trace {
                println!("  {line}");
            }
        }
        println!(
            "{runs} seeds ({}..{}), {} terminals × {} ops: {} failed; {crashes} host crashes, {booked} transactions booked; {secs:.1} s",
            seeds.start,
            seeds.end,
            opts.terminals,
            opts.ops,
            failed.len()
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Fail::Reported)
    }
}
