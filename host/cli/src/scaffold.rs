//! `procbox new NAME`: a plugin crate that builds anywhere. The SDK and the
//! WIT it binds are vendored into the crate (`procbox-sdk/`), copied from
//! the sources this procbox was built from, so the plugin needs nothing
//! but crates.io and the `wasm32-wasip2` target.

use std::path::Path;

use anyhow::Context;

use super::failure::Failure;

/// Files copied from procbox's own tree, by their path in it.
macro_rules! vendored {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../", $path)))),*]
    };
}

const SDK_SOURCES: &[(&str, &str)] = vendored!(
    "guests/sdk/src/lib.rs",
    "guests/sdk/src/child.rs",
    "guests/sdk/src/command.rs",
    "guests/sdk/src/error.rs",
    "guests/sdk/src/lines.rs",
    "guests/sdk/src/pipeline.rs",
    "guests/sdk/src/pump.rs",
    "guests/sdk/src/queue.rs",
    "guests/sdk/src/status.rs",
    "guests/sdk/src/wait.rs",
);

const WIT_SOURCES: &[(&str, &str)] = vendored!(
    "wit/process.wit",
    "wit/deps/cli/cli.wit",
    "wit/deps/clocks/clocks.wit",
    "wit/deps/filesystem/filesystem.wit",
    "wit/deps/io/io.wit",
    "wit/deps/random/random.wit",
    "wit/deps/sockets/sockets.wit",
    "wit/deps/procbox-host-0.1.0/process.wit",
);

/// Creates the plugin crate `name` in `parent`.
///
/// # Errors
/// A usage failure if the name is not a valid crate name, the directory
/// exists, or a file cannot be written.
pub fn new_plugin(parent: &Path, name: &str) -> Result<(), Failure> {
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Failure::usage_msg(format!(
            "{name:?} is not a valid crate name: use letters, digits, '-' and '_', not starting with a digit"
        ))
        .with_hint(
            "give a name, not a path, e.g. `procbox new repo-tool`; the crate is created in the current directory",
        ));
    }
    let root = parent.join(name);
    if root.exists() {
        return Err(Failure::usage_msg(format!("{} already exists", root.display()))
            .with_hint(format!("choose another name, or remove {} first", root.display())));
    }
    let mut files: Vec<(String, String)> = vec![
        ("Cargo.toml".into(), plugin_manifest(name)),
        (".cargo/config.toml".into(), "[build]\ntarget = \"wasm32-wasip2\"\n".into()),
        ("src/main.rs".into(), MAIN.replace("NAME", name)),
        (format!("{name}.manifest.toml"), format!("# What {name} asks to run; the user grants it with --allow-run.\nallow-run = [\"echo **\"]\n\n[plugin]\nname = \"{name}\"\n")),
        ("README.md".into(), README.replace("NAME", name)),
        (".gitignore".into(), "/target\n".into()),
        ("procbox-sdk/Cargo.toml".into(), SDK_MANIFEST.into()),
    ];
    for (path, text) in SDK_SOURCES {
        let file = path.trim_start_matches("guests/sdk/");
        // The SDK finds the WIT next to itself once vendored.
        files.push((
            format!("procbox-sdk/{file}"),
            text.replace("path: \"../../wit\"", "path: \"wit\""),
        ));
    }
    for (path, text) in WIT_SOURCES {
        files.push((format!("procbox-sdk/{path}"), text.to_string()));
    }
    for (path, text) in files {
        let path = root.join(path);
        let dir = path.parent().expect("files live in directories");
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))
            .and_then(|()| std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display())))
            .map_err(|e| Failure::usage(e).with_hint("run `procbox new` in a directory you can write"))?;
    }
    Ok(())
}

fn plugin_manifest(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[dependencies]
procbox-sdk = {{ path = "procbox-sdk" }}

[profile.release]
strip = "debuginfo"

# A workspace of its own, so the plugin builds wherever it is created.
[workspace]
"#
    )
}

const SDK_MANIFEST: &str = r#"[package]
name = "procbox-sdk"
description = "Write procbox plugins (vendored by `procbox new`)."
version = "0.1.0"
edition = "2021"
license = "Apache-2.0"

[features]
default = ["json"]
json = ["dep:serde", "dep:serde_json"]

[dependencies]
wit-bindgen = "0.61"
serde = { version = "1", optional = true }
serde_json = { version = "1", optional = true }
"#;

const MAIN: &str = r#"//! NAME: a procbox plugin. It may run only what the person running it
//! grants; see NAME.manifest.toml for what it asks for.

use procbox_sdk::{Command, Error};

fn main() {
    if let Err(err) = run() {
        eprintln!("NAME: {err}");
        procbox_sdk::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let greeting = Command::new("echo").args(["hello", "from", "NAME"]).read()?;
    println!("{greeting}");
    Ok(())
}
"#;

const README: &str = r#"# NAME

A procbox plugin.

```sh
rustup target add wasm32-wasip2
cargo build --release
procbox embed-manifest target/wasm32-wasip2/release/NAME.wasm NAME.manifest.toml
procbox run target/wasm32-wasip2/release/NAME.wasm --allow-run echo
```

`embed-manifest` puts `NAME.manifest.toml` (what the plugin asks to run)
inside the `.wasm`, so the two travel as one file; run it after every
build. `procbox inspect --as-flags PLUGIN` prints what it asks for as
flags, and `procbox run PLUGIN --grant-requested` grants exactly that.

`procbox-sdk/` is the procbox guest SDK and its WIT, vendored by `procbox new`;
`cargo doc -p procbox-sdk --open` shows its documentation.
"#;
