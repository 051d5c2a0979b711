//! Started in the account's home, found from the password database when
//! `HOME` is unset (in a mount namespace whose /etc/passwd names it):
//! children read nothing there.

use super::*;

/// Runs `procbox run spawn-outcome --allow-run=cat FLAGS -- EXPECTED cat
/// FILE` as `user`, started in `home` with no `HOME` in its environment, in
/// a mount namespace of its own where the password database (a copy of
/// /etc/passwd bound over it) names `home` as the account's home.
async fn started_in_the_account_home(user: User, home: &Path, flags: &[&str], expected: &str, file: &Path) -> Run {
    let (name, wrapper): (&str, &[&str]) = match user {
        User::Root => ("root", &[]),
        User::Nobody => (
            "nobody",
            &["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"],
        ),
    };
    let passwd: String = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split(':').collect();
            if fields.first() == Some(&name) && fields.len() == 7 {
                fields[5] = home.to_str().unwrap();
            }
            fields.join(":") + "\n"
        })
        .collect();
    assert!(
        passwd.contains(&format!(":{}:", home.display())),
        "no {name} in /etc/passwd"
    );
    let database = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(database.path(), passwd).unwrap();
    std::fs::set_permissions(database.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut command = tokio::process::Command::new("unshare");
    command
        .args([
            "--mount",
            "--",
            "sh",
            "-c",
            "mount --bind \"$0\" /etc/passwd && exec \"$@\"",
        ])
        .arg(database.path())
        .args(wrapper)
        .arg(procbox_bin())
        .args(["run", "--no-cache", guests::SPAWN_OUTCOME, "--allow-run=cat"])
        .args(flags)
        .args(["--", expected, "cat"])
        .arg(file)
        .env_remove("HOME")
        .env("PROCBOX_PROGRESS_AFTER_MS", "3600000")
        .env_remove("PROCBOX_LOG")
        .current_dir(home)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = bounded!(command.output()).expect("start procbox");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn started_in_the_account_home_without_home_set_children_read_nothing_there() {
    // Before: only $HOME said where the home is, so with HOME unset and
    // procbox started in the home directory, children could read ~/.ssh.
    if !procbox_tests::running_as_root("it mounts its own /etc/passwd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    for path in [dir.path(), &home] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let home = home.canonicalize().unwrap();
    let secret = home.join("id_ed25519");
    std::fs::write(&secret, "not for children\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warning = format!("children may not read the start directory {}", home.display());
    for user in procbox_tests::users() {
        let refused = started_in_the_account_home(user, &home, &[], "fails:Permission denied", &secret).await;
        assert_eq!(refused.code, Some(0), "as {user:?}: {refused:?}");
        assert!(refused.stderr.contains(&warning), "as {user:?}: {refused:?}");
        // The file is readable: unconfined, the same child reads it.
        let off =
            started_in_the_account_home(user, &home, &["--confine=off"], "stdout:not for children", &secret).await;
        assert_eq!(off.code, Some(0), "as {user:?}: {off:?}");
    }
}
