//! Bypasses of "one grant, one meaning" found by a hostile-plugin review,
//! each written first and watched succeeding, then closed.
//! Each test asserts what SECURITY.md promises, and failed while the bypass
//! was open: a protected path (or procbox's state, or a granted program) is
//! written through a name the protection does not know.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use procbox_tests::{bounded, guests, procbox_run_as, Run, User};

/// `procbox run GUEST FLAGS -- ARGS` in `dir`, with `env` set (after the
/// defaults, so it can override `PROCBOX_CONFIG_DIR`), as root or, with
/// `nobody`, as the unprivileged user.
async fn run(dir: &Path, env: &[(&str, &str)], nobody: bool, guest: &str, flags: &[&str], args: &[&str]) -> Run {
    let mut cmd = procbox_run_as(if nobody { User::Nobody } else { User::Root });
    cmd.arg("--no-prompt")
        .arg(guest)
        .args(flags)
        .arg("--")
        .args(args)
        .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
        .env("PROCBOX_CONFIG_DIR", procbox_tests::test_config_dir())
        .env_remove("PROCBOX_LOG")
        .envs(env.iter().copied())
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

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    (dir, root)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A dotfile manager's layout (GNU stow, rcm, homeshick): `~/.bashrc` is a
/// symlink to a file in `~/dotfiles`. The symlink is protected, its target
/// is an ordinary writable file, and writing it rewrites what the next
/// shell runs: through the plugin's own files, a redirect, or a child
/// (even writing `~/.bashrc` by name: Landlock checks the target).
#[tokio::test]
async fn a_symlinked_startup_file_is_not_written_through_its_target() {
    let (_dir, root) = tempdir();
    let home = root.join("home");
    std::fs::create_dir_all(home.join("dotfiles")).unwrap();
    std::fs::write(home.join("dotfiles/bashrc"), "# rc\n").unwrap();
    std::os::unix::fs::symlink("dotfiles/bashrc", home.join(".bashrc")).unwrap();
    let write = format!("--allow-write={}", home.display());
    let env = [("HOME", s(&home))];
    let target = home.join("dotfiles/bashrc");
    let plugin = run(
        &root,
        &env,
        false,
        guests::WRITE_FILE,
        &[&write],
        &["denied", s(&target)],
    )
    .await;
    let redirect = run(
        &root,
        &env,
        false,
        guests::REDIRECT_WRITE,
        &[&write, "--allow-run=printf"],
        &["denied:protected", s(&target)],
    )
    .await;
    let child = run(
        &root,
        &env,
        false,
        guests::SPAWN_OUTCOME,
        &[&write, "--allow-run=sh"],
        &[
            "fails:denied",
            "sh",
            "-c",
            &format!("echo 'echo planted' >> {}", home.join(".bashrc").display()),
        ],
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "# rc\n",
        "~/.bashrc (a symlink to dotfiles/bashrc) was rewritten:\nplugin: {plugin:?}\nredirect: {redirect:?}\nchild: {child:?}"
    );
}

/// The same with a hard link: `~/.bashrc` and `~/dotfiles/bashrc` are one
/// inode, and only the first name is protected.
#[tokio::test]
async fn a_hard_linked_startup_file_is_not_written_through_its_other_name() {
    let (_dir, root) = tempdir();
    let home = root.join("home");
    std::fs::create_dir_all(home.join("dotfiles")).unwrap();
    std::fs::write(home.join("dotfiles/bashrc"), "# rc\n").unwrap();
    std::fs::hard_link(home.join("dotfiles/bashrc"), home.join(".bashrc")).unwrap();
    let write = format!("--allow-write={}", home.display());
    let run = run(
        &root,
        &[("HOME", s(&home))],
        false,
        guests::WRITE_FILE,
        &[&write],
        &["denied", s(&home.join("dotfiles/bashrc"))],
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(home.join(".bashrc")).unwrap(),
        "# rc\n",
        "~/.bashrc was rewritten through a hard link: {run:?}"
    );
}

/// `.config/fish/config.fish` was matched relative to the write grant, so
/// a grant of `~/.config` left it writable. Now fish's whole configuration
/// directory is protected wherever the grant starts (its `conf.d/*.fish`
/// run too); granting `~/.config/fish` itself names it, and makes it the
/// user's to give.
#[tokio::test]
async fn fish_config_is_protected_under_a_grant_of_dot_config() {
    let (_dir, root) = tempdir();
    let home = root.join("home");
    std::fs::create_dir_all(home.join(".config/fish")).unwrap();
    std::fs::write(home.join(".config/fish/config.fish"), "# rc\n").unwrap();
    let target = home.join(".config/fish/config.fish");
    let planted = home.join(".config/fish/conf.d/evil.fish");
    let write = format!("--allow-write={}", home.join(".config").display());
    let refused = run(
        &root,
        &[("HOME", s(&home))],
        false,
        guests::WRITE_FILE,
        &[&write],
        &["denied", s(&target), s(&planted)],
    )
    .await;
    assert_eq!(refused.code, Some(0), "{refused:?}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "# rc\n",
        "config.fish written under {write}: {refused:?}"
    );
    let named = format!("--allow-write={}", home.join(".config/fish").display());
    let given = run(
        &root,
        &[("HOME", s(&home))],
        false,
        guests::WRITE_FILE,
        &[&named],
        &["ok", s(&target)],
    )
    .await;
    assert_eq!(given.code, Some(0), "granted by name: {given:?}");
}

/// The grant store's directory is a symlink (a dotfile manager again):
/// `state_dirs` protects its canonical target, not the symlink, so a child
/// replaces the symlink with a real directory and plants an entry that a
/// later run uses without asking.
#[tokio::test]
async fn a_symlinked_config_dir_cannot_be_replaced_by_a_planted_store() {
    let (_dir, root) = tempdir();
    let home = root.join("home");
    std::fs::create_dir_all(home.join("dotfiles/procbox")).unwrap();
    std::fs::create_dir_all(home.join(".config")).unwrap();
    std::os::unix::fs::symlink("../dotfiles/procbox", home.join(".config/procbox")).unwrap();
    let config = home.join(".config/procbox");
    let write = format!("--allow-write={}", home.join(".config").display());
    let attack = run(
        &root,
        &[("HOME", s(&home)), ("PROCBOX_CONFIG_DIR", s(&config))],
        false,
        guests::SPAWN_OUTCOME,
        &[
            &write,
            "--allow-run=sh",
            "--allow-helper=sh=/usr/bin/rm",
            "--allow-helper=sh=/usr/bin/mkdir",
        ],
        &[
            "fails:denied",
            "sh",
            "-c",
            &format!("rm {0} && mkdir -m 700 -p {0}/grants", config.display()),
        ],
    )
    .await;
    assert!(
        std::fs::symlink_metadata(&config).unwrap().file_type().is_symlink(),
        "the grant store's directory {} was replaced: {attack:?}",
        config.display()
    );
}

/// A relative `PROCBOX_CONFIG_DIR` (or `PROCBOX_CACHE_DIR`,
/// `XDG_CACHE_HOME`) that does not exist yet stays relative in
/// `state_dirs`, so it is never inside a write grant; the store (or cache)
/// is then created where procbox starts, inside the grant.
#[tokio::test]
async fn a_relative_config_dir_is_still_protected() {
    let (_dir, root) = tempdir();
    let write = format!("--allow-write={}", root.display());
    let plugin = run(
        &root,
        &[("PROCBOX_CONFIG_DIR", "cfg")],
        false,
        guests::WRITE_FILE,
        &[&write],
        &["denied", s(&root.join("cfg"))],
    )
    .await;
    assert!(
        !root.join("cfg").exists(),
        "a relative PROCBOX_CONFIG_DIR was created by the plugin: {plugin:?}"
    );
    let cache = run(
        &root,
        &[("XDG_CACHE_HOME", "rc")],
        false,
        guests::WRITE_FILE,
        &["--no-cache", &write],
        &["denied", s(&root.join("rc/procbox/planted.cwasm"))],
    )
    .await;
    assert!(
        !root.join("rc/procbox/planted.cwasm").exists(),
        "a file was planted in a relative XDG_CACHE_HOME's cache: {cache:?}"
    );
}

/// A bare repository (`proj.git`, a local remote) has `config` and
/// `hooks/` that git runs (a push runs `pre-receive`), but only a path
/// component named exactly `.git` is protected.
#[tokio::test]
async fn a_bare_repository_is_protected_like_a_dot_git() {
    let (_dir, root) = tempdir();
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let status = std::process::Command::new("git")
        .args(["init", "-q", "--bare", "proj.git"])
        .current_dir(&work)
        .status()
        .unwrap();
    assert!(status.success());
    let config = work.join("proj.git/config");
    let before = std::fs::read_to_string(&config).unwrap();
    let write = format!("--allow-write={}", work.display());
    let run = run(
        &root,
        &[],
        false,
        guests::WRITE_FILE,
        &[&write],
        &["denied", s(&config), s(&work.join("proj.git/hooks/pre-receive"))],
    )
    .await;
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "{run:?}");
    assert!(
        !work.join("proj.git/hooks/pre-receive").exists(),
        "a hook was planted: {run:?}"
    );
}

/// A granted program outside every grant, with a second name (a hard link)
/// inside a write grant: it is rewritten through that name, with no
/// warning, even under `--strict-programs` (the hard-link check only looks
/// at programs that lie in a granted directory themselves).
#[tokio::test]
async fn a_granted_program_hard_linked_into_a_write_grant_is_refused_when_strict() {
    let (_dir, root) = tempdir();
    std::fs::create_dir_all(root.join("opt")).unwrap();
    std::fs::create_dir_all(root.join("work")).unwrap();
    let tool = root.join("opt/tool");
    std::fs::copy("/usr/bin/true", &tool).unwrap();
    std::fs::hard_link(&tool, root.join("work/tool-link")).unwrap();
    let before = std::fs::read(&tool).unwrap();
    let run = run(
        &root,
        &[],
        false,
        guests::REDIRECT_WRITE,
        &[
            "--strict-programs",
            &format!("--allow-write={}", root.join("work").display()),
            "--allow-run=printf",
            &format!("--allow-run={}", tool.display()),
        ],
        &["ok", s(&root.join("work/tool-link"))],
    )
    .await;
    assert!(
        std::fs::read(&tool).unwrap() == before,
        "the granted program {} was rewritten through its hard link under --strict-programs: {run:?}",
        tool.display()
    );
}

/// The search for protected paths skips a directory it cannot list (an
/// owner-unreadable, searchable directory, mode 0300, as an unprivileged
/// user), so a repository below it is not protected, while children reach
/// it by name.
#[tokio::test]
async fn a_repository_below_an_unlistable_directory_is_still_protected() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, root) = tempdir();
    let repo = root.join("w/locked/repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(repo.join(".git/config"), "[core]\n").unwrap();
    let status = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(root.join("w/locked"), std::fs::Permissions::from_mode(0o300)).unwrap();
    let write = format!("--allow-write={}", root.join("w").display());
    let run = run(
        &root,
        &[("HOME", s(&root))],
        true,
        guests::SPAWN_OUTCOME,
        &[&write, "--allow-run=sh"],
        &[
            "fails:denied",
            "sh",
            "-c",
            &format!(
                "echo '[core] fsmonitor = planted' >> {}",
                repo.join(".git/config").display()
            ),
        ],
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(repo.join(".git/config")).unwrap(),
        "[core]\n",
        "{run:?}"
    );
}

/// Second review. `state_dirs` protects only the store and cache of *this*
/// run's environment: with `PROCBOX_CONFIG_DIR` (or `PROCBOX_CACHE_DIR`,
/// `XDG_*`, a changed `HOME`) pointing elsewhere, the default
/// `~/.config/procbox/grants` inside a write grant of the home is an
/// ordinary directory below the split `~/.config`, and an entry planted
/// there is used, without asking, by the next run that has no override.
#[tokio::test]
async fn the_default_grant_store_is_protected_when_the_run_uses_another() {
    let (_dir, root) = tempdir();
    let home = root.join("home");
    let store = home.join(".config/procbox/grants");
    std::fs::create_dir_all(&store).unwrap();
    let planted = store.join("0000000000000000000000000000000000000000000000000000000000000000.toml");
    let write = format!("--allow-write={}", home.display());
    let attack = run(
        &root,
        &[("HOME", s(&home)), ("PROCBOX_CONFIG_DIR", s(&root.join("elsewhere")))],
        false,
        guests::SPAWN_OUTCOME,
        &[&write, "--allow-run=sh"],
        &[
            "fails:denied",
            "sh",
            "-c",
            &format!("echo 'allow-run = [\"/bin/sh **\"]' > {}", planted.display()),
        ],
    )
    .await;
    assert!(
        !planted.exists(),
        "an entry was planted in the default grant store {}: {attack:?}",
        store.display()
    );
}

/// Second review. A home start-up file's symlink target is protected even
/// when only the dotfiles directory is granted, but its hard link is not:
/// `hard_links` looks only for other names of protected paths found below
/// the grant, and `~/.bashrc` is outside it.
#[tokio::test]
async fn a_hard_linked_startup_file_is_protected_when_only_its_other_name_is_granted() {
    let (_dir, root) = tempdir();
    let home = root.join("home");
    std::fs::create_dir_all(home.join("dotfiles")).unwrap();
    std::fs::write(home.join("dotfiles/bashrc"), "# rc\n").unwrap();
    std::fs::hard_link(home.join("dotfiles/bashrc"), home.join(".bashrc")).unwrap();
    let write = format!("--allow-write={}", home.join("dotfiles").display());
    let run = run(
        &root,
        &[("HOME", s(&home))],
        false,
        guests::WRITE_FILE,
        &[&write],
        &["denied", s(&home.join("dotfiles/bashrc"))],
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(home.join(".bashrc")).unwrap(),
        "# rc\n",
        "~/.bashrc was rewritten through its hard link in the granted ~/dotfiles: {run:?}"
    );
}

/// Second review. Hard links are looked for only in the grant that holds
/// the protected file: `.git/config` hard-linked into a second write grant
/// (which holds no protected path, so it is not split) is written there by
/// a redirect, a child or the plugin.
#[tokio::test]
async fn a_protected_file_hard_linked_into_another_write_grant_stays_read_only() {
    let (_dir, root) = tempdir();
    let repo = root.join("repo");
    let other = root.join("other");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(repo.join(".git/config"), "[core]\n").unwrap();
    std::fs::hard_link(repo.join(".git/config"), other.join("cfg")).unwrap();
    let run = run(
        &root,
        &[],
        false,
        guests::REDIRECT_WRITE,
        &[
            &format!("--allow-write={}", repo.display()),
            &format!("--allow-write={}", other.display()),
            "--allow-run=printf",
        ],
        &["denied:protected", s(&other.join("cfg"))],
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(repo.join(".git/config")).unwrap(),
        "[core]\n",
        "repo/.git/config was written through its hard link in another grant: {run:?}"
    );
}

/// A write grant that reaches a protected path only through a symlink,
/// which a plugin could have planted in an earlier run (`src/out ->
/// ../.git`), was taken as naming `.git`. It is refused: the user names a
/// protected path as it resolves, or not at all.
#[tokio::test]
async fn a_write_grant_through_a_planted_symlink_into_a_repository_is_refused() {
    let (_dir, root) = tempdir();
    let repo = root.join("repo");
    std::fs::create_dir_all(repo.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(repo.join(".git/config"), "[core]\n").unwrap();
    std::os::unix::fs::symlink("../.git", repo.join("src/out")).unwrap();
    let config = repo.join(".git/config");
    let through = format!("--allow-write={}", repo.join("src/out").display());
    let refused = run(&root, &[], false, guests::WRITE_FILE, &[&through], &["ok", s(&config)]).await;
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(
        refused.stderr.contains("resolves through a symlink") && refused.stderr.contains(".git"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "[core]\n");
    // Named as it resolves, it is the user's to give.
    let named = format!("--allow-write={}", repo.join(".git").display());
    let given = run(&root, &[], false, guests::WRITE_FILE, &[&named], &["ok", s(&config)]).await;
    assert_eq!(given.code, Some(0), "{given:?}");
}
