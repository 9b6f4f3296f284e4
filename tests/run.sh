#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, starts a real MinIO server on
# 127.0.0.1 with throwaway credentials, runs pytest, and stops the server.
#   bash tests/run.sh [pytest args...]
# MINIO_BIN=/path/to/minio (or a `minio` on PATH) skips building MinIO from its Go module.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MINIO_MODULE_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"  # github.com/minio/minio, pinned
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/newspipe"
VENV="${NEWSPIPE_VENV:-$ROOT/.venv}"

say() { printf '[tests/run.sh] %s\n' "$*" >&2; }

# 1. Python environment from the dev lock (exact pins with hashes: runtime + every extra), then newspipe itself
#    (pip's cache makes reruns fast). What a new user gets from README command 1 (a fresh venv's own pip, the
#    runtime lock, no extras) is tested separately by tests/test_fresh_install.py.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install -q -r config/requirements-dev.lock
"$VENV/bin/python" -m pip install -q --no-deps -e .

# 1a. The Dataflow dry-run test's own venv (runtime + apache-beam[gcp], config/requirements-dataflow.lock): with the
#     Google Cloud SDK installed, `import apache_beam` loads ~40 GCP packages, which must not be in the venv the
#     rest of the suite runs newspipe in. The test runs newspipe from this checkout (no install of it here).
DATAFLOW_VENV="$CACHE/dataflow-venv"
[ -x "$DATAFLOW_VENV/bin/python" ] || python3 -m venv "$DATAFLOW_VENV"
"$DATAFLOW_VENV/bin/python" -m pip install -q -r config/requirements-dataflow.lock
export NEWSPIPE_TEST_DATAFLOW_PYTHON="$DATAFLOW_VENV/bin/python"

# 2. MinIO server binary: MINIO_BIN, else one on PATH, else built once from the Go module and cached.
if [ -z "${MINIO_BIN:-}" ]; then
  if command -v minio >/dev/null 2>&1; then
    MINIO_BIN=$(command -v minio)
  else
    MINIO_BIN="$CACHE/minio-$MINIO_MODULE_VERSION/minio"
    if [ ! -x "$MINIO_BIN" ]; then
      say "building MinIO $MINIO_MODULE_VERSION from its Go module (once; cached in $CACHE)"
      mkdir -p "$(dirname "$MINIO_BIN")"
      GOBIN="$(dirname "$MINIO_BIN")" GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_MODULE_VERSION"
    fi
  fi
fi

# 2a. Debian's Chromium for the report's browser test (root on these machines; skipped if apt is unavailable).
if [ ! -x /usr/bin/chromium ] && [ -z "${NEWSPIPE_TEST_CHROMIUM:-}" ] && command -v apt-get >/dev/null 2>&1; then
  say "installing chromium (once) for the report's browser test"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || say "chromium install failed: the browser test will fail in CI"
fi

# 2b. Other runners for tests/scale: Prism (Go module), a Flink cluster (PyPI), Beam's Flink job server
#     (Maven Central, when served); all cached under ~/.cache/newspipe.
NEWSPIPE_VENV="$VENV" bash tests/scale/setup_runners.sh

# 3. Start it on a free loopback port with a fresh data folder and throwaway credentials.
MINIO_DATA=$(mktemp -d)
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CONSOLE_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export MINIO_ROOT_USER="newspipe-test-$RANDOM"
export MINIO_ROOT_PASSWORD=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))')
MINIO_BROWSER=off "$MINIO_BIN" server "$MINIO_DATA" --address "127.0.0.1:$PORT" \
  --console-address "127.0.0.1:$CONSOLE_PORT" --quiet >"$MINIO_DATA.log" 2>&1 &
MINIO_PID=$!
cleanup() {
  kill "$MINIO_PID" 2>/dev/null || true
  wait "$MINIO_PID" 2>/dev/null || true
  rm -rf "$MINIO_DATA" "$MINIO_DATA.log"
  for pid in ${DASK_PIDS[@]+"${DASK_PIDS[@]}"}; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -n "${DASK_DIR:-}" ]; then rm -rf "$DASK_DIR"; fi
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/minio/health/live" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$MINIO_PID" 2>/dev/null; then say "MinIO failed to start:"; cat "$MINIO_DATA.log" >&2; exit 1; fi
  sleep 0.2
done
say "MinIO up on 127.0.0.1:$PORT (pid $MINIO_PID)"

export NEWSPIPE_TEST_S3_ENDPOINT="http://127.0.0.1:$PORT"
export NEWSPIPE_TEST_MINIO_BIN="$MINIO_BIN"
export NEWSPIPE_TEST_MINIO_DATA="$MINIO_DATA"
export AWS_ACCESS_KEY_ID="$MINIO_ROOT_USER"
export AWS_SECRET_ACCESS_KEY="$MINIO_ROOT_PASSWORD"
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
export AWS_REGION="us-east-1"

# 3a. A dask.distributed cluster for tests/scale/test_dask_*.py (runner: dask): a scheduler and 2 workers, 1 thread
#     each, on free 127.0.0.1 ports (started after the AWS_* exports, so the workers have them too); stopped above.
DASK_DIR=$(mktemp -d)
DASK_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$VENV/bin/dask" scheduler --host 127.0.0.1 --port "$DASK_PORT" --dashboard-address 127.0.0.1:0 \
  >"$DASK_DIR/scheduler.log" 2>&1 &
DASK_PIDS=($!)
for i in 1 2; do
  "$VENV/bin/dask" worker "tcp://127.0.0.1:$DASK_PORT" --name "worker-$i" --nthreads 1 --host 127.0.0.1 \
    --dashboard-address 127.0.0.1:0 --local-directory "$DASK_DIR/worker-$i" >"$DASK_DIR/worker-$i.log" 2>&1 &
  DASK_PIDS+=($!)
done
if "$VENV/bin/python" -c 'import sys; from distributed import Client; c = Client(sys.argv[1], timeout=60); c.wait_for_workers(2, timeout=120); c.close()' \
    "127.0.0.1:$DASK_PORT" >"$DASK_DIR/wait.log" 2>&1; then
  export NEWSPIPE_TEST_DASK_ADDRESS="127.0.0.1:$DASK_PORT"
  say "dask scheduler + 2 workers up on 127.0.0.1:$DASK_PORT"
else
  say "the dask cluster did not start (tests/scale/test_dask_*.py fail in CI, skip elsewhere):"
  tail -n 20 "$DASK_DIR"/*.log >&2
fi

# 4. The suite. pytest's own exit code is the result.
set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
exit $status
