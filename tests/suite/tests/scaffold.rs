//! `procbox new`: a plugin crate created outside this repository builds
//! with plain `cargo build --release` and runs with the grants its
//! manifest requests, the manifest compiled in (no step after the build).

use std::time::Duration;

use procbox_tests::procbox_in;
use procbox_tests::readme::{run_block, shell_block};
use procbox_tests::terminal::on_a_terminal_in;

/// Building the new crate compiles wit-bindgen for wasm: allow for a slow,
/// shared machine.
const BUILD_DEADLINE: Duration = Duration::from_secs(900);

/// README.md's first Rust plugin, run as written in a directory outside
/// the repository, then what a user does next with it.
#[tokio::test]
async fn a_new_plugin_builds_and_runs_outside_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let block = shell_block("Your first plugin", "procbox new my-tool");
    let ran = run_block(&block, dir.path(), &[]).await;
    assert!(ran.success, "{block}\n{ran:?}");
    // `procbox new` says how to build and how to run the result with its
    // grants; right after `cargo build`, the manifest travels inside the
    // plugin, and --grant-requested grants it.
    assert!(
        ran.stdout.contains("build: cd my-tool && cargo build --release\n"),
        "{ran:?}"
    );
    assert!(
        ran.stdout
            .contains("run:   procbox run target/wasm32-wasip2/release/my-tool.wasm --allow-run echo"),
        "{ran:?}"
    );
    assert!(ran.stdout.ends_with("\nhello from my-tool\n"), "{ran:?}");
    assert!(ran.stderr.contains("granting what"), "{ran:?}");
    let crate_dir = dir.path().join("my-tool");
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/main.rs",
        "my-tool.manifest.toml",
        "procbox-sdk/src/lib.rs",
        "procbox-sdk/wit/process.wit",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} was not created");
    }
    let wasm = crate_dir.join("target/wasm32-wasip2/release/my-tool.wasm");
    let wasm = wasm.to_str().unwrap();
    let flags = procbox_in(&crate_dir, &["inspect", "--as-flags", wasm]).await;
    assert_eq!(flags.stdout, "--allow-run='echo **'\n", "{flags:?}");
    let run = procbox_in(&crate_dir, &["run", wasm, "--allow-run", "echo"]).await;
    assert_eq!(run.stdout, "hello from my-tool\n", "{run:?}");
    // A second manifest is refused, with what to do instead.
    let embed = procbox_in(&crate_dir, &["embed-manifest", wasm, "my-tool.manifest.toml"]).await;
    assert_eq!(embed.code, Some(2), "{embed:?}");
    assert!(embed.stderr.contains("already carries a manifest"), "{embed:?}");
    // A changed manifest file is in the next build.
    let manifest = crate_dir.join("my-tool.manifest.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"echo **\"", "\"echo **\", \"printf **\"")).unwrap();
    let rebuilt = cargo_build(&crate_dir).await;
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    let flags = procbox_in(&crate_dir, &["inspect", "--as-flags", wasm]).await;
    assert_eq!(
        flags.stdout, "--allow-run='echo **'\n--allow-run='printf **'\n",
        "{flags:?}"
    );
    the_new_user_path_takes_one_denial(wasm).await;
}

/// `cargo build --release` in `crate_dir`, with none of this build's
/// settings.
async fn cargo_build(crate_dir: &std::path::Path) -> std::process::Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = tokio::process::Command::new(cargo)
        .args(["build", "--release"])
        .current_dir(crate_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        // CI's test build runs clippy as the workspace's rustc wrapper
        // (.ci/run); a user's plugin is not part of the workspace.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(BUILD_DEADLINE, build)
        .await
        .expect("build deadline")
        .unwrap()
}

/// Run, get denied with the fix named, grant it at the prompt ("always"),
/// run again: one denial at most.
async fn the_new_user_path_takes_one_denial(wasm: &str) {
    let config = tempfile::tempdir().unwrap();
    let vars = [("PROCBOX_CONFIG_DIR", config.path())];
    let denied = procbox_tests::procbox_with_env(&vars, &["run", wasm]).await;
    assert_eq!(denied.code, Some(1), "{denied:?}");
    assert!(
        denied.stderr.contains("--allow-run 'echo hello from my-tool'"),
        "{denied:?}"
    );
    let think = Duration::ZERO;
    let (code, shown) = on_a_terminal_in(config.path(), &["run", wasm], "", &["a"], think).await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("hello from my-tool") && shown.contains("remembered for"),
        "{shown}"
    );
    let again = procbox_tests::procbox_with_env(&vars, &["run", wasm]).await;
    assert_eq!(again.code, Some(0), "{again:?}");
    assert_eq!(again.stdout, "hello from my-tool\n", "{again:?}");
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
