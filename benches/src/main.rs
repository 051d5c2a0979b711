//! `procbox-bench`: runs each procbox scenario side by side with its native
//! baseline, in this one process, and prints a table of medians, ratios and
//! targets. See BENCHMARKS.md for the method and the latest numbers.
//!
//! ```text
//! cargo build --release -p procbox -p procbox-bench
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

use std::collections::HashMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use procbox::policy::ChildRlimits;
use procbox::{
    Decision, Limits, Observer, Outcome, Plugin, PolicyBuilder, RunOptions, Runtime, SpawnError, SpawnRequest,
};

/// The bench plugin, built by build.rs.
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

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Hidden mode for (h): measure RSS in a fresh process.
    if args.first().map(String::as_str) == Some("rss-child") {
        let kind = args.get(1).context("rss-child procbox|tokio N")?.clone();
        let n: usize = args.get(2).context("rss-child procbox|tokio N")?.parse()?;
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        return rt.block_on(rss_child(&kind, n));
    }
    let mut reps = 5;
    let mut quick = false;
    let mut only: Option<Vec<String>> = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--reps" => reps = it.next().context("--reps N")?.parse()?,
            "--quick" => quick = true,
            "--only" => {
                only = Some(
                    it.next()
                        .context("--only a,b,...")?
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                )
            }
            "-h" | "--help" => {
                println!("usage: procbox-bench [--reps N] [--quick] [--only a,b,c,d,e,f,g,h,i]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    ensure!(reps >= 1, "--reps must be at least 1");
    let wanted = |id: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == id));

    let tmp = std::env::temp_dir().join(format!("procbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(async {
        let runtime = Runtime::new()?;
        let wasm = std::fs::read(BENCH_WASM).with_context(|| format!("reading {BENCH_WASM}"))?;
        let plugin = runtime.load_bytes("bench.wasm", &wasm)?;
        let bench = Bench {
            runtime,
            plugin,
            wasm,
            tmp: tmp.clone(),
            sizes: if quick { QUICK } else { FULL },
            reps,
            runs: AtomicUsize::new(0),
        };
        print_machine();
        let mut rows = Vec::new();
        if wanted("a") {
            rows.extend(bench.spawn_wait().await?);
        }
        if wanted("b") {
            rows.push(bench.capture().await?);
        }
        if wanted("c") {
            rows.push(bench.burst().await?);
        }
        if wanted("d") {
            rows.extend(bench.read().await?);
        }
        if wanted("e") {
            rows.push(bench.pipeline().await?);
        }
        if wanted("f") {
            rows.extend(bench.big_host().await?);
        }
        if wanted("g") {
            rows.extend(bench.cli_run().await?);
        }
        if wanted("h") {
            rows.push(bench.rss().await?);
        }
        if wanted("i") {
            rows.extend(bench.load().await?);
        }
        print_table(&rows);
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&tmp);
    result
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

impl Bench {
    /// Runs the bench plugin with `args` under `policy` (plus a directory to
    /// write its result to) and returns the fields of its result line.
    async fn plugin(
        &self,
        policy: PolicyBuilder,
        args: &[String],
        observers: Vec<Arc<dyn Observer>>,
    ) -> Result<HashMap<String, String>> {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let out = self.tmp.join(format!("result-{n}.txt"));
        let policy = policy.allow_write(&self.tmp).build()?;
        let mut argv = args.to_vec();
        argv.extend(["--out".to_string(), out.display().to_string()]);
        let options = observers
            .into_iter()
            .fold(RunOptions::new(Arc::new(policy)).args(argv), RunOptions::observer);
        let outcome = self.runtime.run(&self.plugin, options).await?;
        ensure!(
            outcome == Outcome::Exited(0),
            "bench plugin {args:?} ended with {outcome:?}"
        );
        let text = std::fs::read_to_string(&out).with_context(|| format!("the plugin wrote no {}", out.display()))?;
        let line = text
            .lines()
            .find(|l| l.starts_with("result "))
            .context("no result line")?;
        Ok(fields(line))
    }

    async fn plugin_f64(&self, policy: PolicyBuilder, args: &[&str], key: &str) -> Result<f64> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let fields = self.plugin(policy, &args, Vec::new()).await?;
        fields
            .get(key)
            .with_context(|| format!("no {key} in {fields:?}"))?
            .parse()
            .with_context(|| format!("{key} is not a number"))
    }

    /// (a) spawn + wait of /bin/true: plugin vs tokio vs posix_spawn.
    async fn spawn_wait(&self) -> Result<Vec<Row>> {
        let n = self.sizes.spawn.to_string();
        let (mut pb, mut tk, mut ps) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let policy = PolicyBuilder::new().allow_run("/bin/true");
            let p = self.plugin_f64(policy, &["spawn_true", "--n", &n], "median_ns").await?;
            let t = median_ns(&tokio_spawn_true(self.sizes.spawn).await?);
            let count = self.sizes.spawn;
            let c = median_ns(&tokio::task::spawn_blocking(move || posix_spawn_true(count)).await??);
            rep_log(
                "a",
                rep,
                &[("procbox", us(p)), ("tokio", us(t)), ("posix_spawn", us(c))],
            );
            pb.push(p);
            tk.push(t);
            ps.push(c);
        }
        let (p, t, c) = (median(pb), median(tk), median(ps));
        Ok(vec![
            Row::new(
                "(a) spawn+wait /bin/true vs posix_spawn",
                us(p),
                us(c),
                ratio(p / c),
                "<= 1.10x",
                Some(p / c <= 1.10),
            ),
            Row::new(
                "(a) spawn+wait /bin/true vs tokio",
                us(p),
                us(t),
                ratio(p / t),
                "(info)",
                None,
            ),
        ])
    }

    /// (b) capture `echo hello`: plugin output() vs tokio output().
    async fn capture(&self) -> Result<Row> {
        let n = self.sizes.capture.to_string();
        let (mut pb, mut tk) = (Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let policy = PolicyBuilder::new().allow_run("echo hello");
            let p = self
                .plugin_f64(policy, &["capture_echo", "--n", &n], "median_ns")
                .await?;
            let t = median_ns(&tokio_capture_echo(self.sizes.capture).await?);
            rep_log("b", rep, &[("procbox", us(p)), ("tokio", us(t))]);
            pb.push(p);
            tk.push(t);
        }
        let (p, t) = (median(pb), median(tk));
        Ok(Row::new(
            "(b) capture `echo hello`",
            us(p),
            us(t),
            ratio(p / t),
            "<= 1.10x",
            Some(p / t <= 1.10),
        ))
    }

    /// (e) `seq 1 100000 | grep 7 | wc -l`: the plugin's child-to-child
    /// pipeline vs the same pipeline run by `sh -c`.
    async fn pipeline(&self) -> Result<Row> {
        let n = self.sizes.pipeline;
        let (mut pb, mut sh) = (Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let policy = PolicyBuilder::new()
                .allow_run("seq 1 100000")
                .allow_run("grep 7")
                .allow_run("wc -l");
            let p = self
                .plugin_f64(policy, &["pipeline", "--n", &n.to_string()], "median_ns")
                .await?;
            let s = median_ns(&shell_pipeline(n).await?);
            rep_log("e", rep, &[("procbox", us(p)), ("sh", us(s))]);
            pb.push(p);
            sh.push(s);
        }
        let (p, s) = (median(pb), median(sh));
        Ok(Row::new(
            "(e) 3-stage pipeline seq, grep 7, wc -l",
            us(p),
            format!("{} sh -c", us(s)),
            ratio(p / s),
            "<= 1.05x",
            Some(p / s <= 1.05),
        ))
    }

    /// (c) N spawns of /bin/true all in flight, then all waited.
    async fn burst(&self) -> Result<Row> {
        let n = self.sizes.burst;
        let (mut pb, mut tk) = (Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let policy = PolicyBuilder::new().allow_run("/bin/true").limits(Limits {
                max_children: Some(1000),
                ..Limits::default()
            });
            let p = self
                .plugin_f64(policy, &["burst", "--n", &n.to_string()], "rate_per_s")
                .await?;
            let t = tokio_burst(n).await?;
            rep_log(
                "c",
                rep,
                &[("procbox", format!("{p:.0}/s")), ("tokio", format!("{t:.0}/s"))],
            );
            pb.push(p);
            tk.push(t);
        }
        let (p, t) = (median(pb), median(tk));
        Ok(Row::new(
            &format!("(c) {n} spawns in flight"),
            format!("{p:.0}/s"),
            format!("{t:.0}/s"),
            ratio(p / t),
            ">= 0.90x",
            Some(p / t >= 0.90),
        ))
    }

    /// (d) reading a child's stdout: plugin vs tokio, GB/s.
    async fn read(&self) -> Result<Vec<Row>> {
        let mib = self.sizes.read_mib;
        let (mut pb, mut tk, mut big) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let policy = PolicyBuilder::new().allow_run(DD_RULE);
            let p = self
                .plugin_f64(policy, &["read", "--mib", &mib.to_string()], "gb_per_s")
                .await?;
            let t = tokio_read(mib, Pipe::Default).await?;
            let b = tokio_read(mib, Pipe::OneMib).await?;
            let gbps = |v: f64| format!("{v:.2}GB/s");
            rep_log(
                "d",
                rep,
                &[("procbox", gbps(p)), ("tokio", gbps(t)), ("tokio_1mib_pipe", gbps(b))],
            );
            pb.push(p);
            tk.push(t);
            big.push(b);
        }
        let (p, t, b) = (median(pb), median(tk), median(big));
        Ok(vec![
            Row::new(
                &format!("(d) read {mib} MiB of stdout"),
                format!("{p:.2} GB/s"),
                format!("{t:.2} GB/s"),
                ratio(p / t),
                ">= 0.60x",
                Some(p / t >= 0.60),
            ),
            Row::new(
                "(d) same, tokio with a 1 MiB pipe as procbox grows it",
                format!("{p:.2} GB/s"),
                format!("{b:.2} GB/s"),
                ratio(p / b),
                "(info)",
                None,
            ),
        ])
    }

    /// (f) spawn latency from the plugin with 1 GiB touched in the host vs
    /// idle; on the default (posix_spawn) path and, for contrast, on the
    /// fork path that child rlimits force.
    async fn big_host(&self) -> Result<Vec<Row>> {
        let n = self.sizes.spawn.to_string();
        let args = ["spawn_true", "--n", n.as_str()];
        // A fork of a 1 GiB process is slow: fewer iterations there.
        let fork_n = self.sizes.spawn.min(30).to_string();
        let fork_args = ["spawn_true", "--n", fork_n.as_str()];
        let fork_limits = Limits {
            rlimits: ChildRlimits {
                open_files: Some(4096),
                ..ChildRlimits::default()
            },
            ..Limits::default()
        };
        let (mut idle, mut big, mut fork_idle, mut fork_big) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let default_policy = || PolicyBuilder::new().allow_run("/bin/true");
            let fork_policy = || PolicyBuilder::new().allow_run("/bin/true").limits(fork_limits);
            let i = self.plugin_f64(default_policy(), &args, "median_ns").await?;
            let fi = self.plugin_f64(fork_policy(), &fork_args, "median_ns").await?;
            let ballast = touched_gib();
            let b = self.plugin_f64(default_policy(), &args, "median_ns").await?;
            let fb = self.plugin_f64(fork_policy(), &fork_args, "median_ns").await?;
            drop(std::hint::black_box(ballast));
            rep_log(
                "f",
                rep,
                &[
                    ("idle", us(i)),
                    ("1GiB", us(b)),
                    ("fork_idle", us(fi)),
                    ("fork_1GiB", us(fb)),
                ],
            );
            idle.push(i);
            big.push(b);
            fork_idle.push(fi);
            fork_big.push(fb);
        }
        let (i, b, fi, fb) = (median(idle), median(big), median(fork_idle), median(fork_big));
        Ok(vec![
            Row::new(
                "(f) spawn+wait, host holds 1 GiB (posix_spawn)",
                us(b),
                format!("{} idle", us(i)),
                ratio(b / i),
                "<= 1.10x",
                Some(b / i <= 1.10),
            ),
            Row::new(
                "(f) same, fork path (--rlimit-nofile)",
                us(fb),
                format!("{} idle", us(fi)),
                ratio(fb / fi),
                "(info)",
                None,
            ),
        ])
    }

    /// (g) a whole `procbox run` of a cached no-op plugin vs `python3 -c
    /// pass`, both as fresh processes; plus the in-process equivalent.
    async fn cli_run(&self) -> Result<Vec<Row>> {
        let exe = std::env::current_exe()?;
        let procbox_bin = exe.with_file_name("procbox");
        ensure!(
            procbox_bin.exists(),
            "{} is missing: cargo build --release -p procbox -p procbox-bench",
            procbox_bin.display()
        );
        let cache = self.tmp.join("cli-cache");
        let runs = self.sizes.cli_runs;
        let procbox_cmd = {
            let bin = procbox_bin.clone();
            let cache = cache.clone();
            move || {
                let mut c = std::process::Command::new(&bin);
                c.args(["run", BENCH_WASM, "--", "noop"])
                    .env("PROCBOX_CACHE_DIR", &cache);
                c
            }
        };
        // The interpreter itself: `python3` on PATH may be a wrapper script
        // (pyenv's shim costs ~40 ms more than the interpreter it runs).
        let python = python_executable()?;
        let python_cmd = move || {
            let mut c = std::process::Command::new(&python);
            c.args(["-c", "pass"]);
            c
        };
        // Warm-up: fills the cache (if `run` uses it) and the page cache.
        time_process(&procbox_cmd, 1)?;
        time_process(&python_cmd, 1)?;
        let in_process_cache = self.tmp.join("inproc-cache");
        let (mut pb, mut py, mut inproc) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let cmd = procbox_cmd.clone();
            let p = median_ns(&tokio::task::spawn_blocking(move || time_process(&cmd, runs)).await??);
            let python_cmd = python_cmd.clone();
            let y = median_ns(&tokio::task::spawn_blocking(move || time_process(&python_cmd, runs)).await??);
            let l = self.in_process_run(&in_process_cache, runs).await?;
            rep_log(
                "g",
                rep,
                &[("procbox_run", ms(p)), ("python3", ms(y)), ("in_process", ms(l))],
            );
            pb.push(p);
            py.push(y);
            inproc.push(l);
        }
        let (p, y, l) = (median(pb), median(py), median(inproc));
        Ok(vec![
            Row::new(
                "(g) `procbox run` cached no-op, whole process",
                ms(p),
                format!("{} python3 -c pass", ms(y)),
                ratio(p / y),
                "<= 10 ms",
                Some(p <= 10e6),
            ),
            Row::new(
                "(g) in-process: new Runtime + cached load + run no-op",
                ms(l),
                "-".into(),
                "-".into(),
                "(info)",
                None,
            ),
        ])
    }

    /// What `procbox run` of a cached no-op costs inside one process:
    /// a new runtime with the cache in `dir`, loading the plugin from it,
    /// and running `noop`; the median of `runs` such runs. No exec, dynamic
    /// linking or tokio start-up, which a whole `procbox run` adds.
    async fn in_process_run(&self, dir: &Path, runs: usize) -> Result<f64> {
        let policy = Arc::new(PolicyBuilder::new().build()?);
        // Fill the cache first.
        Runtime::new()?.with_cache(dir).load_bytes("bench.wasm", &self.wasm)?;
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let runtime = Runtime::new()?.with_cache(dir);
            let plugin = runtime.load_bytes("bench.wasm", &self.wasm)?;
            let mut options = RunOptions::new(policy.clone());
            options.args = vec!["noop".into()];
            let outcome = runtime.run(&plugin, options).await?;
            ensure!(outcome == Outcome::Exited(0), "noop ended with {outcome:?}");
            samples.push(t.elapsed().as_nanos());
        }
        Ok(median_ns(&samples))
    }

    /// (h) RSS growth with N children running, each side in a fresh process.
    async fn rss(&self) -> Result<Row> {
        let n = self.sizes.hold;
        let (mut pb, mut tk) = (Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let p = rss_in_child("procbox", n).await?;
            let t = rss_in_child("tokio", n).await?;
            rep_log(
                "h",
                rep,
                &[("procbox_delta", format!("{p}KiB")), ("tokio_delta", format!("{t}KiB"))],
            );
            pb.push(p as f64);
            tk.push(t as f64);
        }
        let (p, t) = (median(pb), median(tk));
        let per_child = p / n as f64;
        Ok(Row::new(
            &format!("(h) host RSS, {n} children running"),
            format!("+{:.1} MiB ({per_child:.1} KiB/child)", p / 1024.0),
            format!("+{:.1} MiB tokio", t / 1024.0),
            ratio(p / t.max(1.0)),
            "bounded",
            Some(per_child < 64.0),
        ))
    }

    /// (i) first compile into an empty cache vs load from the cache.
    async fn load(&self) -> Result<Vec<Row>> {
        let (mut compile, mut cached, mut cached_full) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let dir = self.tmp.join(format!("compile-{rep}"));
            let runtime = Runtime::new()?.with_cache(&dir);
            let t = Instant::now();
            let (_, origin) = runtime.compile_cached("bench.wasm", &self.wasm)?;
            let c = t.elapsed().as_nanos() as f64;
            ensure!(
                origin == procbox::cache::Origin::Compiled,
                "the cache in {} was not empty",
                dir.display()
            );
            let mut loads = Vec::new();
            let mut fulls = Vec::new();
            for _ in 0..self.sizes.cached_loads {
                let t = Instant::now();
                let (_, origin) = runtime.compile_cached("bench.wasm", &self.wasm)?;
                loads.push(t.elapsed().as_nanos());
                ensure!(origin == procbox::cache::Origin::Cached, "not loaded from the cache");
                let t = Instant::now();
                runtime.load_bytes("bench.wasm", &self.wasm)?;
                fulls.push(t.elapsed().as_nanos());
            }
            let (l, f) = (median_ns(&loads), median_ns(&fulls));
            rep_log(
                "i",
                rep,
                &[("compile", ms(c)), ("cached", ms(l)), ("cached_load_bytes", ms(f))],
            );
            compile.push(c);
            cached.push(l);
            cached_full.push(f);
            let _ = std::fs::remove_dir_all(&dir);
        }
        let (c, l, f) = (median(compile), median(cached), median(cached_full));
        let (mut on_demand, mut pooling) = (Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let d = median_ns(&instantiations(
                &self.wasm,
                Allocator::OnDemand,
                self.sizes.instantiations,
            )?);
            let p = median_ns(&instantiations(
                &self.wasm,
                Allocator::Pooling,
                self.sizes.instantiations,
            )?);
            rep_log(
                "i",
                rep,
                &[("instantiate_on_demand", us(d)), ("instantiate_pooling", us(p))],
            );
            on_demand.push(d);
            pooling.push(p);
        }
        let (d, p) = (median(on_demand), median(pooling));
        Ok(vec![
            Row::new(
                "(i) plugin load from cache (compile_cached)",
                ms(l),
                format!("{} compile", ms(c)),
                ratio(l / c),
                "<= 1 ms",
                Some(l <= 1e6),
            ),
            Row::new(
                "(i) cached load_bytes (+ link/instantiate_pre)",
                ms(f),
                "-".into(),
                "-".into(),
                "(info)",
                None,
            ),
            Row::new(
                "(i) instantiate + drop: pooling vs on-demand allocator",
                us(p),
                format!("{} on-demand", us(d)),
                ratio(p / d),
                "(info)",
                None,
            ),
        ])
    }
}

/// The real `python3` interpreter, not whatever wrapper PATH finds first.
fn python_executable() -> Result<PathBuf> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()?;
    ensure!(out.status.success(), "python3 -c 'import sys' failed: {}", out.status);
    let path = PathBuf::from(String::from_utf8(out.stdout)?.trim());
    ensure!(
        path.is_file(),
        "python3 reports a missing interpreter: {}",
        path.display()
    );
    Ok(path)
}

/// Wasmtime's two instance allocators.
#[derive(Clone, Copy)]
enum Allocator {
    /// procbox's choice: memories and tables mapped per instance.
    OnDemand,
    /// Slots reserved up front and reused.
    Pooling,
}

/// Per-instantiation times of `wasm` (a store, an instance from an
/// `InstancePre`, and dropping both) under `allocator`, with imports that
/// would trap if called: this measures instantiation only, nothing runs.
fn instantiations(wasm: &[u8], allocator: Allocator, n: usize) -> Result<Vec<u128>> {
    use wasmtime::component::{Component, Linker};
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true); // as procbox's engine
    if let Allocator::Pooling = allocator {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(16)
            .total_core_instances(64)
            .total_memories(16)
            .total_tables(64);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = wasmtime::Engine::new(&config)?;
    let component = Component::new(&engine, wasm)?;
    let mut linker = Linker::<()>::new(&engine);
    linker.define_unknown_imports_as_traps(&component)?;
    let pre = linker.instantiate_pre(&component)?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut store = wasmtime::Store::new(&engine, ());
        store.set_epoch_deadline(u64::MAX / 2);
        pre.instantiate(&mut store)?;
        drop(store);
        samples.push(t.elapsed().as_nanos());
    }
    Ok(samples)
}

/// The `key=value` words of a result line.
fn fields(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn null() -> std::process::Stdio {
    std::process::Stdio::null()
}

/// spawn + wait of /bin/true through tokio, per-iteration times.
async fn tokio_spawn_true(n: usize) -> Result<Vec<u128>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let status = tokio::process::Command::new("/bin/true")
            .env_clear()
            .stdin(null())
            .stdout(null())
            .stderr(null())
            .status()
            .await?;
        samples.push(t.elapsed().as_nanos());
        ensure!(status.success(), "/bin/true failed");
    }
    Ok(samples)
}

/// The C-class loop: posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK)) and
/// waitpid, nothing else.
fn posix_spawn_true(n: usize) -> Result<Vec<u128>> {
    let path = CString::new("/bin/true")?;
    let argv = [path.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let envp = [std::ptr::null_mut::<libc::c_char>()];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut pid: libc::pid_t = 0;
        // SAFETY: valid NUL-terminated path, argv and envp arrays that end
        // in NULL and outlive the call; no file actions or attributes.
        let rc = unsafe {
            libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                argv.as_ptr(),
                envp.as_ptr(),
            )
        };
        ensure!(rc == 0, "posix_spawn: {}", std::io::Error::from_raw_os_error(rc));
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid {
                break;
            }
            let err = std::io::Error::last_os_error();
            ensure!(err.kind() == std::io::ErrorKind::Interrupted, "waitpid: {err}");
        }
        samples.push(t.elapsed().as_nanos());
        ensure!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "/bin/true failed"
        );
    }
    Ok(samples)
}

/// (e)'s baseline: the same pipeline through `sh -c`, output captured,
/// per-iteration times.
async fn shell_pipeline(n: usize) -> Result<Vec<u128>> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut samples = Vec::with_capacity(n);
    let mut expected = None;
    for _ in 0..n {
        let t = Instant::now();
        let out = tokio::process::Command::new("sh")
            .args(["-c", "seq 1 100000 | grep 7 | wc -l"])
            .env_clear()
            .env("PATH", &path)
            .output()
            .await?;
        samples.push(t.elapsed().as_nanos());
        ensure!(out.status.success(), "sh -c 'seq | grep | wc' failed: {}", out.status);
        ensure!(
            *expected.get_or_insert_with(|| out.stdout.clone()) == out.stdout,
            "the shell pipeline printed different counts"
        );
    }
    Ok(samples)
}

/// `echo hello` captured through tokio, per-iteration times.
async fn tokio_capture_echo(n: usize) -> Result<Vec<u128>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let out = tokio::process::Command::new("echo").arg("hello").output().await?;
        samples.push(t.elapsed().as_nanos());
        ensure!(out.status.success() && out.stdout == b"hello\n", "echo failed");
    }
    Ok(samples)
}

/// `n` /bin/true children in flight through tokio; spawns per second.
async fn tokio_burst(n: usize) -> Result<f64> {
    let start = Instant::now();
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        children.push(
            tokio::process::Command::new("/bin/true")
                .env_clear()
                .stdin(null())
                .stdout(null())
                .stderr(null())
                .spawn()?,
        );
    }
    for child in &mut children {
        ensure!(child.wait().await?.success(), "/bin/true failed");
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Reads `mib` MiB from `dd` through tokio with a 1 MiB buffer; GB/s.
/// The pipe (d)'s native reader reads from.
#[derive(Clone, Copy)]
enum Pipe {
    /// Linux's default, 64 KiB.
    Default,
    /// Grown with F_SETPIPE_SZ, as procbox grows a pipe that its plugin
    /// reads as fast as the child writes.
    OneMib,
}

async fn tokio_read(mib: u64, pipe: Pipe) -> Result<f64> {
    use std::os::fd::AsRawFd;
    use tokio::io::AsyncReadExt;
    let mut child = tokio::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", &format!("count={mib}"), "status=none"])
        .env_clear()
        .stdin(null())
        .stdout(std::process::Stdio::piped())
        .stderr(null())
        .spawn()?;
    let mut stdout = child.stdout.take().context("piped")?;
    if let Pipe::OneMib = pipe {
        // SAFETY: F_SETPIPE_SZ on the pipe we own; it changes only its size.
        let rc = unsafe { libc::fcntl(stdout.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        ensure!(rc >= 0, "F_SETPIPE_SZ: {}", std::io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    let start = Instant::now();
    loop {
        let got = stdout.read(&mut buf).await?;
        if got == 0 {
            break;
        }
        bytes += got as u64;
    }
    let elapsed = start.elapsed();
    ensure!(child.wait().await?.success(), "dd failed");
    ensure!(bytes == mib << 20, "short read: {bytes}");
    Ok(bytes as f64 / elapsed.as_nanos() as f64)
}

/// 1 GiB, every page written.
fn touched_gib() -> Vec<u8> {
    let mut ballast = vec![0u8; 1 << 30];
    for i in (0..ballast.len()).step_by(4096) {
        ballast[i] = 1;
    }
    std::hint::black_box(ballast)
}

/// Runs `make()` `runs` times to completion; per-run wall times.
fn time_process(make: &dyn Fn() -> std::process::Command, runs: usize) -> Result<Vec<u128>> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut command = make();
        command.stdin(null()).stdout(null()).stderr(null());
        let t = Instant::now();
        let status = command.status()?;
        samples.push(t.elapsed().as_nanos());
        ensure!(status.success(), "{command:?} failed: {status}");
    }
    Ok(samples)
}

/// This process's resident set, in KiB.
fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `procbox-bench rss-child KIND N` and returns its RSS growth in KiB.
async fn rss_in_child(kind: &str, n: usize) -> Result<u64> {
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .args(["rss-child", kind, &n.to_string()])
        .stdin(null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .await?;
    ensure!(out.status.success(), "rss-child {kind} failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("rss "))
        .with_context(|| format!("rss-child {kind} printed no rss line: {text}"))?;
    let f = fields(line);
    let get = |k: &str| -> Result<u64> { Ok(f.get(k).context("rss field")?.parse()?) };
    Ok(get("during_kib")?.saturating_sub(get("before_kib")?))
}

/// Samples VmRSS at the first spawn decision and at decision `at`.
struct RssProbe {
    decisions: AtomicUsize,
    at: usize,
    samples: Mutex<(u64, u64)>,
}

impl Observer for RssProbe {
    fn on_verdict(&self, _: &SpawnRequest, _: Result<&Decision, &SpawnError>) {
        let k = self.decisions.fetch_add(1, Ordering::SeqCst) + 1;
        if k == 1 {
            self.samples.lock().unwrap().0 = vm_rss_kib();
        } else if k == self.at {
            self.samples.lock().unwrap().1 = vm_rss_kib();
        }
    }
}

/// The body of `rss-child`: prints `rss before_kib=… during_kib=… n=…`.
async fn rss_child(kind: &str, n: usize) -> Result<()> {
    let (before, during) = match kind {
        "procbox" => {
            let runtime = Runtime::new()?;
            let plugin = runtime.load_file(Path::new(BENCH_WASM))?;
            let probe = Arc::new(RssProbe {
                decisions: AtomicUsize::new(0),
                at: n + 1,
                samples: Mutex::new((0, 0)),
            });
            let policy = PolicyBuilder::new()
                .allow_run("sleep 1000")
                .allow_run("/bin/true")
                .limits(Limits {
                    max_children: Some(n + 10),
                    ..Limits::default()
                })
                .build()?;
            let options = RunOptions::new(Arc::new(policy))
                .args(["hold".to_string(), "--n".into(), n.to_string()])
                .observer(probe.clone());
            // The plugin prints its result line; keep this process's stdout
            // for the rss line only.
            let outcome = runtime.run(&plugin, options).await?;
            ensure!(outcome == Outcome::Exited(0), "hold ended with {outcome:?}");
            let samples = *probe.samples.lock().unwrap();
            samples
        }
        "tokio" => {
            // Warm the process driver with one child first, as the plugin's
            // first decision comes after the runtime is up.
            tokio::process::Command::new("/bin/true").status().await?;
            let before = vm_rss_kib();
            let mut children = Vec::with_capacity(n);
            for _ in 0..n {
                children.push(
                    tokio::process::Command::new("sleep")
                        .arg("1000")
                        .env_clear()
                        .stdin(null())
                        .stdout(null())
                        .stderr(null())
                        .kill_on_drop(true)
                        .spawn()?,
                );
            }
            let during = vm_rss_kib();
            for child in &mut children {
                child.kill().await?;
            }
            (before, during)
        }
        other => bail!("rss-child: unknown kind {other}"),
    };
    println!("rss before_kib={before} during_kib={during} n={n}");
    Ok(())
}
