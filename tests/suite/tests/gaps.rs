//! The gaps that remain for a confined, contained child, each shown with a
//! real child of a real plugin run through the `procbox` binary (the list
//! in SECURITY.md, "What remains", and in `procbox doctor`). Each test
//! asserts that its gap is **real** on this machine: when a kernel or a
//! procbox change closes one, its test fails, and SECURITY.md and
//! `procbox doctor` must say so.
//!
//! The actions are done by `gap-probe` (`tests/suite/src/bin/gap-probe.rs`), by
//! `escape-probe`, or by system tools (`touch`, `stat`, `cat`, `mkdir`).

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use procbox_tests::{bounded, guests, procbox, procbox_run, procbox_with_env, Background, Run};

const GAP: &str = env!("CARGO_BIN_EXE_gap-probe");
const ESCAPE: &str = env!("CARGO_BIN_EXE_escape-probe");

/// `procbox run spawn-outcome FLAGS -- EXPECTED COMMAND`, which must end 0
/// (the plugin saw what it expected).
async fn outcome(flags: &[&str], expected: &str, command: &[&str]) -> Run {
    let args: Vec<&str> = std::iter::once(expected).chain(command.iter().copied()).collect();
    let run = bounded!(procbox_run(guests::SPAWN_OUTCOME, flags, &args));
    assert_eq!(run.code, Some(0), "{flags:?} {expected} {command:?}: {run:?}");
    run
}

fn allow(program: &str) -> String {
    format!("--allow-run={program}")
}

fn file_in(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The ELF interpreter of `program`, as procbox grants it to its children.
fn loader_of(program: &str) -> String {
    let found = procbox::sandbox::plan::interpreters(Path::new(program));
    found
        .first()
        .unwrap_or_else(|| panic!("{program} has no ELF interpreter"))
        .display()
        .to_string()
}

/// 2000-01-01T00:00:00Z.
const Y2000: i64 = 946_684_800;

#[tokio::test]
async fn a_child_sets_the_timestamps_of_files_it_may_only_read_or_not_read_at_all() {
    let granted = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let readable = file_in(granted.path(), "readable", "unchanged\n");
    let hidden = file_in(elsewhere.path(), "hidden", "unchanged\n");
    let dir = format!("--dir={}", granted.path().display());
    let flags = [allow("touch"), dir.clone()];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    for file in [&readable, &hidden] {
        outcome(&flags, "ok", &["touch", "-d", "2000-01-01T00:00:00Z", text(file)]).await;
        let meta = std::fs::metadata(file).unwrap();
        assert_eq!((meta.mtime(), meta.atime()), (Y2000, Y2000), "{}", file.display());
        assert_eq!(std::fs::read_to_string(file).unwrap(), "unchanged\n");
    }
    // Its contents stay read-only: the gap is the times alone.
    let write = format!("echo changed > {}", readable.display());
    outcome(&[&allow("sh"), &dir], "fails:Permission denied", &["sh", "-c", &write]).await;
    assert_eq!(std::fs::read_to_string(&readable).unwrap(), "unchanged\n");
}

#[tokio::test]
async fn a_child_stats_paths_it_may_not_read() {
    let elsewhere = tempfile::tempdir().unwrap();
    let hidden = file_in(elsewhere.path(), "hidden", "12345\n");
    outcome(&[&allow("cat")], "fails:Permission denied", &["cat", text(&hidden)]).await;
    outcome(&[&allow("stat")], "stdout:6", &["stat", "-c", "%s", text(&hidden)]).await;
}

#[tokio::test]
async fn a_child_watches_with_inotify_a_directory_it_may_not_read() {
    let elsewhere = tempfile::tempdir().unwrap();
    let secret = file_in(elsewhere.path(), "secret", "not for children\n");
    let dir = text(elsewhere.path());
    let mut run = Background::start(&[
        "run",
        guests::LOG_WATCHER,
        &allow(GAP),
        "--",
        "inotify-event",
        "60",
        GAP,
        "inotify",
        dir,
    ]);
    run.line_with("watching").await;
    // Someone else (this test) reads a file there: the child sees it.
    std::fs::read(&secret).unwrap();
    let seen = run.line_with("inotify-event").await;
    assert!(seen.contains("name=secret"), "{seen}");
    let (code, stderr) = run.finish().await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn a_child_holds_a_lock_on_a_file_it_may_only_read() {
    let granted = tempfile::tempdir().unwrap();
    let shared = file_in(granted.path(), "shared.lock", "");
    let dir = format!("--dir={}", granted.path().display());
    let mut run = Background::start(&[
        "run",
        guests::LOG_WATCHER,
        &allow(GAP),
        &dir,
        "--",
        "never printed",
        "60",
        GAP,
        "flock",
        text(&shared),
    ]);
    run.line_with("locked").await;
    // A program of the user's that takes the same lock cannot have it.
    let file = std::fs::File::open(&shared).unwrap();
    // SAFETY: a plain flock on our own descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    let err = std::io::Error::last_os_error();
    assert_eq!((rc, err.raw_os_error()), (-1, Some(libc::EWOULDBLOCK)), "{err}");
    run.signal(libc::SIGTERM);
    run.finish().await;
}

#[tokio::test]
async fn a_contained_child_lists_the_machines_sockets_in_proc_net() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let elsewhere = tempfile::tempdir().unwrap();
    let socket = elsewhere.path().join("daemon.sock");
    let _daemon = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let run = outcome(&[&allow("cat")], "ok", &["cat", "/proc/net/tcp", "/proc/net/unix"]).await;
    assert!(
        run.stdout.contains(&format!("0100007F:{port:04X}")),
        "port {port} is not listed: {run:?}"
    );
    assert!(run.stdout.contains(text(&socket)), "{run:?}");
    // Contained: the same child sees none of the machine's processes.
    let me = format!("/proc/{}/cmdline", std::process::id());
    outcome(&[&allow("cat")], "fails:No such file", &["cat", &me]).await;
}

#[tokio::test]
async fn the_elf_loader_runs_files_the_exec_right_does_not_grant() {
    let loader = loader_of(GAP);
    let flags = [allow(GAP)];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // The exec right holds for execve: /bin/sh was not granted.
    let direct = [GAP, "exec", "/bin/sh", "-c", "echo ran"];
    outcome(&flags, "fails:Permission denied", &direct).await;
    // The granted program's loader runs it anyway: it is only read.
    let loaded = [GAP, "exec", &loader, "/bin/sh", "-c", "echo ran through the loader"];
    outcome(&flags, "stdout:ran through the loader", &loaded).await;
    // So does a copy the child wrote to $TMPDIR, and one in a memfd sealed
    // against exec (the filter refuses only executable memfds).
    let copied = [GAP, "ldso-copy", &loader, "/bin/echo", "ran from TMPDIR"];
    outcome(&flags, "stdout:ran from TMPDIR", &copied).await;
    let sealed = [GAP, "ldso-memfd", &loader, "/bin/echo", "ran from a sealed memfd"];
    outcome(&flags, "stdout:ran from a sealed memfd", &sealed).await;
    // What the child may not read, the loader cannot load either.
    let elsewhere = tempfile::tempdir().unwrap();
    let unreadable = elsewhere.path().join("echo");
    std::fs::copy("/bin/echo", &unreadable).unwrap();
    let refused = [GAP, "exec", &loader, text(&unreadable), "ran"];
    outcome(&flags, "fails:exit status: 127", &refused).await;
}

#[tokio::test]
async fn no_default_cap_on_the_trees_processes_until_max_processes() {
    if !procbox_tests::cgroups_work("it runs with --max-processes") {
        return;
    }
    let flag = allow(GAP);
    outcome(&[&flag], "stdout:forked 500", &[GAP, "fork", "500"]).await;
    let capped = [flag.as_str(), "--max-processes=50"];
    outcome(&capped, "fails:Resource temporarily unavailable", &[GAP, "fork", "500"]).await;
}

#[tokio::test]
async fn no_default_cap_on_the_trees_memory_until_max_tree_memory() {
    if !procbox_tests::cgroups_work("it runs with --max-tree-memory") {
        return;
    }
    let flag = allow(GAP);
    outcome(&[&flag], "stdout:allocated 512 MiB", &[GAP, "alloc", "512"]).await;
    let capped = [flag.as_str(), "--max-tree-memory=128MiB"];
    let run = outcome(&capped, "fails:", &[GAP, "alloc", "512"]).await;
    assert!(run.stdout.contains("killed by signal 9"), "{run:?}");
}

#[tokio::test]
async fn rlimit_fsize_caps_each_file_not_what_children_write_in_total() {
    let flag = allow(GAP);
    let capped = [flag.as_str(), "--rlimit-fsize=4MiB"];
    outcome(&capped, "stdout:wrote 18 MiB", &[GAP, "fill", "TMPDIR", "6", "3"]).await;
    let run = outcome(&capped, "fails:", &[GAP, "fill", "TMPDIR", "1", "5"]).await;
    assert!(run.stdout.contains("killed by signal 25"), "SIGXFSZ: {run:?}");
}

#[tokio::test]
async fn below_landlock_abi_6_and_without_a_pid_namespace_a_child_signals_any_process_of_the_user() {
    let mut victim = tokio::process::Command::new("sleep")
        .arg("60")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = victim.id().unwrap().to_string();
    let run = |abi: &'static str, flags: Vec<String>, expected: &'static str| {
        let pid = pid.clone();
        async move {
            let mut args = vec!["run".to_string(), guests::SPAWN_OUTCOME.into(), allow(GAP)];
            args.extend(flags);
            args.extend(["--".into(), expected.into(), GAP.into(), "signal".into(), pid]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env = [("PROCBOX_PRETEND_LANDLOCK_ABI", Path::new(abi))];
            let run = bounded!(procbox_with_env(&env, &args));
            assert_eq!(run.code, Some(0), "ABI {abi} {args:?}: {run:?}");
        }
    };
    // Closed on this machine: Landlock ABI 6 scopes signals, and a PID
    // namespace hides every other process whatever the ABI.
    run("7", vec!["--contain=off".into()], "fails:Operation not permitted").await;
    run("5", vec![], "fails:No such process").await;
    assert!(victim.try_wait().unwrap().is_none(), "the process was signalled");
    // Open below ABI 6 without a namespace.
    run("5", vec!["--contain=off".into()], "ok").await;
    let status = bounded!(victim.wait()).unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

#[tokio::test]
async fn with_unix_granted_a_child_reaches_socket_files_outside_its_grants() {
    // Landlock controls socket files only from ABI 9: procbox does not
    // use it, so the grant reaches every socket file the user can.
    let elsewhere = tempfile::tempdir().unwrap();
    let socket = elsewhere.path().join("agent.sock");
    let _agent = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let probe = [ESCAPE, "unix", text(&socket)];
    outcome(&[&allow(ESCAPE)], "fails:Permission denied", &probe).await;
    outcome(&[&allow(ESCAPE), "--allow-child-net=unix"], "ok", &probe).await;
}

#[tokio::test]
async fn with_a_bind_grant_a_child_listens_on_an_ephemeral_port() {
    outcome(&[&allow(GAP)], "fails:Permission denied", &[GAP, "listen"]).await;
    let run = outcome(&[&allow(GAP), "--allow-child-net=bind:1"], "ok", &[GAP, "listen"]).await;
    let port: u16 = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("listening port="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{run:?}"));
    assert!(port > 1024, "{port}");
}

#[tokio::test]
async fn with_inherit_a_child_uses_procboxs_terminal_ioctls_but_not_tiocsti() {
    // The `inherit` plugin runs `echo` on procbox's own stdout. Here `echo`
    // is a script whose `#!` interpreter is gap-probe: the kernel runs the
    // interpreter of a granted script, so gap-probe gets the terminal.
    let bin = tempfile::tempdir().unwrap();
    let echo = file_in(bin.path(), "echo", &format!("#!{GAP} tty\n"));
    std::fs::set_permissions(&echo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let command = format!(
        "stty cols 80 rows 24; '{}' run '{}' --allow-run=echo --allow-inherit -- granted; stty size",
        procbox_tests::procbox_bin().display(),
        guests::INHERIT
    );
    let out = bounded!(tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("PATH", &path)
        .env("PROCBOX_CACHE_DIR", procbox_tests::test_cache_dir())
        .env("PROCBOX_CONFIG_DIR", procbox_tests::test_config_dir())
        .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output())
    .expect("script(1) from util-linux");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("tty: resize ok; foreground ok; TIOCSTI refused"),
        "{shown}"
    );
    // The child resized procbox's terminal (gap-probe sets 91 x 19).
    assert!(shown.contains("19 91"), "{shown}");
}

#[tokio::test]
async fn without_a_pid_namespace_a_child_reads_the_machines_proc() {
    let me = format!("/proc/{}/cmdline", std::process::id());
    let ours = std::fs::read_to_string(&me).unwrap();
    let argv0 = ours.split('\0').next().unwrap();
    let run = outcome(&[&allow("cat"), "--contain=off"], "ok", &["cat", &me]).await;
    assert!(
        run.stdout.contains(argv0),
        "this test binary's command line ({argv0}): {run:?}"
    );
}

#[tokio::test]
async fn a_git_directory_or_startup_file_a_child_creates_during_the_run_is_not_protected() {
    // Protected paths are found when the run starts: in a granted
    // directory that holds none, a child may create them.
    let granted = tempfile::tempdir().unwrap();
    let write = format!("--allow-write={}", granted.path().display());
    let hooks = granted.path().join(".git/hooks");
    outcome(&[&allow("mkdir"), &write], "ok", &["mkdir", "-p", text(&hooks)]).await;
    assert!(hooks.is_dir());
    let envrc = granted.path().join("sub/.envrc");
    std::fs::create_dir(granted.path().join("sub")).unwrap();
    let plant = format!("echo planted > {}", envrc.display());
    outcome(&[&allow("sh"), &write], "ok", &["sh", "-c", &plant]).await;
    assert_eq!(std::fs::read_to_string(&envrc).unwrap(), "planted\n");
}

#[tokio::test]
async fn doctor_lists_what_confinement_does_not_stop_measured_here() {
    let run = bounded!(procbox(&["doctor"]));
    // Protected paths are kept read-only by splitting the write set, with
    // or without a namespace: say so, and say NO where Landlock is missing.
    let split = "yes read-only for children by a Landlock write set split around them";
    assert!(run.stdout.contains(split), "{run:?}");
    let no_landlock = bounded!(procbox_tests::procbox_with_env(
        &[("PROCBOX_PRETEND_LANDLOCK_ABI", std::path::Path::new("0"))],
        &["doctor"]
    ));
    assert!(
        no_landlock
            .stdout
            .contains("NO  read-only for children by a Landlock write set"),
        "{no_landlock:?}"
    );
    let section = run
        .stdout
        .split_once("what confinement does not stop")
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_else(|| panic!("no gap section: {run:?}"));
    // Measured by a throw-away child under Landlock and the filter (a
    // child that could not confine itself, or read the file it may not,
    // says so in place of this line, and the gaps below default to yes).
    assert!(
        section.contains("measured just now by a throw-away child: Landlock ABI"),
        "the gaps were not measured: {section}"
    );
    for measured in ["timestamps:", "inotify:", "file locks:", "metadata:"] {
        assert!(
            section
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("yes {measured}"))),
            "{measured} is not measured as applying here: {section}"
        );
    }
    for gap in [
        "/proc/net:",
        "ELF loader:",
        "processes:",
        "memory:",
        "disk:",
        "signals:",
        "Unix socket files:",
        "listen:",
        "terminal:",
        "new protected paths:",
        "/proc:",
    ] {
        assert!(section.contains(gap), "{gap} is missing: {section}");
    }
    assert!(section.contains("--max-processes") && section.contains("--max-tree-memory"));
    // This kernel scopes signals (ABI 7) and children are contained.
    assert!(
        section.lines().any(|l| l.trim_start().starts_with("no  signals:")),
        "{section}"
    );
}
