#!/usr/bin/env bash
# Installs and caches what tests/scale needs to run newspipe on real runners, from package registries only:
#   - Prism (Beam's portable local runner) built from its Go module at the Beam version of the venv,
#   - a Flink session cluster (JobManager/TaskManager scripts + jars) from the apache-flink and
#     apache-flink-libraries PyPI packages, in its own venv so its pins never touch newspipe's,
#   - Beam's Flink job-server jar from Maven Central (when Maven Central serves it; see docs/runners.md).
# Everything lands under ${XDG_CACHE_HOME:-~/.cache}/newspipe and is reused on the next run.
# A missing tool (go, java, mvn) is reported and skipped: the tests then skip locally and fail in CI.
#   bash tests/scale/setup_runners.sh            # called by tests/run.sh
#   NEWSPIPE_SKIP_RUNNERS=1 bash tests/run.sh    # skip it (the scale tests then skip, or fail in CI)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/newspipe"
VENV="${NEWSPIPE_VENV:-$ROOT/.venv}"
PYTHON="$VENV/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3

FLINK_VERSION="${NEWSPIPE_FLINK_VERSION:-1.20.3}"     # a Flink that Beam's FlinkRunner publishes a job server for
FLINK_MINOR="${FLINK_VERSION%.*}"
BEAM_VERSION=$("$PYTHON" -c 'import apache_beam; print(apache_beam.__version__)' 2>/dev/null || echo 2.77.0)

say() { printf '[setup_runners] %s\n' "$*" >&2; }
mkdir -p "$CACHE"

if [ -n "${NEWSPIPE_SKIP_RUNNERS:-}" ]; then say "NEWSPIPE_SKIP_RUNNERS set: nothing installed"; exit 0; fi

# 1. Prism, from its Go module (never Beam's GitHub download).
PRISM_BIN="$CACHE/prism-v$BEAM_VERSION/prism"
if [ -x "$PRISM_BIN" ]; then
  say "prism: cached $PRISM_BIN"
elif command -v go >/dev/null 2>&1; then
  say "prism: building github.com/apache/beam/sdks/v2/go/cmd/prism@v$BEAM_VERSION (once, a few minutes)"
  mkdir -p "$(dirname "$PRISM_BIN")"
  if GOBIN="$(dirname "$PRISM_BIN")" GOFLAGS=-mod=mod go install "github.com/apache/beam/sdks/v2/go/cmd/prism@v$BEAM_VERSION" \
       && [ -x "$PRISM_BIN" ]; then
    say "prism: built $PRISM_BIN"
  else
    say "prism: build FAILED (the Prism tests will skip, or fail in CI)"
  fi
else
  say "prism: no 'go' on PATH; not built (the Prism tests will skip, or fail in CI)"
fi

# 2. Flink, from PyPI, in a venv of its own. --no-deps: only the scripts and jars are used (PyFlink itself
#    pins an old apache-beam, which must never meet newspipe's).
FLINK_VENV="$CACHE/flink-venv"
flink_home() { "$FLINK_VENV/bin/python" -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))' 2>/dev/null; }
if [ -x "$FLINK_VENV/bin/python" ] && [ -x "$(flink_home)/bin/jobmanager.sh" ] \
   && [ -f "$(flink_home)/lib/flink-dist-$FLINK_VERSION.jar" ]; then
  say "flink: cached $(flink_home)"
else
  say "flink: installing apache-flink==$FLINK_VERSION + apache-flink-libraries into $FLINK_VENV (once, ~250 MB)"
  rm -rf "$FLINK_VENV"
  if python3 -m venv "$FLINK_VENV" \
     && "$FLINK_VENV/bin/python" -m pip install -q --no-deps \
          "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION" \
     && [ -x "$(flink_home)/bin/jobmanager.sh" ]; then
    say "flink: installed $(flink_home)"
  else
    say "flink: install FAILED (the Flink tests will skip, or fail in CI)"
  fi
fi
command -v java >/dev/null 2>&1 || say "flink: no 'java' on PATH (Flink needs Java 11 or 17)"

# 3. Beam's Flink job server, from Maven Central. Maven Central as reachable from here has not served
#    org.apache.beam:beam-runners-flink-* (any version); we record the registry's answer so the tests can
#    say exactly why they skip. NEWSPIPE_FLINK_JOB_SERVER_JAR=/path/to.jar uses a jar you already have.
ARTIFACT="beam-runners-flink-$FLINK_MINOR-job-server"
JAR="$CACHE/$ARTIFACT-$BEAM_VERSION.jar"
NOTE="$CACHE/$ARTIFACT-$BEAM_VERSION.unavailable"
if [ -n "${NEWSPIPE_FLINK_JOB_SERVER_JAR:-}" ]; then
  say "flink job server: using NEWSPIPE_FLINK_JOB_SERVER_JAR=$NEWSPIPE_FLINK_JOB_SERVER_JAR"
elif [ -f "$JAR" ]; then
  say "flink job server: cached $JAR"
elif command -v mvn >/dev/null 2>&1; then
  say "flink job server: mvn dependency:get org.apache.beam:$ARTIFACT:$BEAM_VERSION"
  LOG=$(mktemp)
  # -U: ask the registry again rather than repeat Maven's cached "not found".
  if mvn -B -q -U dependency:get -Dartifact="org.apache.beam:$ARTIFACT:$BEAM_VERSION:jar" -Dtransitive=false >"$LOG" 2>&1; then
    cp "$HOME/.m2/repository/org/apache/beam/$ARTIFACT/$BEAM_VERSION/$ARTIFACT-$BEAM_VERSION.jar" "$JAR.tmp" && mv "$JAR.tmp" "$JAR"
    rm -f "$NOTE"
    say "flink job server: cached $JAR"
  else
    ANSWER=$(sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -m1 '^\[ERROR\]' | sed 's/.*Couldn.t download artifact: *//; s/^\[ERROR\] *//; s/ *(https\{0,1\}:[^)]*)//' | cut -c1-300)
    printf '%s mvn dependency:get: %s\n' "$(date -u +%FT%TZ)" "${ANSWER:-mvn failed}" >"$NOTE"
    say "flink job server: Maven Central did not serve org.apache.beam:$ARTIFACT:$BEAM_VERSION"
    say "  ($ANSWER)"
    say "  the Beam-on-Flink tests will skip with that reason; the Flink cluster tests still run"
  fi
  rm -f "$LOG"
else
  echo "no mvn on PATH" >"$NOTE"
  say "flink job server: no 'mvn' on PATH; not fetched"
fi
exit 0
