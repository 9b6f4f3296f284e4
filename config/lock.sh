#!/usr/bin/env bash
# Refreshes the lock files from pyproject.toml (compatible ranges there, exact pins with hashes here):
#   config/requirements.lock      runtime dependencies (README command 1)
#   config/requirements-dev.lock  runtime + every extra but dataflow (dev, train, dask, ...) (the test command),
#                                 constrained to the runtime lock so both install the same version of every shared package
#   config/requirements-dataflow.lock  runtime + the dataflow extra (the Dataflow dry-run test's own venv), constrained
#                                 the same way
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
mapfile -t dev_extras < <(python3 -c 'import tomllib; x = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]; print("\n".join(f"--extra={k}" for k in x if k != "dataflow"))')
"$UV" pip compile pyproject.toml "${dev_extras[@]}" "${common[@]}" \
  -c config/requirements.lock -o config/requirements-dev.lock
"$UV" pip compile pyproject.toml --extra=dataflow "${common[@]}" \
  -c config/requirements.lock -o config/requirements-dataflow.lock
for f in config/requirements.lock config/requirements-dev.lock config/requirements-dataflow.lock; do
  echo "wrote $f ($(grep -c '==' "$f") pins)"
done
