//! The scenarios of a whole start: a `procbox run` of a cached no-op
//! against `python3 -c pass` and `node -e ''` (g), the cost of a run inside
//! one process, the memory of many children (h), and loading a plugin from
//! the compile cache against compiling it (i).

use std::path::Path;
use std::time::Instant;

use anyhow::{ensure, Result};

use super::*;

impl Bench {
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
