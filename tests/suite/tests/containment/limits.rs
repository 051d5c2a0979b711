//! The whole tree's limits: `--max-processes` and `--max-tree-memory` bound
//! every process of it, ended runs leave no cgroup, and a limit this user
//! cannot enforce refuses the run.

use super::*;

/// The cgroups of procbox processes left in the pids hierarchy.
fn procbox_cgroups() -> Vec<String> {
    std::fs::read_dir("/sys/fs/cgroup/pids")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.starts_with("procbox-"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn max_processes_bounds_every_process_of_the_tree() {
    if !procbox_tests::cgroups_work("it runs with --max-processes") {
        return;
    }
    // A shell that forks sleeps until a fork fails: with --max-processes 5,
    // the shell and four sleeps.
    let fork_until_refused = "i=0; while :; do /usr/bin/sleep 1000 & i=$((i+1)); echo started $i; done";
    let argv = [
        "run",
        guests::SPAWN_OUTCOME,
        "--allow-run=sh",
        "--allow-helper=sh=/usr/bin/sleep",
        "--max-processes=5",
        "--",
        "fails:Cannot fork",
        "sh",
        "-c",
        fork_until_refused,
    ];
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "{run:?}");
    let started = run.stdout.lines().filter(|l| l.contains("started")).count();
    assert_eq!(started, 4, "{run:?}");
    assert!(run.stderr.contains("reached --max-processes"), "{run:?}");
    // Without the limit the same loop is not stopped at 4.
    let argv = [
        "run",
        guests::SPAWN_OUTCOME,
        "--allow-run=sh",
        "--allow-helper=sh=/usr/bin/sleep",
        "--",
        "ok",
        "sh",
        "-c",
        "i=0; while [ $i -lt 8 ]; do /usr/bin/sleep 1000 & i=$((i+1)); done; echo $i",
    ];
    let run = bounded!(procbox(&argv));
    assert_eq!(run.stdout.trim(), "8", "{run:?}");
    // Direct children count too: the fourth is refused as a limit.
    let argv = [
        "run",
        guests::MANY_CHILDREN,
        "--allow-run=sleep",
        "--max-processes=3",
        "--",
        "5",
        "3",
        "max-processes",
    ];
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "{run:?}");
    // A second run removes what the first may have left (its cgroup is
    // removed on a thread that a fast exit can outrun). Only the cgroups
    // of ended runs: another test's run may be alive through both.
    let ended = |cgroup: &String| {
        let pid = cgroup.split('-').nth(1).and_then(|pid| pid.parse().ok());
        pid.is_some_and(|pid| !process_exists(pid))
    };
    let first: Vec<String> = procbox_cgroups().into_iter().filter(ended).collect();
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "{run:?}");
    let left: Vec<String> = procbox_cgroups().into_iter().filter(|c| first.contains(c)).collect();
    assert!(left.is_empty(), "cgroups of ended runs remain: {left:?}");
}

#[tokio::test]
async fn max_tree_memory_stops_the_tree_at_its_cap() {
    if !procbox_tests::cgroups_work("it runs with --max-tree-memory") {
        return;
    }
    // dd touches a 200 MiB buffer: killed by the kernel within the tree's cap.
    let dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"];
    let mut argv = vec![
        "run",
        guests::SPAWN_OUTCOME,
        "--allow-run=dd",
        "--max-tree-memory=64MiB",
        "--",
        "fails:",
    ];
    argv.extend(dd);
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("killed by signal 9"), "{run:?}");
    let mut argv = vec!["run", guests::SPAWN_OUTCOME, "--allow-run=dd", "--", "ok"];
    argv.extend(dd);
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "without the cap it runs: {run:?}");
}

#[tokio::test]
async fn a_tree_limit_this_user_cannot_enforce_refuses_the_run() {
    // nobody cannot write the cgroup hierarchies here: the limit is never
    // silently dropped.
    if !procbox_tests::can_run_as_nobody() {
        return;
    }
    let run = bounded!(tokio::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(procbox_tests::procbox_bin())
        .args(["run", "--no-cache", guests::MANY_CHILDREN, "--allow-run=sleep"])
        .args(["--max-processes=3", "--", "5", "3", "max-processes"])
        .stdin(std::process::Stdio::null())
        .output())
    .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains("`max-processes` needs a pids cgroup") && stderr.contains("procbox doctor"),
        "{stderr}"
    );
}
