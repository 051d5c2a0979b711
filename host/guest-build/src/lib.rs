//! Compiles the Rust guests (the workspace `guests/rust`: the SDK, the
//! examples, the benchmark plugin, and the tests' fixtures in
//! `tests/fixtures/rust`) for `wasm32-wasip2`, for use in build scripts.
//!
//! Guests are a separate cargo workspace that builds only for wasm, so a
//! native `cargo build` can never compile them for the host by accident.
//! The nested build uses its own target directory (`<target>/guests`), so
//! it never waits on the lock of the build that runs this script.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust guests' workspace, `guests/rust` in the repository.
fn guests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guests/rust")
}

/// The target directory for guest builds: inside the outer target dir.
fn target_dir() -> PathBuf {
    let outer = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    outer.join("guests")
}

/// Builds the binary packages `packages` (release, wasm32-wasip2) and
/// returns the path of each one's `.wasm`, in the same order. Tells cargo
/// to rerun the calling build script when the workspace (its manifest and
/// lock, the SDK, the examples, the benchmark plugin) or the WIT change; a
/// caller that builds a member from outside `guests/rust` (a fixture in
/// `tests/fixtures/rust`) watches that directory itself.
///
/// # Panics
/// With a message that says what to do, when the wasm32-wasip2 target is
/// missing or a guest fails to compile (a build script reports errors by
/// panicking).
pub fn build(packages: &[&str]) -> Vec<PathBuf> {
    let guests = guests_dir();
    // Cargo rescans these directories recursively; the guest target dir is
    // outside them, so a guest build does not trigger itself.
    println!("cargo:rerun-if-changed={}", guests.display());
    println!("cargo:rerun-if-changed={}", guests.join("../../wit").display());
    require_wasm_target();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = target_dir();
    let mut command = Command::new(cargo);
    command
        .current_dir(&guests)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    for package in packages {
        command.args(["-p", package]);
    }
    // Settings meant for the outer (native) build must not leak into the
    // wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the guests: {e}"));
    if !output.status.success() {
        panic!(
            "building the guests in {} failed:\n{}",
            guests.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let out = target_dir.join("wasm32-wasip2/release");
    packages.iter().map(|p| out.join(format!("{p}.wasm"))).collect()
}

/// Fails early, with the fix, when the wasm32-wasip2 standard library is
/// not installed (this machine does not install targets automatically).
fn require_wasm_target() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if !libdir.is_some_and(|dir| dir.is_dir()) {
        panic!("the wasm32-wasip2 target is not installed; run `rustup target add wasm32-wasip2` and build again");
    }
}
