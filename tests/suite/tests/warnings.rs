//! Warnings people see: something procbox lets pass but the user should
//! know reaches stderr as one `procbox: warning: …` line, with no log
//! variable set, and the run goes on.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use procbox_tests::{bounded, procbox, procbox_with_env, Run};

/// The one line of stderr, which must be a warning that ends with `tail`.
fn assert_one_warning(run: &Run, tail: &str) {
    assert_eq!(run.code, Some(0), "the run still succeeds: {run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {run:?}");
    assert!(lines[0].starts_with("procbox: warning: "), "{run:?}");
    assert!(lines[0].ends_with(tail), "{run:?}");
}

/// `procbox run exit.wasm -- 0` with the cache in `cache`.
async fn run_with_cache(cache: &Path) -> Run {
    bounded!(procbox_with_env(
        &[("PROCBOX_CACHE_DIR", cache)],
        &["run", procbox_tests::guests::EXIT, "--", "0"]
    ))
}

#[tokio::test]
async fn a_cache_directory_others_may_write_is_a_warning_and_the_run_goes_on() {
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    for _ in 0..2 {
        let run = run_with_cache(cache.path()).await;
        assert_one_warning(
            &run,
            &format!(
                "not using the compilation cache: the cache directory {} is not private: others may write to it (mode 777)",
                cache.path().display()
            ),
        );
    }
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0, "nothing stored");
}

#[tokio::test]
async fn a_cache_directory_of_another_user_is_a_warning_and_the_run_goes_on() {
    // Only root can give a directory away; the mode test above covers the
    // same check for everyone else.
    if !procbox_tests::running_as_root("it chowns a directory to another user") {
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let nobody = 65534;
    std::os::unix::fs::chown(cache.path(), Some(nobody), Some(nobody)).unwrap();
    let run = run_with_cache(cache.path()).await;
    assert_one_warning(
        &run,
        &format!(
            "not using the compilation cache: the cache directory {} is not private: it belongs to uid {nobody}, not to uid 0",
            cache.path().display()
        ),
    );
}

#[tokio::test]
async fn a_private_cache_directory_is_no_warning() {
    let cache = tempfile::tempdir().unwrap();
    let run = run_with_cache(cache.path()).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
}

/// A manifest that requests a program this host lacks: the request is
/// dropped, with a warning, wherever the manifest is used.
#[tokio::test]
async fn a_manifest_request_for_a_missing_program_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("exit.manifest.toml");
    std::fs::write(
        &manifest,
        "allow-run = [\"no-such-program-procbox --version\", \"echo **\"]\n",
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    let tail = "rule 'no-such-program-procbox --version': program not found on this host; ignored";

    let run = bounded!(procbox(&[
        "run",
        procbox_tests::guests::EXIT,
        "--manifest",
        manifest,
        "--allow-run=echo",
        "--",
        "0"
    ]));
    assert_one_warning(&run, tail);
    assert!(run.stderr.contains(manifest), "the warning names the manifest: {run:?}");

    let explain = bounded!(procbox(&[
        "explain",
        "--manifest",
        manifest,
        "--allow-run=echo",
        "--",
        "echo",
        "hi"
    ]));
    assert_one_warning(&explain, tail);
    assert!(explain.stdout.starts_with("allowed: "), "{explain:?}");
}

/// An executable script at `path`, its directories made; its canonical path.
fn script(path: &Path, text: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.canonicalize().unwrap()
}

/// A version manager's shim granted as a program: the warning names the
/// real program, and it tells the truth: the confined child cannot run the
/// real program until it is granted in either way the warning names.
#[tokio::test]
async fn a_granted_shim_whose_real_program_children_may_not_run_is_a_warning_naming_it() {
    // asdf's layout, outside every directory granted to children.
    let home = tempfile::tempdir().unwrap();
    let real = script(
        &home.path().join("installs/pbtool/1.0/bin/pbtool"),
        "#!/bin/sh\necho real tool\n",
    );
    let shims = home.path().canonicalize().unwrap().join("shims");
    let shim = script(
        &shims.join("pbtool"),
        &format!("#!/bin/sh\nexec {} \"$@\"\n", real.display()),
    );
    let path_with = |first: &Path| std::env::join_paths([first, Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
    let (shim_path, real_path) = (path_with(&shims), path_with(real.parent().unwrap()));
    let run = |path: &std::ffi::OsStr, flags: &[&str], expected: &str| {
        let path = Path::new(path).to_path_buf();
        let mut args = vec!["run", procbox_tests::guests::SPAWN_OUTCOME, "--allow-run=pbtool"];
        args.extend(flags);
        args.extend(["--", expected, "pbtool"]);
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bounded!(procbox_with_env(&[("PATH", &path)], &args))
        }
    };
    let warning = format!(
        "procbox: warning: --allow-run: rule 'pbtool': {} is a script (a version manager's shim?) that runs {}, and confined children may not execute {}; grant the real program: start procbox with {} first on PATH, so that rule 'pbtool' names it, or let children run it (`allow-helper`)",
        shim.display(),
        real.display(),
        real.display(),
        real.parent().unwrap().display()
    );
    let confined = "--confine=require";
    let shimmed = run(&shim_path, &[confined], "fails:Permission denied").await;
    assert_one_warning(&shimmed, &warning);
    let explain = bounded!(procbox_with_env(
        &[("PATH", Path::new(&shim_path))],
        &["explain", "--allow-run=pbtool", "--confine=require", "--", "pbtool"]
    ));
    assert_one_warning(&explain, &warning);
    // Granted either way the warning says, the real program runs, unwarned.
    let helper = format!("--allow-helper=pbtool={}", real.display());
    for (path, flags) in [
        (&shim_path, vec![confined, helper.as_str()]),
        (&real_path, vec![confined]),
    ] {
        let fixed = run(path, &flags, "stdout:real tool").await;
        assert_eq!(
            (fixed.code, fixed.stderr.as_str()),
            (Some(0), ""),
            "{flags:?}: {fixed:?}"
        );
    }
    // Unconfined children may run anything: no warning.
    let off = run(&shim_path, &["--confine=off"], "stdout:real tool").await;
    assert_eq!((off.code, off.stderr.as_str()), (Some(0), ""), "{off:?}");
}
