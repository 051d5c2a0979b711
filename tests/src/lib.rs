//! Helpers for the end-to-end tests: where the plugins are, running a
//! guest in process ([`run_guest`]) or through the `procbox` binary with a
//! deadline ([`procbox`], [`procbox_run`]), and checking for leftover
//! processes.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

pub mod harness;
pub mod help;
pub mod language;
pub mod readme;
pub mod terminal;

pub use harness::{limits, run_guest, run_guest_until, Outcome};

/// Paths of the test plugins, built by `build.rs`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// No single procbox run in the tests may take longer than this.
pub const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// No test may take longer than this.
pub const TEST_DEADLINE: Duration = Duration::from_secs(120);

/// Awaits `$body`, failing the test after [`TEST_DEADLINE`].
#[macro_export]
macro_rules! bounded {
    ($body:expr) => {
        tokio::time::timeout($crate::TEST_DEADLINE, $body)
            .await
            .expect("test deadline")
    };
}

/// The `procbox` binary that `cargo test` built next to the test binaries.
pub fn procbox_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let bin = dir.join("procbox");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --bin procbox` (package procbox-cli), or run `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// What a finished procbox run printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The value of the first `key=value` word for `key` in stdout (values
    /// without spaces).
    pub fn value(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.stdout
            .split_whitespace()
            .find_map(|word| word.strip_prefix(&prefix).map(str::to_string))
    }

    /// The rest of the first stdout line that starts with `key=` (values
    /// with spaces, such as messages).
    pub fn line(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_string))
    }
}

/// `target/` (or `$CARGO_TARGET_DIR`): where this test binary, and the
/// procbox binary next to it, were built.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test binary>")
        .to_path_buf()
}

/// The compilation cache every test's procbox uses: inside the target
/// directory, so a plugin is compiled once per machine, never into the
/// user's cache.
pub fn test_cache_dir() -> PathBuf {
    target_dir().join("procbox-test-cache")
}

/// The config directory every test's procbox uses unless the test gives
/// its own: one no test writes, so that grants remembered by the user (or
/// by another test) never reach a test.
pub fn test_config_dir() -> PathBuf {
    target_dir().join("procbox-test-config-unwritten")
}

/// `procbox ARGS` as every test runs it: no stdin, stdout and stderr piped,
/// killed if the test drops it, a compilation cache inside the target
/// directory rather than the user's, and no progress line for a slow
/// compile (a plugin's first compile on a busy machine can take over the
/// default second, and tests compare stderr exactly; the progress tests set
/// their own threshold).
fn procbox_command(args: &[&str]) -> tokio::process::Command {
    wrapped_procbox_command(&[], args)
}

/// `WRAPPER... procbox ARGS` (`setpriv ...`, `subreaper`), set up as
/// [`procbox_command`].
fn wrapped_procbox_command(wrapper: &[&str], args: &[&str]) -> tokio::process::Command {
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = tokio::process::Command::new(program);
            command.args(rest).arg(procbox_bin());
            command
        }
        None => tokio::process::Command::new(procbox_bin()),
    };
    command.env("PROCBOX_CACHE_DIR", test_cache_dir());
    command.env("PROCBOX_CONFIG_DIR", test_config_dir());
    command.env("PROCBOX_PROGRESS_AFTER_MS", "3600000");
    // Warnings must show without it; it would add log lines to stderr.
    command.env_remove("PROCBOX_LOG");
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `procbox ARGS` with extra environment variables (see [`procbox`]).
pub async fn procbox_with_env(vars: &[(&str, &std::path::Path)], args: &[&str]) -> Run {
    let mut command = procbox_command(args);
    command.envs(vars.iter().map(|(k, v)| (*k, *v)));
    finish(command, args).await
}

/// Runs `procbox ARGS` in `dir` to completion (see [`procbox`]).
pub async fn procbox_in(dir: &std::path::Path, args: &[&str]) -> Run {
    let mut command = procbox_command(args);
    command.current_dir(dir);
    finish(command, args).await
}

/// Runs `procbox ARGS` to completion, failing the test if it takes longer
/// than [`RUN_DEADLINE`] (the process is killed then).
pub async fn procbox(args: &[&str]) -> Run {
    finish(procbox_command(args), args).await
}

async fn finish(mut command: tokio::process::Command, args: &[&str]) -> Run {
    let child = command.spawn().expect("start procbox");
    let output = tokio::time::timeout(RUN_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("procbox {args:?} did not finish within {RUN_DEADLINE:?}"))
        .expect("wait for procbox");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a guest through the binary with any procbox flags:
/// `procbox run GUEST FLAGS -- ARGS` (see [`procbox`]).
pub async fn procbox_run(guest: &str, flags: &[&str], args: &[&str]) -> Run {
    let mut argv = vec!["run", guest];
    argv.extend(flags);
    argv.push("--");
    argv.extend(args);
    procbox(&argv).await
}

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
            panic!("procbox ended without printing {text:?}; saw {:?}", self.seen)
        };
        tokio::time::timeout(RUN_DEADLINE, read)
            .await
            .expect("waiting for output")
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
/// fallback (process groups and the sweep); tests/tests/containment.rs
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

/// A git repository in `dir/repo` with `commits` commits ("change 1", ...),
/// for the `recent` examples; returns its path.
pub fn git_repository(dir: &std::path::Path, commits: usize) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).expect("create the repository's directory");
    let git = |args: &[&str]| git_in(&repo, args);
    git(&["init", "-q"]);
    for n in 1..=commits {
        std::fs::write(repo.join("f"), n.to_string()).expect("write f");
        git(&["add", "f"]);
        git(&["commit", "-q", "-m", &format!("change {n}")]);
    }
    repo
}

/// `git ARGS` in `repo`, natively; its stdout.
pub fn git_in(repo: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-C"])
        .arg(repo)
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Who a test runs procbox as: root (the CI machines run as root), or the
/// unprivileged `nobody`, through `setpriv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    Root,
    Nobody,
}

/// The users the attack tests run as, in order: root, then `nobody` when
/// `nobody` can reach this checkout. A clone inside a directory others
/// cannot enter (a private home, a `mktemp -d` directory) keeps it out, and
/// so does running the tests as another user than root (`setpriv` needs
/// root): then the `nobody` half of each test is skipped, said on the
/// terminal (see [`skip`]), and its root half still runs.
pub fn users() -> Vec<User> {
    let mut users = vec![User::Root];
    if nobody_reaches("the half as nobody") {
        users.push(User::Nobody);
    }
    users
}

/// Whether a test that runs `procbox` as `nobody` can run here; when it
/// cannot, says why on the terminal (see [`users`]) and the test returns.
pub fn can_run_as_nobody() -> bool {
    nobody_reaches("it runs procbox as nobody")
}

/// Whether the tests run as root; when not, skips `what`, saying why (see
/// [`skip`]). For what only root may do: `chown` a file to another user,
/// mount, read a process that is not dumpable, be the root whose child
/// loses its capabilities.
pub fn running_as_root(what: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        skip(&format!("{what}: only root can, and the tests do not run as root"));
    }
    root
}

/// Whether procbox can make its run cgroups here, which `--max-processes`,
/// `--max-tree-memory` and a tree's measurement need: a writable pids and
/// memory hierarchy (root on the test machines, or a delegated cgroup);
/// when it cannot, skips `what`, saying why (see [`skip`]).
pub fn cgroups_work(what: &str) -> bool {
    use procbox::process_tree::cgroup::{check, TreeLimits};
    let limits = TreeLimits {
        max_processes: Some(1),
        max_memory: Some(1 << 30),
    };
    match check(&limits) {
        Ok(()) => true,
        Err(why) => {
            skip(&format!("{what}: {why}"));
            false
        }
    }
}

/// Whether `nobody` reaches this checkout; when not, skips `what`, saying why.
fn nobody_reaches(what: &str) -> bool {
    match nobody_reaches_checkout() {
        Ok(()) => true,
        Err(reason) => {
            skip(&format!("{what}: {reason}"));
            false
        }
    }
}

/// Whether `nobody` can open what its runs open in this checkout, asked once.
fn nobody_reaches_checkout() -> Result<(), String> {
    static ANSWER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ANSWER
        .get_or_init(|| {
            if !rustix::process::geteuid().is_root() {
                return Err("the tests do not run as root, and only root can become nobody".into());
            }
            // What nobody's runs open: procbox and the programs beside it,
            // and the plugins. Opened, not only executed: on some file
            // systems exec passes a directory that a lookup may not.
            let (bin, plugin) = (procbox_bin(), PathBuf::from(guests::SPAWN_OUTCOME));
            let out = std::process::Command::new(AS_NOBODY[0])
                .args(&AS_NOBODY[1..])
                .args(["test", "-r"])
                .arg(&bin)
                .args(["-a", "-r"])
                .arg(&plugin)
                .output()
                .map_err(|e| format!("cannot run setpriv: {e}"))?;
            if out.status.success() {
                return Ok(());
            }
            Err(format!(
                "nobody cannot read {} or {}; clone the repository where others can enter, such as /tmp, to run it",
                bin.display(),
                plugin.display()
            ))
        })
        .clone()
}

/// Says on the terminal that the running test skips `what`: one line,
/// `skipped: TEST: WHAT`, written past libtest's capture so that a passing
/// run shows it (and `grep -c skipped:` counts them).
pub fn skip(what: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {what}");
}

/// The command that runs a program as `nobody`, with no groups.
pub const AS_NOBODY: [&str; 4] = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];

/// `procbox ARGS` as `user`: the binary itself, or under [`AS_NOBODY`].
pub fn procbox_as(user: User) -> tokio::process::Command {
    match user {
        User::Root => tokio::process::Command::new(procbox_bin()),
        User::Nobody => {
            let mut command = tokio::process::Command::new(AS_NOBODY[0]);
            command.args(&AS_NOBODY[1..]).arg(procbox_bin());
            command
        }
    }
}

/// `procbox run` as `user`, ready for the plugin and its arguments: root
/// with the shared test cache, nobody without a cache (the test cache is
/// root's and private).
pub fn procbox_run_as(user: User) -> tokio::process::Command {
    let mut command = procbox_as(user);
    command.arg("run");
    match user {
        User::Root => command.env("PROCBOX_CACHE_DIR", test_cache_dir()),
        User::Nobody => command.arg("--no-cache"),
    };
    command
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
