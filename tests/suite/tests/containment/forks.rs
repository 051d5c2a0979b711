//! A child that forks as fast as it can, for ever, never takes the tree past
//! `--max-processes`: the run's pids cgroup is sampled while it tries.

use super::*;

/// A child that forks as fast as it can, for ever: each fork that works
/// sleeps, each that fails is tried again at once. It prints `ready`
/// first; `MARK` is in every process's command line.
const FORK_FOREVER: &str =
    "$|=1; print \"ready\\n\"; while (1) { my $p = fork; if (defined $p && $p == 0) { sleep 1000; exit 0 } }";

/// The run's pids cgroup, made by procbox `pid`.
fn run_pids_cgroup(pid: u32) -> Option<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup/pids")
        .ok()?
        .filter_map(|e| e.ok())
        .find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&format!("procbox-{pid}-")))
        })
        .map(|e| e.path())
}

/// How many processes are in `cgroup` (its `cgroup.procs`, which lists
/// only processes that exist, zombies included).
fn members(cgroup: &Path) -> Option<u64> {
    Some(
        std::fs::read_to_string(cgroup.join("cgroup.procs"))
            .ok()?
            .lines()
            .count() as u64,
    )
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Runs [`FORK_FOREVER`] under `--max-processes=max` with `extra`, samples
/// the tree from /proc (the child and the processes it forked, by their
/// marker) and the run's pids cgroup while it forks, and checks that the
/// tree never had more than `max` processes; then ends procbox and checks
/// that nothing of the tree is left.
async fn fork_as_fast_as_it_can(max: usize, extra: &[&str]) {
    let mark = marker();
    let limit = format!("--max-processes={max}");
    let mut argv = vec!["run", guests::HOLD_COMMAND, "--allow-run=perl", &limit];
    argv.extend(extra);
    argv.extend(["--", "hold", "perl", "-e", FORK_FOREVER, &mark]);
    // A leak, killed so that it does not outlive the test, failed or not.
    let leaked = KillMarkedOnDrop(mark.clone());
    let mut procbox = Background::start(&argv);
    bounded!(procbox.line_with("ready"));
    let cgroup = run_pids_cgroup(procbox.pid()).expect("the run's pids cgroup");
    // procbox's own processes in the cgroup: the launcher, and the
    // namespace's init under containment.
    let own = 1 + u64::from(!extra.contains(&"--contain=off"));
    let sampled = mark.clone();
    let (most, samples) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let (mut most, mut samples, mut at_limit) = (0, 0, 0);
        // Until the tree has been seen at its limit 500 times, or 20 s.
        while at_limit < 500 && started.elapsed() < Duration::from_secs(20) {
            let tree = marked(&sampled).len();
            most = most.max(tree);
            at_limit += usize::from(tree >= max);
            samples += 1;
            // The cgroup's members, not `pids.current`: the kernel charges
            // a fork to `pids.current` before it checks `pids.max`, and
            // takes the charge back when the check fails, so a reader can
            // see `pids.max + 1` while a fork past the limit is being
            // refused and no such process exists (`pids_try_charge`; seen
            // once in a CI rehearsal). `pids.peak` counts only charges that
            // passed the check.
            if let Some(members) = members(&cgroup) {
                assert!(
                    members <= max as u64 + own,
                    "the cgroup has {members} processes, past {max} + {own}"
                );
            }
        }
        if let Some(peak) = read_number(&cgroup.join("pids.peak")) {
            assert!(peak <= max as u64 + own, "pids.peak {peak} past {max} + {own}");
        }
        (most, samples)
    })
    .await
    .unwrap();
    procbox.signal(libc::SIGTERM);
    let (_, stderr) = bounded!(procbox.finish());
    let gone = until(&mark, GONE_WITHIN, |pids| pids.is_empty());
    let left = marked(&mark);
    drop(leaked);
    assert!(
        gone.is_some(),
        "{extra:?}: {} processes of the tree outlived procbox: {stderr}",
        left.len()
    );
    eprintln!("{extra:?}: the tree had at most {most} processes in {samples} samples");
    assert!(
        most <= max,
        "{extra:?}: the tree reached {most} processes, past --max-processes={max}"
    );
    assert_eq!(
        most, max,
        "{extra:?}: the tree never reached its limit: the test proves nothing"
    );
}

#[tokio::test]
async fn max_processes_is_never_exceeded_while_a_child_forks_as_fast_as_it_can() {
    if !procbox_tests::cgroups_work("it runs with --max-processes") {
        return;
    }
    fork_as_fast_as_it_can(20, &[]).await;
    fork_as_fast_as_it_can(20, &["--contain=off"]).await;
    fork_as_fast_as_it_can(20, &["--confine=off", "--contain=off"]).await;
}
