//! The scenarios, each procbox side by side with its baseline.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{ensure, Context, Result};

use super::baselines::*;
use super::rss::*;
use super::*;

mod startup;

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
        self.plugin_observed(policy, args, key, Vec::new()).await
    }

    /// The plugin's `median_ns`, with `observers` watching its run.
    pub(crate) async fn plugin_median(
        &self,
        policy: PolicyBuilder,
        args: &[&str],
        observers: Vec<Arc<dyn Observer>>,
    ) -> Result<f64> {
        self.plugin_observed(policy, args, "median_ns", observers).await
    }

    async fn plugin_observed(
        &self,
        policy: PolicyBuilder,
        args: &[&str],
        key: &str,
        observers: Vec<Arc<dyn Observer>>,
    ) -> Result<f64> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let fields = self.plugin(policy, &args, observers).await?;
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
        let stages = Arc::new(super::stages::StageLog::default());
        for rep in 0..self.reps {
            let policy = PolicyBuilder::new().allow_run("/bin/true");
            let p = self.plugin_median(policy, &args, vec![stages.clone()]).await?;
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
        let mut rows = spawn_wait_rows(p, u, o, t, c);
        rows.extend(stages.rows(p));
        Ok(rows)
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
}

/// The rows of (a): the default (confined and contained) `p`, with
/// `--contain=off` `u`, both off `o`, tokio `t`, the bare loop `c`.
fn spawn_wait_rows(p: f64, u: f64, o: f64, t: f64, c: f64) -> Vec<Row> {
    vec![
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
            "<= 1.00x",
            Some(p / t <= 1.00),
        ),
    ]
}
