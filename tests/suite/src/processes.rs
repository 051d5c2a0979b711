//! The processes a test starts and looks for: stress counts, the guard that
//! kills what a failing test started, existence and exit checks, a background
//! procbox, a tree's pids, peak memory, and live processes by name.

use super::*;

/// How many times a stress loop (a race loop, a kill storm, zombie churn)
/// goes round: `full` when `PROCBOX_STRESS=1`, which `.ci/run` sets for
/// one step of its own, and `quick` otherwise. Each caller says in a
/// comment why its quick count still catches the bug it guards; a loop
/// that a smaller count would no longer catch keeps its count and does not
/// call this. The tests that call it sit in modules named `stress`, so that
/// `cargo test stress::` runs them all (CONTRIBUTING.md, "Tests").
pub fn stress(full: usize, quick: usize) -> usize {
    if std::env::var_os("PROCBOX_STRESS").is_some_and(|v| v == "1") {
        full
    } else {
        quick
    }
}

/// Processes a test started, SIGKILLed when this is dropped: at the end of
/// the test, whether it passed or panicked, so that a failing test leaves
/// nothing running (a tree's escaped grandchild, a `sleep 1000` as
/// `nobody`). Each is held by a pidfd opened when it is added, so a pid
/// that the kernel has since given to another process is never
/// signalled. Dropping does not wait: these are not the test's children
/// (the test's own children are started with tokio's `kill_on_drop`,
/// which also reaps them).
#[derive(Default)]
pub struct KillOnDrop(Vec<std::os::fd::OwnedFd>);

impl KillOnDrop {
    /// A guard over `pids`.
    pub fn new(pids: impl IntoIterator<Item = u32>) -> KillOnDrop {
        let mut guard = KillOnDrop::default();
        for pid in pids {
            guard.add(pid);
        }
        guard
    }

    /// A guard over the processes of a tree line (`child= grandchild=
    /// escaped=`): with `--contain=off` nothing else kills them once
    /// procbox is gone.
    pub fn tree(line: &str) -> KillOnDrop {
        KillOnDrop::new(["child", "grandchild", "escaped"].map(|key| field(line, key)))
    }

    /// Adds `pid`; a process that is already gone is left out.
    pub fn add(&mut self, pid: u32) {
        let pid = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw);
        let pidfd = pid.and_then(|pid| rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok());
        self.0.extend(pidfd);
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pidfd in &self.0 {
            // ESRCH when it has exited already, as it should have.
            let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
        }
    }
}

/// Whether a process with this pid exists in any state, zombies included.
pub fn process_exists(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Waits until the process `pid` (not necessarily our child) has exited,
/// for at most `deadline`. Returns whether it did. Signals are delivered
/// asynchronously, so a killed process may linger for a moment; this waits
/// on a pidfd instead of guessing with sleeps.
pub fn exits_within(pid: u32, deadline: Duration) -> bool {
    // SAFETY: pidfd_open returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        // ESRCH: already gone (and reaped).
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let mut poll = libc::pollfd {
        fd: fd as i32,
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = deadline.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd; the fd is closed right after.
    let ready = unsafe { libc::poll(&mut poll, 1, millis) };
    // SAFETY: the pidfd is ours and used no more.
    unsafe { libc::close(fd as i32) };
    ready == 1
}

/// A procbox started in the background, for tests that signal it mid-run.
pub struct Background {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
}

impl Background {
    /// Starts `procbox ARGS` with stdout piped.
    pub fn start(args: &[&str]) -> Background {
        Background::start_wrapped(&[], args)
    }

    /// Starts `WRAPPER... procbox ARGS` with stdout piped (`setpriv ...`,
    /// or the `subreaper` of the tests).
    pub fn start_wrapped(wrapper: &[&str], args: &[&str]) -> Background {
        use tokio::io::AsyncBufReadExt;
        let mut child = wrapped_procbox_command(wrapper, args).spawn().expect("start procbox");
        let stdout = child.stdout.take().expect("piped");
        Background {
            child,
            lines: tokio::io::BufReader::new(stdout).lines(),
            seen: Vec::new(),
        }
    }

    /// The pid of the process started (procbox, or its wrapper).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Reads stdout until a line contains `text`; returns that line.
    pub async fn line_with(&mut self, text: &str) -> String {
        let read = async {
            while let Some(line) = self.lines.next_line().await.expect("read stdout") {
                self.seen.push(line.clone());
                if line.contains(text) {
                    return line;
                }
            }
            let stderr = self.rest_of_stderr().await;
            panic!(
                "procbox ended without printing {text:?}; saw {:?}; stderr: {stderr}",
                self.seen
            )
        };
        tokio::time::timeout(RUN_DEADLINE, read)
            .await
            .expect("waiting for output")
    }

    /// What procbox wrote to stderr, for a failure's message: read to its
    /// end (procbox has ended, or is about to), or empty if taken.
    async fn rest_of_stderr(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr).await;
        }
        stderr
    }

    /// Sends `signal` to procbox.
    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid() as libc::pid_t, signal) };
    }

    /// Waits for procbox to exit; returns its exit code and stderr.
    pub async fn finish(mut self) -> (Option<i32>, String) {
        use tokio::io::AsyncReadExt;
        let mut stderr = String::new();
        let mut pipe = self.child.stderr.take().expect("piped");
        let status = tokio::time::timeout(RUN_DEADLINE, async {
            pipe.read_to_string(&mut stderr).await.expect("read stderr");
            self.child.wait().await.expect("wait")
        })
        .await
        .expect("procbox did not exit");
        (status.code(), stderr)
    }
}

/// Picks `key=value` out of a line of `key=value` words.
pub fn field(line: &str, key: &str) -> u32 {
    let prefix = format!("{key}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {key}= in {line:?}"))
}

/// Runs `procbox ARGS` to completion and returns its peak RSS in bytes (from
/// `wait4`), with what it printed.
pub async fn procbox_peak_rss(args: &[&str]) -> (Run, u64) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    // Reaped by the wait4 below, which std's Child cannot do with rusage.
    #[allow(clippy::zombie_processes)]
    let measure = tokio::task::spawn_blocking(move || {
        let child = std::process::Command::new(procbox_bin())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start procbox");
        let pid = child.id() as libc::pid_t;
        let mut stdout = child.stdout.expect("piped");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).expect("read stdout");
        let mut status = 0;
        // SAFETY: rusage is plain old data filled by wait4 for our child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers to locals; `pid` is our unreaped child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(rc, pid, "wait4");
        let run = Run {
            code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            stdout: out,
            stderr: String::new(),
        };
        (run, usage.ru_maxrss as u64 * 1024)
    });
    tokio::time::timeout(RUN_DEADLINE, measure)
        .await
        .expect("procbox did not finish")
        .expect("measuring task")
}

/// The grants a tree scenario (`scenarios::start_tree`) needs: `sh`, and
/// under confinement the `setsid` and `sleep` it runs. Without the helpers
/// the grandchildren fail to `exec` and a test of their fate passes
/// without any grandchild to kill.
///
/// And `--contain=off`: the tree's pids are the shell's, which in a PID
/// namespace are the namespace's, not ours. These tests check the
/// fallback (process groups and the sweep); tests/suite/tests/containment.rs
/// checks the namespace, by marker.
pub const TREE_FLAGS: &[&str] = &[
    "--allow-run=sh",
    "--allow-helper=sh=/usr/bin/setsid",
    "--allow-helper=sh=/usr/bin/sleep",
    "--contain=off",
];

/// Asserts that every process of a tree line (`child= grandchild=
/// escaped=`) runs `sleep`: the test that follows kills something real.
/// Polls each `/proc/PID/cmdline` until the `exec` has happened (no event
/// announces it), for at most ten seconds.
#[track_caller]
pub fn assert_tree_running(line: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for key in ["child", "grandchild", "escaped"] {
        let pid = field(line, key);
        loop {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.starts_with(b"/usr/bin/sleep\0") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline && process_exists(pid),
                "{key} {pid} of the tree is not running sleep: {:?}",
                String::from_utf8_lossy(&cmdline)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The pids (in our namespace) of live processes whose first word and
/// whole command line (words joined by NUL) satisfy `matching`. Zombies
/// have no command line, so they never match.
pub fn live_processes(matching: impl Fn(&str, &str) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            let argv0 = cmdline.split('\0').next().unwrap_or_default();
            !cmdline.is_empty() && matching(argv0, &cmdline)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn kill_on_drop_kills_what_it_holds_and_leaves_out_what_is_gone() {
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        let mut sleep = std::process::Command::new("sleep").arg("1000").spawn().unwrap();
        let guard = super::KillOnDrop::new([sleep.id(), gone_pid]);
        assert_eq!(guard.0.len(), 1, "a reaped process is left out");
        drop(guard);
        assert_eq!(sleep.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
}
