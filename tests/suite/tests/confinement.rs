//! Confinement after `exec`: each attack below is a real program
//! (`escape-probe`, or a system tool) that a real plugin runs through the
//! real `procbox` binary. Confined (the default), the kernel refuses it;
//! the same request with `--confine=off` succeeds, so each test shows that
//! the refusal is the confinement's. Every attack runs as root and as an
//! unprivileged user (`nobody`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use procbox::policy::document::{self, Kind};
use procbox::{PolicyBuilder, Strictness};
use procbox_tests::{bounded, guests, procbox_bin, procbox_run_as, run_guest, test_cache_dir, Run, User};

mod side_doors;

const PROBE: &str = env!("CARGO_BIN_EXE_escape-probe");

/// `procbox run spawn-outcome --allow-run=PROBE FLAGS -- EXPECTED COMMAND`
/// as `user`, with extra environment `env`.
async fn run_as(user: User, env: &[(&str, &str)], flags: &[&str], expected: &str, command: &[&str]) -> Run {
    let mut cmd = procbox_run_as(user);
    let allow = format!("--allow-run={PROBE}");
    // procbox starts in an empty directory of its own: the start
    // directory is readable by children.
    let start = shared_dir();
    cmd.args([guests::SPAWN_OUTCOME, allow.as_str()])
        .args(flags)
        .arg("--")
        .arg(expected)
        .args(command)
        .envs(env.iter().copied())
        .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
        .env_remove("PROCBOX_LOG")
        .current_dir(start.path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = bounded!(cmd.output()).expect("start procbox");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs as `user` and asserts that the plugin's expectation held.
async fn expect(user: User, flags: &[&str], expected: &str, command: &[&str]) -> Run {
    let run = run_as(user, &[], flags, expected, command).await;
    assert_eq!(
        run.code,
        Some(0),
        "as {user:?} {flags:?}: expected {expected} from {command:?}: {run:?}"
    );
    run
}

/// The attack is refused when confined and works with `--confine=off`.
async fn refused_only_when_confined(flags: &[&str], command: &[&str]) {
    refused_with_only_when_confined("Permission denied", flags, command).await
}

/// [`refused_only_when_confined`], with the error the kernel gives.
async fn refused_with_only_when_confined(error: &str, flags: &[&str], command: &[&str]) {
    let refused = format!("fails:{error}");
    for user in procbox_tests::users() {
        expect(user, flags, &refused, command).await;
        let off: Vec<&str> = flags.iter().copied().chain(["--confine=off"]).collect();
        expect(user, &off, "ok", command).await;
    }
}

/// For each user: refused (the kernel's `EACCES`) under the `narrow` grant,
/// and allowed under the `wide` one.
async fn refused_under_allowed_under(narrow: &[&str], wide: &[&str], command: &[&str]) {
    for user in procbox_tests::users() {
        expect(user, narrow, "fails:Permission denied", command).await;
        expect(user, wide, "ok", command).await;
    }
}

/// A directory every user may enter, holding a file every user may read.
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

fn readable_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "not for children\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

#[tokio::test]
async fn a_granted_program_cannot_read_outside_the_read_set() {
    let dir = shared_dir();
    let secret = readable_file(dir.path(), "secret");
    let secret = secret.to_str().unwrap();
    refused_only_when_confined(&[], &[PROBE, "read", secret]).await;
    // Granting the directory with --allow-read lets children read it.
    let grant = format!("--allow-read={}", dir.path().display());
    for user in procbox_tests::users() {
        expect(user, &[&grant], "ok", &[PROBE, "read", secret]).await;
    }
    // A real tool, as the issue names it: cat.
    let run = expect(
        User::Root,
        &["--allow-run=cat"],
        "fails:Permission denied",
        &["cat", secret],
    )
    .await;
    assert!(!run.stdout.contains("not for children"), "{run:?}");
}

#[tokio::test]
async fn a_granted_program_cannot_write_outside_the_write_set() {
    for user in procbox_tests::users() {
        let dir = shared_dir();
        let target = dir.path().join("written");
        let target_str = target.to_str().unwrap();
        expect(user, &[], "fails:Permission denied", &[PROBE, "write", target_str]).await;
        assert!(!target.exists(), "a refused create left a file behind");
        // sort -o, as the issue names it.
        let sorted = dir.path().join("sorted");
        let sorted_str = sorted.to_str().unwrap();
        let sort = ["sort", "-o", sorted_str, "/etc/passwd"];
        expect(user, &["--allow-run=sort"], "fails:Permission denied", &sort).await;
        assert!(!sorted.exists(), "sort -o wrote outside the write set");
        // With --allow-write, and without confinement, both work.
        let grant = format!("--allow-write={}", dir.path().display());
        expect(user, &["--allow-run=sort", &grant], "ok", &sort).await;
        assert!(sorted.exists());
        expect(user, &["--confine=off"], "ok", &[PROBE, "write", target_str]).await;
        assert!(target.exists());
    }
}

#[tokio::test]
async fn a_granted_program_cannot_exec_what_was_not_granted() {
    // sh was granted, ls was not: the shell cannot run it (126).
    let shell = ["sh", "-c", "exec /bin/ls /usr >/dev/null"];
    for user in procbox_tests::users() {
        expect(user, &["--allow-run=sh"], "fails:Permission denied", &shell).await;
        expect(user, &["--allow-run=sh", "--confine=off"], "ok", &shell).await;
        // Granting ls as a helper of sh lets it run.
        expect(user, &["--allow-run=sh", "--allow-helper=sh=/bin/ls"], "ok", &shell).await;
        // A helper of another program does not.
        expect(
            user,
            &["--allow-run=sh", "--allow-helper=sort=/bin/ls"],
            "fails:Permission denied",
            &shell,
        )
        .await;
    }
    // env, find -exec and sort --compress-program run a program the same way.
    refused_only_when_confined(&["--allow-run=env"], &["env", "/bin/true"]).await;
}

#[tokio::test]
async fn a_granted_program_cannot_copy_a_program_into_memory_to_run_it() {
    refused_only_when_confined(&[], &[PROBE, "memfd"]).await;
}

#[tokio::test]
async fn the_whole_tree_is_confined_not_only_the_child() {
    // The shell may run cat (a helper), but cat, its child, is confined
    // like the shell: it cannot read what the plugin was not granted.
    let dir = shared_dir();
    let secret = readable_file(dir.path(), "secret");
    let script = format!("cat {}", secret.display());
    let flags = ["--allow-run=sh", "--allow-helper=sh=/bin/cat"];
    for user in procbox_tests::users() {
        expect(user, &flags, "fails:Permission denied", &["sh", "-c", &script]).await;
    }
}

#[tokio::test]
async fn a_child_cannot_connect_to_a_tcp_listener_unless_its_port_is_granted() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    refused_only_when_confined(&[], &[PROBE, "tcp", &address]).await;
    // Its port's grant opens it; another port's does not.
    let grant = format!("--allow-child-net={port}");
    let tcp = [PROBE, "tcp", &address];
    refused_under_allowed_under(&["--allow-child-net=1"], &[&grant], &tcp).await;
}

#[tokio::test]
async fn a_child_cannot_send_udp() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap().to_string();
    refused_only_when_confined(&[], &[PROBE, "udp", &address]).await;
    // A TCP port grant opens no UDP.
    let udp = [PROBE, "udp", &address];
    refused_under_allowed_under(&["--allow-child-net=53"], &["--allow-child-net=all"], &udp).await;
}

#[tokio::test]
async fn a_child_cannot_reach_a_unix_socket_unless_granted() {
    let dir = shared_dir();
    let path = dir.path().join("daemon.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = path.to_str().unwrap();
    refused_only_when_confined(&[], &[PROBE, "unix", path]).await;
    for user in procbox_tests::users() {
        expect(user, &["--allow-child-net=unix"], "ok", &[PROBE, "unix", path]).await;
    }
}

#[tokio::test]
async fn a_child_cannot_signal_any_thread_of_procbox() {
    // procbox is the child's parent: the probe signals its pid and every
    // one of its threads' tids. Outside a PID namespace: in one, procbox
    // does not exist for the child at all (tests/suite/tests/containment.rs);
    // here Landlock's scoping must refuse it.
    refused_with_only_when_confined("Operation not permitted", &["--contain=off"], &[PROBE, "signal-parent"]).await;
}

#[tokio::test]
async fn a_child_cannot_make_namespaces_to_use_up_the_user_s_quota() {
    // Found by review: a confined child made user namespaces until the
    // user's quota ran out, and a later run fell back to no PID namespace.
    refused_only_when_confined(&[], &[PROBE, "unshare"]).await;
}

#[tokio::test]
async fn a_child_cannot_type_into_a_terminal() {
    // TIOCSTI on /dev/null: refused by the filter (EACCES) when confined;
    // without it the kernel gets to say it is not a terminal.
    for user in procbox_tests::users() {
        expect(user, &[], "fails:Permission denied", &[PROBE, "tiocsti"]).await;
        expect(
            user,
            &["--confine=off"],
            "fails:Inappropriate ioctl for device",
            &[PROBE, "tiocsti"],
        )
        .await;
    }
}

#[tokio::test]
async fn a_child_of_root_has_no_capabilities_and_no_new_privileges() {
    if !procbox_tests::running_as_root("it checks what a child of root keeps") {
        return;
    }
    let run = expect(User::Root, &[], "ok", &[PROBE, "caps"]).await;
    for set in ["CapPrm", "CapEff", "CapBnd", "CapAmb", "CapInh"] {
        assert!(
            run.stdout.contains(&format!("{set}=0000000000000000")),
            "{set} is not empty: {}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("NoNewPrivs=1"), "{}", run.stdout);
    let off = expect(User::Root, &["--confine=off"], "ok", &[PROBE, "caps"]).await;
    assert!(!off.stdout.contains("CapEff=0000000000000000"), "{}", off.stdout);
}

#[tokio::test]
async fn children_share_a_private_temporary_directory_removed_after_the_run() {
    for user in procbox_tests::users() {
        let run = expect(user, &[], "ok", &[PROBE, "tmpdir"]).await;
        let dir = run
            .stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("tmpdir="))
            .unwrap_or_else(|| panic!("no tmpdir line: {run:?}"))
            .to_string();
        assert!(dir.contains("procbox-run-"), "{dir}");
        assert!(!Path::new(&dir).exists(), "{dir} outlived the run");
    }
}

#[tokio::test]
async fn require_refuses_a_kernel_that_cannot_enforce_the_grants() {
    /// Pretended kernel, flags, what the refusal names.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case; 4] = [
        (&[("PROCBOX_PRETEND_LANDLOCK_ABI", "0")], &[], "no Landlock"),
        (&[("PROCBOX_PRETEND_LANDLOCK_ABI", "2")], &[], "ABI 3"),
        (
            &[("PROCBOX_PRETEND_LANDLOCK_ABI", "3")],
            &["--allow-child-net=443"],
            "ABI 4",
        ),
        (&[("PROCBOX_PRETEND_NO_SECCOMP", "1")], &[], "seccomp"),
    ];
    for (env, flags, fragment) in cases {
        let run = run_as(User::Root, env, flags, "ok", &[PROBE, "caps"]).await;
        assert_ne!(run.code, Some(0), "{env:?} ran: {run:?}");
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains("cannot confine children"))
            .unwrap_or("");
        assert!(
            line.contains(fragment) && line.contains("`confine = best-effort`"),
            "{env:?}: {run:?}"
        );
        assert!(!run.stdout.contains("CapEff"), "the child ran: {run:?}");
    }
}

#[tokio::test]
async fn best_effort_runs_with_what_the_kernel_has_and_says_so_once() {
    // Landlock pretended away: files are no longer confined, the filter
    // still is, and stderr says so once.
    let dir = shared_dir();
    let secret = readable_file(dir.path(), "secret");
    let env = [("PROCBOX_PRETEND_LANDLOCK_ABI", "0")];
    let read = [PROBE, "read", secret.to_str().unwrap()];
    let run = run_as(User::Root, &env, &["--confine=best-effort"], "ok", &read).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("confinement is partial"))
        .collect();
    assert_eq!(warnings.len(), 1, "{run:?}");
    assert!(warnings[0].contains("no Landlock"), "{warnings:?}");
    let run = run_as(
        User::Root,
        &env,
        &["--confine=best-effort"],
        "fails:Permission denied",
        &[PROBE, "memfd"],
    )
    .await;
    assert_eq!(run.code, Some(0), "the seccomp filter still applies: {run:?}");
}

#[tokio::test]
async fn an_embedder_gets_confinement_from_the_policy_alone() {
    // In process, on the library: no flag, no launcher binary, no call.
    let dir = shared_dir();
    let secret = readable_file(dir.path(), "secret");
    let start = shared_dir();
    let read = [PROBE, "read", secret.to_str().unwrap()];
    let with = |expected: &'static str| {
        let mut args = vec![expected];
        args.extend(read);
        args
    };
    let refused = bounded!(run_guest(
        guests::SPAWN_OUTCOME,
        |p| p.allow_run(PROBE).start_dir(start.path()),
        &with("fails:Permission denied")
    ));
    refused.assert_passed();
    let granted = bounded!(run_guest(
        guests::SPAWN_OUTCOME,
        |p| p.allow_run(PROBE).start_dir(start.path()).allow_read(dir.path()),
        &with("ok")
    ));
    granted.assert_passed();
}

#[test]
fn the_grants_file_keys_set_the_same_confinement_as_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grants.toml");
    let text = "confine = \"best-effort\"\nallow-child-net = [\"443\", \"unix\"]\nallow-helper = [\"sh=/bin/ls\"]\n";
    let doc = document::parse(text, &path, Kind::Grants).unwrap();
    let policy = PolicyBuilder::new().grants_document(doc).build().unwrap();
    let confinement = policy.confinement();
    assert_eq!(confinement.mode, Strictness::BestEffort);
    assert_eq!(confinement.net.connect, vec![443]);
    assert!(confinement.net.unix);
    assert_eq!(confinement.helpers[0].path, std::fs::canonicalize("/bin/ls").unwrap());
    assert_eq!(
        confinement.helpers[0].program,
        Some(std::fs::canonicalize("/bin/sh").unwrap())
    );
    // A manifest cannot loosen it.
    let refused = document::parse("allow-child-net = [\"all\"]\n", &path, Kind::Manifest)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("belong in the user's grants"), "{refused}");
    // A malformed grant names itself and where it is.
    let bad = document::parse("allow-child-net = [\"udp:53\"]\n", &path, Kind::Grants).unwrap();
    let err = PolicyBuilder::new()
        .grants_document(bad)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("grants.toml:1") && err.contains("udp:53"), "{err}");
}

#[tokio::test]
async fn explain_and_the_audit_log_show_the_confinement() {
    let start = shared_dir();
    let explain = bounded!(tokio::process::Command::new(procbox_bin())
        .args(["explain", "--allow-run=sort", "--allow-child-net=443", "--", "sort"])
        .current_dir(start.path())
        .output())
    .unwrap();
    let text = String::from_utf8_lossy(&explain.stdout);
    assert_eq!(explain.status.code(), Some(0), "{text}");
    for line in [
        "confinement: require with Landlock ABI",
        "read:",
        "write:   $TMPDIR",
        "execute:",
        "network: TCP connect to port 443",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let sort = std::fs::canonicalize("/usr/bin/sort").unwrap();
    let execute = text.lines().find(|l| l.contains("execute:")).unwrap();
    assert!(
        execute.contains(sort.to_str().unwrap()) && execute.contains("ld-linux"),
        "{execute}"
    );

    let audit = start.path().join("audit.jsonl");
    let flag = format!("--audit={}", audit.display());
    expect(User::Root, &[&flag], "ok", &[PROBE, "caps"]).await;
    let log = std::fs::read_to_string(&audit).unwrap();
    let decision: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    let confinement = decision["confinement"].as_str().unwrap_or_default();
    assert!(
        confinement.contains("landlock-abi=") && confinement.contains("seccomp=true"),
        "{log}"
    );
    assert!(
        confinement.contains("escape-probe"),
        "the exec set names the program: {log}"
    );
}
