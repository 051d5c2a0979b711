//! The scenarios, each procbox side by side with its baseline.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context, Result};

use super::baselines::*;
use super::rss::*;
use super::*;

/// The grant of (c) and (j): `/bin/true`, with room for 1000 children.
pub(crate) fn burst_policy() -> PolicyBuilder {
    PolicyBuilder::new().allow_run("/bin/true").limits(Limits {
        max_children: Some(1000),
        ..Limits::default()
    })
}

impl Bench {
    /// Runs the bench plugin with `args` under `policy` (plus a directory to
    /// write its result to) and returns the fields of its result line.
    pub(crate) async fn plugin(
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

    pub(crate) async fn plugin_f64(&self, policy: PolicyBuilder, args: &[&str], key: &str) -> Result<f64> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let fields = self.plugin(policy, &args, Vec::new()).await?;
        fields
            .get(key)
            .with_context(|| format!("no {key} in {fields:?}"))?
            .parse()
            .with_context(|| format!("{key} is not a number"))
    }

    /// (a) spawn + wait of /bin/true: plugin (the default: confined and
    /// contained; with `--contain=off`; with both off) vs tokio vs
    /// posix_spawn.
    pub(crate) async fn spawn_wait(&self) -> Result<Vec<Row>> {
        let n = self.sizes.spawn.to_string();
        let (mut pb, mut off, mut tk, mut ps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut uncontained = Vec::new();
        let args = ["spawn_true", "--n", &n];
        for rep in 0..self.reps {
            let policy = PolicyBuilder::new().allow_run("/bin/true");
            let p = self.plugin_f64(policy, &args, "median_ns").await?;
            let confined_only = PolicyBuilder::new().allow_run("/bin/true").contain(Strictness::Off);
            let u = self.plugin_f64(confined_only, &args, "median_ns").await?;
            let unconfined = PolicyBuilder::new()
                .allow_run("/bin/true")
                .confine(Strictness::Off)
                .contain(Strictness::Off);
            let o = self.plugin_f64(unconfined, &args, "median_ns").await?;
            let t = median_ns(&tokio_spawn_true(self.sizes.spawn).await?);
            let count = self.sizes.spawn;
            let c = median_ns(&tokio::task::spawn_blocking(move || posix_spawn_true(count)).await??);
            rep_log(
                "a",
                rep,
                &[
                    ("procbox", us(p)),
                    ("contain-off", us(u)),
                    ("both-off", us(o)),
                    ("tokio", us(t)),
                    ("posix_spawn", us(c)),
                ],
            );
            pb.push(p);
            uncontained.push(u);
            off.push(o);
            tk.push(t);
            ps.push(c);
        }
        let (p, u, o, t, c) = (median(pb), median(uncontained), median(off), median(tk), median(ps));
        Ok(vec![
            Row::new(
                "(a) spawn+wait /bin/true, contained vs --contain=off",
                us(p),
                us(u),
                ratio(p / u),
                "<= 1.10x",
                Some(p / u <= 1.10),
            ),
            Row::new(
                "(a) spawn+wait, --contain=off vs both off",
                us(u),
                us(o),
                ratio(u / o),
                "(info)",
                None,
            ),
            Row::new(
                "(a) spawn+wait, both off vs posix_spawn",
                us(o),
                us(c),
                ratio(o / c),
                "(info)",
                None,
            ),
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
    pub(crate) async fn capture(&self) -> Result<Row> {
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
    pub(crate) async fn pipeline(&self) -> Result<Row> {
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
    pub(crate) async fn burst(&self) -> Result<Vec<Row>> {
        let n = self.sizes.burst;
        let (mut pb, mut uncontained, mut tk) = (Vec::new(), Vec::new(), Vec::new());
        let args = ["burst", "--n", &n.to_string()];
        for rep in 0..self.reps {
            let p = self.plugin_f64(burst_policy(), &args, "rate_per_s").await?;
            let u = self
                .plugin_f64(burst_policy().contain(Strictness::Off), &args, "rate_per_s")
                .await?;
            let t = tokio_burst(n).await?;
            let rate = |r: f64| format!("{r:.0}/s");
            rep_log(
                "c",
                rep,
                &[("procbox", rate(p)), ("contain-off", rate(u)), ("tokio", rate(t))],
            );
            pb.push(p);
            uncontained.push(u);
            tk.push(t);
        }
        let (p, u, t) = (median(pb), median(uncontained), median(tk));
        Ok(vec![
            Row::new(
                &format!("(c) {n} spawns in flight, contained vs --contain=off"),
                format!("{p:.0}/s"),
                format!("{u:.0}/s"),
                ratio(p / u),
                ">= 0.90x",
                Some(p / u >= 0.90),
            ),
            Row::new(
                &format!("(c) {n} spawns in flight vs tokio"),
                format!("{p:.0}/s"),
                format!("{t:.0}/s"),
                ratio(p / t),
                ">= 0.90x",
                Some(p / t >= 0.90),
            ),
        ])
    }

    /// (d) reading a child's stdout: plugin vs tokio, GB/s.
    pub(crate) async fn read(&self) -> Result<Vec<Row>> {
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
    pub(crate) async fn big_host(&self) -> Result<Vec<Row>> {
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
            // Neither confined nor contained: otherwise every child goes
            // through the launcher, and rlimits no longer move procbox to
            // fork.
            let fork_policy = || {
                PolicyBuilder::new()
                    .allow_run("/bin/true")
                    .limits(fork_limits)
                    .confine(Strictness::Off)
                    .contain(Strictness::Off)
            };
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
                "(f) spawn+wait confined, host holds 1 GiB",
                us(b),
                format!("{} idle", us(i)),
                ratio(b / i),
                "<= 1.10x",
                Some(b / i <= 1.10),
            ),
            Row::new(
                "(f) same, --confine=off --contain=off fork path (--rlimit-nofile)",
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
    pub(crate) async fn cli_run(&self) -> Result<Vec<Row>> {
        let procbox_cmd = self.procbox_noop_command()?;
        let runs = self.sizes.cli_runs;
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
    pub(crate) async fn in_process_run(&self, dir: &Path, runs: usize) -> Result<f64> {
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
    pub(crate) async fn rss(&self) -> Result<Row> {
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
    pub(crate) async fn load(&self) -> Result<Vec<Row>> {
        let mut rows = self.cached_load()?;
        rows.push(self.allocators()?);
        Ok(rows)
    }

    /// `procbox run bench.wasm -- noop` with a cache of its own, as a
    /// command factory.
    fn procbox_noop_command(&self) -> Result<impl Fn() -> std::process::Command + Clone + Send + 'static> {
        let exe = std::env::current_exe()?;
        let bin = exe.with_file_name("procbox");
        ensure!(
            bin.exists(),
            "{} is missing: cargo build --release -p procbox-cli -p procbox-bench",
            bin.display()
        );
        let cache = self.tmp.join("cli-cache");
        Ok(move || {
            let mut c = std::process::Command::new(&bin);
            c.args(["run", BENCH_WASM, "--", "noop"])
                .env("PROCBOX_CACHE_DIR", &cache);
            c
        })
    }

    /// (i): a compile into the cache, then loads from it.
    fn cached_load(&self) -> Result<Vec<Row>> {
        let (mut compile, mut cached, mut cached_full) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let dir = self.tmp.join(format!("compile-{rep}"));
            let runtime = Runtime::new()?.with_cache(&dir);
            let t = Instant::now();
            let (_, origin) = runtime.compile_cached("bench.wasm", &self.wasm)?;
            let c = t.elapsed().as_nanos() as f64;
            ensure!(
                origin == procbox::Origin::Compiled,
                "the cache in {} was not empty",
                dir.display()
            );
            let mut loads = Vec::new();
            let mut fulls = Vec::new();
            for _ in 0..self.sizes.cached_loads {
                let t = Instant::now();
                let (_, origin) = runtime.compile_cached("bench.wasm", &self.wasm)?;
                loads.push(t.elapsed().as_nanos());
                ensure!(origin == procbox::Origin::Cached, "not loaded from the cache");
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
        ])
    }

    /// (i): instantiation with the pooling allocator vs on demand.
    fn allocators(&self) -> Result<Row> {
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
        Ok(Row::new(
            "(i) instantiate + drop: pooling vs on-demand allocator",
            us(p),
            format!("{} on-demand", us(d)),
            ratio(p / d),
            "(info)",
            None,
        ))
    }
}
