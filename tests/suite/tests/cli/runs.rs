//! What a run says while it works: compile progress only when slow, the
//! demo's walk-through, `-v`, and the compile cache (used, bypassed, and
//! hashed again when a plugin changed behind its record).

use super::*;

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
