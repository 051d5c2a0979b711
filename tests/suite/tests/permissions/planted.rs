//! A remembered entry planted by someone else (another user, the plugin
//! itself) never unconfines or widens a run.

use super::*;

/// The program the attack runs: `escape-probe write PATH`.
const PROBE: &str = env!("CARGO_BIN_EXE_escape-probe");

use procbox_tests::User;

/// Gives `path` and everything under it to nobody (modes unchanged).
fn give_to_nobody(path: &std::path::Path) {
    let status = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "chown {}", path.display());
}

impl Remembering {
    /// `procbox ARGS` with this store as `user`, not on a terminal. Nobody
    /// runs under `setpriv` and, for `run`, with `--no-cache` (the test
    /// cache is root's and private).
    async fn procbox_as(&self, user: User, args: &[&str]) -> procbox_tests::Run {
        if user == User::Root {
            return self.procbox(args).await;
        }
        let mut command = procbox_tests::procbox_as(user);
        match args.split_first() {
            Some((&"run", rest)) => command.args(["run", "--no-cache"]).args(rest),
            _ => command.args(args),
        };
        command
            .env("PROCBOX_CONFIG_DIR", self.config())
            .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
            .env_remove("PROCBOX_LOG")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let out = bounded!(command.output()).expect("start procbox");
        procbox_tests::Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[tokio::test]
async fn a_planted_remembered_entry_cannot_unconfine_or_widen_a_run() {
    for user in procbox_tests::users() {
        a_planted_remembered_entry_cannot_unconfine_or_widen_a_run_as(user).await;
    }
}

/// The planted-entry attack with procbox run as `user`: as nobody, the
/// store (directory 0700, entry 0600), the plugin and the directory the
/// child aims at all belong to nobody, so only confinement stops the write
/// and only this user could have written the entry.
async fn a_planted_remembered_entry_cannot_unconfine_or_widen_a_run_as(user: User) {
    use std::os::unix::fs::PermissionsExt;
    let store = Remembering::new();
    // What an attacker who can write the store plants for this plugin's
    // bytes: a rule it wants, and keys that would let its child write
    // anywhere (no confinement, a write grant, the network, ...).
    let bytes = std::fs::read(&store.plugin).unwrap();
    let hash = procbox::grants::broker::PluginIdentity::of("chores.wasm", &bytes).blake3;
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("written");
    let grants = store.config().join("grants");
    std::fs::create_dir_all(&grants).unwrap();
    std::fs::set_permissions(&grants, std::fs::Permissions::from_mode(0o700)).unwrap();
    let entry = grants.join(format!("{hash}.toml"));
    let planted = format!(
        r#"allow-run = ["{PROBE} write **"]
deny-run = ["/usr/bin/rm **"]
allow-env = ["LANG=C"]
confine = "off"
contain = "off"
allow-write = ["{outside}"]
allow-child-net = ["all"]
allow-inherit = true
allow-net = true
allow-helper = ["/usr/bin"]

[limits]
max-children = 100000
max-runtime = "1m"

[remembered]
plugin = "chores.wasm"
path = "{plugin}"
blake3 = "{hash}"
"#,
        outside = outside.path().display(),
        plugin = store.plugin(),
    );
    std::fs::write(&entry, planted).unwrap();
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
    if user == User::Nobody {
        // The plugin, the store and its entry, and the directory the child
        // aims at: nobody's, so the entry is trusted and nothing but
        // confinement keeps the child from writing there.
        give_to_nobody(store.dir.path());
        give_to_nobody(outside.path());
    }
    // A run with no flags: the planted rule is used (the probe runs), but
    // the child is confined, so its write outside its grants fails.
    let target_str = target.to_str().unwrap();
    let run = store
        .procbox_as(
            user,
            &[
                "run",
                store.plugin(),
                "--",
                "fails:Permission denied",
                PROBE,
                "write",
                target_str,
            ],
        )
        .await;
    assert_eq!(run.code, Some(0), "as {user:?}: {run:?}");
    assert!(
        !target.exists(),
        "as {user:?}: the child wrote outside its grants: {run:?}"
    );
    // One warning per refused key, naming the file and the way to grant it.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("procbox: warning:") && l.contains(entry.to_str().unwrap()))
        .collect();
    for key in [
        "confine",
        "contain",
        "allow-write",
        "allow-child-net",
        "allow-inherit",
        "allow-net",
        "allow-helper",
        "max-children",
    ] {
        let named: Vec<_> = warnings.iter().filter(|l| l.contains(&format!("`{key} ="))).collect();
        assert_eq!(named.len(), 1, "as {user:?}: {key}: {run:?}");
        assert!(named[0].contains("--grants FILE"), "as {user:?}: {key}: {run:?}");
    }
    assert_eq!(warnings.len(), 8, "as {user:?}: {run:?}");
    // What is used is said in full: every rule and key, never "and more".
    let using = run
        .stderr
        .lines()
        .find(|l| l.starts_with("procbox: using grants you remembered for chores.wasm"))
        .unwrap_or_else(|| panic!("as {user:?}: no using line: {run:?}"));
    for used in [
        &format!("--allow-run='{PROBE} write **'"),
        "--deny-run='/usr/bin/rm **'",
        "--allow-env=LANG=C",
        "--max-runtime=1m",
    ] {
        assert!(using.contains(used), "as {user:?}: {used} is not in {using:?}");
    }
    assert!(
        !using.contains("and more") && !using.contains("max-children"),
        "as {user:?}: {using:?}"
    );
    // `procbox grants show` and `list` say what a run does not use.
    let show = store.procbox_as(user, &["grants", "show", store.plugin()]).await;
    assert_eq!(show.code, Some(0), "as {user:?}: {show:?}");
    assert!(
        show.stdout.contains("# not used by any run") && show.stdout.contains("#   `confine = \"off\"`"),
        "as {user:?}: {show:?}"
    );
    let list = store.procbox_as(user, &["grants", "list"]).await;
    assert!(
        list.stdout.contains("\n  not used: `confine = \"off\"`") && list.stdout.contains("`allow-write = ["),
        "as {user:?}: {list:?}"
    );
}
