//! Promises that must hold against a hostile plugin, each written first as
//! the attack, through real plugins and real processes.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use procbox_tests::{bounded, guests, procbox, procbox_run};

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

fn manifest(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../guests/rust/examples/{name}/{name}.manifest.toml"))
        .display()
        .to_string()
}

#[tokio::test]
async fn a_fifo_as_a_redirect_target_is_refused_without_blocking() {
    // Before: `date > run.log` with run.log a FIFO that nobody reads blocked
    // procbox in open() for ever, past every budget and signal.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    mkfifo(&root.join("run.log"));
    let grant = format!("--allow-write={}", root.display());
    let manifest = manifest("redirect-log");
    let run = bounded!(procbox(&[
        "run",
        guests::REDIRECT_LOG,
        "--manifest",
        &manifest,
        &grant,
        "--allow-run=date",
        "--allow-run=sh",
        "--allow-run=wc",
        "--",
        root.to_str().unwrap(),
    ]));
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("invalid input") && run.stderr.contains("is a FIFO or a device, not a regular file"),
        "{run:?}"
    );
}

/// Processes whose environment holds `marker` (any state but reaped).
fn marked(marker: &str) -> Vec<u32> {
    let needle = format!("PROCBOX_CHAIN={marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

#[tokio::test]
async fn a_deep_chain_of_escaped_sessions_is_swept_to_the_last_process() {
    // Before: the sweep gave up after 64 rounds, so a chain of 80 nested
    // `setsid` processes left 16 running after the plugin ended.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let chain = root.join("chain.sh");
    std::fs::write(
        &chain,
        "export PROCBOX_CHAIN=\"$2\"\n\
         if [ \"$1\" -gt 0 ]; then /usr/bin/setsid /bin/sh \"$0\" $(($1 - 1)) \"$2\" \"$3\" &\n\
         else echo built > \"$3\"; fi\n\
         exec /usr/bin/sleep 1000\n",
    )
    .unwrap();
    let marker = format!("chain-{}", std::process::id());
    let fifo = root.join("built");
    // The child returns once the deepest level is up (it writes the FIFO).
    let script = format!(
        "mkfifo {fifo}; /usr/bin/setsid /bin/sh {chain} 80 {marker} {fifo} & read built < {fifo}",
        fifo = fifo.display(),
        chain = chain.display()
    );
    // The chain writes its FIFO in the directory and runs setsid, mkfifo
    // and sleep from the shell: all granted to it.
    let write = format!("--allow-write={}", root.display());
    let run = bounded!(procbox_run(
        guests::SPAWN_OUTCOME,
        &[
            "--allow-run=sh",
            &write,
            "--allow-helper=sh=/usr/bin/setsid",
            "--allow-helper=sh=/usr/bin/mkfifo",
            "--allow-helper=sh=/usr/bin/sleep",
        ],
        &["ok", "sh", "-c", &script]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
    let left = marked(&marker);
    assert!(left.is_empty(), "{} of the chain survived: {left:?}", left.len());
}

#[tokio::test]
async fn a_deny_rule_finds_a_flag_wherever_and_however_it_is_written() {
    // Before: deny rules were positional, so `sort -rno F` or
    // `sort --output F -r` slipped past a rule that named the flag.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "b\na\n").unwrap();
    let input = input.to_str().unwrap();
    let out = dir.path().join("out.txt");
    let out = out.to_str().unwrap();
    let denied = "denied:matches deny rule";
    let cases: &[(&[&str], &str)] = &[
        (&["sort", "-o", out, input], denied),
        (&["sort", "-rno", out, input], denied),
        (&["sort", &format!("-o{out}"), input], denied),
        (&["sort", "-r", "--output", out, input], denied),
        (&["sort", &format!("--output={out}"), "-r", input], denied),
        (&["sort", &format!("--outp={out}"), input], denied),
        // what the rule does not name still runs; after `--` it is a file
        (&["sort", "-rn", input], "ok"),
        (&["sort", "--", input], "ok"),
    ];
    // Children may read (not write) the directory: a refusal below is the
    // gate's, never the kernel's.
    let read = format!("--allow-read={}", dir.path().display());
    for (command, expected) in cases {
        let mut args = vec![*expected];
        args.extend_from_slice(command);
        let run = bounded!(procbox_run(
            guests::SPAWN_OUTCOME,
            &[
                "--allow-run=sort **",
                "--deny-run=sort ** -o",
                "--deny-run=sort ** --output",
                &read,
            ],
            &args
        ));
        assert_eq!(run.code, Some(0), "{command:?}: {run:?}");
    }
    assert!(!Path::new(out).exists(), "a denied sort wrote {out}");
}

/// A component whose `wasi:cli/run` calls the core module's `run`.
fn plugin_around(core_module: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
             (core module $m {core_module})
             (core instance $i (instantiate $m))
             (func $run (result (result)) (canon lift (core func $i "run")))
             (instance $cli (export "run" (func $run)))
             (export "wasi:cli/run@0.2.12" (instance $cli)))"#
    ))
    .expect("valid component text")
}

#[tokio::test]
async fn the_memory_cap_bounds_every_memory_and_table_together() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // Before: table growth was always allowed; a growable table took
        // about 1 GiB of host memory and the plugin exited 0.
        (
            "tables",
            r#"(table $t 1 funcref)
               (func (export "run") (result i32)
                 (loop $grow
                   (br_if $grow (i32.ne (table.grow $t (ref.null func) (i32.const 65536)) (i32.const -1))))
                 (i32.const 0))"#,
        ),
        // Before: the cap applied to each memory alone; eight memories of
        // 16 MiB under a 64 MiB cap took 128 MiB, and the plugin exited 0.
        (
            "memories",
            r#"(memory 256) (memory 256) (memory 256) (memory 256)
               (memory 256) (memory 256) (memory 256) (memory 256)
               (func (export "run") (result i32) (i32.const 0))"#,
        ),
    ];
    for (what, core) in cases {
        let path = dir.path().join(format!("{what}.wasm"));
        std::fs::write(&path, plugin_around(core)).unwrap();
        let run = bounded!(procbox(&["run", path.to_str().unwrap(), "--max-plugin-memory=64MiB"]));
        assert_eq!(run.code, Some(125), "{what}: {run:?}");
        assert!(
            run.stderr.contains("past its cap of 64 MiB (`max-plugin-memory`)"),
            "{what}: {run:?}"
        );
    }
}

/// The WebAssembly 3.0 proposals that wasmtime builds only with features
/// of its own (exceptions and GC types need `gc`, atomics `threads`): the
/// workspace turns off wasmtime's default features, and a plugin that
/// used these must still load and run. It exits 0 only if the thrown
/// value came back through the catch, an atomic store and load, and a GC
/// struct.
#[tokio::test]
async fn a_plugin_using_exceptions_gc_types_and_atomics_still_runs() {
    let core = r#"(memory 1)
       (tag $e (param i32))
       (type $boxed (struct (field i32)))
       (func (export "run") (result i32)
         (i32.atomic.store
           (i32.const 0)
           (block $caught (result i32)
             (try_table (catch $e $caught) (throw $e (i32.const 7)))
             (i32.const 99)))
         (struct.get $boxed 0 (struct.new $boxed (i32.atomic.load (i32.const 0))))
         (i32.const 7)
         (i32.ne))"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasm3.wasm");
    std::fs::write(&path, plugin_around(core)).unwrap();
    let run = bounded!(procbox(&["run", path.to_str().unwrap()]));
    assert_eq!(run.code, Some(0), "{run:?}");
}

#[tokio::test]
async fn a_child_has_no_controlling_terminal_to_type_into() {
    // Before: children shared procbox's session, so one could open
    // /dev/tty and inject input with TIOCSTI (legacy_tiocsti is 1 here).
    // procbox runs on a pseudo-terminal (`script`), as an unprivileged user.
    if !procbox_tests::can_run_as_nobody() {
        return;
    }
    let probe = "if (exec 3</dev/tty) 2>/dev/null; then echo has-tty; else echo no-tty; fi";
    let command = format!(
        "setpriv --reuid=nobody --regid=nogroup --clear-groups {} run --no-cache {} --allow-run=sh -- stdout:no-tty sh -c '{probe}'",
        procbox_tests::procbox_bin().display(),
        guests::SPAWN_OUTCOME,
    );
    let run = bounded!(tokio::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output())
    .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The same probe in procbox's own session does see the terminal, so the
    // test can tell the two apart.
    let control = bounded!(tokio::process::Command::new("script")
        .args(["-q", "-e", "-c", probe, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output())
    .unwrap();
    assert!(String::from_utf8_lossy(&control.stdout).contains("has-tty"));
}

#[tokio::test]
async fn every_signal_that_would_end_procbox_kills_the_tree_first() {
    use procbox_tests::{assert_tree_running, field, process_exists, Background, KillOnDrop, TREE_FLAGS};
    // Before: SIGQUIT (Ctrl-\), SIGUSR1 and the others whose default action
    // ends a process killed procbox without cleanup and left the tree running.
    for signal in [
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGRTMIN() + 3,
    ] {
        let mut argv = vec!["run", guests::HOLD_TREE];
        argv.extend(TREE_FLAGS);
        let mut procbox = Background::start(&argv);
        let tree = bounded!(procbox.line_with("escaped="));
        // Killed even if an assertion fails: `--contain=off` leaves them.
        let _tree = KillOnDrop::tree(&tree);
        assert_tree_running(&tree);
        procbox.signal(signal);
        let (code, stderr) = bounded!(procbox.finish());
        assert_eq!(code, Some(128 + signal), "signal {signal}: {stderr}");
        for key in ["child", "grandchild", "escaped"] {
            let pid = field(&tree, key);
            assert!(!process_exists(pid), "signal {signal}: {key} {pid} survived");
        }
    }
}

#[tokio::test]
async fn a_child_cannot_read_procbox_s_environment() {
    // Before: any child of the same user read /proc/$PPID/environ, and with
    // it every token the user exported. procbox runs as nobody here.
    if !procbox_tests::can_run_as_nobody() {
        return;
    }
    let probe =
        "if grep -q PROCBOX_TEST_SECRET /proc/$PPID/environ 2>/dev/null; then echo leaked; else echo sealed; fi";
    let run = bounded!(tokio::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(procbox_tests::procbox_bin())
        .args(["run", "--no-cache", guests::SPAWN_OUTCOME, "--allow-run=sh", "--"])
        .args(["stdout:sealed", "sh", "-c", probe])
        .env("PROCBOX_TEST_SECRET", "hunter2")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output())
    .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[tokio::test]
async fn a_granted_program_the_plugin_could_change_is_reported_and_refused_when_strict() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (writable, granted) = (root.join("out"), root.join("work"));
    std::fs::create_dir_all(&writable).unwrap();
    std::fs::create_dir_all(&granted).unwrap();
    // A program in a directory the plugin may write: it could replace it.
    let tool = writable.join("tool");
    std::fs::copy("/bin/true", &tool).unwrap();
    // A program with a second hard link inside a granted directory.
    let linked = granted.join("linked");
    std::fs::copy("/bin/true", granted.join("original")).unwrap();
    std::fs::hard_link(granted.join("original"), &linked).unwrap();
    let write_flag = format!("--allow-write={}", writable.display());
    let dir_flag = format!("--dir={}", granted.display());
    let cases = [
        (format!("--allow-run={}", tool.display()), "may write (`allow-write`)"),
        (format!("--allow-run={}", linked.display()), "has 2 hard links"),
    ];
    for (grant, warning) in &cases {
        let program = grant.trim_start_matches("--allow-run=");
        let flags = [write_flag.as_str(), dir_flag.as_str(), grant.as_str()];
        // Reported at start-up on stderr, without any log variable; the run goes on.
        let run = bounded!(procbox_run(guests::SPAWN_OUTCOME, &flags, &["ok", program]));
        assert_eq!(run.code, Some(0), "{run:?}");
        let line = run.stderr.lines().find(|l| l.contains(warning));
        assert!(
            line.is_some_and(|l| l.starts_with("procbox: warning: ")),
            "{warning}: {run:?}"
        );
        // Refused under --strict-programs.
        let mut strict = flags.to_vec();
        strict.push("--strict-programs");
        let run = bounded!(procbox_run(guests::SPAWN_OUTCOME, &strict, &["ok", program]));
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(
            run.stderr.contains("refused (`strict-programs`)") && run.stderr.contains(warning),
            "{run:?}"
        );
    }
}

#[tokio::test]
async fn the_plugin_cannot_stretch_the_users_max_runtime() {
    // Before: a plugin's timeout with SIGCONT and an hour of grace kept its
    // child running past the user's ceiling, for the plugin's hour.
    for (after_ms, ended_by) in [("100", "9"), ("60000", "15")] {
        let run = bounded!(procbox_run(
            guests::STRETCHED_TIMEOUT,
            &["--allow-run=sleep", "--max-runtime=300ms"],
            &[after_ms, ended_by]
        ));
        assert_eq!(run.code, Some(0), "{run:?}");
    }
}

#[tokio::test]
async fn a_name_glob_cannot_grant_a_variable_that_runs_code() {
    // Before: `*=*` let a plugin set PAGER, GIT_DIR, HOME or TAR_OPTIONS for
    // a narrowly granted program, and run code through them.
    for var in [
        "PAGER=sh -c evil",
        "GIT_DIR=/tmp/evil",
        "HOME=/tmp/evil",
        "BASH_FUNC_ls%%=() { evil; }",
    ] {
        let run = bounded!(procbox_run(
            guests::SPAWN_OUTCOME,
            &["--allow-run=env", "--allow-env=*=*"],
            &["denied:environment variable", var, "env"]
        ));
        assert_eq!(run.code, Some(0), "{var}: {run:?}");
    }
    // What a glob does cover still works.
    let run = bounded!(procbox_run(
        guests::SPAWN_OUTCOME,
        &["--allow-run=env", "--allow-env=*=*"],
        &["ok", "TZ=UTC", "LC_ALL=C", "env"]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
}

/// The stress tier (`procbox_tests::stress`): `cargo test stress::` runs
/// these, and `PROCBOX_STRESS=1` runs them in full.
mod stress {
    use super::*;

    /// Zombies whose parent is `parent`.
    fn zombies_of(parent: u32) -> usize {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
            .filter(|stat| {
                let after = stat
                    .rsplit_once(')')
                    .map(|(_, rest)| rest.split_whitespace().collect::<Vec<_>>());
                after.is_some_and(|f| f.first() == Some(&"Z") && f.get(1) == Some(&parent.to_string().as_str()))
            })
            .count()
    }

    #[tokio::test]
    async fn adopted_orphans_are_reaped_while_the_plugin_runs() {
        use procbox_tests::Background;
        // Before: children that each left a background grandchild left as many
        // zombies on procbox until the plugin ended (200 of 200 measured; a
        // pid-exhaustion attack for a long-running plugin). The guest also
        // checks, at every child, that the reaper never takes a watched
        // child's exit status.
        //
        // The counts. Every child left a zombie before (200 of 200), so a
        // few children show that bug. The reaper and each child's own wait
        // both answer every SIGCHLD, so a reaper that took any child's
        // status would race the watched one at each of 400 exits
        // (reasoned, not measured); 2,000 in the stress tier. Measured:
        // 0.6 to 2.2 s quick, 3.6 to 9.2 s in full.
        let children = procbox_tests::stress(2000, 400).to_string();
        let mut procbox = Background::start(&["run", guests::ZOMBIE_CHURN, "--allow-run=sh", "--", &children]);
        bounded!(procbox.line_with("done"));
        let pid = procbox.pid();
        // Reaping follows SIGCHLD: give it until the deadline to catch up.
        let caught_up = bounded!(async {
            loop {
                let zombies = zombies_of(pid);
                if zombies == 0 {
                    break zombies;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        });
        assert_eq!(caught_up, 0);
        procbox.signal(libc::SIGTERM);
        let (code, stderr) = bounded!(procbox.finish());
        assert_eq!(code, Some(143), "{stderr}");
    }
}
