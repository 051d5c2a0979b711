//! [`Pauses`]: the time a plugin spends waiting for an escalation hook's
//! answer (a person reading a prompt), which the spawn path records and the
//! plugin's time budget does not count ([`budget_spent`], the runtime's).

use std::sync::atomic::Ordering;
use std::time::Duration;

/// Time the plugin spent waiting for an escalation hook's answer (a person
/// reading a prompt): it does not count against `--max-plugin-time`.
#[derive(Debug, Default)]
pub struct Pauses {
    /// Nanoseconds of the waits that have ended.
    ended: std::sync::atomic::AtomicU64,
    /// Waits going on now.
    active: std::sync::atomic::AtomicUsize,
    /// Told when a wait ends.
    changed: tokio::sync::Notify,
}

/// One wait for an answer; it ends when dropped.
pub struct Pause<'a> {
    pauses: &'a Pauses,
    since: tokio::time::Instant,
}

impl Pauses {
    /// A wait starting now.
    pub fn begin(&self) -> Pause<'_> {
        self.active.fetch_add(1, Ordering::AcqRel);
        Pause {
            pauses: self,
            since: tokio::time::Instant::now(),
        }
    }

    /// All waits that have ended.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.ended.load(Ordering::Acquire))
    }

    fn waiting(&self) -> bool {
        self.active.load(Ordering::Acquire) > 0
    }
}

impl Drop for Pause<'_> {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.pauses.ended.fetch_add(nanos, Ordering::AcqRel);
        self.pauses.active.fetch_sub(1, Ordering::AcqRel);
        self.pauses.changed.notify_waiters();
    }
}

/// Resolves once `budget` has run out since `started`, not counting the
/// `pauses`: the budget does not run out during a wait, and the deadline
/// moves out by every wait.
pub async fn budget_spent(budget: Duration, started: tokio::time::Instant, pauses: &Pauses) {
    loop {
        let changed = pauses.changed.notified();
        if pauses.waiting() {
            changed.await;
            continue;
        }
        let deadline = started + budget + pauses.total();
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                if !pauses.waiting() && started + budget + pauses.total() <= tokio::time::Instant::now() {
                    return;
                }
            }
            () = changed => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::{timeout, Instant};

    #[tokio::test(start_paused = true)]
    async fn the_budget_stops_while_a_wait_goes_on_and_moves_out_by_it() {
        let pauses = Pauses::default();
        let started = Instant::now();
        let spent = budget_spent(Duration::from_secs(1), started, &pauses);
        tokio::pin!(spent);
        let waiting = pauses.begin();
        // Five seconds at a prompt: the one-second budget does not run out.
        assert!(timeout(Duration::from_secs(5), &mut spent).await.is_err());
        drop(waiting);
        assert_eq!(pauses.total(), Duration::from_secs(5));
        // It runs out one second of plugin time after the start: at 6 s.
        timeout(Duration::from_secs(2), &mut spent)
            .await
            .expect("the budget ran out");
        assert_eq!(started.elapsed(), Duration::from_secs(6));
    }
}
