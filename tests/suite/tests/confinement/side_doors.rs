//! Ways around the grants that an adversarial review of the first version
//! found, each closed since (every test here got through before its fix):
//! setuid bits, datagram and raw socketpairs to socket files, TCP Fast Open,
//! keyrings and System V IPC, file flags through a read-only descriptor,
//! other processes' limits and priorities, and start directories (`/`, a
//! home, a system directory) that must grant children nothing.

use super::*;

// Found by an adversarial review of the first version; each test below
// succeeded (the attack got through) before its fix.

#[tokio::test]
async fn a_child_cannot_make_a_file_setuid_outside_the_write_set() {
    // A child of root is uid 0 and owns every root file: without this, it
    // made a copy of bash setuid root, and any user became root.
    for user in procbox_tests::users() {
        let dir = shared_dir();
        let victim = readable_file(dir.path(), "victim");
        if user == User::Nobody {
            std::os::unix::fs::chown(&victim, Some(65534), Some(65534)).unwrap();
        }
        let victim_str = victim.to_str().unwrap();
        expect(user, &[], "fails:Permission denied", &[PROBE, "chmod", victim_str]).await;
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o644, "the mode changed");
        expect(user, &["--confine=off"], "ok", &[PROBE, "chmod", victim_str]).await;
    }
}

#[tokio::test]
async fn a_datagram_socketpair_cannot_reach_a_socket_file() {
    let dir = shared_dir();
    let path = dir.path().join("log.sock");
    let _socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    refused_only_when_confined(&[], &[PROBE, "unix-dgram", path.to_str().unwrap()]).await;
    expect(
        User::Root,
        &["--allow-child-net=unix"],
        "ok",
        &[PROBE, "unix-dgram", path.to_str().unwrap()],
    )
    .await;
}

#[tokio::test]
async fn tcp_fast_open_does_not_step_around_a_port_grant() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    // Only another port is granted: sendto(MSG_FASTOPEN) must not connect.
    let fast_open = [PROBE, "fastopen", &address];
    refused_under_allowed_under(&["--allow-child-net=1"], &["--allow-child-net=all"], &fast_open).await;
}

#[tokio::test]
async fn a_child_cannot_use_the_kernel_keyring_or_system_v_ipc() {
    // Both are channels to unconfined processes of the user (and the
    // keyring holds their secrets).
    refused_only_when_confined(&[], &[PROBE, "keyring"]).await;
    refused_only_when_confined(&[], &[PROBE, "sysv"]).await;
}

#[tokio::test]
async fn starting_in_the_root_or_home_directory_grants_children_nothing_there() {
    // Before: the start directory was readable by children, so procbox
    // started in `/` (systemd services, cron, containers) let them read
    // everything, /etc/shadow included.
    let dir = shared_dir();
    let secret = readable_file(dir.path(), "secret");
    started_in_the_child_reads_nothing_there(Path::new("/"), &secret).await;
}

/// Runs the probe reading `file` with procbox started in `dir`: refused,
/// and procbox warns that children may not read its start directory.
async fn started_in_the_child_reads_nothing_there(dir: &Path, file: &Path) {
    let allow = format!("--allow-run={PROBE}");
    let run = bounded!(tokio::process::Command::new(procbox_bin())
        .args([
            "run",
            guests::SPAWN_OUTCOME,
            &allow,
            "--",
            "fails:Permission denied",
            PROBE,
            "read"
        ])
        .arg(file)
        .env("PROCBOX_CACHE_DIR", test_cache_dir())
        .current_dir(dir)
        .output())
    .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let warning = format!("children may not read the start directory {}", dir.display());
    assert!(stderr.contains(&warning), "{stderr}");
}

// Found by a second adversarial review; each succeeded before its fix.

#[tokio::test]
async fn a_raw_unix_socketpair_cannot_reach_a_socket_file_either() {
    let dir = shared_dir();
    let path = dir.path().join("log.sock");
    let _socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    refused_only_when_confined(&[], &[PROBE, "unix-raw", path.to_str().unwrap()]).await;
}

#[tokio::test]
async fn a_child_cannot_change_file_flags_through_a_read_only_descriptor() {
    for user in procbox_tests::users() {
        let dir = shared_dir();
        let victim = readable_file(dir.path(), "victim");
        if user == User::Nobody {
            std::os::unix::fs::chown(&victim, Some(65534), Some(65534)).unwrap();
        }
        let read = format!("--allow-read={}", dir.path().display());
        let victim = victim.to_str().unwrap();
        expect(user, &[&read], "fails:Permission denied", &[PROBE, "setflags", victim]).await;
        expect(user, &[&read, "--confine=off"], "ok", &[PROBE, "setflags", victim]).await;
    }
}

#[tokio::test]
async fn a_child_cannot_change_another_process_s_limits_or_priority() {
    for user in procbox_tests::users() {
        // Killed and reaped when dropped, even if the test fails.
        let mut victim = match user {
            User::Root => tokio::process::Command::new("sleep"),
            User::Nobody => {
                let mut setpriv = tokio::process::Command::new("setpriv");
                setpriv.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sleep"]);
                setpriv
            }
        }
        .arg("1000")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
        let pid = victim.id().expect("running").to_string();
        // Outside a PID namespace, where the victim's pid is visible: here
        // the filter must refuse it.
        for action in ["prlimit", "renice"] {
            expect(
                user,
                &["--contain=off"],
                "fails:Permission denied",
                &[PROBE, action, &pid],
            )
            .await;
            let off = ["--confine=off", "--contain=off"];
            expect(user, &off, "ok", &[PROBE, action, &pid]).await;
        }
        victim.kill().await.unwrap();
    }
}

#[tokio::test]
async fn a_system_directory_as_start_directory_is_not_granted() {
    // As root, started in /etc, children read /etc/shadow before.
    started_in_the_child_reads_nothing_there(Path::new("/etc"), Path::new("/etc/shadow")).await;
}
