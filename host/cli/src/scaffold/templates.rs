//! The files of a new plugin project, with `NAME` where its name goes.

pub(super) const SDK_MANIFEST: &str = r#"[package]
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

pub(super) const MAIN: &str = r#"//! NAME: a procbox plugin. It may run only what the person running it
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

pub(super) const README: &str = r#"# NAME

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

pub(super) const PYTHON_APP: &str = r#""""NAME: a procbox plugin. It may run only what the person running it
grants; NAME.manifest.toml says what it asks for."""

import procbox


async def main(args: list[str]) -> int:
    result = await procbox.run_process(["echo", "hello", "from", "NAME", *args], text=True)
    print(result.stdout, end="")
    return 0


Run = procbox.plugin(main)
"#;

pub(super) const PYTHON_BUILD: &str = r#"#!/usr/bin/env bash
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

pub(super) const PYTHON_README: &str = r#"# NAME

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

pub(super) const JS_APP: &str = r#"// NAME: a procbox plugin. It may run only what the person running it
// grants; NAME.manifest.toml says what it asks for.
import { $, plugin } from "procbox";

export const run = plugin(async (args) => {
  console.log((await $`echo hello from NAME ${args}`).text());
});
"#;

pub(super) const JS_BUILD: &str = r#"#!/usr/bin/env bash
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
pub(super) const JS_TSCONFIG: &str = r#"{
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

pub(super) const JS_README: &str = r#"# NAME

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
