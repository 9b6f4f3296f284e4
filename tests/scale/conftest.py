"""Real runners for the equivalence tests: Prism (built from its Go module) and a Flink session cluster.

Everything comes from tests/scale/setup_runners.sh's cache (${XDG_CACHE_HOME:-~/.cache}/newspipe); override
with NEWSPIPE_PRISM_BIN, NEWSPIPE_FLINK_HOME, NEWSPIPE_FLINK_JOB_SERVER_JAR. When something is missing the
tests skip with the reason; in CI (CI=true) the fixtures run setup_runners.sh themselves once and then fail
instead of skipping. The one exception is Beam's Flink job-server jar when Maven Central answered that it does
not serve it (setup_runners.sh records that answer): those tests skip everywhere, naming the registry's answer,
unless NEWSPIPE_REQUIRE_FLINK_BEAM=1.

All servers listen on 127.0.0.1 on free ports, are started once per session and stopped by their own pid.
Tests marked `scale` (10,000-article corpus, minutes each) run only with NEWSPIPE_SCALE=1 or `-m scale`.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
SETUP = ROOT / "tests" / "scale" / "setup_runners.sh"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newspipe"
BEAM_VERSION = apache_beam.__version__
FLINK_VERSION = os.environ.get("NEWSPIPE_FLINK_VERSION", "1.20.3")
FLINK_MINOR = FLINK_VERSION.rsplit(".", 1)[0]
JOB_SERVER_ARTIFACT = f"beam-runners-flink-{FLINK_MINOR}-job-server"
SYNTH_ARTICLES = int(os.environ.get("NEWSPIPE_SCALE_ARTICLES", "10000"))
RUN_TIMEOUT = int(os.environ.get("NEWSPIPE_SCALE_TIMEOUT", "3600"))

# Columns that legitimately differ between two runs of the same input: the ingest timestamp and the file
# names (they carry the run id). Everything else must be identical across runners.
RUN_SPECIFIC_COLUMNS = {"ingested_at", "_file"}

TIMINGS: list[tuple[str, float, str]] = []

# Beam 2.77's PortableRunner (so PrismRunner and FlinkRunner too) reads the job's state stream under a gRPC
# deadline of --job_server_timeout (default 300 s): any job running longer fails with DEADLINE_EXCEEDED
# (apache/beam#35867). The 10,000-article runs take longer than that. (The same value bounds how long an
# unreachable job endpoint is waited for, so it is not simply "infinite".)
LONG_JOBS = [f"--job_server_timeout={RUN_TIMEOUT}"]

if str(ROOT) not in sys.path:  # benchmarks.synth, when pytest is started from elsewhere
    sys.path.insert(0, str(ROOT))


# ----------------------------------------------------------------------------------------------- helpers

def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip locally; in CI a missing runner is a failure (the suite must exercise it there)."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: runners must be available; see tests/scale/setup_runners.sh)")
    pytest.skip(f"{reason}; run `bash tests/scale/setup_runners.sh` (or `bash tests/run.sh`)")


_setup_ran = False


def ensure_setup() -> None:
    """In CI, run setup_runners.sh once per session if something it installs is missing."""
    global _setup_ran
    if _setup_ran or not in_ci():
        return
    _setup_ran = True
    subprocess.run(["bash", str(SETUP)], cwd=ROOT, check=False, timeout=1800)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{tail(log)}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s:\n{tail(log)}")


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"(no log at {path})"


def stop(proc: subprocess.Popen, grace: float = 30.0) -> None:
    """Stop a process this session started: SIGTERM its own process group, then SIGKILL after `grace`."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # started with start_new_session=True: the group id is its pid
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def spawn(cmd: Sequence[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    fh = open(log, "wb")  # noqa: SIM115 - owned by the process for its lifetime
    return subprocess.Popen(list(cmd), stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd, start_new_session=True)


@dataclass
class RunResult:
    output: Path
    seconds: float
    summary: dict[str, Any]


def newspipe_run(inputs: str, output: Path, beam_args: Sequence[str], label: str,
                 extra: Sequence[str] = (), env: dict[str, str] | None = None) -> RunResult:
    """`newspipe run` exactly as a user types it (python -m pipeline), timed end to end."""
    cmd = [sys.executable, "-m", "pipeline", "run", "--input", inputs, "--output", str(output), "--json",
           *extra, *beam_args]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          env=env or os.environ.copy())
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise AssertionError(f"{label}: `{' '.join(cmd)}` exited {proc.returncode}\n"
                             f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-6000:]}")
    summary = parse_summary(proc.stdout)
    TIMINGS.append((label, seconds, f"{summary.get('articles', '?')} articles"))
    return RunResult(output, seconds, summary)


def parse_summary(stdout: str) -> dict[str, Any]:
    """The --json run summary from stdout; {} if the CLI printed none."""
    start = stdout.find("{")
    try:
        return json.loads(stdout[start:]) if start >= 0 else {}
    except json.JSONDecodeError:
        return {}


def content_rows(output: Path) -> dict[str, dict[str, Any]]:
    """Articles under `output` by id, without the run-specific columns."""
    from pipeline.io.sinks import read_articles

    rows: dict[str, dict[str, Any]] = {}
    for row in read_articles(str(output)):
        assert row["id"] not in rows, f"article {row['id']} written twice under {output}"
        rows[row["id"]] = {k: v for k, v in row.items() if k not in RUN_SPECIFIC_COLUMNS}
    return rows


def dead_letter_keys(output: Path) -> list[tuple[str, str, str]]:
    from pipeline.io.sinks import read_dead_letters

    return sorted((d.get("stage", ""), d.get("reason", ""), d.get("source_uri", "")) for d in read_dead_letters(str(output)))


def assert_equivalent(reference: Path, other: Path, what: str) -> None:
    """Identical article ids, identical content columns, identical dead letters (stage, reason, source)."""
    a, b = content_rows(reference), content_rows(other)
    assert a, f"reference run wrote no articles under {reference}"
    missing, extra = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    assert not missing and not extra, (
        f"{what}: ids differ: {len(missing)} only in the DirectRunner output (e.g. {missing[:3]}), "
        f"{len(extra)} only in the other (e.g. {extra[:3]})")
    diffs = [(i, c) for i in sorted(a) for c in sorted(set(a[i]) | set(b[i])) if a[i].get(c) != b[i].get(c)]
    assert not diffs, (
        f"{what}: {len(diffs)} differing cells, e.g. " + "; ".join(
            f"{i} {c}: {str(a[i].get(c))[:80]!r} != {str(b[i].get(c))[:80]!r}" for i, c in diffs[:5]))
    assert dead_letter_keys(reference) == dead_letter_keys(other), f"{what}: dead letters differ"


# ----------------------------------------------------------------------------------------------- pytest hooks

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scale: 10,000-article runner comparisons (minutes); NEWSPIPE_SCALE=1 or -m scale")
    config.addinivalue_line("markers", "runners: needs Prism or a Flink cluster (tests/scale/setup_runners.sh)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = os.environ.get("NEWSPIPE_SCALE") == "1" or "scale" in (config.option.markexpr or "")
    if wanted:
        return
    skip = pytest.mark.skip(reason="10,000-article run takes minutes: NEWSPIPE_SCALE=1 or `-m scale` runs it")
    for item in items:
        if item.get_closest_marker("scale") is not None:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("newspipe runner wall times")
    for label, seconds, what in TIMINGS:
        terminalreporter.write_line(f"{label:<44} {seconds:8.1f} s   {what}")
    path = os.environ.get("NEWSPIPE_SCALE_TIMINGS")
    if path:
        Path(path).write_text(json.dumps([{"run": l, "seconds": round(s, 2), "what": w} for l, s, w in TIMINGS],
                                         indent=2) + "\n")


# ----------------------------------------------------------------------------------------------- Prism

def _prism_bin() -> Path | None:
    env = os.environ.get("NEWSPIPE_PRISM_BIN")
    path = Path(env) if env else CACHE / f"prism-v{BEAM_VERSION}" / "prism"
    return path if path.is_file() and os.access(path, os.X_OK) else None


@pytest.fixture(scope="session")
def prism_bin() -> Path:
    if _prism_bin() is None:
        ensure_setup()
    path = _prism_bin()
    if path is None:
        unavailable(f"no Prism binary at {CACHE / f'prism-v{BEAM_VERSION}' / 'prism'} (needs Go to build it)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def prism_args(prism_bin: Path) -> list[str]:
    """PrismRunner with the local binary: Beam starts it itself and never downloads one."""
    return ["--runner=PrismRunner", f"--prism_location={prism_bin}", "--prism_log_level=warn", *LONG_JOBS]


@dataclass
class PrismService:
    job_endpoint: str
    worker_pool: str

    @property
    def beam_args(self) -> list[str]:
        return ["--runner=PortableRunner", f"--job_endpoint={self.job_endpoint}",
                "--environment_type=EXTERNAL", f"--environment_config={self.worker_pool}", *LONG_JOBS]


@pytest.fixture(scope="session")
def prism_service(prism_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismService]:
    """A standalone Prism job service plus a separate Python SDK worker pool: the cluster shape, on one host."""
    logs = tmp_path_factory.mktemp("prism-service")
    job_port, pool_port = free_port(), free_port()
    prism = spawn([str(prism_bin), "--job_port", str(job_port), "--serve_http=false", "--log_level", "warn"],
                  logs / "prism.log")
    env = os.environ.copy()
    # The pool starts each SDK worker as `python -c ...`: that `python` must be this venv's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    pool = spawn([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                  f"--service_port={pool_port}"], logs / "worker-pool.log", env=env, cwd=ROOT)
    try:
        wait_for_port(job_port, prism, logs / "prism.log")
        wait_for_port(pool_port, pool, logs / "worker-pool.log")
        yield PrismService(f"localhost:{job_port}", f"localhost:{pool_port}")
    finally:
        stop(pool)
        stop(prism)


# ----------------------------------------------------------------------------------------------- Flink

def _flink_home() -> Path | None:
    env = os.environ.get("NEWSPIPE_FLINK_HOME")
    candidates = [Path(env)] if env else [
        Path(p) for p in sorted(glob.glob(str(CACHE / "flink-venv" / "lib" / "python3*" / "site-packages" / "pyflink")))]
    for home in candidates:
        if (home / "bin" / "jobmanager.sh").is_file() and list((home / "lib").glob("flink-dist-*.jar")):
            return home
    return None


@pytest.fixture(scope="session")
def flink_home() -> Path:
    if shutil.which("java") is None:
        unavailable("no `java` on PATH (Flink needs Java 11 or 17)")
    if _flink_home() is None:
        ensure_setup()
    home = _flink_home()
    if home is None:
        unavailable(f"no Flink {FLINK_VERSION} under {CACHE / 'flink-venv'} (apache-flink + apache-flink-libraries)")
    assert home is not None
    return home


@dataclass
class FlinkCluster:
    home: Path
    conf_dir: Path
    log_dir: Path
    rest_port: int

    @property
    def master(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    def rest(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://{self.master}{path}", timeout=5) as resp:
            return json.load(resp)

    def env(self) -> dict[str, str]:
        return {**os.environ, "FLINK_CONF_DIR": str(self.conf_dir), "FLINK_LOG_DIR": str(self.log_dir)}

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{tail(p)}" for p in sorted(self.log_dir.glob("*")) if p.is_file())


def write_flink_conf(home: Path, conf_dir: Path, ports: dict[str, int], slots: int = 2) -> None:
    """Flink's own config.yaml (keeps its JVM flags for Java 17) with every address on 127.0.0.1."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    for p in (home / "conf").glob("log4j*.properties"):
        shutil.copy(p, conf_dir / p.name)
    conf = yaml.safe_load((home / "conf" / "config.yaml").read_text()) or {}
    conf["jobmanager"] = {
        "bind-host": "127.0.0.1",
        "rpc": {"address": "127.0.0.1", "port": ports["jm_rpc"]},
        "memory": {"process": {"size": "1024m"}},
        "execution": {"failover-strategy": "region"},
    }
    conf["taskmanager"] = {
        "bind-host": "127.0.0.1", "host": "127.0.0.1",
        "rpc": {"port": ports["tm_rpc"]}, "data": {"port": ports["tm_data"]},
        "numberOfTaskSlots": slots,
        "memory": {"process": {"size": "1536m"}},
    }
    conf["parallelism"] = {"default": slots}
    conf["rest"] = {"address": "127.0.0.1", "bind-address": "127.0.0.1", "port": ports["rest"]}
    conf["blob"] = {"server": {"port": str(ports["blob"])}}
    conf["web"] = {"submit": {"enable": True}}
    (conf_dir / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))


@pytest.fixture(scope="session")
def flink_cluster(flink_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlinkCluster]:
    """A Flink session cluster: one JobManager and one TaskManager (2 slots) as separate JVMs on 127.0.0.1."""
    base = tmp_path_factory.mktemp("flink")
    ports = {k: free_port() for k in ("jm_rpc", "tm_rpc", "tm_data", "rest", "blob")}
    cluster = FlinkCluster(flink_home, base / "conf", base / "log", ports["rest"])
    cluster.log_dir.mkdir()
    write_flink_conf(flink_home, cluster.conf_dir, ports)
    jm = spawn([str(flink_home / "bin" / "jobmanager.sh"), "start-foreground"], base / "log" / "jobmanager.out",
               env=cluster.env(), cwd=base)
    tm = None
    try:
        wait_for_port(ports["rest"], jm, base / "log" / "jobmanager.out")
        tm = spawn([str(flink_home / "bin" / "taskmanager.sh"), "start-foreground"], base / "log" / "taskmanager.out",
                   env=cluster.env(), cwd=base)
        deadline = time.monotonic() + 120
        while True:
            try:
                overview = cluster.rest("/overview")
            except (urllib.error.URLError, OSError):  # 503 while the dispatcher starts, on a loaded machine
                overview = {}
            if overview.get("taskmanagers", 0) >= 1 and overview.get("slots-total", 0) >= 2:
                break
            if tm.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no TaskManager registered: {overview}\n{cluster.logs()}")
            time.sleep(0.5)
        yield cluster
    finally:
        if tm is not None:
            stop(tm)
        stop(jm)


def _job_server_jar() -> Path | None:
    env = os.environ.get("NEWSPIPE_FLINK_JOB_SERVER_JAR")
    path = Path(env) if env else CACHE / f"{JOB_SERVER_ARTIFACT}-{BEAM_VERSION}.jar"
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def flink_job_server_jar() -> Path:
    if _job_server_jar() is None:
        ensure_setup()
    jar = _job_server_jar()
    if jar is not None:
        return jar
    note = CACHE / f"{JOB_SERVER_ARTIFACT}-{BEAM_VERSION}.unavailable"
    if note.is_file() and os.environ.get("NEWSPIPE_REQUIRE_FLINK_BEAM") != "1":
        answer = " ".join(note.read_text().split())
        pytest.skip(f"Beam's Flink runner is not obtainable here: Maven Central answered for "
                    f"org.apache.beam:{JOB_SERVER_ARTIFACT}:{BEAM_VERSION}: {answer}. "
                    f"Set NEWSPIPE_FLINK_JOB_SERVER_JAR=/path/to/{JOB_SERVER_ARTIFACT}-{BEAM_VERSION}.jar to run it")
    unavailable(f"no {JOB_SERVER_ARTIFACT}-{BEAM_VERSION}.jar in {CACHE} and NEWSPIPE_FLINK_JOB_SERVER_JAR unset")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def flink_args(flink_job_server_jar: Path, flink_cluster: FlinkCluster) -> list[str]:
    """FlinkRunner against the session cluster; Beam starts the job server from the local jar (no download),
    the SDK harness runs in the submitting process (LOOPBACK), two-way parallel like the two slots."""
    return ["--runner=FlinkRunner", f"--flink_master={flink_cluster.master}", f"--flink_version={FLINK_MINOR}",
            f"--flink_job_server_jar={flink_job_server_jar}", "--environment_type=LOOPBACK", "--parallelism=2",
            *LONG_JOBS]


# ----------------------------------------------------------------------------------------------- shared runs

class Support:
    """What the tests use from here, handed over as the `rs` fixture (test modules import nothing from conftest)."""

    ROOT = ROOT
    SEEDS = SEEDS
    SYNTH_ARTICLES = SYNTH_ARTICLES
    FLINK_VERSION = FLINK_VERSION
    run = staticmethod(newspipe_run)
    unavailable = staticmethod(unavailable)
    assert_equivalent = staticmethod(assert_equivalent)


@pytest.fixture(scope="session")
def rs() -> type[Support]:
    return Support


@pytest.fixture(scope="session")
def direct_seeds(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The reference: the seeds on newspipe's default local runner (`runner: direct`: Beam's in-process
    FnApiRunner, which Beam's DirectRunner also ends on here), run once per session."""
    return newspipe_run(f"{SEEDS}/*", tmp_path_factory.mktemp("direct-seeds") / "out", [],
                        "seeds runner: direct (FnApiRunner)")


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.synth import write_corpus

    out = tmp_path_factory.mktemp("synth")
    t0 = time.monotonic()
    write_corpus(out, SYNTH_ARTICLES)
    TIMINGS.append((f"write_corpus({SYNTH_ARTICLES})", time.monotonic() - t0, str(out)))
    return out


@pytest.fixture(scope="session")
def direct_synth(synth_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return newspipe_run(f"{synth_corpus}/*", tmp_path_factory.mktemp("direct-synth") / "out", [],
                        f"synth {SYNTH_ARTICLES} runner: direct (FnApiRunner)")


# ----------------------------------------------------------------------------------------------- Dask

DASK_CONFIG = ROOT / "config" / "dask.yaml"


def _dask_reachable(address: str, timeout: float = 2.0) -> bool:
    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def dask_address() -> str:
    """The cluster tests/run.sh started (a `dask scheduler` and 2 `dask worker` processes on 127.0.0.1)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        unavailable("dask.distributed is not installed (pip install -e '.[dask]')")
    address = os.environ.get("NEWSPIPE_TEST_DASK_ADDRESS", "")
    if not address:
        unavailable("no dask cluster: NEWSPIPE_TEST_DASK_ADDRESS is unset "
                    "(tests/run.sh starts a scheduler and 2 workers)")
    if not _dask_reachable(address):
        unavailable(f"no dask scheduler answers at NEWSPIPE_TEST_DASK_ADDRESS={address}")
    warm_up(address, 2)
    return address


def warm_up(address: str, workers: int) -> None:
    """Wait for `workers` workers and import Beam and newspipe in each: a cold worker spends seconds on its
    first task importing them, while a warm one steals all the work (which the tests would then misread)."""
    import importlib

    from distributed import Client

    with Client(address, timeout=60, set_as_default=False) as client:
        client.wait_for_workers(workers, timeout=120)
        client.run(importlib.import_module, "pipeline.runners.dask")
        client.run(importlib.import_module, "pipeline.graph")


@dataclass
class DaskCluster:
    """A scheduler and workers this test started on free 127.0.0.1 ports (workers without a nanny, so a
    killed worker is gone for good, like a lost machine)."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    logs: Path

    @property
    def beam_args(self) -> list[str]:
        return ["--runner=pipeline.runners.dask.DaskRunner", f"--dask_client_address={self.address}"]

    def kill_worker(self, index: int) -> None:
        os.killpg(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait(10)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            stop(proc, grace=10)

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{tail(p)}" for p in sorted(self.logs.glob("*.log")))


def start_dask_cluster(base: Path, workers: int = 2, nanny: bool = False) -> DaskCluster:
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    dask_bin = Path(sys.executable).parent / "dask"
    scheduler = spawn([str(dask_bin), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                       "--dashboard-address", "127.0.0.1:0"], base / "scheduler.log", cwd=ROOT)
    procs: list[subprocess.Popen] = []
    cluster = DaskCluster(f"127.0.0.1:{port}", scheduler, procs, base)
    try:
        wait_for_port(port, scheduler, base / "scheduler.log")
        for i in range(workers):
            procs.append(spawn([str(dask_bin), "worker", f"tcp://127.0.0.1:{port}", "--name", f"w{i}",
                                "--nthreads", "1", "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0",
                                "--local-directory", str(base / f"w{i}"), "--nanny" if nanny else "--no-nanny"],
                               base / f"worker-{i}.log", cwd=ROOT))
        warm_up(cluster.address, workers)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def direct_synth_5k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    """5,000 synthetic articles (benchmarks/synth.py) and their run on the local runner."""
    from benchmarks.synth import write_corpus

    corpus = tmp_path_factory.mktemp("synth-5k")
    write_corpus(corpus, 5000)
    return corpus, newspipe_run(f"{corpus}/*", tmp_path_factory.mktemp("direct-synth-5k") / "out", [],
                                "synth 5000 runner: direct (FnApiRunner)")


def manifest_counts(run: RunResult) -> dict[str, Any]:
    """The run's manifest counts (per stage, dead letters by reason), read back from the output."""
    manifest = json.loads(Path(run.summary["manifest_uri"]).read_text())
    return {"counts": manifest["counts"], "dead_letters_by_reason": manifest["dead_letters_by_reason"]}


Support.DASK_CONFIG = DASK_CONFIG  # type: ignore[attr-defined]
Support.start_dask_cluster = staticmethod(start_dask_cluster)  # type: ignore[attr-defined]
Support.manifest_counts = staticmethod(manifest_counts)  # type: ignore[attr-defined]
Support.content_rows = staticmethod(content_rows)  # type: ignore[attr-defined]
