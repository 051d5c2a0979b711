#!/usr/bin/env bash
# Builds a Python procbox plugin with componentize-py (from PyPI).
#
#   guests/python/build.sh PLUGIN [OUT.wasm]
#
# PLUGIN is a directory under guests/python/ holding app.py (e.g. `topn`),
# or the path of any directory holding app.py. The SDK (guests/python/sdk,
# `import procbox`) is on its path. OUT defaults to
# target/guests/python/NAME.wasm.
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

usage() {
    echo "usage: $0 PLUGIN [OUT.wasm]   (PLUGIN: a directory under guests/python/ with app.py)" >&2
    exit 2
}
unavailable() {
    echo "build.sh: toolchain unavailable: $*" >&2
    exit "$UNAVAILABLE"
}

[[ $# -ge 1 && $# -le 2 ]] || usage
plugin=$1
if [[ $plugin == */* ]]; then app_dir=$(cd "$plugin" && pwd); else app_dir=$here/$plugin; fi
[[ -f $app_dir/app.py ]] || { echo "build.sh: $app_dir/app.py does not exist" >&2; usage; }
plugin=$(basename "$app_dir")
out=${2:-$repo/target/guests/python/$plugin.wasm}
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
# into the application directory, so it works on a copy. The result is
# written beside OUT and renamed, so a reader never sees half a file.
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$out.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$app_dir" "$work/app"
status=0
cp -R "$here/sdk" "$work/sdk"
"$componentize" -d "$repo/wit" -w plugin componentize -p "$work/app" -p "$work/sdk" app -o "$work/out.wasm" >&2 || status=$?
if ((status != 0)); then
    echo "build.sh: componentize-py failed to build $app_dir (status $status)" >&2
    exit $((status == UNAVAILABLE ? 1 : status)) # 77 means only "no toolchain"
fi
chmod 644 "$work/out.wasm"
mv -f "$work/out.wasm" "$out"
echo "$out"
