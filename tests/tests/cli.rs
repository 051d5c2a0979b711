//! The command line: bad input gets one clear line (and a hint, where one
//! helps) and a non-zero exit, never a panic; every `--help` has examples;
//! slow compiles report progress; the demo works.

use std::path::Path;

use procbox_tests::help::{commands_in, flags_in};
use procbox_tests::{bounded, procbox, procbox_bin, procbox_in, procbox_with_env, Run, TEST_DEADLINE};

/// Runs `procbox run FILE` on a file holding `bytes`.
async fn run_file(bytes: &[u8]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plugin.wasm");
    std::fs::write(&path, bytes).expect("write plugin");
    tokio::time::timeout(TEST_DEADLINE, procbox(&["run", path.to_str().unwrap()]))
        .await
        .expect("test deadline")
}

fn assert_clear_failure(run: &Run, expected: &str) {
    assert_failure(run, 125, expected);
}

/// procbox failed with `code`: `procbox: error: …` holding `expected` on
/// one line, then at most one `  hint: …` line, and nothing else. Returns
/// the hint, if any.
fn assert_failure(run: &Run, code: i32, expected: &str) -> Option<String> {
    assert_eq!(run.code, Some(code), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    let mut lines = run.stderr.lines();
    let error = lines.next().unwrap_or_default();
    assert!(error.starts_with("procbox: error: "), "{run:?}");
    assert!(error.contains(expected), "expected {expected:?} in {:?}", run.stderr);
    let hint = lines.next().map(|line| {
        line.strip_prefix("  hint: ")
            .unwrap_or_else(|| panic!("the second line is a hint: {:?}", run.stderr))
            .to_string()
    });
    assert_eq!(lines.next(), None, "one line and a hint: {:?}", run.stderr);
    hint
}

/// As [`assert_failure`], with a hint that contains `expected_hint`.
fn assert_failure_with_hint(run: &Run, code: i32, expected: &str, expected_hint: &str) {
    let hint = assert_failure(run, code, expected).unwrap_or_else(|| panic!("no hint: {run:?}"));
    assert!(
        hint.contains(expected_hint),
        "expected {expected_hint:?} in the hint {hint:?}"
    );
}

#[tokio::test]
async fn a_missing_plugin_file() {
    let run = tokio::time::timeout(TEST_DEADLINE, procbox(&["run", "/no/such/plugin.wasm"]))
        .await
        .expect("deadline");
    assert_failure_with_hint(
        &run,
        125,
        "cannot read plugin /no/such/plugin.wasm: No such file or directory",
        "check the path",
    );
    assert_eq!(run.stderr.matches("No such file").count(), 1, "the cause once: {run:?}");
}

#[tokio::test]
async fn a_file_that_is_not_wasm() {
    assert_failure_with_hint(
        &run_file(b"#!/bin/sh\necho hi\n").await,
        125,
        "is not a WebAssembly file",
        "--target wasm32-wasip2",
    );
}

#[tokio::test]
async fn an_empty_file() {
    assert_clear_failure(&run_file(b"").await, "is not a WebAssembly file");
}

#[tokio::test]
async fn a_core_module_instead_of_a_component() {
    let module = wat::parse_str("(module (func (export \"_start\")))").unwrap();
    let run = run_file(&module).await;
    assert_failure_with_hint(
        &run,
        125,
        "is a core WebAssembly module, not a component",
        "`wasm-tools component new`",
    );
    assert!(run.stderr.contains("build for wasm32-wasip2"), "{run:?}");
}

#[tokio::test]
async fn a_truncated_component() {
    let mut component = wat::parse_str("(component (core module (func (export \"f\"))))").unwrap();
    component.truncate(component.len() - 3);
    assert_clear_failure(&run_file(&component).await, "is not a valid WebAssembly component");
}

#[tokio::test]
async fn a_component_that_imports_another_world() {
    let component =
        wat::parse_str("(component (import \"acme:thing/iface\" (instance (export \"f\" (func)))))").unwrap();
    let run = run_file(&component).await;
    assert_failure_with_hint(
        &run,
        125,
        "is not a procbox plugin",
        "the plugin must target procbox:host/plugin; see `procbox inspect",
    );
    assert!(
        run.stderr.contains("acme:thing/iface"),
        "names the unknown import: {run:?}"
    );
}

#[tokio::test]
async fn a_component_that_is_not_a_command() {
    let component = wat::parse_str("(component)").unwrap();
    let run = run_file(&component).await;
    assert_clear_failure(&run, "is not a procbox plugin");
    assert!(run.stderr.contains("wasi:cli/run"), "{run:?}");
}

#[tokio::test]
async fn a_usage_error_exits_with_2() {
    let run = tokio::time::timeout(TEST_DEADLINE, procbox(&["run"]))
        .await
        .expect("deadline");
    assert_failure_with_hint(&run, 2, "<PLUGIN>", "procbox run --help");
}

#[tokio::test]
async fn an_unknown_flag_is_one_line_with_clap_s_tip() {
    let run = bounded!(procbox(&["run", "--no-cach", "plugin.wasm"]));
    assert_failure_with_hint(&run, 2, "unexpected argument '--no-cach'", "'--no-cache'");
}

#[tokio::test]
async fn a_grant_that_does_not_resolve() {
    let run = bounded!(procbox(&[
        "run",
        procbox_tests::guests::EXIT,
        "--allow-run",
        "no-such-program-procbox --version"
    ]));
    assert_failure_with_hint(
        &run,
        2,
        "--allow-run: rule 'no-such-program-procbox --version': not found",
        "is no-such-program-procbox installed and on PATH? use an absolute path",
    );
}

#[tokio::test]
async fn a_bad_glob_in_a_rule() {
    let run = bounded!(procbox(&["explain", "--allow-run", "git log [a", "--", "git", "log"]));
    assert_failure_with_hint(
        &run,
        2,
        "rule 'git log [a': pattern \"[a\" is not a valid glob",
        "[...]",
    );
}

#[tokio::test]
async fn a_bad_grants_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.toml");
    std::fs::write(&grants, "allow-run = [\"echo\"]\nallow-everything = true\n").unwrap();
    let run = bounded!(procbox(&[
        "explain",
        "--grants",
        grants.to_str().unwrap(),
        "--",
        "echo"
    ]));
    assert_failure_with_hint(
        &run,
        2,
        &format!("{}:2: unknown field `allow-everything`", grants.display()),
        "The grants file",
    );
    let missing = bounded!(procbox(&["explain", "--grants", "/no/such/grants.toml", "--", "echo"]));
    assert_failure_with_hint(
        &missing,
        2,
        "cannot read the grants file /no/such/grants.toml: No such file or directory",
        "--grants",
    );
}

#[tokio::test]
async fn a_trap_is_one_line_naming_the_function() {
    let run = bounded!(procbox(&["run", procbox_tests::guests::FORGE_HANDLE, "--", "77"]));
    assert_failure_with_hint(
        &run,
        125,
        // The innermost function of the plugin's own crate, whichever the
        // compiler did not inline.
        "trapped: unknown handle index 77 (in forge_handle::",
        "procbox -v run",
    );
}

#[tokio::test]
async fn running_out_of_time_says_which_flag_to_raise() {
    let run = bounded!(procbox(&[
        "run",
        procbox_tests::guests::UNBOUNDED_SLEEP,
        "--allow-run=sleep",
        "--max-plugin-time=200ms",
    ]));
    assert_failure_with_hint(
        &run,
        124,
        "ran out of its time budget of 200ms",
        "raise --max-plugin-time",
    );
}

#[tokio::test]
async fn new_refuses_an_existing_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let run = bounded!(procbox_in(dir.path(), &["new", "taken"]));
    assert_failure_with_hint(&run, 2, "taken already exists", "choose another name");
}

/// The lines after `Examples:` in `procbox ARGS --help`.
async fn help_examples(args: &[&str]) -> Vec<String> {
    let mut argv = args.to_vec();
    argv.push("--help");
    let run = bounded!(procbox(&argv));
    assert_eq!(run.code, Some(0), "{run:?}");
    let (_, examples) = run
        .stdout
        .split_once("Examples:\n")
        .unwrap_or_else(|| panic!("no Examples: in {argv:?}:\n{}", run.stdout));
    let examples: Vec<String> = examples
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(|line| line.trim().to_string())
        .collect();
    assert!((2..=4).contains(&examples.len()), "{argv:?}: {examples:?}");
    examples
}

#[tokio::test]
async fn every_help_has_examples_of_its_own_command() {
    for sub in ["run", "demo", "inspect", "explain", "compile", "new", "doctor"] {
        let examples = help_examples(&[sub]).await;
        assert!(
            examples[0].starts_with(&format!("procbox {sub}")),
            "the first example of {sub}: {examples:?}"
        );
    }
    let top = help_examples(&[]).await;
    assert!(top[0].starts_with("procbox "), "{top:?}");
}

/// The lines of stderr that report a compile of `plugin`.
fn progress_lines<'a>(run: &'a Run, plugin: &str) -> Vec<&'a str> {
    run.stderr
        .lines()
        .filter(|line| line.starts_with(&format!("procbox: compiling {plugin} (")))
        .collect()
}

#[tokio::test]
async fn a_slow_compile_reports_once_in_a_log_and_a_cache_hit_not_at_all() {
    let cache = tempfile::tempdir().unwrap();
    // PROCBOX_PROGRESS_AFTER_MS=0: every compile counts as slow.
    let vars = [
        ("PROCBOX_CACHE_DIR", cache.path()),
        ("PROCBOX_PROGRESS_AFTER_MS", Path::new("0")),
    ];
    let plugin = procbox_tests::guests::EXIT;
    let uncached = bounded!(procbox_with_env(&vars, &["run", "--no-cache", plugin, "--", "0"]));
    assert_eq!(uncached.code, Some(0), "{uncached:?}");
    assert_eq!(progress_lines(&uncached, "exit.wasm").len(), 1, "{uncached:?}");
    assert!(
        !uncached.stderr.contains('\r'),
        "no carriage returns in a log: {uncached:?}"
    );

    let first = bounded!(procbox_with_env(&vars, &["run", plugin, "--", "0"]));
    assert_eq!(first.code, Some(0), "{first:?}");
    let lines = progress_lines(&first, "exit.wasm");
    assert_eq!(lines.len(), 1, "{first:?}");
    assert!(lines[0].contains("MB), first run only"), "{first:?}");

    let hit = bounded!(procbox_with_env(&vars, &["run", plugin, "--", "0"]));
    assert_eq!(hit.code, Some(0), "{hit:?}");
    assert_eq!(hit.stderr, "", "a cache hit prints nothing: {hit:?}");
}

#[tokio::test]
async fn a_fast_compile_reports_nothing() {
    let cache = tempfile::tempdir().unwrap();
    // A threshold no compile of this small plugin reaches.
    let vars = [
        ("PROCBOX_CACHE_DIR", cache.path()),
        ("PROCBOX_PROGRESS_AFTER_MS", Path::new("600000")),
    ];
    let run = bounded!(procbox_with_env(
        &vars,
        &["run", procbox_tests::guests::EXIT, "--", "0"]
    ));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
}

#[tokio::test]
async fn the_demo_walks_through_every_step() {
    let run = tokio::time::timeout(TEST_DEADLINE, procbox(&["demo"]))
        .await
        .expect("deadline");
    assert_eq!(run.code, Some(0), "{run:?}");
    let expected = [
        "may run only",
        "echo printed \"hello world\"",
        "round trip intact: true",
        "matched: ERROR disk almost full",
        "matched: ERROR connection reset",
        "read 1048576 bytes of stdout and 1048576 bytes of stderr concurrently",
        "both copies intact: true",
        "refused, as it should be",
        "All steps done",
    ];
    for text in expected {
        assert!(run.stdout.contains(text), "missing {text:?} in:\n{}", run.stdout);
    }
}

#[tokio::test]
async fn verbose_prints_each_command_and_how_it_ended() {
    let echo = std::path::Path::new("/usr/bin/echo").canonicalize().unwrap();
    let run = bounded!(procbox(&["-v", "run", procbox_tests::guests::ECHO, "--allow-run=echo"]));
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr.contains(&format!("$ {} hello world", echo.display())),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains(&format!("{} hello world: exit code 0 after", echo.display())),
        "{run:?}"
    );
    assert!(!run.stderr.contains('\x1b'), "no colour codes in a pipe: {run:?}");
}

#[tokio::test]
async fn run_compiles_once_into_the_cache_unless_told_not_to() {
    let cache = tempfile::tempdir().unwrap();
    let entries = || with_extension(cache.path(), "cwasm");
    let vars = [("PROCBOX_CACHE_DIR", cache.path())];
    let args = ["run", procbox_tests::guests::EXIT, "--", "0"];
    let no_cache = ["run", "--no-cache", procbox_tests::guests::EXIT, "--", "0"];
    assert_eq!(
        bounded!(procbox_tests::procbox_with_env(&vars, &no_cache)).code,
        Some(0)
    );
    assert_eq!(entries(), 0, "--no-cache writes nothing");
    assert_eq!(bounded!(procbox_tests::procbox_with_env(&vars, &args)).code, Some(0));
    assert_eq!(entries(), 1, "the first run stores the compiled plugin");
    let compile = bounded!(procbox_tests::procbox_with_env(
        &vars,
        &["compile", procbox_tests::guests::EXIT]
    ));
    assert!(compile.stdout.contains("is already compiled"), "{compile:?}");
    assert_eq!(entries(), 1);
}

/// How many files in `dir` end in `.EXT`: compiled entries (`cwasm`), or
/// the records beside them that say which files are unchanged (`plugin`,
/// `verified`).
fn with_extension(dir: &Path, ext: &str) -> usize {
    std::fs::read_dir(dir).map_or(0, |dir| {
        dir.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == ext)))
            .count()
    })
}

/// `bytes` as the plugin file `path`, written beside it and renamed over it
/// (a new inode), with the modification time `mtime`.
fn replace_keeping_mtime(path: &Path, bytes: &[u8], mtime: std::time::SystemTime) {
    let new = path.with_extension("new");
    std::fs::write(&new, bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&new)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&new, path).unwrap();
}

/// The binary's view of the stat-key records: once a plugin has settled it
/// is recorded; another plugin renamed over it, or its bytes changed in
/// place at the same size with the mtime put back, is hashed again and
/// compiled as what it now is.
#[tokio::test]
async fn a_plugin_changed_behind_its_record_is_hashed_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let plugin = dir.path().join("exit.wasm");
    let vars = [("PROCBOX_CACHE_DIR", cache.as_path())];
    let exit = std::fs::read(procbox_tests::guests::EXIT).unwrap();
    // The plugin with a custom section "note" holding `payload` (4 bytes).
    let noted = |payload: &[u8; 4]| [exit.as_slice(), &[0, 9, 4], b"note", payload].concat();
    std::fs::write(&plugin, noted(b"aaaa")).unwrap();
    let args = ["run", plugin.to_str().unwrap(), "--", "3"];
    let run = || procbox_with_env(&vars, &args);
    assert_eq!(bounded!(run()).code, Some(3));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(bounded!(run()).code, Some(3));
    assert_eq!(with_extension(&cache, "plugin"), 1, "recorded once settled");
    assert_eq!(with_extension(&cache, "cwasm"), 1);

    let mtime = std::fs::metadata(&plugin).unwrap().modified().unwrap();
    replace_keeping_mtime(&plugin, &noted(b"bbbb"), mtime);
    assert_eq!(bounded!(run()).code, Some(3));
    assert_eq!(with_extension(&cache, "cwasm"), 2, "renamed over: compiled anew");

    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(bounded!(run()).code, Some(3), "settled again, and recorded");
    std::fs::write(&plugin, noted(b"cccc")).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&plugin)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(bounded!(run()).code, Some(3));
    assert_eq!(with_extension(&cache, "cwasm"), 3, "changed in place: compiled anew");
}

/// `procbox inspect X | head -1` and friends: a reader that has gone away
/// ends the output quietly, without a panic and with the command's own
/// exit status.
#[tokio::test]
async fn a_closed_stdout_is_not_a_panic() {
    let cases: [(&[&str], i32); 3] = [
        (&["inspect", procbox_tests::guests::SYSINFO], 0),
        (&["explain", "--allow-run=git", "--", "git", "status"], 0),
        (&["explain", "--", "git", "push"], 3),
    ];
    for (args, expected) in cases {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // every write to stdout now fails with EPIPE
        let mut command = tokio::process::Command::new(procbox_tests::procbox_bin());
        command
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let out = tokio::time::timeout(TEST_DEADLINE, command.output())
            .await
            .expect("test deadline")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Arguments that are not UTF-8: a usage error where a word is expected, a
/// path like any other where a path is; never a panic.
#[tokio::test]
async fn arguments_that_are_not_utf8_do_not_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let bad = OsStr::from_bytes(b"\xff\xfe");
    let cases = [
        (vec![bad], 2, "unrecognized subcommand"),
        (vec![OsStr::new("run"), bad], 125, "cannot read plugin"),
    ];
    for (args, code, message) in cases {
        let out = tokio::time::timeout(
            TEST_DEADLINE,
            tokio::process::Command::new(procbox_tests::procbox_bin())
                .args(&args)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("test deadline")
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.starts_with("procbox: error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// The subcommands `procbox --help` lists.
async fn subcommands() -> Vec<String> {
    commands_in(&bounded!(procbox(&["--help"])).stdout)
}

/// The long flags `procbox SUBCOMMAND --help` defines.
async fn long_flags(subcommand: &str) -> Vec<String> {
    flags_in(&bounded!(procbox(&[subcommand, "--help"])).stdout)
}

#[tokio::test]
async fn completions_cover_every_subcommand_and_flag_in_each_shell() {
    let subcommands = subcommands().await;
    assert!(
        subcommands.len() >= 12 && subcommands.contains(&"run".to_string()),
        "{subcommands:?}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = bounded!(procbox(&["completions", shell]));
        assert_eq!(script.code, Some(0), "{script:?}");
        for sub in &subcommands {
            assert!(script.stdout.contains(sub.as_str()), "{shell}: no {sub}");
            if sub == "worker" {
                continue; // its flags are procbox-worker's, passed through
            }
            for flag in long_flags(sub).await {
                // fish writes `-l allow-run`, the others `--allow-run`.
                let written = if shell == "fish" {
                    format!("-l {}", &flag[2..])
                } else {
                    flag.clone()
                };
                assert!(script.stdout.contains(&written), "{shell}: no {written} of {sub}");
            }
        }
    }
    // The bash script is valid bash.
    let bash = bounded!(procbox(&["completions", "bash"])).stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("procbox.bash");
    std::fs::write(&file, bash).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    let unknown = bounded!(procbox(&["completions", "tcsh"]));
    assert_eq!(unknown.code, Some(2), "{unknown:?}");
}

#[tokio::test]
async fn every_subcommand_has_a_man_page_with_its_flags() {
    let top = bounded!(procbox(&["man"]));
    assert_eq!(top.code, Some(0), "{top:?}");
    assert!(
        top.stdout.starts_with(".ie") || top.stdout.contains(".TH procbox 1"),
        "{}",
        &top.stdout[..200.min(top.stdout.len())]
    );
    let dir = tempfile::tempdir().unwrap();
    let written = bounded!(procbox(&["man", "--out-dir", dir.path().to_str().unwrap()]));
    assert_eq!(written.code, Some(0), "{written:?}");
    for sub in subcommands().await {
        // roff escapes '-' as '\-'.
        let roff = |text: &str| text.replace('-', "\\-");
        assert!(top.stdout.contains(&roff(&sub)), "procbox.1 lists no {sub}");
        let page = bounded!(procbox(&["man", &sub]));
        assert_eq!(page.code, Some(0), "{page:?}");
        assert!(
            page.stdout.contains(&format!(".TH procbox-{sub} 1")),
            "{sub}: {}",
            page.stdout
        );
        let file = std::fs::read_to_string(dir.path().join(format!("procbox-{sub}.1"))).unwrap();
        assert_eq!(file, page.stdout, "--out-dir wrote what `procbox man {sub}` prints");
        if sub == "worker" && !procbox_bin().with_file_name("procbox-worker").is_file() {
            // Its flags are procbox-worker's, passed through; without it
            // the page says where they are listed.
            assert!(page.stdout.contains("procbox worker \\-\\-help"), "{}", page.stdout);
            continue;
        }
        for flag in long_flags(&sub).await {
            assert!(page.stdout.contains(&roff(&flag)), "procbox-{sub}.1 has no {flag}");
        }
    }
    let bad = bounded!(procbox(&["man", "rnu"]));
    let hint = assert_failure(&bad, 2, "\"rnu\" is not a procbox subcommand").expect("a hint");
    assert!(hint.contains("run, explain"), "{hint}");
}

/// `procbox --version` names every procbox:host version in `wit/`: the
/// current one and each old one kept beside it.
#[tokio::test]
async fn version_names_the_wit_it_serves() {
    let version = bounded!(procbox(&["--version"]));
    assert_eq!(version.code, Some(0), "{version:?}");
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let mut files = vec![wit.join("process.wit")];
    for dir in std::fs::read_dir(wit.join("deps")).unwrap() {
        let dir = dir.unwrap().path();
        if dir.file_name().unwrap().to_str().unwrap().starts_with("procbox-host-") {
            files.push(dir.join("process.wit"));
        }
    }
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let package = text
            .lines()
            .find_map(|line| line.strip_prefix("package "))
            .and_then(|p| p.strip_suffix(';'))
            .unwrap();
        assert!(
            version.stdout.contains(package),
            "{package} is not in {:?}",
            version.stdout
        );
    }
}
