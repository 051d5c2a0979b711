//! `procbox new [--lang rust|python] NAME`: a plugin project that builds
//! anywhere. The SDK and the WIT it binds are vendored into the project
//! (`procbox-sdk/`), copied from the sources this procbox was built from,
//! so a Rust plugin needs nothing but crates.io and the `wasm32-wasip2`
//! target, and a Python plugin nothing but PyPI (its `build.sh` installs
//! componentize-py into a virtual environment shared by every plugin).

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
    "guests/sdk/src/manifest.rs",
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
        let file = path.trim_start_matches("guests/sdk/");
        // The SDK finds the WIT next to itself once vendored.
        files.push((
            format!("procbox-sdk/{file}"),
            text.replace("path: \"../../wit\"", "path: \"wit\""),
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

// What this plugin asks to run, compiled into it: `procbox run PLUGIN
// --grant-requested` grants exactly that.
procbox_sdk::embed_manifest!("NAME.manifest.toml");

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
procbox run target/wasm32-wasip2/release/NAME.wasm --grant-requested
```

`NAME.manifest.toml` says what the plugin asks to run. `src/main.rs`
compiles it into the `.wasm` (`procbox_sdk::embed_manifest!`), so the two
travel as one file and every `cargo build` picks up a change to it.
`procbox inspect --as-flags PLUGIN` prints what it asks for as flags, and
`procbox run PLUGIN --grant-requested` grants exactly that.

`procbox-sdk/` is the procbox guest SDK and its WIT, vendored by `procbox new`;
`cargo doc -p procbox-sdk --open` shows its documentation.
"#;

const PYTHON_APP: &str = r#""""NAME: a procbox plugin. It may run only what the person running it
grants; NAME.manifest.toml says what it asks for."""

import procbox


async def main(args: list[str]) -> int:
    result = await procbox.run_process(["echo", "hello", "from", "NAME", *args], text=True)
    print(result.stdout, end="")
    return 0


Run = procbox.plugin(main)
"#;

const PYTHON_BUILD: &str = r#"#!/usr/bin/env bash
# Builds NAME.wasm, a procbox plugin, from app.py with componentize-py.
#
#   ./build.sh [OUT.wasm]          (default: NAME.wasm beside this script)
#
# It may be run from any directory; OUT is relative to the current one and
# its directory must exist. componentize-py comes from PyPI into a virtual
# environment made once and shared by every plugin: $PROCBOX_PY_VENV,
# default ~/.cache/procbox/componentize-py-0.25.1 ($PYTHON picks the
# interpreter, 3.10 or newer). When procbox is on PATH ($PROCBOX names
# another), the manifest is embedded in the result. Every failure is one
# line naming its cause (with Python's own message for a mistake in
# app.py). Exit status 77: the toolchain cannot be installed here.
set -euo pipefail

VERSION=0.25.1 # bundles WASI 0.2.12, the version of wit/deps
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "build.sh: $*" >&2; exit 2; }
unavailable() { echo "build.sh: toolchain unavailable: $*" >&2; exit 77; }
[[ $# -le 1 ]] || fail "usage: $0 [OUT.wasm]"
[[ -f $here/app.py ]] || fail "$here holds no app.py"
out=${1:-$here/NAME.wasm}
[[ -n $out && $out != */ ]] || fail "OUT must name a file, not ${out:-an empty string}"
[[ $out == /* ]] || out=$PWD/$out
[[ -d $(dirname "$out") ]] || fail "cannot write $out: directory $(dirname "$out") does not exist"
[[ ! -d $out ]] || fail "cannot write $out: it is a directory"
venv=${PROCBOX_PY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/procbox/componentize-py-$VERSION}
python=${PYTHON:-python3}

mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then exec 9>"$venv.lock"; flock 9; fi
installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true)
if [[ $installed != "$VERSION" ]]; then
    command -v "$python" >/dev/null || unavailable "$python not found (set PYTHON)"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || unavailable "$python is older than 3.10"
    [[ -x $venv/bin/python ]] || "$python" -m venv "$venv" >&2 || unavailable "'$python -m venv' failed (Debian: apt-get install python3-venv)"
    echo "build.sh: installing componentize-py==$VERSION into $venv" >&2
    "$venv/bin/python" -m pip install --quiet "componentize-py==$VERSION" >&2 || unavailable "pip could not install componentize-py==$VERSION"
fi

# componentize-py writes __pycache__ beside the sources: build from a copy.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/app"
cp "$here"/*.py "$work/app/"
cp -R "$here/procbox-sdk" "$work/sdk"
# componentize-py reports a mistake in app.py (a syntax error, an exception
# while importing it) inside a traceback of its own and a Rust backtrace:
# only the user's part is shown, with the real path of app.py.
status=0
RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0 "$venv/bin/componentize-py" -d "$here/wit" -w plugin componentize \
    -p "$work/app" -p "$work/sdk" app -o "$work/out.wasm" >"$work/log" 2>&1 || status=$?
if ((status != 0)); then
    awk -v dir="$here" '
        /^Stack backtrace:/ { exit }
        /^Caused by:$/ { causes = 1; next }
        causes {
            line = $0; sub(/^[ \t]+[0-9]*:? */, "", line)
            if (line != "" && index(main, line) == 0) print "  caused by: " line
            next
        }
        tb && /^[ \t]/ { buf = buf $0 "\n"; next }
        tb {
            tb = 0
            if ($0 ~ /^AssertionError: / && buf ~ /componentize-py/) sub(/^AssertionError: /, "")
            else printf "%s", buf
        }
        /^Traceback \(most recent call last\):$/ && !seen { tb = 1; seen = 1; buf = $0 "\n"; next }
        /^$/ { blank++; next }
        { for (; blank > 0; blank--) if (printed) print ""; gsub(/"\/0\//, "\"" dir "/"); print; printed = 1; main = main $0 "\n" }
    ' "$work/log" >&2
    fail "componentize-py failed to build $here/app.py"
fi
# Copied beside OUT and renamed, so that a reader never sees half of it.
partial=$(mktemp "$out.XXXXXX" 2>/dev/null) || fail "cannot write beside $out"
cp "$work/out.wasm" "$partial" 2>/dev/null && mv -f "$partial" "$out" 2>/dev/null || { rm -f "$partial"; fail "cannot write $out"; }
procbox=${PROCBOX:-procbox}
if command -v "$procbox" >/dev/null; then
    "$procbox" embed-manifest "$out" "$here/NAME.manifest.toml" >&2
else
    echo "build.sh: procbox is not on PATH: embed the manifest with procbox embed-manifest $out $here/NAME.manifest.toml" >&2
fi
echo "$out"
"#;

const PYTHON_README: &str = r#"# NAME

A procbox plugin in Python, on the procbox SDK (`import procbox`, asyncio).

```sh
./build.sh                       # -> NAME.wasm, its manifest embedded
procbox run NAME.wasm --allow-run echo -- world
```

`build.sh` needs `python3` (3.10 or newer) with `venv`; the first build
installs componentize-py from PyPI (about 20 s), later ones take about
10 s. The first run compiles the plugin into procbox's cache (10-30 s);
later runs start in a fraction of a second.

`NAME.manifest.toml` lists what the plugin asks to run, and is embedded in
the `.wasm` by `build.sh`: `procbox inspect --as-flags NAME.wasm` prints it
as flags, and `procbox run NAME.wasm --grant-requested` grants exactly
that.

`procbox-sdk/` is the SDK, vendored by `procbox new`; its reference, with
examples, is `procbox-sdk/README.md`. `wit/` is the interface it binds.
"#;

const JS_APP: &str = r#"// NAME: a procbox plugin. It may run only what the person running it
// grants; NAME.manifest.toml says what it asks for.
import { $, plugin } from "procbox";

export const run = plugin(async (args) => {
  console.log((await $`echo hello from NAME ${args}`).text());
});
"#;

const JS_BUILD: &str = r#"#!/usr/bin/env bash
# Builds NAME.wasm, a procbox plugin, from app.js (or app.ts) with esbuild
# and componentize-js.
#
#   ./build.sh [OUT.wasm]          (default: NAME.wasm beside this script)
#
# It may be run from any directory; OUT is relative to the current one and
# its directory must exist. The toolchain comes from npm, pinned, into a
# directory made once and shared by every plugin: $PROCBOX_JS_TOOLCHAIN,
# default ~/.cache/procbox/js-toolchain. When procbox is on PATH ($PROCBOX
# names another), the manifest is embedded in the result. Every failure is
# one line naming its cause (with the compiler's message for a mistake in
# the app). Exit status 77: the toolchain cannot be installed here.
set -euo pipefail

COMPONENTIZE_JS=0.23.0
ESBUILD=0.25.12
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "build.sh: $*" >&2; exit 2; }
unavailable() { echo "build.sh: toolchain unavailable: $*" >&2; exit 77; }
[[ $# -le 1 ]] || fail "usage: $0 [OUT.wasm]"
app=$here/app.ts
[[ -f $app ]] || app=$here/app.js
[[ -f $app ]] || fail "$here holds neither app.js nor app.ts"
out=${1:-$here/NAME.wasm}
[[ -n $out && $out != */ ]] || fail "OUT must name a file, not ${out:-an empty string}"
[[ $out == /* ]] || out=$PWD/$out
[[ -d $(dirname "$out") ]] || fail "cannot write $out: directory $(dirname "$out") does not exist"
[[ ! -d $out ]] || fail "cannot write $out: it is a directory"
toolchain=${PROCBOX_JS_TOOLCHAIN:-${XDG_CACHE_HOME:-$HOME/.cache}/procbox/js-toolchain}

mkdir -p "$toolchain"
if command -v flock >/dev/null; then exec 9>"$toolchain.lock"; flock 9; fi
installed() { node -p "require('$toolchain/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [[ $(installed @bytecodealliance/componentize-js) != "$COMPONENTIZE_JS" || $(installed esbuild) != "$ESBUILD" ]]; then
    command -v node >/dev/null || unavailable "node not found (install Node.js 18 or newer)"
    command -v npm >/dev/null || unavailable "npm not found"
    [[ -f $toolchain/package.json ]] || echo '{"private":true}' >"$toolchain/package.json"
    echo "build.sh: installing componentize-js@$COMPONENTIZE_JS and esbuild@$ESBUILD into $toolchain" >&2
    npm install --prefix "$toolchain" --no-audit --no-fund --silent \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS" "esbuild@$ESBUILD" >&2 ||
        unavailable "npm could not install componentize-js and esbuild"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$toolchain/node_modules/.bin/esbuild" "$app" --bundle --format=esm --platform=neutral --log-level=warning \
    --alias:procbox="$here/procbox-sdk/procbox.js" --external:'procbox:*' --external:'wasi:*' \
    --outfile="$work/bundle.js" >&2 || fail "esbuild could not bundle $app"
# componentize.mjs reports a failure without a stack trace; componentize-js
# resolves some of its own files against the current directory.
cp "$here/componentize.mjs" "$toolchain/componentize.mjs"
(cd "$work" && node "$toolchain/componentize.mjs" "$work/bundle.js" "$here/wit" "$work/out.wasm") >&2 ||
    fail "componentize-js failed to build $app"
# Copied beside OUT and renamed, so that a reader never sees half of it.
partial=$(mktemp "$out.XXXXXX" 2>/dev/null) || fail "cannot write beside $out"
cp "$work/out.wasm" "$partial" 2>/dev/null && mv -f "$partial" "$out" 2>/dev/null || { rm -f "$partial"; fail "cannot write $out"; }
procbox=${PROCBOX:-procbox}
if command -v "$procbox" >/dev/null; then
    "$procbox" embed-manifest "$out" "$here/NAME.manifest.toml" >&2
else
    echo "build.sh: procbox is not on PATH: embed the manifest with procbox embed-manifest $out $here/NAME.manifest.toml" >&2
fi
echo "$out"
"#;

/// For `tsc -p .` and editors: strict, the SDK's types by the name
/// "procbox", `app.ts` or (checked as well) `app.js`. StarlingMonkey has
/// the web's globals (console, TextEncoder, ...): the DOM library types
/// them.
const JS_TSCONFIG: &str = r#"{
  // tsc -p .  type-checks app.ts (or app.js) against procbox-sdk/procbox.d.ts;
  // build.sh does not (esbuild strips the types without checking them).
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "ES2022",
    "module": "ES2022",
    "moduleResolution": "bundler",
    "lib": ["ES2022", "ESNext.Disposable", "DOM"],
    "types": [],
    "allowJs": true,
    "checkJs": true,
    "paths": { "procbox": ["./procbox-sdk/procbox.d.ts"] }
  },
  "include": ["app.ts", "app.js"]
}
"#;

const JS_README: &str = r#"# NAME

A procbox plugin in JavaScript, on the procbox SDK (`import { $, Command }
from "procbox"`).

```sh
./build.sh                       # -> NAME.wasm, its manifest embedded
procbox run NAME.wasm --allow-run echo -- world
```

`build.sh` needs `node` (18 or newer) and `npm`; the first build installs
componentize-js and esbuild from npm (about 20 s), later ones take about
7 s. Rename `app.js` to `app.ts` for TypeScript (esbuild strips the types
without checking them; `tsconfig.json`, strict, gives
`procbox-sdk/procbox.d.ts` to editors and to `tsc -p .`, which checks
`app.ts`, or `app.js`). `./build.sh OUT` may be run from any directory. The first run
compiles the plugin into procbox's cache (about 10 s); later runs start in
a fraction of a second.

`NAME.manifest.toml` lists what the plugin asks to run, and is embedded in
the `.wasm` by `build.sh`: `procbox run NAME.wasm --grant-requested` grants
exactly that.

`procbox-sdk/` is the SDK, vendored by `procbox new`; its reference, with
examples, is `procbox-sdk/README.md`. `wit/` is the interface it binds.
"#;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The vendored paths of `list` under `dir`, against the files in it:
    /// a source added to an SDK and not to its list builds in the repo
    /// and breaks every `procbox new` project.
    fn assert_vendors_every_file(list: &[(&str, &str)], dir: &str, ext: &str) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut on_disk: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(ext))
            .map(|name| format!("{dir}/{name}"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = list
            .iter()
            .map(|(path, _)| path.to_string())
            .filter(|path| path.starts_with(&format!("{dir}/")) && path.ends_with(ext))
            .collect();
        listed.sort();
        assert_eq!(listed, on_disk, "the vendored list misses or invents a file of {dir}");
    }

    #[test]
    fn every_sdk_source_is_vendored_into_new_projects() {
        assert_vendors_every_file(super::SDK_SOURCES, "guests/sdk/src", ".rs");
        assert_vendors_every_file(super::PYTHON_SDK_SOURCES, "guests/python/sdk/procbox", ".py");
        assert_vendors_every_file(super::JS_SDK_SOURCES, "guests/js/sdk", ".js");
        assert_vendors_every_file(super::JS_SDK_SOURCES, "guests/js/sdk", ".ts");
    }
}
