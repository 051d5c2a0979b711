//! What a child sees in its PID namespace (only its own processes, a private
//! `/proc`), how `--contain` and its grants-file key choose it, what doctor and
//! explain report, and a namespace whose init was killed replaced at the next
//! spawn.

use super::*;

/// `procbox run spawn-outcome ok sh -c SCRIPT` with `flags`; its stdout.
async fn child_prints(flags: &[&str], script: &str) -> String {
    let mut argv = vec!["run", guests::SPAWN_OUTCOME, "--allow-run=sh"];
    argv.extend(flags);
    argv.extend(["--", "ok", "sh", "-c", script]);
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "{run:?}");
    run.stdout
}

/// Lists the pids a child sees in `/proc`, with the shell's builtins only.
const LIST_PIDS: &str = "for p in /proc/[0-9]*; do echo ${p#/proc/}; done";

#[tokio::test]
async fn a_child_sees_only_its_own_processes() {
    let seen = child_prints(&[], LIST_PIDS).await;
    let pids: Vec<u32> = seen.lines().map(|l| l.parse().unwrap()).collect();
    // The namespace's init (1) and the shell itself; nothing of the machine.
    assert!(pids.len() <= 3, "the child saw {} processes: {pids:?}", pids.len());
    assert!(pids.contains(&1), "{pids:?}");
    assert!(!pids.contains(&std::process::id()), "the child saw the test runner");
    // The same child without containment sees the machine.
    let seen = child_prints(&["--contain=off"], LIST_PIDS).await;
    assert!(
        seen.lines().any(|l| l == std::process::id().to_string()),
        "the uncontained child should see the test runner"
    );
}

#[tokio::test]
async fn a_child_cannot_read_another_process_s_proc_entries() {
    let me = std::process::id();
    let script = format!("cat /proc/{me}/cmdline >/dev/null 2>&1 && echo readable || echo hidden");
    let flags = ["--allow-helper=sh=/usr/bin/cat"];
    assert_eq!(child_prints(&flags, &script).await.trim(), "hidden");
    let mut off = flags.to_vec();
    off.push("--contain=off");
    assert_eq!(child_prints(&off, &script).await.trim(), "readable");
}

#[tokio::test]
async fn require_refuses_a_kernel_without_pid_namespaces_and_best_effort_says_so() {
    let pretend = [("PROCBOX_PRETEND_NO_PIDNS", Path::new("1"))];
    let argv = [
        "run",
        guests::SPAWN_OUTCOME,
        "--allow-run=sh",
        "--contain=require",
        "--",
        "ok",
        "sh",
        "-c",
        "true",
    ];
    let run = bounded!(procbox_with_env(&pretend, &argv));
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr.contains("cannot get a PID namespace") && run.stderr.contains("`contain = best-effort`"),
        "{run:?}"
    );
    // Best effort runs, with the fallback, and says so once.
    let argv = [
        "run",
        guests::SPAWN_OUTCOME,
        "--allow-run=sh",
        "--",
        "ok",
        "sh",
        "-c",
        LIST_PIDS,
    ];
    let run = bounded!(procbox_with_env(&pretend, &argv));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr.matches("no PID namespace").count(), 1, "said once: {run:?}");
    assert!(
        run.stdout.lines().any(|l| l == std::process::id().to_string()),
        "the fallback child sees the machine: {run:?}"
    );
}

#[tokio::test]
async fn doctor_and_explain_report_the_containment() {
    let run = bounded!(procbox(&["doctor"]));
    assert!(
        run.stdout.contains("containment") && run.stdout.contains("PID namespace"),
        "{run:?}"
    );
    let run = bounded!(procbox(&["explain", "--allow-run=sh", "--", "sh", "-c", "true"]));
    assert!(run.stdout.contains("containment: a PID namespace"), "{run:?}");
    let run = bounded!(procbox(&["explain", "--allow-run=sh", "--contain=off", "--", "sh"]));
    assert!(run.stdout.contains("containment: process groups"), "{run:?}");
}

#[tokio::test]
async fn the_grants_file_key_sets_the_same_containment_as_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.toml");
    std::fs::write(&grants, "allow-run = [\"sh\"]\ncontain = \"off\"\n").unwrap();
    let grants_flag = format!("--grants={}", grants.display());
    let seen = child_prints(&[&grants_flag], LIST_PIDS).await;
    assert!(seen.lines().any(|l| l == std::process::id().to_string()));
    std::fs::write(&grants, "contain = \"sometimes\"\n").unwrap();
    let run = bounded!(procbox(&["explain", &grants_flag, "--", "sh"]));
    assert_ne!(run.code, Some(0));
    assert!(run.stderr.contains("contain: unknown mode \"sometimes\""), "{run:?}");
}

/// Our children whose name is `comm` (the launchers and inits of this test
/// process's own spawner).
fn our_children_named(comm: &str) -> Vec<libc::pid_t> {
    let me = std::process::id();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{me}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|pid| pid.parse::<libc::pid_t>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm))
        .collect()
}

#[tokio::test]
async fn a_namespace_whose_init_was_killed_is_replaced_at_the_next_spawn() {
    use procbox::{Hooks, PolicyBuilder, SearchPath, SpawnRequest, Spawner};
    let policy = PolicyBuilder::new()
        .start_dir("/")
        .search_path(SearchPath::parse(std::ffi::OsStr::new("/usr/bin:/bin")))
        .allow_run("true")
        .build()
        .unwrap();
    let spawner = Spawner::new(std::sync::Arc::new(policy), Hooks::default());
    let spawn_true = || async {
        let request = SpawnRequest {
            program: "true".into(),
            ..Default::default()
        };
        let mut spawned = spawner.spawn(request, None, || Ok(None)).await.unwrap();
        bounded!(spawned.process.wait()).unwrap()
    };
    let first = spawn_true().await;
    assert!(first.success(), "{first:?}");
    let inits = our_children_named("procbox-init");
    assert!(!inits.is_empty(), "the first spawn made no namespace");
    for init in inits {
        // SAFETY: killing our own child, the namespace's init.
        unsafe { libc::kill(init, libc::SIGKILL) };
        // A child started while init is still dying dies with the
        // namespace; once init has exited, the namespace takes no more.
        assert!(exits_within(init as u32, Duration::from_secs(10)));
    }
    // The launcher's clone now fails (ENOMEM): a new launcher with a new
    // namespace starts the child instead.
    let second = spawn_true().await;
    assert!(second.success(), "{second:?}");
}
