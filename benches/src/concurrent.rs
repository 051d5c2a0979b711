//! (j) Many runs in one process, as the worker serves them: `RUNS` plugin
//! runs of (c) at once, each under its own policy (so its own launcher,
//! namespace and cgroup), against one run alone, both timed the same way.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::scenarios::burst_policy;
use super::*;

/// How many runs share the process in the concurrent half.
const RUNS: usize = 16;

impl Bench {
    /// (j) aggregate spawn rate of [`RUNS`] concurrent runs of (c) vs one.
    pub(crate) async fn concurrent_runs(self: &Arc<Self>) -> Result<Vec<Row>> {
        let (mut one, mut many) = (Vec::new(), Vec::new());
        for rep in 0..self.reps {
            let alone = self.timed_bursts(1).await?;
            let together = self.timed_bursts(RUNS).await?;
            let rate = |r: f64| format!("{r:.0}/s");
            rep_log("j", rep, &[("one run", rate(alone)), ("runs at once", rate(together))]);
            one.push(alone);
            many.push(together);
        }
        let (one, many) = (median(one), median(many));
        Ok(vec![Row::new(
            &format!("(j) {RUNS} runs of (c) at once, aggregate vs one run"),
            format!("{many:.0}/s"),
            format!("{one:.0}/s"),
            ratio(many / one),
            ">= 0.90x",
            Some(many / one >= 0.90),
        )])
    }

    /// Spawns per second over `runs` concurrent runs of the burst plugin,
    /// each on a tokio task of its own under a policy of its own, from
    /// the first run's start to the last one's end (instantiation
    /// included, on both sides of the ratio).
    async fn timed_bursts(self: &Arc<Self>, runs: usize) -> Result<f64> {
        let n = self.sizes.burst;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..runs {
            let bench = Arc::clone(self);
            tasks.spawn(async move {
                let args = ["burst", "--n", &n.to_string()];
                bench.plugin_f64(burst_policy(), &args, "rate_per_s").await
            });
        }
        while let Some(ended) = tasks.join_next().await {
            ended??;
        }
        Ok((runs * n) as f64 / started.elapsed().as_secs_f64())
    }
}
