//! The worker's signals: SIGTERM or SIGINT drain it (stop polling, let
//! running plugins finish for `--drain`, then stop them); a second one
//! stops them at once. SIGCHLD reaps adopted orphans.

use std::time::Duration;

use anyhow::Context;
use procbox::process_tree;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts the drain on the first SIGTERM or SIGINT: `stop_polling` at once,
/// `stop_all` after `drain` or on a second signal.
pub fn on_signals(
    stop_polling: impl Fn() + Send + 'static,
    drain: Duration,
    stop_all: watch::Sender<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!(
            "shutting down: no new runs; running plugins have {} to finish",
            humantime::format_duration(drain)
        );
        stop_polling();
        tokio::select! {
            () = tokio::time::sleep(drain) => tracing::info!("the drain ended: stopping the plugins still running"),
            _ = term.recv() => tracing::info!("a second signal: stopping the plugins still running"),
            _ = int.recv() => tracing::info!("a second signal: stopping the plugins still running"),
        }
        let _ = stop_all.send(true);
    }))
}

/// Reaps adopted orphans as they exit (see `procbox run`'s signals).
pub fn reap_adopted_zombies() -> anyhow::Result<JoinHandle<()>> {
    let mut exits = signal(SignalKind::child()).context("cannot handle SIGCHLD")?;
    Ok(tokio::spawn(async move {
        while exits.recv().await.is_some() {
            process_tree::reap_adopted_zombies();
        }
    }))
}
