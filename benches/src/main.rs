//! `procbox-bench`: runs each procbox scenario side by side with its native
//! baseline, in this one process, and prints a table of medians, ratios and
//! targets. See BENCHMARKS.md for the method and the latest numbers.
//!
//! ```text
//! cargo build --release -p procbox-cli -p procbox-bench
//! target/release/procbox-bench                 # everything, 5 repetitions
//! target/release/procbox-bench --only a,b      # some scenarios
//! target/release/procbox-bench --quick --reps 1  # a smoke run
//! ```
//!
//! Plugins run in-process through `procbox::Runtime`, under a policy that
//! grants exactly what the scenario needs. The plugin times its own loop
//! and appends a `result key=value ...` line to a file in a directory the
//! policy lets it write; the harness reads that file back. Every figure is
//! the median over repetitions (each repetition's figure is itself a median
//! of its iterations where that applies); procbox and its baseline
//! alternate within each repetition so drift on a noisy machine hits both.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};
use procbox::policy::ChildRlimits;
use procbox::{
    Decision, Limits, Observer, Outcome, Plugin, PolicyBuilder, RunOptions, Runtime, SpawnError, SpawnRequest,
    Strictness,
};

/// The bench plugin, built by build.rs.
mod baselines;
mod concurrent;
mod rss;
mod scenarios;
mod stages;

use rss::*;

const BENCH_WASM: &str = env!("PROCBOX_BENCH_WASM");
/// The `dd` invocation both sides of (d) read from, writing 1 MiB blocks.
const DD_RULE: &str = "dd if=/dev/zero bs=1M count=* status=none";

/// Loop sizes.
#[derive(Clone, Copy)]
struct Sizes {
    spawn: usize,
    capture: usize,
    burst: usize,
    read_mib: u64,
    pipeline: usize,
    cli_runs: usize,
    hold: usize,
    cached_loads: usize,
    instantiations: usize,
}

const FULL: Sizes = Sizes {
    spawn: 200,
    capture: 200,
    burst: 500,
    read_mib: 2048,
    pipeline: 50,
    cli_runs: 20,
    hold: 500,
    cached_loads: 20,
    instantiations: 200,
};

const QUICK: Sizes = Sizes {
    spawn: 10,
    capture: 10,
    burst: 20,
    read_mib: 16,
    pipeline: 3,
    cli_runs: 3,
    hold: 20,
    cached_loads: 3,
    instantiations: 5,
};

/// One line of the final table.
struct Row {
    scenario: String,
    procbox: String,
    baseline: String,
    ratio: String,
    target: String,
    verdict: String,
}

impl Row {
    fn new(scenario: &str, procbox: String, baseline: String, ratio: String, target: &str, met: Option<bool>) -> Row {
        Row {
            scenario: scenario.to_string(),
            procbox,
            baseline,
            ratio,
            target: target.to_string(),
            verdict: match met {
                Some(true) => "met".into(),
                Some(false) => "MISSED".into(),
                None => "-".into(),
            },
        }
    }
}

struct Bench {
    runtime: Runtime,
    plugin: Plugin,
    wasm: Vec<u8>,
    tmp: PathBuf,
    sizes: Sizes,
    reps: usize,
    runs: AtomicUsize,
}

/// What the command line asks for.
struct Options {
    reps: usize,
    quick: bool,
    only: Option<Vec<String>>,
}

impl Options {
    fn wanted(&self, id: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|x| x == id))
    }
}

/// Parses the flags; `None` after printing the usage for `--help`.
fn parse_options(args: Vec<String>) -> Result<Option<Options>> {
    let mut options = Options {
        reps: 5,
        quick: false,
        only: None,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--reps" => options.reps = it.next().context("--reps N")?.parse()?,
            "--quick" => options.quick = true,
            "--only" => {
                let list = it.next().context("--only a,b,...")?;
                options.only = Some(list.split(',').map(str::to_string).collect());
            }
            "-h" | "--help" => {
                println!("usage: procbox-bench [--reps N] [--quick] [--only a,b,c,d,e,f,g,h,i,j]");
                return Ok(None);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    ensure!(options.reps >= 1, "--reps must be at least 1");
    Ok(Some(options))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Hidden mode for (h): measure RSS in a fresh process.
    if args.first().map(String::as_str) == Some("rss-child") {
        let kind = args.get(1).context("rss-child procbox|tokio N")?.clone();
        let n: usize = args.get(2).context("rss-child procbox|tokio N")?.parse()?;
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        return rt.block_on(rss_child(&kind, n));
    }
    let Some(options) = parse_options(args)? else {
        return Ok(());
    };
    let tmp = std::env::temp_dir().join(format!("procbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(run_all(&options, &tmp));
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Runs the wanted scenarios, in order, and prints the table.
async fn run_all(options: &Options, tmp: &Path) -> Result<()> {
    let runtime = Runtime::new()?;
    let wasm = std::fs::read(BENCH_WASM).with_context(|| format!("reading {BENCH_WASM}"))?;
    let plugin = runtime.load_bytes("bench.wasm", &wasm)?;
    let bench = Arc::new(Bench {
        runtime,
        plugin,
        wasm,
        tmp: tmp.to_path_buf(),
        sizes: if options.quick { QUICK } else { FULL },
        reps: options.reps,
        runs: AtomicUsize::new(0),
    });
    print_machine();
    let mut rows = Vec::new();
    for id in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        if options.wanted(id) {
            rows.extend(bench.scenario(id).await?);
        }
    }
    print_table(&rows);
    Ok(())
}

impl Bench {
    /// The rows of scenario `id`.
    async fn scenario(self: &Arc<Self>, id: &str) -> Result<Vec<Row>> {
        Ok(match id {
            "a" => self.spawn_wait().await?,
            "b" => vec![self.capture().await?],
            "c" => self.burst().await?,
            "d" => self.read().await?,
            "e" => vec![self.pipeline().await?],
            "f" => self.big_host().await?,
            "g" => self.cli_run().await?,
            "h" => vec![self.rss().await?],
            "i" => self.load().await?,
            "j" => self.concurrent_runs().await?,
            other => bail!("no scenario {other:?}"),
        })
    }
}

fn print_machine() {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "# machine: {cpus} cpus, kernel {}, built by {}",
        kernel.trim(),
        env!("PROCBOX_BENCH_RUSTC")
    );
}

fn print_table(rows: &[Row]) {
    let head = ["scenario", "procbox", "baseline", "ratio", "target", "result"];
    let cells: Vec<[&str; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.scenario.as_str(),
                r.procbox.as_str(),
                r.baseline.as_str(),
                r.ratio.as_str(),
                r.target.as_str(),
                r.verdict.as_str(),
            ]
        })
        .collect();
    let mut width = head.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |row: &[&str; 6]| {
        let parts: Vec<String> = row.iter().zip(width).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("| {} |", parts.join(" | "));
    };
    println!();
    line(&head);
    let dashes: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    println!("|-{}-|", dashes.join("-|-"));
    for row in &cells {
        line(row);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "median of nothing");
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn median_ns(samples: &[u128]) -> f64 {
    median(samples.iter().map(|&s| s as f64).collect())
}

fn us(ns: f64) -> String {
    format!("{:.0} us", ns / 1e3)
}

fn ms(ns: f64) -> String {
    format!("{:.2} ms", ns / 1e6)
}

fn ratio(x: f64) -> String {
    format!("{x:.2}x")
}

/// Prints one repetition's figures, so the spread is visible.
fn rep_log(scenario: &str, rep: usize, figures: &[(&str, String)]) {
    let parts: Vec<String> = figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("rep {scenario} #{rep}: {}", parts.join(" "));
}
