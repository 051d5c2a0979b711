//! `procbox new`: a plugin crate created outside this repository builds
//! with plain `cargo build --release` and runs.

use std::time::Duration;

use procbox_tests::terminal::on_a_terminal_in;
use procbox_tests::{procbox_bin, procbox_in};

/// Building the new crate compiles wit-bindgen for wasm: allow for a slow,
/// shared machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(900);

#[tokio::test]
async fn a_new_plugin_builds_and_runs_outside_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let created = procbox_in(dir.path(), &["new", "hello-plugin"]).await;
    assert_eq!(created.code, Some(0), "{created:?}");
    // It says how to build and how to run the result with its grants.
    assert!(
        created
            .stdout
            .contains("build: cd hello-plugin && cargo build --release && procbox embed-manifest target/wasm32-wasip2/release/hello-plugin.wasm hello-plugin.manifest.toml"),
        "{created:?}"
    );
    assert!(
        created
            .stdout
            .contains("run:   procbox run target/wasm32-wasip2/release/hello-plugin.wasm --allow-run echo"),
        "{created:?}"
    );
    let crate_dir = dir.path().join("hello-plugin");
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/main.rs",
        "hello-plugin.manifest.toml",
        "procbox-sdk/src/lib.rs",
        "procbox-sdk/wit/process.wit",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} was not created");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = tokio::process::Command::new(cargo)
        .args(["build", "--release"])
        .current_dir(&crate_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .kill_on_drop(true)
        .output();
    let build = tokio::time::timeout(BUILD_DEADLINE, build)
        .await
        .expect("build deadline")
        .unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let wasm = crate_dir.join("target/wasm32-wasip2/release/hello-plugin.wasm");
    let wasm = wasm.to_str().unwrap();
    let embed = procbox_in(&crate_dir, &["embed-manifest", wasm, "hello-plugin.manifest.toml"]).await;
    assert_eq!(embed.code, Some(0), "{embed:?}");
    // The manifest travels inside the plugin: no --manifest.
    let run = procbox_in(&crate_dir, &["run", wasm, "--allow-run", "echo"]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello from hello-plugin\n");
    let flags = procbox_in(&crate_dir, &["inspect", "--as-flags", wasm]).await;
    assert_eq!(flags.stdout, "--allow-run='echo **'\n", "{flags:?}");
    let granted = procbox_in(&crate_dir, &["run", wasm, "--grant-requested"]).await;
    assert_eq!(granted.stdout, "hello from hello-plugin\n", "{granted:?}");
    assert!(granted.stderr.contains("granting what"), "{granted:?}");
    assert!(procbox_bin().exists());
    the_new_user_path_takes_one_denial(wasm).await;
}

/// Run, get denied with the fix named, grant it at the prompt ("always"),
/// run again: one denial at most.
async fn the_new_user_path_takes_one_denial(wasm: &str) {
    let config = tempfile::tempdir().unwrap();
    let vars = [("PROCBOX_CONFIG_DIR", config.path())];
    let denied = procbox_tests::procbox_with_env(&vars, &["run", wasm]).await;
    assert_eq!(denied.code, Some(1), "{denied:?}");
    assert!(
        denied.stderr.contains("--allow-run 'echo hello from hello-plugin'"),
        "{denied:?}"
    );
    let think = Duration::ZERO;
    let (code, shown) = on_a_terminal_in(config.path(), &["run", wasm], "", &["a"], think).await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("hello from hello-plugin") && shown.contains("remembered for"),
        "{shown}"
    );
    let again = procbox_tests::procbox_with_env(&vars, &["run", wasm]).await;
    assert_eq!(again.code, Some(0), "{again:?}");
    assert_eq!(again.stdout, "hello from hello-plugin\n", "{again:?}");
}

#[tokio::test]
async fn new_refuses_bad_names_and_existing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let bad = procbox_in(dir.path(), &["new", "9lives"]).await;
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(bad.stderr.contains("is not a valid crate name"), "{bad:?}");
    std::fs::create_dir(dir.path().join("taken")).unwrap();
    let taken = procbox_in(dir.path(), &["new", "taken"]).await;
    assert_eq!(taken.code, Some(2), "{taken:?}");
    assert!(taken.stderr.contains("already exists"), "{taken:?}");
}
