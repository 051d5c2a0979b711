use super::*;

fn p(path: &str) -> PathBuf {
    PathBuf::from(path)
}

#[test]
fn a_write_target_is_protected_by_the_first_protected_path_below_its_grant() {
    let state = vec![(p("/home/u/.cache/procbox"), "cache")];
    let home = [p("/home/u")];
    let repo = [p("/home/u/repo")];
    let cases: &[(&str, &[PathBuf], Option<&str>)] = &[
        // An ordinary file in a granted directory.
        ("/home/u/repo/out.txt", &repo, None),
        // The repository's config, its hooks, anything in .git.
        ("/home/u/repo/.git/config", &repo, Some("/home/u/repo/.git")),
        ("/home/u/repo/.git/hooks/pre-commit", &repo, Some("/home/u/repo/.git")),
        ("/home/u/repo/.git/objects/ab/cd", &repo, Some("/home/u/repo/.git")),
        // A nested repository, a worktree's or a submodule's .git file.
        (
            "/home/u/repo/vendor/lib/.git/config",
            &repo,
            Some("/home/u/repo/vendor/lib/.git"),
        ),
        ("/home/u/repo/wt/.git", &repo, Some("/home/u/repo/wt/.git")),
        // Shell start-up files, at any depth.
        ("/home/u/.bashrc", &home, Some("/home/u/.bashrc")),
        ("/home/u/repo/.envrc", &repo, Some("/home/u/repo/.envrc")),
        ("/home/u/.config/fish/config.fish", &home, Some("/home/u/.config/fish")),
        // ssh's keys, git's configuration, bare repositories' names.
        ("/home/u/.ssh/authorized_keys", &home, Some("/home/u/.ssh")),
        ("/home/u/.gitconfig", &home, Some("/home/u/.gitconfig")),
        // procbox's own state inside the grant.
        ("/home/u/.cache/procbox/x.cwasm", &home, Some("/home/u/.cache/procbox")),
    ];
    for (target, grants, expected) in cases {
        let found = protected_target(Path::new(target), grants, &state);
        assert_eq!(
            found.as_ref().map(|f| f.path().to_path_buf()),
            expected.map(PathBuf::from),
            "{target} under {grants:?}"
        );
    }
}

#[test]
fn naming_the_protected_path_itself_makes_it_writable() {
    let state = vec![(p("/home/u/.cache/procbox"), "cache")];
    // The user granted .git itself, or a directory inside it.
    let named = [p("/home/u/repo"), p("/home/u/repo/.git")];
    assert_eq!(
        protected_target(Path::new("/home/u/repo/.git/config"), &named, &state),
        None
    );
    let hooks = [p("/home/u/repo/.git/hooks")];
    assert_eq!(
        protected_target(Path::new("/home/u/repo/.git/hooks/x"), &hooks, &state),
        None
    );
    // The cache directory granted as it is.
    let cache = [p("/home/u/.cache/procbox")];
    assert_eq!(
        protected_target(Path::new("/home/u/.cache/procbox/x"), &cache, &state),
        None
    );
    // A grant of a sibling does not help.
    let sibling = [p("/home/u/repo"), p("/home/u/repo/src")];
    assert!(protected_target(Path::new("/home/u/repo/.git/config"), &sibling, &state).is_some());
}

#[test]
fn a_grant_holding_protected_paths_is_split_around_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for d in [".git/hooks", "src", "vendor/lib/.git", "vendor/other"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("README"), "").unwrap();
    let plain = tempfile::tempdir().unwrap();
    let plain = plain.path().canonicalize().unwrap();
    let set = WriteSet::of(&[root.clone(), plain.clone()], &[], &[]).unwrap();
    let rel = |paths: &[PathBuf]| -> Vec<PathBuf> {
        let mut rel: Vec<PathBuf> = paths
            .iter()
            .map(|p| {
                p.strip_prefix(&root)
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|_| p.clone())
            })
            .collect();
        rel.sort();
        rel
    };
    let mut dirs = vec![plain.clone(), p("src"), p("vendor/other")];
    dirs.sort();
    assert_eq!(rel(&set.dirs), dirs);
    assert_eq!(rel(&set.files), [p("README")]);
    assert_eq!(rel(&set.read_only), [p(""), p("vendor"), p("vendor/lib")]);
    let protected: Vec<PathBuf> = set.protected.iter().map(|p| p.path().to_path_buf()).collect();
    assert_eq!(rel(&protected), [p(".git"), p("vendor/lib/.git")]);
    // Granting .git by name makes it writable, and only it.
    let named = WriteSet::of(&[root.clone(), root.join(".git")], &[], &[]).unwrap();
    assert!(named.dirs.contains(&root.join(".git")), "{named:?}");
    assert!(named.read_only.contains(&root.join("vendor/lib")), "{named:?}");
}

#[test]
fn a_home_and_the_state_directories_are_protected_before_they_exist() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().canonicalize().unwrap();
    let home = top.join("home/u");
    std::fs::create_dir_all(home.join(".config/other")).unwrap();
    std::fs::create_dir_all(home.join("work")).unwrap();
    std::fs::write(home.join(".bashrc"), "").unwrap();
    let state = vec![(home.join(".config/procbox"), "procbox's configuration")];
    let set = WriteSet::of(std::slice::from_ref(&top), &state, std::slice::from_ref(&home)).unwrap();
    // Nothing is created directly in the home (no .bash_profile planted
    // before .profile), nor in .config (no procbox state planted); the
    // rest is written as granted.
    for read_only in [&top, &top.join("home"), &home, &home.join(".config")] {
        assert!(set.read_only.contains(read_only), "{} in {set:?}", read_only.display());
    }
    assert!(set.dirs.contains(&home.join("work")) && set.dirs.contains(&home.join(".config/other")));
    for target in [
        ".bash_profile",
        ".config/procbox/grants/x.toml",
        ".config/fish/config.fish",
    ] {
        let target = home.join(target);
        let writable = set.dirs.iter().any(|d| target.starts_with(d)) || set.files.contains(&target);
        assert!(!writable, "{} is writable: {set:?}", target.display());
    }
}

#[test]
fn existing_protected_paths_are_found_at_any_depth_without_following_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
    std::fs::create_dir_all(root.join("a/b/nested/.git")).unwrap();
    std::fs::create_dir_all(root.join("wt")).unwrap();
    std::fs::write(root.join("wt/.git"), "gitdir: /elsewhere\n").unwrap();
    std::fs::write(root.join("a/.envrc"), "").unwrap();
    std::fs::write(root.join("plain"), "").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outside.path().join(".git")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
    let found: Vec<PathBuf> = protected_in(&root, &[], &[])
        .unwrap()
        .iter()
        .map(|p| p.path().strip_prefix(&root).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        found,
        [p(".git"), p("a/.envrc"), p("a/b/nested/.git"), p("wt/.git")],
        "the symlinked directory must not be entered"
    );
}
