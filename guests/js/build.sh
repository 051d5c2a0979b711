#!/usr/bin/env bash
# Builds a JavaScript procbox plugin with componentize-js (from npm).
#
#   guests/js/build.sh DIR [OUT.wasm]
#
# DIR (`.`, a relative or an absolute path) holds app.js (or app.ts:
# TypeScript, whose types esbuild strips without checking them; tsc, from
# the same toolchain, checks them: see sdk/README.md), an ES module that
# imports the SDK as "procbox" (guests/js/sdk/procbox.js, typed by
# procbox.d.ts) and exports `run`. esbuild bundles the two into one module
# (componentize-js takes one), leaving the WIT imports (procbox:*, wasi:*)
# to the component. OUT (relative to the current directory; it may be
# inside DIR) defaults to target/guests/js/NAME.wasm; its directory must
# exist.
#
# The toolchain (componentize-js, esbuild and typescript, pinned) is
# installed once with npm into $PROCBOX_JS_TOOLCHAIN, default
# target/js-toolchain. Exit status: 0 built; 77 the toolchain cannot be
# installed here (no node or npm, or npm cannot fetch the packages), with
# the reason on stderr; anything else is a real build failure, named in
# one line (with the compiler's message when the mistake is in the app).
set -euo pipefail

COMPONENTIZE_JS=0.23.0
ESBUILD=0.25.12
TYPESCRIPT=5.9.3 # not used to build: tsc type-checks, for the tests and users
UNAVAILABLE=77

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# Every failure is one line on stderr, naming its cause.
fail() { echo "build.sh: $*" >&2; exit 2; }
unavailable() { echo "build.sh: toolchain unavailable: $*" >&2; exit "$UNAVAILABLE"; }
[[ $# -ge 1 && $# -le 2 && -n $1 ]] || fail "usage: $0 DIR [OUT.wasm]   (DIR holds app.js or app.ts)"
[[ -d $1 ]] || fail "$1 is not a directory (give the directory that holds app.js or app.ts)"
app_dir=$(cd -- "$1" && pwd)
app=$app_dir/app.ts
[[ -f $app ]] || app=$app_dir/app.js
[[ -f $app ]] || fail "$app_dir holds neither app.js nor app.ts"
name=$(basename "$app_dir")
if [[ $# -eq 2 ]]; then
    out=$2
    [[ -n $out && $out != */ ]] || fail "OUT must name a file, not ${out:-an empty string}"
    [[ $out == /* ]] || out=$PWD/$out
    [[ -d $(dirname "$out") ]] || fail "cannot write $out: directory $(dirname "$out") does not exist"
    [[ ! -d $out ]] || fail "cannot write $out: it is a directory"
    [[ -w $(dirname "$out") ]] || fail "cannot write $out: directory $(dirname "$out") is not writable"
else
    out=$repo/target/guests/js/$name.wasm
    mkdir -p "$(dirname "$out")"
fi
toolchain=${PROCBOX_JS_TOOLCHAIN:-$repo/target/js-toolchain}

# 1. The toolchain, installed once (one install at a time).
mkdir -p "$toolchain"
if command -v flock >/dev/null; then exec 9>"$toolchain.lock"; flock 9; fi
installed() {
    case $1 in
    */node_modules/*) node -p "require('$toolchain/$1/package.json').version" 2>/dev/null || true ;;
    *) node -p "require('$toolchain/node_modules/$1/package.json').version" 2>/dev/null || true ;;
    esac
}
if [[ $(installed @bytecodealliance/componentize-js) != "$COMPONENTIZE_JS" || $(installed esbuild) != "$ESBUILD" ]]; then
    command -v node >/dev/null || unavailable "node not found (install Node.js 18 or newer)"
    command -v npm >/dev/null || unavailable "npm not found"
    echo "build.sh: installing componentize-js@$COMPONENTIZE_JS and esbuild@$ESBUILD into $toolchain" >&2
    (cd "$toolchain" && [[ -f package.json ]] || echo '{"private":true}' > "$toolchain/package.json")
    npm install --prefix "$toolchain" --no-audit --no-fund --silent \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS" "esbuild@$ESBUILD" >&2 ||
        unavailable "npm could not install componentize-js@$COMPONENTIZE_JS and esbuild@$ESBUILD"
fi
# tsc, for type-checking (esbuild does not): $toolchain/tsc/node_modules/.bin/tsc.
# A prefix of its own: beside componentize-js it would change how npm lays
# out componentize-js's dependencies, and componentize-js imports one it
# does not declare (@bytecodealliance/preview2-shim).
if [[ $(installed tsc/node_modules/typescript) != "$TYPESCRIPT" ]]; then
    command -v npm >/dev/null || unavailable "npm not found"
    mkdir -p "$toolchain/tsc"
    [[ -f $toolchain/tsc/package.json ]] || echo '{"private":true}' >"$toolchain/tsc/package.json"
    echo "build.sh: installing typescript@$TYPESCRIPT into $toolchain/tsc" >&2
    npm install --prefix "$toolchain/tsc" --no-audit --no-fund --silent "typescript@$TYPESCRIPT" >&2 ||
        unavailable "npm could not install typescript@$TYPESCRIPT"
fi

# 2. One module: the app and the SDK, in a directory of its own (OUT may be
# inside DIR). esbuild names a mistake in the app itself, with its place.
work=$(mktemp -d "${TMPDIR:-/tmp}/procbox-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$toolchain/node_modules/.bin/esbuild" "$app" --bundle --format=esm --platform=neutral \
    --log-level=warning --alias:procbox="$here/sdk/procbox.js" \
    --external:'procbox:*' --external:'wasi:*' --outfile="$work/bundle.js" >&2 ||
    { echo "build.sh: esbuild could not bundle $app" >&2; exit 1; }

# 3. The component. Run from the toolchain's directory, where node finds
# componentize-js, and from the work directory: componentize-js resolves
# some of its own files against the current one. componentize.mjs reports
# a failure without a stack trace.
cp "$here/componentize.mjs" "$toolchain/componentize.mjs"
(cd "$work" && node "$toolchain/componentize.mjs" "$work/bundle.js" "$repo/wit" "$work/out.wasm") >&2 || {
    echo "build.sh: componentize-js failed to build $app" >&2
    exit 1
}
# Copied beside OUT and renamed, so that a reader never sees half of it.
chmod 644 "$work/out.wasm"
partial=$(mktemp "$out.XXXXXX" 2>/dev/null) || fail "cannot write beside $out"
cp "$work/out.wasm" "$partial" 2>/dev/null && mv -f "$partial" "$out" 2>/dev/null || {
    rm -f "$partial"
    fail "cannot write $out"
}
echo "$out"
