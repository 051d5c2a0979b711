//! Nothing a plugin starts outlives it, nothing hangs, nothing grows
//! without bound: one test per way a plugin can end, each checking that no
//! process of its tree survives.

use std::time::Duration;

use procbox_tests::{
    bounded, exits_within, field, guests, procbox_peak_rss, process_exists, scenario, scenario_with, Background,
};

/// How long a killed process may take to disappear (signals are async).
const DEATH_BOUND: Duration = Duration::from_secs(10);

fn pid(run: &procbox_tests::Run, key: &str) -> u32 {
    run.value(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {run:?}"))
}

#[track_caller]
fn assert_gone(pid: u32, what: &str) {
    assert!(exits_within(pid, DEATH_BOUND), "{what} {pid} survived");
}

/// After procbox has exited: the child was reaped by procbox, the
/// grandchild killed with its group, and the escapee adopted, killed and
/// reaped by procbox as subreaper. None exists any more, not even as a
/// zombie.
#[track_caller]
fn assert_tree_gone(line: &str) {
    for key in ["child", "grandchild", "escaped"] {
        let pid = field(line, key);
        assert!(
            !process_exists(pid),
            "{key} {pid} of the tree survived the plugin (or is a zombie)"
        );
    }
}

/// The `child= grandchild= escaped=` line a tree scenario printed.
fn tree_line(run: &procbox_tests::Run) -> String {
    run.stdout
        .lines()
        .find(|l| l.contains("escaped="))
        .unwrap_or_else(|| panic!("no tree in {run:?}"))
        .to_string()
}

#[tokio::test]
async fn dropping_a_child_kills_and_reaps_it_at_once() {
    let run = bounded!(scenario(&["sh", "ps"], &["drop-kills"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    // Checked inside the plugin, while procbox still runs: `ps` finds no
    // process with that pid, not even a zombie.
    assert_eq!(run.value("ps_code").as_deref(), Some("Some(1)"), "{run:?}");
    assert_eq!(run.value("ps_out").as_deref(), Some("\"\""), "{run:?}");
    assert!(!process_exists(pid(&run, "pid")));
    // The grandchild in its group went with it; the escapee went at the end.
    assert_tree_gone(&tree_line(&run));
}

#[tokio::test]
async fn ending_without_waiting_kills_the_child_and_its_grandchildren() {
    let run = bounded!(scenario(&["sh"], &["leave-running"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_tree_gone(&tree_line(&run));
}

#[tokio::test]
async fn a_trapping_plugin_still_has_its_children_killed() {
    let run = bounded!(scenario(&["sh"], &["trap-with-child"]));
    assert_eq!(run.code, Some(125), "a trap is procbox's failure: {run:?}");
    assert!(run.stderr.contains("trapped"), "{run:?}");
    assert_tree_gone(&tree_line(&run));
}

#[tokio::test]
async fn a_spinning_plugin_is_stopped_by_its_time_budget() {
    let mut procbox = Background::start(&[
        "run",
        guests::SCENARIOS,
        "--allow-run=sh",
        "--max-plugin-time=1s",
        "--",
        "spin-with-child",
    ]);
    let tree = bounded!(procbox.line_with("escaped="));
    let (code, stderr) = bounded!(procbox.finish());
    assert_eq!(code, Some(124), "{stderr}");
    assert!(stderr.contains("ran out of its time budget of 1s"), "{stderr}");
    assert_tree_gone(&tree);
}

#[tokio::test]
async fn sigint_stops_even_a_spinning_plugin() {
    let mut procbox = Background::start(&["run", guests::SCENARIOS, "--allow-run=sh", "--", "spin-with-child"]);
    let tree = bounded!(procbox.line_with("escaped="));
    procbox.signal(libc::SIGINT);
    let (code, stderr) = bounded!(procbox.finish());
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    assert_tree_gone(&tree);
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_at_its_cap() {
    let run = bounded!(scenario_with(
        &["--allow-run=sh", "--max-plugin-memory=64MiB"],
        &["memory-bomb"]
    ));
    assert_eq!(run.code, Some(125), "{run:?}");
    assert!(
        run.stderr.contains("tried to grow its memory past its cap of 64 MiB"),
        "{run:?}"
    );
    assert_tree_gone(&tree_line(&run));
}

#[tokio::test]
async fn sigterm_kills_the_whole_tree_including_escapees() {
    let mut procbox = Background::start(&["run", guests::SCENARIOS, "--allow-run=sh", "--", "hold-tree"]);
    let tree = bounded!(procbox.line_with("escaped="));
    procbox.signal(libc::SIGTERM);
    let (code, stderr) = bounded!(procbox.finish());
    assert_eq!(code, Some(143), "{stderr}");
    // setsid took one grandchild out of the group; as subreaper procbox
    // adopted, killed and reaped it.
    assert_tree_gone(&tree);
}

#[tokio::test]
async fn sigkill_of_procbox_takes_the_child_with_it_when_asked() {
    let mut procbox = Background::start(&[
        "run",
        guests::SCENARIOS,
        "--allow-run=sh",
        "--die-with-procbox",
        "--",
        "hold-tree",
    ]);
    let line = bounded!(procbox.line_with("escaped="));
    let (child, grandchild, escaped) = (
        field(&line, "child"),
        field(&line, "grandchild"),
        field(&line, "escaped"),
    );
    procbox.signal(libc::SIGKILL);
    let _ = bounded!(procbox.finish());
    // PR_SET_PDEATHSIG reaches the child itself; its descendants do not
    // inherit it (documented as best effort), so the test cleans them up.
    assert_gone(child, "child with PR_SET_PDEATHSIG");
    for pid in [grandchild, escaped] {
        // SAFETY: best-effort cleanup of what the kernel leaves behind.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

#[tokio::test]
async fn an_escaped_grandchild_holding_the_pipe_does_not_hang_reads() {
    let run = bounded!(scenario(&["sh"], &["escaped-pipe"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.value("escaped_pipe_out").as_deref(), Some("\"hi\\n\""), "{run:?}");
    // An escapee that is still writing when the child exits: the stream
    // ends, after at most what the pipe and procbox's chunks held then.
    assert!(run.stdout.contains("escaped_writer has_hi=true"), "{run:?}");
    let bytes: usize = run
        .value("after_exit_bytes")
        .expect("after_exit_bytes=")
        .parse()
        .unwrap();
    assert!(
        bytes <= 4 << 20,
        "{bytes} bytes after the exit: the drain did not stop at the reap"
    );
    assert!(
        run.stdout.contains("escaped_timeout timed_out=true signal=Some(15)"),
        "{run:?}"
    );
}

#[tokio::test]
async fn host_memory_stays_bounded_under_a_flood_that_is_never_read() {
    let (idle, idle_rss) = bounded!(procbox_peak_rss(&[
        "run",
        guests::SCENARIOS,
        "--allow-run=echo",
        "--",
        "echo"
    ]));
    assert_eq!(idle.code, Some(0), "{idle:?}");
    let (flood, flood_rss) = bounded!(procbox_peak_rss(&[
        "run",
        guests::SCENARIOS,
        "--allow-run=cat",
        "--",
        "flood"
    ]));
    assert_eq!(flood.code, Some(0), "{flood:?}");
    assert!(flood.stdout.contains("signal=Some(9)"), "{flood:?}");
    // `cat /dev/zero` writes gigabytes a second; the host buffers at most a
    // few 64 KiB chunks of it.
    let bound = idle_rss + (16 << 20);
    assert!(
        flood_rss < bound,
        "peak RSS {flood_rss} under the flood, over the bound {bound} (idle {idle_rss})"
    );
}

#[tokio::test]
async fn a_child_sees_only_its_own_stdio() {
    let run = bounded!(scenario(&["ls"], &["child-fds"]));
    // 0-2 are its stdio; 3 is the directory ls itself opened to list.
    assert_eq!(run.value("child_fds").as_deref(), Some("0,1,2,3"), "{run:?}");
}

#[tokio::test]
async fn child_rlimits_apply() {
    let run = bounded!(scenario_with(
        &[
            "--allow-run=cat",
            "--allow-env=X=*",
            "--rlimit-nofile=17",
            "--rlimit-fsize=1MiB",
            "--rlimit-cpu=5"
        ],
        &["spawn-with-env", "X=1", "cat", "/proc/self/limits"]
    ));
    let limit = |name: &str| {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name}: {run:?}"));
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(limit("Max open files"), "17 17");
    assert_eq!(limit("Max file size"), "1048576 1048576");
    assert_eq!(limit("Max cpu time"), "5 5");
}
