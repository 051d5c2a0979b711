//! Nothing left behind (issue 22, item 5): a run of `procbox` leaves no
//! process behind, not even a zombie, under a parent that never reaps (a
//! container's entrypoint, a CI agent); and the private `$TMPDIR`s and run
//! cgroups of procbox processes that were SIGKILLed are removed by a later
//! run, never those of a run that is still alive.
//!
//! The parent that never reaps is this test binary run again as
//! [`non_reaping_parent`]: the child subreaper of what it starts (so that
//! whatever procbox leaves comes to it, not to the machine's init), it
//! waits for procbox's pid only, then lists what procbox left.

use std::path::{Path, PathBuf};
use std::time::Duration;

use procbox_tests::{bounded, guests, stress, test_cache_dir, test_config_dir, Background, RUN_DEADLINE};

/// Set (to procbox's arguments, one per line) when this binary runs as the
/// parent that never reaps.
const PARENT_ARGS: &str = "PROCBOX_TEST_NON_REAPING_PARENT";

/// The line the parent prints: what procbox left.
const LEFT: &str = "left=";

/// Not a test of its own (it returns at once): with `PARENT_ARGS` set, this
/// is the parent that never reaps. It becomes the child subreaper, starts
/// `procbox ARGS` in a process group of its own, waits for procbox's pid
/// only, and prints procbox's exit code and every process still there
/// that was procbox's (re-parented here, alive or a zombie) or is in its
/// process group. At that moment procbox has exited, so whatever it
/// left has already been re-parented: nothing needs waiting for.
#[test]
fn non_reaping_parent() {
    let Some(args) = std::env::var(PARENT_ARGS).ok() else {
        return;
    };
    use std::os::unix::process::CommandExt;
    // SAFETY: a plain prctl with integer arguments.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0);
    let mut procbox = std::process::Command::new(procbox_tests::procbox_bin())
        .args(args.lines())
        .env_remove(PARENT_ARGS)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("start procbox");
    let pid = procbox.id();
    // Reaps procbox's pid, and only that.
    let status = procbox.wait().expect("wait for procbox");
    let me = std::process::id();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let (name, rest) = stat.split_once(" (")?.1.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let (state, ppid, pgid) = (
                fields[0],
                fields[1].parse::<u32>().ok()?,
                fields[2].parse::<u32>().ok()?,
            );
            (ppid == me || ppid == pid || pgid == pid).then(|| format!("{p}:{name}:{state}"))
        })
        .collect();
    // On a line of its own: libtest has written the test's name.
    println!(
        "\ncode={}",
        status.code().map_or("signal".to_string(), |c| c.to_string())
    );
    println!("{LEFT}{}", left.join(","));
}

/// The environment every test's procbox gets (see `procbox_tests`), and
/// `TMPDIR`.
fn procbox_env(command: &mut tokio::process::Command, tmpdir: &Path) {
    command
        .env("PROCBOX_CACHE_DIR", test_cache_dir())
        .env("PROCBOX_CONFIG_DIR", test_config_dir())
        .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
        .env("TMPDIR", tmpdir)
        .env_remove("PROCBOX_LOG");
}

/// Runs `procbox ARGS` under the parent that never reaps; returns procbox's
/// exit code and what it left (`pid:name:state` each), with the output.
async fn under_non_reaping_parent(args: &[&str], tmpdir: &Path) -> (Option<i32>, Vec<String>, String) {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "leftovers::non_reaping_parent",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PARENT_ARGS, args.join("\n"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    procbox_env(&mut command, tmpdir);
    let output = tokio::time::timeout(RUN_DEADLINE, command.output())
        .await
        .expect("the parent did not finish")
        .expect("run the parent");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let code = stdout
        .lines()
        .find_map(|l| l.strip_prefix("code="))
        .unwrap_or_else(|| panic!("no code= from the parent: {all}"))
        .parse()
        .ok();
    let left = stdout
        .lines()
        .find_map(|l| l.strip_prefix(LEFT))
        .unwrap_or_else(|| panic!("no {LEFT} from the parent: {all}"))
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    (code, left, all)
}

/// A `TMPDIR` of the test's own.
fn own_tmpdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("procbox-leftovers").tempdir().unwrap()
}

/// The `procbox-run-*` directories in `dir`.
fn run_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("procbox-run-"))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

#[tokio::test]
async fn a_run_refused_at_a_usage_error_leaves_no_zombie_either() {
    // procbox starts its kernel probe early; a run that stops before asking
    // for the answer once left the probe a zombie, and then (killed
    // mid-probe) the probe's namespace init: 22 of 200 runs under load.
    // Repeated, as the second needs the exit to land inside the probe.
    // Not a stress count: 25 of each is what failed the old exit in 6 of 6
    // test runs under load (402cad0); at 1 in 9, fewer would miss it (25
    // already do with odds of 1 in 20).
    let tmp = own_tmpdir();
    let refused: [&[&str]; 2] = [
        &["run", guests::SPAWN_OUTCOME, "--grants=/nonexistent/grants.toml"],
        &["run", guests::SPAWN_OUTCOME, "--allow-run=no-such-program-anywhere"],
    ];
    for args in refused.iter().cycle().take(2 * 25).copied() {
        let (code, left, output) = bounded!(under_non_reaping_parent(args, tmp.path()));
        assert_eq!(code, Some(2), "{args:?}: {output}");
        assert!(
            left.is_empty(),
            "{args:?}: procbox left {left:?} to a parent that never reaps"
        );
    }
}

#[tokio::test]
async fn a_run_under_a_parent_that_never_reaps_leaves_no_process_and_no_zombie() {
    let tmp = own_tmpdir();
    let modes: [&[&str]; 5] = [
        &[],
        &["--confine=off"],
        &["--contain=off"],
        &["--confine=off", "--contain=off"],
        // The run's cgroup: its launcher and init are retired at its end.
        &["--max-processes=64"],
    ];
    for mode in modes {
        if mode.contains(&"--max-processes=64") && !procbox_tests::cgroups_work("the run with --max-processes") {
            continue;
        }
        let mut args = vec!["run", guests::SPAWN_OUTCOME, "--allow-run=true"];
        args.extend(mode);
        args.extend(["--", "ok", "true"]);
        let (code, left, output) = bounded!(under_non_reaping_parent(&args, tmp.path()));
        assert_eq!(code, Some(0), "{mode:?}: {output}");
        assert!(
            left.is_empty(),
            "{mode:?}: procbox left {left:?} to a parent that never reaps"
        );
    }
    assert_eq!(
        run_dirs(tmp.path()),
        Vec::<PathBuf>::new(),
        "a run that ended removes its TMPDIR"
    );
}

/// `procbox ARGS` in the background with `TMPDIR` set (through `env`, which
/// `exec`s procbox: the pid is procbox's).
fn start_with_tmpdir(tmpdir: &Path, args: &[&str]) -> Background {
    let tmpdir = format!("TMPDIR={}", tmpdir.display());
    Background::start_wrapped(&["env", &tmpdir], args)
}

/// A plugin that spawns a confined child (so its run makes its `$TMPDIR`)
/// that prints `ready` and holds.
fn holding(extra: &[&'static str]) -> Vec<&'static str> {
    let mut argv = vec![
        "run",
        guests::HOLD_COMMAND,
        "--allow-run=sh",
        "--allow-helper=sh=/usr/bin/sleep",
    ];
    argv.extend(extra);
    argv.extend(["--", "hold", "sh", "-c", "echo ready; exec /usr/bin/sleep 1000"]);
    argv
}

/// A normal run of a plugin that spawns one confined child.
async fn normal_run(tmpdir: &Path, extra: &[&str]) {
    let mut argv = vec!["run", guests::SPAWN_OUTCOME, "--allow-run=true"];
    argv.extend(extra);
    argv.extend(["--", "ok", "true"]);
    let tmpdir = format!("TMPDIR={}", tmpdir.display());
    let run = Background::start_wrapped(&["env", &tmpdir], &argv);
    let (code, stderr) = bounded!(run.finish());
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn a_live_run_s_tmpdir_is_never_removed() {
    let tmp = own_tmpdir();
    // A stale directory, named with a pid that is alive (ours): only the
    // lock says whether a run still holds it, never a pid that may have
    // been reused.
    let stale = tmp
        .path()
        .join(format!("procbox-run-{}-00000000deadbeef", std::process::id()));
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("left"), "x").unwrap();
    // What the sweep must never touch: a symbolic link with the pattern's
    // name (to a directory it must not empty), and other names.
    let target = tmp.path().join("not-procbox");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), "x").unwrap();
    let link = tmp.path().join("procbox-run-1-00000000000000aa");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let other = tmp.path().join("procbox-run-not-ours");
    std::fs::create_dir(&other).unwrap();

    let mut live = start_with_tmpdir(tmp.path(), &holding(&[]));
    bounded!(live.line_with("ready"));
    let own: Vec<PathBuf> = run_dirs(tmp.path())
        .into_iter()
        .filter(|d| {
            d.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("procbox-run-{}-", live.pid()))
        })
        .collect();
    assert_eq!(own.len(), 1, "the live run's TMPDIR: {:?}", run_dirs(tmp.path()));
    for _ in 0..3 {
        normal_run(tmp.path(), &[]).await;
    }
    assert!(own[0].is_dir(), "a later run removed the TMPDIR of a live run");
    assert!(!stale.exists(), "a later run left a stale TMPDIR");
    assert!(
        link.symlink_metadata().is_ok() && target.join("keep").exists(),
        "the sweep followed a symbolic link"
    );
    assert!(other.is_dir(), "the sweep removed a name procbox does not make");
    live.signal(libc::SIGKILL);
    let _ = bounded!(live.finish());
    normal_run(tmp.path(), &[]).await;
    assert!(!own[0].exists(), "the killed run's TMPDIR is still there");
}

/// The stress tier (`procbox_tests::stress`): `cargo test stress::` runs
/// these, and `PROCBOX_STRESS=1` runs them in full.
mod stress {
    use super::*;

    /// SIGKILLs `runs` procbox processes (with `extra` flags), each after a
    /// pseudo-random 0-80 ms (start-up to the first confined spawn takes 30-40
    /// ms in a debug build); returns their pids and the most `procbox-run-*`
    /// directories seen in `tmpdir` after a kill.
    async fn kill_at_random_moments(runs: usize, tmpdir: &Path, extra: &[&'static str]) -> (Vec<u32>, usize) {
        let argv = holding(extra);
        let mut seed = u64::from(std::process::id()) | 1;
        let (mut pids, mut most, mut left) = (Vec::new(), 0, 0);
        for _ in 0..runs {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            // The kill point, not a synchronisation: any moment must be safe.
            let delay = Duration::from_micros((seed >> 33) % 80_000);
            let procbox = start_with_tmpdir(tmpdir, &argv);
            let pid = procbox.pid();
            pids.push(pid);
            tokio::time::sleep(delay).await;
            procbox.signal(libc::SIGKILL);
            let _ = bounded!(procbox.finish());
            let dirs = run_dirs(tmpdir);
            most = most.max(dirs.len());
            let own = format!("procbox-run-{pid}-");
            left += usize::from(
                dirs.iter()
                    .any(|d| d.file_name().unwrap().to_string_lossy().starts_with(&own)),
            );
        }
        eprintln!("{left} of {runs} killed runs left their TMPDIR");
        (pids, most)
    }

    #[tokio::test]
    async fn a_later_run_removes_the_tmpdirs_of_sigkilled_runs() {
        let tmp = own_tmpdir();
        // One TMPDIR left is enough to catch a sweep that removes none, and
        // 60 to 85% of the kills leave one (measured: 75 and 82 of 100;
        // 13, 16 and 17 of 20; 3 of 10 on a loaded machine): 20 kills
        // leave none with odds of 1 in 1,000 even at 30%. The full count also kills runs
        // in the middle of making or locking their TMPDIR, a window of
        // well under a millisecond in 80. Measured: 0.8 s quick, 4.6 s in
        // full.
        let runs = stress(100, 20);
        let (_, most) = kill_at_random_moments(runs, tmp.path(), &[]).await;
        assert!(most > 0, "no kill left a TMPDIR behind: the test would prove nothing");
        normal_run(tmp.path(), &[]).await;
        assert_eq!(
            run_dirs(tmp.path()),
            Vec::<PathBuf>::new(),
            "the TMPDIRs of killed runs are still there"
        );
    }

    /// Every directory below a cgroup mount (a few levels deep) named
    /// `procbox-PID-*` for one of `pids`.
    fn cgroups_of(pids: &[u32]) -> Vec<PathBuf> {
        fn walk(dir: &Path, depth: usize, prefixes: &[String], found: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if prefixes.iter().any(|p| name.starts_with(p)) {
                    found.push(entry.path());
                } else if depth > 0 {
                    walk(&entry.path(), depth - 1, prefixes, found);
                }
            }
        }
        let prefixes: Vec<String> = pids.iter().map(|p| format!("procbox-{p}-")).collect();
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let mut found = Vec::new();
        for line in mounts.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 2 && (fields[2] == "cgroup" || fields[2] == "cgroup2") {
                walk(Path::new(fields[1]), 3, &prefixes, &mut found);
            }
        }
        found
    }

    #[tokio::test]
    async fn a_later_run_removes_the_cgroups_of_sigkilled_runs() {
        if !procbox_tests::cgroups_work("it runs with --max-processes") {
            return;
        }
        let tmp = own_tmpdir();
        // Each run sweeps the cgroups that dead runs left, so the sweep
        // runs at every kill but the first, and the last run always finds
        // the stale one below: 10 kills catch a sweep that removes
        // nothing. The full count adds kill points inside the making of a
        // cgroup. Measured: 0.4 s quick, 1.5 s in full.
        let runs = stress(30, 10);
        let (pids, _) = kill_at_random_moments(runs, tmp.path(), &["--max-processes=64"]).await;
        eprintln!(
            "{} cgroups of {runs} killed runs were left for the last run",
            cgroups_of(&pids).len()
        );
        // A stale cgroup named with a pid that is alive (ours): a pid says
        // nothing about whether its run is alive (pids are reused).
        let me = std::process::id();
        let place = procbox::process_tree::cgroup::report()
            .into_iter()
            .find(|(c, _)| *c == "pids")
            .and_then(|(_, place)| place.ok())
            .expect("a pids cgroup place");
        let stale = place.join(format!("procbox-{me}-999999"));
        std::fs::create_dir(&stale).unwrap();
        normal_run(tmp.path(), &["--max-processes=64"]).await;
        let mut pids = pids;
        pids.push(me);
        let left = cgroups_of(&pids);
        assert_eq!(left, Vec::<PathBuf>::new(), "cgroups of dead runs are still there");
    }
}
