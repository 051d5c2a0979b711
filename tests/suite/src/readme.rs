//! The README's shell blocks, run as a user would paste them, so that the
//! front door cannot rot: a block that stops working fails a test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::language::repo;
use crate::{procbox_bin, test_cache_dir, test_config_dir};

/// A block builds a plugin from nothing: allow for a slow, shared machine.
pub const BLOCK_DEADLINE: Duration = Duration::from_secs(900);

/// The text of the ```` ```sh ```` block in README.md's section `heading`
/// whose first line contains `first_line`. Panics, naming what is missing,
/// when there is none: the test that asks for it is the one to fix.
pub fn shell_block(heading: &str, first_line: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with(heading) && s[heading.len()..].starts_with('\n'))
        .unwrap_or_else(|| panic!("README.md has no section \"## {heading}\""));
    section
        .split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("\n```").map(|(block, _)| block))
        .find(|block| block.lines().next().is_some_and(|l| l.contains(first_line)))
        .unwrap_or_else(|| panic!("README.md, \"{heading}\": no sh block starts with {first_line:?}"))
        .to_string()
}

/// What a block printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `block` with bash (`set -euo pipefail`, so the first failing line
/// ends it) in `dir`, with this build's `procbox` first on `PATH`, the
/// tests' compilation cache, none of this cargo build's settings, and
/// `env` (a toolchain's place).
pub async fn run_block(block: &str, dir: &Path, env: &[(&str, PathBuf)]) -> Ran {
    let bin_dir = procbox_bin().parent().expect("procbox in a directory").to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&path))).expect("a PATH");
    let script = format!("set -euo pipefail\n{block}\n");
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["-c", &script])
        .current_dir(dir)
        .env("PATH", path)
        .env("PROCBOX_CACHE_DIR", test_cache_dir())
        .env("PROCBOX_CONFIG_DIR", test_config_dir())
        .env("PROCBOX", procbox_bin())
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("PROCBOX_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(BLOCK_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("the README block took over {BLOCK_DEADLINE:?}:\n{block}"))
        .expect("start bash");
    Ran {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
