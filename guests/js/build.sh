#!/usr/bin/env bash
# Builds a JavaScript procbox plugin with componentize-js (from npm).
#
#   guests/js/build.sh DIR [OUT.wasm]
#
# DIR holds app.js (or app.ts: TypeScript, whose types esbuild strips
# without checking them), an ES module that imports the SDK as "procbox"
# (guests/js/sdk/procbox.js, typed by procbox.d.ts) and exports `run`.
# esbuild bundles the two
# into one module (componentize-js takes one), leaving the WIT imports
# (procbox:*, wasi:*) to the component. OUT defaults to
# target/guests/js/NAME.wasm.
#
# The toolchain (componentize-js and esbuild, pinned) is installed once with
# npm into $PROCBOX_JS_TOOLCHAIN, default target/js-toolchain. Exit status:
# 0 built; 77 the toolchain cannot be installed here (no node or npm, or
# npm cannot fetch the packages), with the reason on stderr; anything else
# is a real build failure.
set -euo pipefail

COMPONENTIZE_JS=0.23.0
ESBUILD=0.25.12
UNAVAILABLE=77

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
unavailable() { echo "build.sh: toolchain unavailable: $*" >&2; exit "$UNAVAILABLE"; }
[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 DIR [OUT.wasm]   (DIR holds app.js or app.ts)" >&2; exit 2; }
app_dir=$(cd "$1" && pwd)
app=$app_dir/app.ts
[[ -f $app ]] || app=$app_dir/app.js
[[ -f $app ]] || { echo "build.sh: $app_dir holds neither app.js nor app.ts" >&2; exit 2; }
name=$(basename "$app_dir")
out=${2:-$repo/target/guests/js/$name.wasm}
toolchain=${PROCBOX_JS_TOOLCHAIN:-$repo/target/js-toolchain}

# 1. The toolchain, installed once (one install at a time).
mkdir -p "$toolchain"
if command -v flock >/dev/null; then exec 9>"$toolchain.lock"; flock 9; fi
installed() { node -p "require('$toolchain/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [[ $(installed @bytecodealliance/componentize-js) != "$COMPONENTIZE_JS" || $(installed esbuild) != "$ESBUILD" ]]; then
    command -v node >/dev/null || unavailable "node not found (install Node.js 18 or newer)"
    command -v npm >/dev/null || unavailable "npm not found"
    echo "build.sh: installing componentize-js@$COMPONENTIZE_JS and esbuild@$ESBUILD into $toolchain" >&2
    (cd "$toolchain" && [[ -f package.json ]] || echo '{"private":true}' > "$toolchain/package.json")
    npm install --prefix "$toolchain" --no-audit --no-fund --silent \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS" "esbuild@$ESBUILD" >&2 ||
        unavailable "npm could not install componentize-js@$COMPONENTIZE_JS and esbuild@$ESBUILD"
fi

# 2. One module: the app and the SDK.
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$out.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$toolchain/node_modules/.bin/esbuild" "$app" --bundle --format=esm --platform=neutral \
    --log-level=warning --alias:procbox="$here/sdk/procbox.js" \
    --external:'procbox:*' --external:'wasi:*' --outfile="$work/bundle.js" >&2

# 3. The component, renamed into place so that a reader never sees half of it.
# Run from the toolchain's directory, where node finds componentize-js.
cp "$here/componentize.mjs" "$toolchain/componentize.mjs"
# (From the work directory: componentize-js resolves some of its own files
# against the current one.)
(cd "$work" && node "$toolchain/componentize.mjs" "$work/bundle.js" "$repo/wit" "$work/out.wasm") >&2 || {
    echo "build.sh: componentize-js failed to build $app_dir" >&2
    exit 1
}
chmod 644 "$work/out.wasm"
mv -f "$work/out.wasm" "$out"
echo "$out"
