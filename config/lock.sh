#!/usr/bin/env bash
# Refreshes the lock files from pyproject.toml (compatible ranges there, exact pins with hashes here):
#   config/requirements.lock      runtime dependencies (README command 1)
#   config/requirements-dev.lock  runtime + every extra (dev, train, dask, ...) (the test command), constrained to
#                                 the runtime lock so both install the same version of every shared package
# Usage: bash config/lock.sh            (re-resolve within pyproject's ranges, keeping current pins)
#        bash config/lock.sh --upgrade  (move every pin to the newest version pyproject allows)
# Then run `bash tests/run.sh tests/test_lock.py` and commit pyproject.toml with both lock files.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/newspipe"
UV="$CACHE/uv-$UV_VERSION/bin/uv"
if [ ! -x "$UV" ]; then
  python3 -m venv "$CACHE/uv-$UV_VERSION"
  "$CACHE/uv-$UV_VERSION/bin/python" -m pip install -q "uv==$UV_VERSION"
fi
upgrade=()
[ "${1:-}" = "--upgrade" ] && upgrade=(--upgrade)
common=(--universal --python-version 3.10 --generate-hashes --no-header --quiet "${upgrade[@]}")
"$UV" pip compile pyproject.toml "${common[@]}" -o config/requirements.lock
"$UV" pip compile pyproject.toml --all-extras "${common[@]}" \
  -c config/requirements.lock -o config/requirements-dev.lock
echo "wrote config/requirements.lock ($(grep -c '==' config/requirements.lock) pins) and config/requirements-dev.lock ($(grep -c '==' config/requirements-dev.lock) pins)"
