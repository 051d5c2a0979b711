//! Who a test runs procbox as (root, or `nobody` through `setpriv`), what
//! each can reach, and the visible skips when a test cannot run here.

use super::*;

/// Who a test runs procbox as: root (the CI machines run as root), or the
/// unprivileged `nobody`, through `setpriv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    Root,
    Nobody,
}

/// The users the attack tests run as, in order: root, then `nobody` when
/// `nobody` can reach this checkout. A clone inside a directory others
/// cannot enter (a private home, a `mktemp -d` directory) keeps it out, and
/// so does running the tests as another user than root (`setpriv` needs
/// root): then the `nobody` half of each test is skipped, said on the
/// terminal (see [`skip`]), and its root half still runs.
pub fn users() -> Vec<User> {
    let mut users = vec![User::Root];
    if nobody_reaches("the half as nobody") {
        users.push(User::Nobody);
    }
    users
}

/// Whether a test that runs `procbox` as `nobody` can run here; when it
/// cannot, says why on the terminal (see [`users`]) and the test returns.
pub fn can_run_as_nobody() -> bool {
    nobody_reaches("it runs procbox as nobody")
}

/// Whether the tests run as root; when not, skips `what`, saying why (see
/// [`skip`]). For what only root may do: `chown` a file to another user,
/// mount, read a process that is not dumpable, be the root whose child
/// loses its capabilities.
pub fn running_as_root(what: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        skip(&format!("{what}: only root can, and the tests do not run as root"));
    }
    root
}

/// Whether procbox can make its run cgroups here, which `--max-processes`,
/// `--max-tree-memory` and a tree's measurement need: a writable pids and
/// memory hierarchy (root on the test machines, or a delegated cgroup);
/// when it cannot, skips `what`, saying why (see [`skip`]).
pub fn cgroups_work(what: &str) -> bool {
    use procbox::process_tree::cgroup::{check, TreeLimits};
    let limits = TreeLimits {
        max_processes: Some(1),
        max_memory: Some(1 << 30),
    };
    match check(&limits) {
        Ok(()) => true,
        Err(why) => {
            skip(&format!("{what}: {why}"));
            false
        }
    }
}

/// Whether `nobody` reaches this checkout; when not, skips `what`, saying why.
fn nobody_reaches(what: &str) -> bool {
    match nobody_reaches_checkout() {
        Ok(()) => true,
        Err(reason) => {
            skip(&format!("{what}: {reason}"));
            false
        }
    }
}

/// Whether `nobody` can open what its runs open in this checkout, asked once.
fn nobody_reaches_checkout() -> Result<(), String> {
    static ANSWER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ANSWER
        .get_or_init(|| {
            if !rustix::process::geteuid().is_root() {
                return Err("the tests do not run as root, and only root can become nobody".into());
            }
            // What nobody's runs open: procbox and the programs beside it,
            // and the plugins. Opened, not only executed: on some file
            // systems exec passes a directory that a lookup may not.
            let (bin, plugin) = (procbox_bin(), PathBuf::from(guests::SPAWN_OUTCOME));
            let out = std::process::Command::new(AS_NOBODY[0])
                .args(&AS_NOBODY[1..])
                .args(["test", "-r"])
                .arg(&bin)
                .args(["-a", "-r"])
                .arg(&plugin)
                .output()
                .map_err(|e| format!("cannot run setpriv: {e}"))?;
            if out.status.success() {
                return Ok(());
            }
            Err(format!(
                "nobody cannot read {} or {}; clone the repository where others can enter, such as /tmp, to run it",
                bin.display(),
                plugin.display()
            ))
        })
        .clone()
}

/// Says on the terminal that the running test skips `what`: one line,
/// `skipped: TEST: WHAT`, written past libtest's capture so that a passing
/// run shows it (and `grep -c skipped:` counts them).
pub fn skip(what: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {what}");
}

/// The command that runs a program as `nobody`, with no groups.
pub const AS_NOBODY: [&str; 4] = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];

/// `procbox ARGS` as `user`: the binary itself, or under [`AS_NOBODY`].
pub fn procbox_as(user: User) -> tokio::process::Command {
    match user {
        User::Root => tokio::process::Command::new(procbox_bin()),
        User::Nobody => {
            let mut command = tokio::process::Command::new(AS_NOBODY[0]);
            command.args(&AS_NOBODY[1..]).arg(procbox_bin());
            command
        }
    }
}

/// `procbox run` as `user`, ready for the plugin and its arguments: root
/// with the shared test cache, nobody without a cache (the test cache is
/// root's and private).
pub fn procbox_run_as(user: User) -> tokio::process::Command {
    let mut command = procbox_as(user);
    command.arg("run");
    match user {
        User::Root => command.env("PROCBOX_CACHE_DIR", test_cache_dir()),
        User::Nobody => command.arg("--no-cache"),
    };
    command
}
