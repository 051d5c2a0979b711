//! The `procbox` binary starts and says what it is.
//!
//! Having an integration test also makes cargo build the binary itself
//! (`target/<profile>/procbox`) whenever this package is tested, which is
//! what lets `cargo test --workspace` run the end-to-end tests in `tests/suite`
//! against it.

use std::time::Duration;

#[test]
fn the_binary_reports_its_name_and_version() {
    let bin = env!("CARGO_BIN_EXE_procbox");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::process::Command::new(bin).arg("--version").output());
    });
    let output = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("procbox --version did not finish")
        .expect("start procbox");
    assert!(output.status.success(), "{output:?}");
    // The version, then the WIT versions it serves (tests/suite/tests/cli.rs
    // checks that list against wit/).
    let stdout = String::from_utf8_lossy(&output.stdout);
    let expected = format!("procbox {} (serves procbox:host@", env!("CARGO_PKG_VERSION"));
    assert!(stdout.starts_with(&expected) && stdout.ends_with(")\n"), "{stdout}");
}
