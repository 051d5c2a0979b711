//! One grant, one meaning: a directory granted for reading (`--dir`) is
//! never written through a redirect, and inside a write grant the protected
//! paths (`.git`, shell start-up files, procbox's own state) stay read-only
//! to redirects, to confined children and to the plugin itself, unless the
//! user grants one by name. Each attack runs through a real plugin and the
//! real binary, as root and as an unprivileged user (`nobody`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use procbox_tests::{bounded, guests, procbox_bin, procbox_run_as, Run, User};

/// The bypasses an adversarial review found, each closed.
#[path = "protected/attacks.rs"]
mod attacks;

/// What the attacks aim at: a repository with a config and a hook, a
/// nested repository, a worktree's `.git` file, a shell start-up file and
/// an ordinary source directory, all owned by `user`.
struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Repo {
    fn new(user: User) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in [".git/hooks", "src", "vendor/lib/.git", "wt"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join(".git/config"), "[core]\n").unwrap();
        std::fs::write(root.join("vendor/lib/.git/config"), "[core]\n").unwrap();
        std::fs::write(root.join("wt/.git"), "gitdir: /nowhere\n").unwrap();
        std::fs::write(root.join(".bashrc"), "# rc\n").unwrap();
        std::fs::write(root.join("src/main.c"), "int main;\n").unwrap();
        if user == User::Nobody {
            let status = std::process::Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(&root)
                .status()
                .unwrap();
            assert!(status.success());
        }
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        Repo { _dir: dir, root }
    }

    fn path(&self, rel: &str) -> String {
        self.root.join(rel).to_str().unwrap().to_string()
    }

    /// The protected files, with what each held before the attack.
    fn protected(&self) -> Vec<(PathBuf, String)> {
        [".git/config", "vendor/lib/.git/config", "wt/.git", ".bashrc"]
            .iter()
            .map(|rel| {
                let path = self.root.join(rel);
                let text = std::fs::read_to_string(&path).unwrap();
                (path, text)
            })
            .collect()
    }

    fn assert_unchanged(&self, before: &[(PathBuf, String)], what: &str) {
        for (path, text) in before {
            assert_eq!(
                &std::fs::read_to_string(path).unwrap(),
                text,
                "{what}: {} changed",
                path.display()
            );
        }
        assert!(
            !self.root.join(".git/hooks/pre-commit").exists(),
            "{what}: a hook was planted"
        );
    }
}

/// `procbox run GUEST FLAGS -- ARGS` as `user`, started in `dir`.
async fn run_as(user: User, dir: &Path, guest: &str, flags: &[&str], args: &[&str]) -> Run {
    let mut cmd = procbox_run_as(user);
    cmd.arg(guest)
        .args(flags)
        .arg("--")
        .args(args)
        .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
        .env_remove("PROCBOX_LOG")
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = bounded!(cmd.output()).expect("start procbox");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_ok(run: &Run, what: &str) {
    assert_eq!(run.code, Some(0), "{what}: {run:?}");
}

#[tokio::test]
async fn a_directory_granted_for_reading_is_never_written_through_a_redirect() {
    for user in procbox_tests::users() {
        let repo = Repo::new(user);
        let before = repo.protected();
        let dir = format!("--dir={}", repo.root.display());
        // Every file in a --dir, protected or not: refused, naming the flag
        // that would allow it.
        let files = [repo.path(".git/config"), repo.path(".bashrc"), repo.path("src/out.txt")];
        let mut args = vec!["denied:granted for reading only|--allow-write"];
        args.extend(files.iter().map(String::as_str));
        let run = run_as(
            user,
            &repo.root,
            guests::REDIRECT_WRITE,
            &[&dir, "--allow-run=printf"],
            &args,
        )
        .await;
        assert_ok(&run, &format!("as {user:?}"));
        repo.assert_unchanged(&before, "through a redirect under --dir");
        assert!(
            !repo.root.join("src/out.txt").exists(),
            "as {user:?}: a file was created under --dir"
        );
        // Reading from one still works: stdin from a file in a --dir.
        let cat = run_as(
            user,
            &repo.root,
            guests::SPAWN_OUTCOME,
            &[&dir, "--allow-run=cat"],
            &["stdout:int main;", "cat", &repo.path("src/main.c")],
        )
        .await;
        assert_ok(&cat, &format!("as {user:?}: reading under --dir"));
    }
}

#[tokio::test]
async fn a_redirect_never_writes_a_protected_path_inside_a_write_grant() {
    for user in procbox_tests::users() {
        let repo = Repo::new(user);
        let before = repo.protected();
        let write = format!("--allow-write={}", repo.root.display());
        let protected = [
            repo.path(".git/config"),
            repo.path(".git/hooks/pre-commit"),
            repo.path("vendor/lib/.git/config"),
            repo.path("wt/.git"),
            repo.path(".bashrc"),
        ];
        let mut args = vec!["denied:is protected|stays read-only unless you grant it by name|--allow-write"];
        args.extend(protected.iter().map(String::as_str));
        let run = run_as(
            user,
            &repo.root,
            guests::REDIRECT_WRITE,
            &[&write, "--allow-run=printf"],
            &args,
        )
        .await;
        assert_ok(&run, &format!("as {user:?}"));
        repo.assert_unchanged(&before, "through a redirect under --allow-write");
        // What is not protected is written as granted.
        let ok = run_as(
            user,
            &repo.root,
            guests::REDIRECT_WRITE,
            &[&write, "--allow-run=printf"],
            &["ok", &repo.path("src/main.c"), &repo.path("src/new.txt")],
        )
        .await;
        assert_ok(&ok, &format!("as {user:?}: writing src/"));
        assert!(std::fs::read_to_string(repo.root.join("src/new.txt"))
            .unwrap()
            .contains("planted"));
        // Named, the protected path is the user's to give.
        let named = format!("--allow-write={}", repo.path(".git"));
        let given = run_as(
            user,
            &repo.root,
            guests::REDIRECT_WRITE,
            &[&write, &named, "--allow-run=printf"],
            &["ok", &repo.path(".git/config")],
        )
        .await;
        assert_ok(&given, &format!("as {user:?}: .git granted by name"));
    }
}

/// `sh -c SCRIPT` as a child of the plugin, under `flags`, as `user`.
async fn child_sh(user: User, repo: &Repo, flags: &[&str], expected: &str, script: &str) -> Run {
    let mut all = vec!["--allow-run=sh"];
    all.extend(flags);
    let run = run_as(
        user,
        &repo.root,
        guests::SPAWN_OUTCOME,
        &all,
        &[expected, "sh", "-c", script],
    )
    .await;
    assert_ok(&run, &format!("as {user:?} {flags:?}: {script}"));
    run
}

#[tokio::test]
async fn confined_children_cannot_write_protected_paths_or_rename_them_away() {
    for user in procbox_tests::users() {
        for contain in ["--contain=best-effort", "--contain=off"] {
            let repo = Repo::new(user);
            let before = repo.protected();
            let write = format!("--allow-write={}", repo.root.display());
            let dir = format!("--dir={}", repo.root.display());
            let flags = [write.as_str(), dir.as_str(), "--allow-helper=/usr/bin", contain];
            for script in [
                "echo '[core] fsmonitor = evil' >> .git/config",
                "echo evil > .git/hooks/pre-commit",
                "echo evil >> vendor/lib/.git/config",
                "echo 'gitdir: /tmp/evil' > wt/.git",
                "echo evil >> .bashrc",
                "rm -f .bashrc",
                // Renaming around the protected path and planting a new one.
                "mv .git .git-old",
                "mv vendor vendor2",
                "mv vendor/lib vendor/lib2",
                "echo evil > .envrc",
            ] {
                child_sh(user, &repo, &flags, "fails:", script).await;
            }
            repo.assert_unchanged(&before, &format!("a confined child {contain}"));
            assert!(!repo.root.join(".envrc").exists());
            // The rest of the grant is written as granted.
            child_sh(
                user,
                &repo,
                &flags,
                "ok",
                "echo more >> src/main.c && mkdir -p src/new && echo x > src/new/f && test -s src/new/f",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn the_plugin_cannot_write_protected_paths_through_its_own_files() {
    for user in procbox_tests::users() {
        let repo = Repo::new(user);
        let before = repo.protected();
        let write = format!("--allow-write={}", repo.root.display());
        let run = run_as(
            user,
            &repo.root,
            guests::WRITE_FILE,
            &[&write],
            &[
                "denied",
                &repo.path(".git/config"),
                &repo.path(".git/hooks/pre-commit"),
                &repo.path("vendor/lib/.git/config"),
                &repo.path(".bashrc"),
                &repo.path(".envrc"),
            ],
        )
        .await;
        assert_ok(&run, &format!("as {user:?}: the plugin's own writes"));
        repo.assert_unchanged(&before, "through the plugin's preopen");
        // vendor/ holds a nested repository: nothing is created directly in
        // it, by the plugin as by children.
        let beside = run_as(
            user,
            &repo.root,
            guests::WRITE_FILE,
            &[&write],
            &["denied", &repo.path("vendor/new.txt")],
        )
        .await;
        assert_ok(&beside, &format!("as {user:?}: a file beside a nested repository"));
        let ok = run_as(
            user,
            &repo.root,
            guests::WRITE_FILE,
            &[&write],
            &["ok", &repo.path("src/main.c")],
        )
        .await;
        assert_ok(
            &ok,
            &format!("as {user:?}: writing src/ through the plugin's own files"),
        );
    }
}

#[tokio::test]
async fn explain_lists_the_protected_paths_of_a_write_grant() {
    let repo = Repo::new(User::Root);
    let write = format!("--allow-write={}", repo.root.display());
    let out = bounded!(tokio::process::Command::new(procbox_bin())
        .args(["explain", &write, "--allow-run=true", "--", "true"])
        .current_dir(&repo.root)
        .output())
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for rel in [".git", "vendor/lib/.git", "wt/.git", ".bashrc"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains("protected") && l.contains(&repo.path(rel))),
            "{rel} is not listed: {stdout}"
        );
    }
    // Said at start-up too, with what it costs: nothing created directly
    // in the split directory.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warned = format!("{} holds protected paths", repo.root.display());
    assert!(
        stderr.contains(&warned) && stderr.contains("nothing is created, removed or renamed directly"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_granted_script_cannot_be_rewritten_and_strict_programs_sees_every_way() {
    for user in procbox_tests::users() {
        script_rewrite_as(user).await;
    }
}

async fn script_rewrite_as(user: User) {
    let repo = Repo::new(user);
    let script = repo.root.join("src/tool.sh");
    std::fs::write(&script, "#!/bin/sh\necho tool ran\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = script.to_str().unwrap();
    let allow = format!("--allow-run={script}");
    let dir = format!("--dir={}", repo.path("src"));
    // Under --dir, a redirect cannot rewrite it: the script still runs as
    // the user wrote it.
    let rewrite = run_as(
        user,
        &repo.root,
        guests::REDIRECT_WRITE,
        &[&dir, &allow, "--allow-run=printf", "--strict-programs"],
        &["denied:granted for reading only", script],
    )
    .await;
    assert_ok(&rewrite, "rewriting a granted script under --dir");
    assert_eq!(std::fs::read_to_string(script).unwrap(), "#!/bin/sh\necho tool ran\n");
    // Writable by the plugin and its children: refused under --strict-programs.
    let write = format!("--allow-write={}", repo.path("src"));
    let strict = run_as(
        user,
        &repo.root,
        guests::SPAWN_OUTCOME,
        &[&write, &allow, "--strict-programs"],
        &["ok", script],
    )
    .await;
    assert_ne!(strict.code, Some(0), "{strict:?}");
    assert!(
        strict.stderr.contains("`strict-programs`") && strict.stderr.contains(script),
        "{strict:?}"
    );
    // Writable by its group: refused too, and a warning without the flag.
    std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o775)).unwrap();
    let grouped = run_as(
        user,
        &repo.root,
        guests::SPAWN_OUTCOME,
        &[&dir, &allow, "--strict-programs"],
        &["ok", script],
    )
    .await;
    assert_ne!(grouped.code, Some(0), "{grouped:?}");
    assert!(
        grouped.stderr.contains("writable by its group or others"),
        "{grouped:?}"
    );
    let warned = run_as(
        user,
        &repo.root,
        guests::SPAWN_OUTCOME,
        &[&dir, &allow],
        &["stdout:tool ran", script],
    )
    .await;
    assert_ok(&warned, "the warning alone");
    assert!(
        warned.stderr.contains("can be changed by others than you"),
        "{warned:?}"
    );
}
