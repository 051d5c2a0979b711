//! `procbox new [--lang rust|python] NAME`: a plugin project that builds
//! anywhere. The SDK and the WIT it binds are vendored into the project
//! (`procbox-sdk/`), copied from the sources this procbox was built from,
//! so a Rust plugin needs nothing but crates.io and the `wasm32-wasip2`
//! target, and a Python plugin nothing but PyPI (its `build.sh` installs
//! componentize-py into a virtual environment shared by every plugin).

use std::path::Path;

use anyhow::Context;

use super::failure::Failure;
mod templates;

use templates::*;

/// Files copied from procbox's own tree, by their path in it.
macro_rules! vendored {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../", $path)))),*]
    };
}

const SDK_SOURCES: &[(&str, &str)] = vendored!(
    "guests/rust/sdk/src/lib.rs",
    "guests/rust/sdk/src/child.rs",
    "guests/rust/sdk/src/command.rs",
    "guests/rust/sdk/src/error.rs",
    "guests/rust/sdk/src/lines.rs",
    "guests/rust/sdk/src/manifest.rs",
    "guests/rust/sdk/src/pipeline.rs",
    "guests/rust/sdk/src/pump.rs",
    "guests/rust/sdk/src/queue.rs",
    "guests/rust/sdk/src/status.rs",
    "guests/rust/sdk/src/wait.rs",
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

const PYTHON_SDK_SOURCES: &[(&str, &str)] = vendored!(
    "guests/python/sdk/procbox/__init__.py",
    "guests/python/sdk/procbox/_asyncio_subprocess.py",
    "guests/python/sdk/procbox/_host.py",
    "guests/python/sdk/procbox/_loop.py",
    "guests/python/sdk/procbox/errors.py",
    "guests/python/sdk/procbox/plugin.py",
    "guests/python/sdk/procbox/process.py",
    "guests/python/sdk/procbox/run.py",
    "guests/python/sdk/procbox/status.py",
    "guests/python/sdk/procbox/streams.py",
    "guests/python/sdk/procbox/_subprocess.py",
    "guests/python/sdk/README.md",
);

const JS_SDK_SOURCES: &[(&str, &str)] = vendored!(
    "guests/js/sdk/procbox.js",
    "guests/js/sdk/procbox.d.ts",
    "guests/js/sdk/README.md",
    "guests/js/componentize.mjs",
);

/// The languages `procbox new` writes plugins in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A cargo crate on the Rust SDK.
    Rust,
    /// A componentize-py app on the Python SDK (asyncio).
    Python,
    /// A componentize-js module on the JavaScript SDK (`$`, `Command`).
    Js,
}

/// Creates the plugin project `name`, in `lang`, in `parent`.
///
/// # Errors
/// A usage failure if the name is not a valid crate name, the directory
/// exists, or a file cannot be written.
pub fn new_plugin(parent: &Path, name: &str, lang: Lang) -> Result<(), Failure> {
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
    let files = match lang {
        Lang::Rust => rust_files(name),
        Lang::Python => scripted_files(name, &PYTHON),
        Lang::Js => scripted_files(name, &JS),
    };
    write_files(&root, files)
}

/// The manifest every new plugin starts with.
fn requests(name: &str) -> String {
    format!("# What {name} asks to run; the user grants it with --allow-run.\nallow-run = [\"echo **\"]\n\n[plugin]\nname = \"{name}\"\n")
}

/// The WIT, vendored under `dir`.
fn wit_files(dir: &str) -> impl Iterator<Item = (String, String)> + '_ {
    WIT_SOURCES
        .iter()
        .map(move |(path, text)| (format!("{dir}{path}"), text.to_string()))
}

fn rust_files(name: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = vec![
        ("Cargo.toml".into(), plugin_manifest(name)),
        (
            ".cargo/config.toml".into(),
            "[build]\ntarget = \"wasm32-wasip2\"\n".into(),
        ),
        ("src/main.rs".into(), MAIN.replace("NAME", name)),
        (format!("{name}.manifest.toml"), requests(name)),
        ("README.md".into(), README.replace("NAME", name)),
        (".gitignore".into(), "/target\n".into()),
        ("procbox-sdk/Cargo.toml".into(), SDK_MANIFEST.into()),
    ];
    for (path, text) in SDK_SOURCES {
        let file = path.trim_start_matches("guests/rust/sdk/");
        // The SDK finds the WIT next to itself once vendored.
        files.push((
            format!("procbox-sdk/{file}"),
            text.replace("path: \"../../../wit\"", "path: \"wit\""),
        ));
    }
    files.extend(wit_files("procbox-sdk/"));
    files
}

/// A language whose plugins a `build.sh` makes with a toolchain from its
/// registry (PyPI, npm): an app, the SDK vendored beside it, and the WIT.
struct Scripted {
    /// The app's file name and template.
    app: (&'static str, &'static str),
    build: &'static str,
    readme: &'static str,
    /// `.gitignore` lines besides the plugin itself.
    ignore: &'static str,
    sdk: &'static [(&'static str, &'static str)],
    /// Other files: (name, text).
    extra: &'static [(&'static str, &'static str)],
    /// Where a vendored SDK file (its path in procbox's tree) goes.
    place: fn(&str) -> String,
}

const PYTHON: Scripted = Scripted {
    app: ("app.py", PYTHON_APP),
    build: PYTHON_BUILD,
    readme: PYTHON_README,
    ignore: "__pycache__/\n",
    sdk: PYTHON_SDK_SOURCES,
    extra: &[],
    place: |path| path.replace("guests/python/sdk/", "procbox-sdk/"),
};

const JS: Scripted = Scripted {
    app: ("app.js", JS_APP),
    build: JS_BUILD,
    readme: JS_README,
    ignore: "",
    sdk: JS_SDK_SOURCES,
    extra: &[("tsconfig.json", JS_TSCONFIG)],
    // The SDK in procbox-sdk/; the componentize script beside build.sh.
    place: |path| match path.rsplit_once('/') {
        Some((_, "componentize.mjs")) => "componentize.mjs".into(),
        Some((_, file)) => format!("procbox-sdk/{file}"),
        None => path.into(),
    },
};

fn scripted_files(name: &str, lang: &Scripted) -> Vec<(String, String)> {
    let (app, template) = lang.app;
    let mut files: Vec<(String, String)> = vec![
        (app.into(), template.replace("NAME", name)),
        ("build.sh".into(), lang.build.replace("NAME", name)),
        (format!("{name}.manifest.toml"), requests(name)),
        ("README.md".into(), lang.readme.replace("NAME", name)),
        (".gitignore".into(), format!("/{name}.wasm\n{}", lang.ignore)),
    ];
    files.extend(
        lang.extra
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string())),
    );
    files.extend(
        lang.sdk
            .iter()
            .map(|(path, text)| ((lang.place)(path), text.to_string())),
    );
    files.extend(wit_files(""));
    files
}

/// Writes `files` (paths relative to `root`); `build.sh` is made executable.
fn write_files(root: &Path, files: Vec<(String, String)>) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    for (path, text) in files {
        let path = root.join(path);
        let dir = path.parent().expect("files live in directories");
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))
            .and_then(|()| std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display())))
            .and_then(|()| match path.extension().is_some_and(|e| e == "sh") {
                true => std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .with_context(|| format!("cannot make {} executable", path.display())),
                false => Ok(()),
            })
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

#[cfg(test)]
mod tests;
