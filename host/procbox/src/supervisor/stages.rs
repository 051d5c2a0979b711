//! The clock of one spawn: the moments that split its time in procbox into
//! [`SpawnStages`], stamped as the spawn goes (the spawner judges it, the
//! supervisor starts it, the watcher sees it exit and reaps it).

use std::time::Instant;

use crate::exit::{LauncherStages, SpawnStages};

/// The moments of one spawn so far; each stage starts where the one before
/// ended, so that the stages add up to the whole.
#[derive(Debug, Clone, Copy)]
pub struct StageClock {
    requested: Instant,
    judged: Instant,
    starting: Instant,
    started: Instant,
    launcher: Option<LauncherStages>,
    exited: Instant,
}

impl StageClock {
    /// A spawn requested now.
    pub fn requested() -> StageClock {
        let now = Instant::now();
        StageClock {
            requested: now,
            judged: now,
            starting: now,
            started: now,
            launcher: None,
            exited: now,
        }
    }

    /// Its request was judged (and allowed).
    pub fn judged(&mut self) {
        self.judged = Instant::now();
    }

    /// It is about to be started: the moment its run time counts from.
    pub fn starting(&mut self) {
        self.starting = Instant::now();
    }

    /// When it was about to be started ([`StageClock::starting`]): its
    /// run time and its timeout count from there.
    pub fn run_counts_from(&self) -> Instant {
        self.starting
    }

    /// It was started (it has exec'd), by the launcher if `launcher`.
    pub fn started(&mut self, launcher: Option<LauncherStages>) {
        self.started = Instant::now();
        self.launcher = launcher;
    }

    /// Its watcher saw it exit.
    pub fn exited(&mut self) {
        self.exited = Instant::now();
    }

    /// The stages of a spawn whose status was collected at `reaped`.
    pub fn stages(&self, reaped: Instant) -> SpawnStages {
        SpawnStages {
            judge: self.judged - self.requested,
            prepare: self.starting - self.judged,
            start: self.started - self.starting,
            launcher: self.launcher,
            run: self.exited - self.started,
            reap: reaped - self.exited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stages_add_up_to_the_whole_in_order() {
        let mut clock = StageClock::requested();
        let spin = |n: u32| (0..n).fold(0u64, |acc, i| std::hint::black_box(acc + u64::from(i)));
        spin(10_000);
        clock.judged();
        spin(10_000);
        clock.starting();
        let starting = clock.run_counts_from();
        spin(10_000);
        clock.started(None);
        clock.exited();
        let reaped = Instant::now();
        let stages = clock.stages(reaped);
        let sum = stages.judge + stages.prepare + stages.start + stages.run + stages.reap;
        assert_eq!(sum, reaped - clock.requested, "{stages:?}");
        assert_eq!(stages.start + stages.run + stages.reap, reaped - starting);
        assert!(stages.judge > std::time::Duration::ZERO && stages.prepare > std::time::Duration::ZERO);
    }
}
