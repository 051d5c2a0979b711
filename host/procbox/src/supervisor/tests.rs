use super::admission::Admission;
use super::watch::Exited;
use super::*;
use crate::exit::Termination;
use crate::gate::{Gate, SpawnRequest};
use crate::policy::PolicyBuilder;
use crate::redirect::{Redirect, Redirects};
use crate::resolve::SearchPath;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};

const TEST_DEADLINE: Duration = Duration::from_secs(30);

fn permit(program: &str, args: &[&str]) -> Permit {
    permit_with(program, args, Redirects::default())
}

fn permit_with(program: &str, args: &[&str], stdio: Redirects<Redirect>) -> Permit {
    let policy = PolicyBuilder::new()
        .start_dir("/")
        .search_path(SearchPath::parse(OsStr::new("/usr/bin:/bin")))
        .allow_run(program)
        .allow_env("PATH=/usr/bin:/bin")
        .build()
        .unwrap();
    let request = SpawnRequest {
        program: program.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        cwd: None,
        stdio,
        measure_tree: false,
    };
    let policy = Arc::new(policy);
    let decision = Gate::new(policy.clone()).decide(&request).unwrap();
    Admission::new(policy.limits).admit(decision).unwrap()
}

async fn spawn_plain(
    permit: &mut Permit,
    upstream: Option<OwnedFd>,
    timeout: Option<Timeout>,
) -> Result<(Process, Pipes), SpawnError> {
    spawn(
        permit,
        upstream,
        timeout,
        None,
        None,
        super::stages::StageClock::requested(),
    )
    .await
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_DEADLINE, f).await.expect("test deadline")
}

fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|r| r.trim_start().chars().next()) != Some('Z'),
        Err(_) => false,
    }
}

#[test]
fn the_policys_ceiling_cannot_be_stretched_by_the_plugins_timeout() {
    let ms = Duration::from_millis;
    let t = |after, signal, grace| Timeout {
        after: ms(after),
        signal,
        grace: ms(grace),
    };
    let hour = 3_600_000;
    let g = CEILING_GRACE.as_millis() as u64;
    let cases = [
        // no ceiling: the plugin's timeout as asked
        (Some(t(100, libc::SIGINT, hour)), None, Some(t(100, libc::SIGINT, hour))),
        (None, None, None),
        // no timeout asked: the ceiling's own escalation
        (None, Some(1000), Some(t(1000, libc::SIGTERM, g))),
        // the plugin's comes first and ends in time: as asked
        (
            Some(t(100, libc::SIGINT, 50)),
            Some(1000),
            Some(t(100, libc::SIGINT, 50)),
        ),
        // ... but its grace cannot outlast the ceiling's SIGKILL
        (
            Some(t(100, libc::SIGCONT, hour)),
            Some(1000),
            Some(t(100, libc::SIGCONT, 900 + g)),
        ),
        // the ceiling comes first: its signal and grace, not the plugin's
        (
            Some(t(5000, libc::SIGCONT, hour)),
            Some(1000),
            Some(t(1000, libc::SIGTERM, g)),
        ),
        (
            Some(t(1000, libc::SIGSTOP, hour)),
            Some(1000),
            Some(t(1000, libc::SIGTERM, g)),
        ),
    ];
    for (requested, ceiling, expected) in cases {
        assert_eq!(
            Timeout::capped(requested, ceiling.map(ms)),
            expected,
            "{requested:?} under {ceiling:?}"
        );
    }
}

#[tokio::test]
async fn reports_exit_code_duration_and_usage() {
    let (mut process, _) = spawn_plain(&mut permit("sh", &["-c", "exit 3"]), None, None)
        .await
        .unwrap();
    let status = bounded(process.wait()).await.unwrap();
    assert_eq!(status.termination, Termination::Exited(3));
    assert!(!status.timed_out);
    assert!(status.duration > Duration::ZERO);
    assert!(status.usage.max_rss_bytes > 0, "rusage is filled in: {status:?}");
    // Waiting again returns the same status.
    assert_eq!(bounded(process.wait()).await.unwrap(), status);
    assert_eq!(process.try_wait(), Some(Ok(status)));
}

#[tokio::test]
async fn a_signal_is_reported_as_such() {
    let (mut process, _) = spawn_plain(&mut permit("sleep", &["1000"]), None, None).await.unwrap();
    assert_eq!(process.try_wait(), None);
    process.signal(libc::SIGTERM).unwrap();
    let status = bounded(process.wait()).await.unwrap();
    assert_eq!(status.termination, Termination::Signalled(libc::SIGTERM));
    // Signalling after the reap is a no-op, never a stray kill.
    process.signal(libc::SIGTERM).unwrap();
    process.kill().unwrap();
}

#[tokio::test]
async fn a_timeout_sends_the_signal_first() {
    let timeout = Timeout {
        after: Duration::from_millis(100),
        signal: libc::SIGTERM,
        grace: Duration::from_secs(20),
    };
    let (mut process, _) = spawn_plain(&mut permit("sleep", &["1000"]), None, Some(timeout))
        .await
        .unwrap();
    let status = bounded(process.wait()).await.unwrap();
    assert!(status.timed_out);
    assert_eq!(status.termination, Termination::Signalled(libc::SIGTERM));
}

#[tokio::test]
async fn a_timeout_escalates_to_sigkill_when_the_signal_is_ignored() {
    let timeout = Timeout {
        after: Duration::from_millis(100),
        signal: libc::SIGTERM,
        grace: Duration::from_millis(100),
    };
    let mut ignores_term = permit("sh", &["-c", "trap '' TERM; sleep 1000"]);
    let (mut process, _) = spawn_plain(&mut ignores_term, None, Some(timeout)).await.unwrap();
    let status = bounded(process.wait()).await.unwrap();
    assert!(status.timed_out);
    assert_eq!(status.termination, Termination::Signalled(libc::SIGKILL));
}

#[tokio::test]
async fn leftovers_in_the_group_die_with_the_leader() {
    let stdio = Redirects {
        stdout: Redirect::Piped,
        ..Redirects::default()
    };
    let mut permit = permit_with("sh", &["-c", "sleep 1000 & echo $!"], stdio);
    let (mut process, pipes) = spawn_plain(&mut permit, None, None).await.unwrap();
    let mut line = String::new();
    BufReader::new(std::fs::File::from(pipes.stdout.unwrap()))
        .read_line(&mut line)
        .unwrap();
    let grandchild: u32 = line.trim().parse().unwrap();
    let status = bounded(process.wait()).await.unwrap();
    assert_eq!(status.termination, Termination::Exited(0));
    // SIGKILL is delivered asynchronously: wait for the exit itself. A
    // `sleep 1000` that exits within the deadline was killed.
    let mut grandchild_exit = ExitWatch::new(grandchild as libc::pid_t);
    assert!(matches!(grandchild_exit, ExitWatch::Pidfd(..)) || !running(grandchild));
    bounded(grandchild_exit.exited()).await;
}

#[tokio::test]
async fn dropping_kills_and_the_watcher_reaps() {
    let (process, _) = spawn_plain(&mut permit("sleep", &["1000"]), None, None).await.unwrap();
    let pid = process.id();
    let waiter = process.waiter();
    drop(process);
    bounded(ExitWaiter::all_reaped(vec![waiter.clone()], TEST_DEADLINE)).await;
    assert!(waiter.is_reaped());
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    assert!(
        rustix::process::test_kill_process(pid).is_err(),
        "pid {pid:?} still exists (zombie or alive)"
    );
}

#[tokio::test]
async fn a_vanished_program_is_not_found() {
    let dir = tempdir();
    let program = dir.join("tool");
    std::fs::copy("/bin/true", &program).unwrap();
    let mut permit = permit(program.to_str().unwrap(), &[]);
    std::fs::remove_file(&program).unwrap();
    let err = spawn_plain(&mut permit, None, None).await.unwrap_err();
    assert!(matches!(err, SpawnError::NotFound(_)), "{err}");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("procbox-supervisor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
use std::path::PathBuf;
