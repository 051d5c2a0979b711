//! Where (a)'s time goes: every contained spawn's [`SpawnStages`], as the
//! library reports them to an observer at each exit, and their means as
//! rows of the table (issue 22: "a miss says where the time goes").

use std::sync::Mutex;
use std::time::Duration;

use procbox::{ExitEvent, LauncherStages, Observer, SpawnStages};

use super::Row;

/// Keeps the stages of every child that exited.
#[derive(Default)]
pub(crate) struct StageLog(Mutex<Vec<SpawnStages>>);

impl Observer for StageLog {
    fn on_exit(&self, exit: &ExitEvent<'_>) {
        if let Ok(status) = exit.status {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(status.stages);
        }
    }
}

impl StageLog {
    /// One row per stage: its mean over every spawn logged (means add up,
    /// as a breakdown must; medians need not) and its share of the mean
    /// of their sum; then that sum beside `whole`, (a)'s median as the
    /// plugin timed it (from its spawn call to its wait's return: the
    /// stages and the plugin's own calls and wake-ups).
    pub(crate) fn rows(&self, whole: f64) -> Vec<Row> {
        let logged = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if logged.is_empty() {
            return Vec::new();
        }
        let of = |stage: &dyn Fn(&SpawnStages) -> Duration| {
            logged.iter().map(|s| stage(s).as_nanos() as f64).sum::<f64>() / logged.len() as f64
        };
        let launcher = |stage: fn(&LauncherStages) -> Duration| {
            move |s: &SpawnStages| s.launcher.map_or(Duration::ZERO, |l| stage(&l))
        };
        let round_trip =
            |l: LauncherStages| l.request_way + l.prepare + l.cgroup_join + l.landlock + l.clone_exec + l.reply_way;
        let total = of(&|s| s.judge + s.prepare + s.start + s.run + s.reap);
        let stages: Vec<(&str, f64)> = vec![
            ("judge (the gate, hooks)", of(&|s| s.judge)),
            ("prepare (admission, plan, streams, directory)", of(&|s| s.prepare)),
            ("start: the launcher's round trip", of(&|s| s.start)),
            ("  the request's way to the launcher", of(&launcher(|l| l.request_way))),
            ("  in the launcher: request to clone", of(&launcher(|l| l.prepare))),
            ("  in the launcher: cgroup join", of(&launcher(|l| l.cgroup_join))),
            (
                "  in the launcher: no_new_privs and Landlock",
                of(&launcher(|l| l.landlock)),
            ),
            ("  in the launcher: clone to exec", of(&launcher(|l| l.clone_exec))),
            ("  the reply's way back to the spawn", of(&launcher(|l| l.reply_way))),
            (
                "  the rest (finding the launcher, the child's registration)",
                of(&|s| s.start.saturating_sub(s.launcher.map_or(Duration::ZERO, round_trip))),
            ),
            ("run: the child, and its watcher's wake-up", of(&|s| s.run)),
            ("reap (wake-up to status)", of(&|s| s.reap)),
        ];
        let mut rows: Vec<Row> = stages.iter().map(|(name, ns)| stage_row(name, *ns, total)).collect();
        rows.push(Row::new(
            &format!("(a) stages in all, mean of {} spawns, vs (a)'s median", logged.len()),
            format!("{:.1} us", total / 1e3),
            format!("{:.0} us", whole / 1e3),
            format!("{:.2}x", total / whole),
            "(info)",
            None,
        ));
        rows
    }
}

/// A stage's mean `ns` and its share of `total`, the mean of the sums.
fn stage_row(name: &str, ns: f64, total: f64) -> Row {
    Row::new(
        &format!("(a) stage (mean): {name}"),
        format!("{:.1} us", ns / 1e3),
        format!("of {:.0} us", total / 1e3),
        format!("{:.0} %", 100.0 * ns / total),
        "(info)",
        None,
    )
}
