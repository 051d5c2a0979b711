//! The signals `procbox run` handles: the ones that would end it (each
//! stops the plugin and kills its children first), and SIGCHLD (to reap
//! adopted orphans while the plugin runs).

use anyhow::Context;
use procbox::process_tree;

/// Reaps adopted orphans as they exit, for as long as the plugin runs: a
/// grandchild killed with its group is re-parented to procbox and would
/// otherwise stay a zombie, holding a pid, until the plugin ends.
pub fn reap_adopted_zombies_on_sigchld() -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut exits = signal(SignalKind::child()).context("cannot handle SIGCHLD")?;
    Ok(tokio::spawn(async move {
        while exits.recv().await.is_some() {
            process_tree::reap_adopted_zombies();
        }
    }))
}

/// Signals whose default action would end procbox without cleanup, and
/// that any process of the user may send: each stops the plugin and kills
/// its children instead. Not SIGBUS, SIGSEGV, SIGABRT, SIGFPE, SIGILL or
/// SIGSYS: a handler that returns from those can spin for ever.
fn shutdown_signals() -> Vec<libc::c_int> {
    let classic = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGXCPU,
        libc::SIGXFSZ,
    ];
    classic.into_iter().chain(libc::SIGRTMIN()..=libc::SIGRTMAX()).collect()
}

/// Resolves to the shell's exit code (128 + signal) for the first of the
/// [`shutdown_signals`].
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = i32>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for number in shutdown_signals() {
        let mut stream =
            signal(SignalKind::from_raw(number)).with_context(|| format!("cannot handle signal {number}"))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            if stream.recv().await.is_some() {
                let _ = tx.send(128 + number);
            }
        });
    }
    Ok(async move { rx.recv().await.unwrap_or(128 + libc::SIGTERM) })
}
