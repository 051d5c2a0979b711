#!/usr/bin/env bash
# Builds a Python procbox plugin with componentize-py (from PyPI).
#
#   guests/python/build.sh DIR [OUT.wasm]
#
# DIR is the directory holding app.py: `.`, a relative or an absolute path,
# or the name of an example under guests/python/examples/ (e.g. `topn`)
# when no such directory is under the current one. The SDK (guests/python/sdk, `import
# procbox`) is on its path. OUT (relative to the current directory; it may
# be inside DIR) defaults to target/guests/python/NAME.wasm; its directory
# must exist.
#
# componentize-py is installed into a virtual environment, created once and
# reused: $PROCBOX_PY_VENV, default target/componentize-py-venv. $PYTHON
# chooses the interpreter that creates it (default python3, 3.10 or newer).
#
# Exit status: 0 built; 77 the toolchain cannot be installed here (no
# suitable python3, no venv module, or pip cannot install componentize-py),
# with the reason on stderr; any other non-zero status is a real build
# failure.
set -euo pipefail

# componentize-py 0.25.1 bundles WASI 0.2.12, the version vendored in wit/deps.
COMPONENTIZE_PY_VERSION=0.25.1
UNAVAILABLE=77

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

# Every failure is one line on stderr, naming its cause.
fail() {
    echo "build.sh: $*" >&2
    exit 2
}
usage() { fail "usage: $0 DIR [OUT.wasm]   (DIR holds app.py)"; }
unavailable() {
    echo "build.sh: toolchain unavailable: $*" >&2
    exit "$UNAVAILABLE"
}

[[ $# -ge 1 && $# -le 2 ]] || usage
[[ -n $1 ]] || usage
if [[ -d $1 ]]; then
    app_dir=$(cd -- "$1" && pwd)
elif [[ $1 != */* && -d $here/examples/$1 ]]; then
    app_dir=$here/examples/$1 # an example of this repository, by name
else
    fail "$1 is not a directory (give the directory that holds app.py)"
fi
[[ -f $app_dir/app.py ]] || fail "$app_dir holds no app.py"
plugin=$(basename "$app_dir")
if [[ $# -eq 2 ]]; then
    out=$2
    [[ -n $out && $out != */ ]] || fail "OUT must name a file, not ${out:-an empty string}"
    [[ $out == /* ]] || out=$PWD/$out
    [[ -d $(dirname "$out") ]] || fail "cannot write $out: directory $(dirname "$out") does not exist"
    [[ ! -d $out ]] || fail "cannot write $out: it is a directory"
    [[ -w $(dirname "$out") ]] || fail "cannot write $out: directory $(dirname "$out") is not writable"
else
    out=$repo/target/guests/python/$plugin.wasm
    mkdir -p "$(dirname "$out")"
fi
venv=${PROCBOX_PY_VENV:-$repo/target/componentize-py-venv}
python=${PYTHON:-python3}

# One build at a time per venv: two test binaries (or a person and a test)
# may build at once, and pip must not install into a venv twice.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
fi

# 1. A virtual environment with componentize-py, made once.
componentize=$venv/bin/componentize-py
installed() {
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true
}
if [[ $(installed) != "$COMPONENTIZE_PY_VERSION" ]]; then
    command -v "$python" >/dev/null || unavailable "$python not found (set PYTHON to a Python 3.10 or newer)"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        unavailable "$("$python" --version 2>&1) is older than 3.10"
    if [[ ! -x $venv/bin/python ]]; then
        echo "build.sh: creating $venv" >&2
        [[ -e $venv ]] && existed=1 || existed=0
        if ! "$python" -m venv "$venv" >&2; then
            ((existed)) || rm -rf "$venv" # a half-made venv would fail later, less clearly
            unavailable "'$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
        fi
    fi
    echo "build.sh: installing componentize-py==$COMPONENTIZE_PY_VERSION" >&2
    "$venv/bin/python" -m pip install --quiet "componentize-py==$COMPONENTIZE_PY_VERSION" >&2 ||
        unavailable "pip could not install componentize-py==$COMPONENTIZE_PY_VERSION"
fi

# 2. The component. componentize-py reads the WIT itself (world `plugin`) and
# bundles CPython, the standard library and app.py. It writes __pycache__
# into the application directory, so it works on a copy, made in a
# directory of its own (OUT may be inside DIR). The result is copied beside
# OUT and renamed, so a reader never sees half a file.
work=$(mktemp -d "${TMPDIR:-/tmp}/procbox-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/app"
# The application's files, without earlier builds (a .wasm inside DIR).
(cd "$app_dir" && find . -mindepth 1 -maxdepth 1 ! -name '*.wasm' ! -name '*.wasm.*' ! -name __pycache__ \
    -exec cp -R -- {} "$work/app/" \;)
cp -R "$here/sdk" "$work/sdk"
# componentize-py reports a mistake in app.py (a syntax error, an exception
# while importing it) inside a traceback of its own and a Rust backtrace:
# only the user's part is shown, with the real path of app.py.
explain() {
    awk -v dir="$app_dir" '
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
}
status=0
RUST_BACKTRACE=0 RUST_LIB_BACKTRACE=0 "$componentize" -d "$repo/wit" -w plugin componentize \
    -p "$work/app" -p "$work/sdk" app -o "$work/out.wasm" >"$work/log" 2>&1 || status=$?
if ((status != 0)); then
    explain
    echo "build.sh: componentize-py failed to build $app_dir/app.py (status $status)" >&2
    exit $((status == UNAVAILABLE ? 1 : status)) # 77 means only "no toolchain"
fi
chmod 644 "$work/out.wasm"
partial=$(mktemp "$out.XXXXXX" 2>/dev/null) || fail "cannot write beside $out"
cp "$work/out.wasm" "$partial" 2>/dev/null && mv -f "$partial" "$out" 2>/dev/null || {
    rm -f "$partial"
    fail "cannot write $out"
}
echo "$out"
