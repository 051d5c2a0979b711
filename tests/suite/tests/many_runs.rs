//! Many plugin runs at once in one process, as the worker serves them:
//! each under its own policy, confinement, containment and `$TMPDIR`, and
//! ending one never touches another's children.

use std::path::{Path, PathBuf};

use procbox_tests::{bounded, guests, live_processes, run_guest, run_guest_until};

const RUNS: usize = 16;

/// A directory holding `secret`, which says whose it is.
fn directory_of(run: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("run {run}\n")).unwrap();
    (dir, secret)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Sixteen runs at once, each granted its own directory: every run's child
/// reads its own secret, and every run's child is refused the next run's
/// (by the kernel: the same `cat`, another run's Landlock rules).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_runs_at_once_each_read_only_their_own_directory() {
    let dirs: Vec<_> = (0..RUNS).map(directory_of).collect();
    let runs = (0..RUNS).map(|run| {
        let (own, secret) = (dirs[run].0.path().to_path_buf(), dirs[run].1.clone());
        let other = dirs[(run + 1) % RUNS].1.clone();
        tokio::spawn(async move {
            let grant = |p: procbox::PolicyBuilder| p.allow_run("cat").allow_read(&own);
            let expected = format!("stdout:run {run}");
            let (own_args, other_args) = (
                [expected.as_str(), "cat", text(&secret)],
                ["fails:Permission denied", "cat", text(&other)],
            );
            let mine = run_guest(guests::SPAWN_OUTCOME, grant, &own_args);
            let theirs = run_guest(guests::SPAWN_OUTCOME, grant, &other_args);
            let (mine, theirs) = tokio::join!(mine, theirs);
            (run, mine, theirs)
        })
    });
    let finished = bounded!(futures_all(runs.collect()));
    for (run, mine, theirs) in finished {
        mine.assert_passed();
        theirs.assert_passed();
        assert!(
            !theirs.stdout.contains("run "),
            "run {run} read another's secret: {theirs:?}"
        );
    }
}

/// Sixteen runs at once, each holding a child; stopping one kills its
/// child and leaves the other fifteen running, and stopping the rest
/// leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_one_run_kills_its_children_and_no_one_elses() {
    let marker = |run: usize| format!("3600.{}{run:02}", std::process::id() % 1000);
    let mut stops = Vec::new();
    let mut runs = Vec::new();
    for run in 0..RUNS {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(Some(stop));
        let script = format!("echo ready; exec sleep {}", marker(run));
        runs.push(tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
                130
            };
            run_guest_until(
                guests::HOLD_COMMAND,
                |p| p.allow_run("sh").allow_helper("sh=/usr/bin/sleep"),
                &["hold", "sh", "-c", &script],
                stopped,
            )
            .await
        }));
    }
    let sleeping = |run: usize| {
        let marker = marker(run);
        live_processes(move |argv0, cmdline| {
            argv0.ends_with("sleep") && cmdline.trim_end_matches('\0').ends_with(&marker)
        })
        .len()
    };
    bounded!(async {
        // Every run's child has started (each printed ready only after it).
        while (0..RUNS).any(|run| sleeping(run) == 0) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    let _ = stops[0].take().unwrap().send(());
    let first = bounded!(runs.remove(0)).unwrap();
    assert_eq!(first.code.as_ref().ok(), Some(&130), "{first:?}");
    assert_eq!(sleeping(0), 0, "the stopped run's child outlived it");
    for run in 1..RUNS {
        assert_eq!(sleeping(run), 1, "run {run}'s child died with run 0");
    }
    for stop in stops.iter_mut().filter_map(Option::take) {
        let _ = stop.send(());
    }
    for (run, ended) in (1..RUNS).zip(bounded!(futures_all(runs))) {
        assert_eq!(ended.code.as_ref().ok(), Some(&130), "run {run}: {ended:?}");
        assert_eq!(sleeping(run), 0, "run {run}'s child outlived it");
    }
}

/// Awaits every task, in order; a panicked task fails the test.
async fn futures_all<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut done = Vec::with_capacity(tasks.len());
    for task in tasks {
        done.push(task.await.expect("a run's task panicked"));
    }
    done
}
