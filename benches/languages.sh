#!/usr/bin/env bash
# The README's small task (`recent`: the last 3 commits) as a plugin in
# Rust, Python and JavaScript: how long each takes to build (toolchains
# already installed), how large it is, how long its first run compiles it
# into procbox's cache, and how long a cached run takes, next to running
# `git log` itself. Medians of RUNS runs (default 15), in the same loop.
#
#   cargo build --release -p procbox-cli
#   benches/languages.sh [RUNS]
#
# PROCBOX names the procbox to time (default target/release/procbox).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
procbox=${PROCBOX:-$PWD/target/release/procbox}
[[ -x $procbox ]] || { echo "languages.sh: build $procbox first (cargo build --release -p procbox-cli)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s%N; }
seconds() { awk -v ns="$1" 'BEGIN { printf "%.1f s", ns / 1e9 }'; }
median_ms() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1e6 }'; }
timed() { local start; start=$(now); "$@" >/dev/null 2>&1; echo $(($(now) - start)); }

# The repository the plugins read.
repo=$work/repo
git init -q "$repo"
for n in 1 2 3 4 5 6 7; do
    echo "$n" >"$repo/f"
    git -C "$repo" add f
    git -C "$repo" -c user.name=t -c user.email=t@example.com commit -qm "change $n"
done

# Build each once first (toolchains, dependencies), then time a rebuild.
rust_build() { touch guests/rust/examples/recent/src/main.rs && (cd guests/rust && cargo build --release -q -p recent); }
python_build() { bash guests/python/build.sh recent "$work/recent-py.wasm"; }
js_build() { bash guests/js/build.sh guests/js/examples/recent "$work/recent-js.wasm"; }
rust_build >/dev/null 2>&1; python_build >/dev/null 2>&1; js_build >/dev/null 2>&1
declare -A build wasm
build[rust]=$(timed rust_build)
build[python]=$(timed python_build)
build[js]=$(timed js_build)
# guests/rust/.cargo/config.toml builds into target/guests.
cp target/guests/wasm32-wasip2/release/recent.wasm "$work/recent-rs.wasm"
wasm[rust]=$work/recent-rs.wasm
wasm[python]=$work/recent-py.wasm
wasm[js]=$work/recent-js.wasm

export PROCBOX_CACHE_DIR=$work/cache PROCBOX_CONFIG_DIR=$work/config
printf '| language | build | plugin size | first run (compiles) | cached run, median | `git log` itself | ratio |\n|---|---|---|---|---|---|---|\n'
for lang in rust python js; do
    file=${wasm[$lang]}
    first=$(cd "$repo" && timed "$procbox" run "$file" --allow-run 'git log **' -- 3)
    plugin=() native=()
    for ((i = 0; i < runs; i++)); do
        plugin+=("$(cd "$repo" && timed "$procbox" run "$file" --allow-run 'git log **' -- 3)")
        native+=("$(timed git -C "$repo" log --oneline -n 3)")
    done
    p=$(printf '%s\n' "${plugin[@]}" | median_ms)
    b=$(printf '%s\n' "${native[@]}" | median_ms)
    size=$(stat -c %s "$file" | awk '{ printf "%.2f MB", $1 / 1e6 }')
    printf '| %s | %s | %s | %s | %s ms | %s ms | %sx |\n' "$lang" "$(seconds "${build[$lang]}")" "$size" \
        "$(seconds "$first")" "$p" "$b" "$(awk -v p="$p" -v b="$b" 'BEGIN { printf "%.0f", p / b }')"
done
