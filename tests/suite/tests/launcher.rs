//! The launcher of confined children and the namespace's init start from a
//! clean image: procbox's program exec'd anew as `procbox-launcher`, with
//! one thread and an empty environment, holding nothing of procbox's
//! command line. Checked from a child (what a hostile plugin would read)
//! and from outside (what `/proc` says of the helpers), through the
//! command line and through the library, whose test binary is itself the
//! launcher's program here.

use procbox::{Hooks, PolicyBuilder, SearchPath, SpawnRequest, Spawner};
use procbox_tests::{bounded, guests};

/// A string that appears only in procbox's own command line.
const SECRET: &str = "token-4f1e9c-in-procbox-argv";

/// `procbox run spawn-outcome ok sh -c SCRIPT` with a secret in procbox's
/// own arguments; the child's stdout, as bytes (`/proc` files hold NULs).
async fn child_reads(script: &str) -> Vec<u8> {
    let secret_flag = format!("--allow-env={}", SECRET.to_uppercase().replace('-', "_"));
    let argv = [
        "run",
        guests::SPAWN_OUTCOME,
        "--allow-run=sh",
        "--allow-helper=sh=/usr/bin/cat",
        &secret_flag,
        "--",
        "ok",
        "sh",
        "-c",
        script,
    ];
    let mut command = tokio::process::Command::new(procbox_tests::procbox_bin());
    command.args(argv).env("PROCBOX_TEST_SECRET", SECRET).kill_on_drop(true);
    let output = bounded!(command.output()).expect("procbox runs");
    assert!(output.status.success(), "{output:?}");
    output.stdout
}

#[tokio::test]
async fn a_child_reads_nothing_of_procbox_from_the_namespace_s_init() {
    let cmdline = child_reads("cat /proc/1/cmdline").await;
    assert_eq!(
        String::from_utf8_lossy(&cmdline),
        "procbox-launcher\0",
        "the namespace's init shows procbox's command line"
    );
    // Its environment is empty, or not readable at all (it is not
    // dumpable, and children hold no capability).
    let environ = child_reads("cat /proc/1/environ 2>/dev/null; echo end").await;
    assert_eq!(String::from_utf8_lossy(&environ), "end\n");
}

#[tokio::test]
async fn the_command_line_s_secret_is_nowhere_in_the_child_s_proc() {
    // Every file of every process the child can see.
    let script = "for p in /proc/[0-9]*; do cat $p/cmdline $p/environ 2>/dev/null; done; echo end";
    let seen = child_reads(script).await;
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.ends_with("end\n"), "{seen:?}");
    assert!(!seen.contains(SECRET), "a child read procbox's secret: {seen:?}");
    assert!(
        !seen.to_uppercase().contains(&SECRET.to_uppercase().replace('-', "_")),
        "{seen:?}"
    );
}

/// This test process's children named `comm` (the launchers and the
/// namespace's inits of its spawners).
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

fn spawner_of(program: &str) -> Spawner {
    let policy = PolicyBuilder::new()
        .start_dir("/")
        .search_path(SearchPath::parse(std::ffi::OsStr::new("/usr/bin:/bin")))
        .allow_run(program)
        .build()
        .unwrap();
    Spawner::new(std::sync::Arc::new(policy), Hooks::default())
}

#[tokio::test]
async fn the_launcher_and_the_init_have_one_thread_no_environment_and_their_role_for_argv() {
    // The launcher and the init are not dumpable: their environment in
    // /proc is root's to read.
    if !procbox_tests::running_as_root("it reads the launcher's environment") {
        return;
    }
    let spawner = spawner_of("true");
    let request = SpawnRequest {
        program: "true".into(),
        ..Default::default()
    };
    let mut spawned = bounded!(spawner.spawn(request, None, || Ok(None))).unwrap();
    assert!(bounded!(spawned.process.wait()).unwrap().success());
    let launchers = our_children_named("procbox-launch");
    let inits = our_children_named("procbox-init");
    assert!(!launchers.is_empty(), "no launcher started");
    assert!(!inits.is_empty(), "no namespace's init started");
    for pid in launchers.iter().chain(&inits) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(status.lines().any(|l| l == "Threads:\t1"), "pid {pid}: {status}");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert_eq!(cmdline, b"procbox-launcher\0", "pid {pid}");
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        assert!(environ.is_empty(), "pid {pid}: {}", String::from_utf8_lossy(&environ));
    }
}

/// Run by [`a_program_that_is_not_a_launcher_is_refused_in_one_line`] in a
/// process of its own (the launcher program is process-wide).
#[tokio::test]
#[ignore = "run by a_program_that_is_not_a_launcher_is_refused_in_one_line"]
async fn with_true_as_the_launcher_program() {
    procbox::set_launcher_program(std::path::Path::new("/usr/bin/true")).unwrap();
    let spawner = spawner_of("echo");
    let request = SpawnRequest {
        program: "echo".into(),
        args: vec!["started".into()],
        ..Default::default()
    };
    match bounded!(spawner.spawn(request, None, || Ok(None))) {
        Ok(_) => println!("SPAWNED"),
        Err(e) => println!("REFUSED: {e}"),
    }
}

#[tokio::test]
async fn a_program_that_is_not_a_launcher_is_refused_in_one_line() {
    let me = std::env::current_exe().unwrap();
    let mut command = tokio::process::Command::new(me);
    command
        .args([
            "--exact",
            "launcher::with_true_as_the_launcher_program",
            "--ignored",
            "--nocapture",
        ])
        .kill_on_drop(true);
    let output = bounded!(command.output()).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("SPAWNED"), "{stdout}");
    let refused = stdout
        .lines()
        .find(|l| l.starts_with("REFUSED: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        refused.contains("/usr/bin/true did not") && refused.contains("set_launcher_program"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_spawn_says_where_its_time_went_stage_by_stage() {
    // A confined and contained child that runs 200 ms of its own.
    let spawner = spawner_of("sleep");
    let request = || SpawnRequest {
        program: "sleep".into(),
        args: vec!["0.2".into()],
        ..Default::default()
    };
    let asked = std::time::Instant::now();
    let mut spawned = bounded!(spawner.spawn(request(), None, || Ok(None))).unwrap();
    let status = bounded!(spawned.process.wait()).unwrap();
    let whole = asked.elapsed();
    assert!(status.success(), "{status:?}");
    let stages = status.stages;
    let launcher = stages
        .launcher
        .expect("a confined child's stages include the launcher's");
    let in_launcher = launcher.prepare + launcher.cgroup_join + launcher.landlock + launcher.clone_exec;
    let ways = launcher.request_way + launcher.reply_way;
    for part in [
        launcher.landlock,
        launcher.clone_exec,
        launcher.request_way,
        launcher.reply_way,
    ] {
        assert!(part > std::time::Duration::ZERO, "{stages:?}");
    }
    assert!(
        stages.start >= in_launcher + ways,
        "the round trip holds the launcher's part and the ways: {stages:?}"
    );
    // The child's own 200 ms are in its start (it runs from its `exec`,
    // before the reply reaches procbox) and its run, never before.
    assert!(
        stages.start + stages.run >= std::time::Duration::from_millis(200),
        "{stages:?}"
    );
    // From its start on, the stages are the run time procbox reports: the
    // duration is read inside the reap stage, so it differs by less.
    let from_start = stages.start + stages.run + stages.reap;
    assert!(from_start >= status.duration, "{stages:?} vs {:?}", status.duration);
    assert!(
        from_start - status.duration <= stages.reap,
        "{stages:?} vs {:?}",
        status.duration
    );
    let all = stages.judge + stages.prepare + from_start;
    assert!(all <= whole, "{all:?} of {whole:?}: {stages:?}");

    // Unconfined, no launcher takes part.
    let policy = PolicyBuilder::new()
        .start_dir("/")
        .search_path(SearchPath::parse(std::ffi::OsStr::new("/usr/bin:/bin")))
        .allow_run("sleep")
        .confine(procbox::Strictness::Off)
        .contain(procbox::Strictness::Off)
        .build()
        .unwrap();
    let unconfined = Spawner::new(std::sync::Arc::new(policy), Hooks::default());
    let mut spawned = bounded!(unconfined.spawn(request(), None, || Ok(None))).unwrap();
    let status = bounded!(spawned.process.wait()).unwrap();
    assert_eq!(status.stages.launcher, None, "{status:?}");
    assert!(
        status.stages.start + status.stages.run >= std::time::Duration::from_millis(200),
        "{status:?}"
    );
}
