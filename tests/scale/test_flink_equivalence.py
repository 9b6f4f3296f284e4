"""A real Flink session cluster (JobManager + TaskManager JVMs on 127.0.0.1), and newspipe on it.

The cluster tests need only Java and the Flink install from tests/scale/setup_runners.sh. The equivalence
tests also need Beam's Flink job-server jar (org.apache.beam:beam-runners-flink-<flink>-job-server); where
Maven Central does not serve it they skip, quoting the registry's answer (docs/runners.md).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.runners


def test_flink_cluster_is_up(rs, flink_cluster) -> None:
    overview = flink_cluster.rest("/overview")
    assert overview["flink-version"] == rs.FLINK_VERSION
    assert overview["taskmanagers"] == 1
    assert overview["slots-total"] == 2
    (tm,) = flink_cluster.rest("/taskmanagers")["taskmanagers"]
    assert tm["id"].startswith("127.0.0.1:"), tm["id"]


SMOKE_JOB = """
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.ReduceFunction;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/** Counts 1..N by last digit on the cluster's TaskManager slots; writes "(digit,count)" lines. */
public class NewspipeSmoke {
  public static void main(String[] args) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setRuntimeMode(RuntimeExecutionMode.BATCH);
    env.fromSequence(1, Long.parseLong(args[1]))
        .map(new MapFunction<Long, Tuple2<Long, Long>>() {
          public Tuple2<Long, Long> map(Long x) { return Tuple2.of(x % 10, 1L); } })
        .keyBy(new KeySelector<Tuple2<Long, Long>, Long>() {
          public Long getKey(Tuple2<Long, Long> t) { return t.f0; } })
        .reduce(new ReduceFunction<Tuple2<Long, Long>>() {
          public Tuple2<Long, Long> reduce(Tuple2<Long, Long> a, Tuple2<Long, Long> b) {
            return Tuple2.of(a.f0, a.f1 + b.f1); } })
        .writeAsText(args[0]);
    env.execute("newspipe-smoke");
  }
}
"""


def test_flink_cluster_runs_a_job(rs, flink_cluster, tmp_path: Path) -> None:
    """A Flink job of our own, compiled here against the cluster's flink-dist jar and submitted with
    `flink run`: the JobManager schedules it on the TaskManager's two slots and it finishes."""
    if shutil.which("javac") is None or shutil.which("jar") is None:
        rs.unavailable("no `javac`/`jar` on PATH (a JDK) to build the smoke job")
    src = tmp_path / "src"
    src.mkdir()
    (src / "NewspipeSmoke.java").write_text(SMOKE_JOB)
    classpath = ":".join(str(j) for j in sorted((flink_cluster.home / "lib").glob("*.jar")))
    subprocess.run(["javac", "-nowarn", "-cp", classpath, "-d", str(src), str(src / "NewspipeSmoke.java")],
                   check=True, capture_output=True, timeout=300)
    job_jar = tmp_path / "smoke.jar"
    subprocess.run(["jar", "--create", "--file", str(job_jar), "--main-class", "NewspipeSmoke", "-C", str(src), "."],
                   check=True, capture_output=True, timeout=120)

    out, n = tmp_path / "counts", 50_000
    before = flink_cluster.rest("/overview")["jobs-finished"]
    t0 = time.monotonic()
    proc = subprocess.run([str(flink_cluster.home / "bin" / "flink"), "run", "-m", flink_cluster.master, "-p", "2",
                           str(job_jar), f"file://{out}", str(n)],
                          check=False, env=flink_cluster.env(), cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{flink_cluster.logs()}"
    files = [out] if out.is_file() else [f for f in out.rglob("*") if f.is_file() and not f.name.startswith(".")]
    counts = dict(tuple(map(int, line.strip("()").split(","))) for f in files for line in f.read_text().splitlines())
    assert counts == {d: n // 10 for d in range(10)}
    assert flink_cluster.rest("/overview")["jobs-finished"] == before + 1
    jobs = flink_cluster.rest("/jobs/overview")["jobs"]
    assert any(j["name"] == "newspipe-smoke" and j["state"] == "FINISHED" for j in jobs), jobs
    print(f"flink smoke job: {time.monotonic() - t0:.1f}s")


def test_flink_seeds_match_direct(rs, flink_args: list[str], direct_seeds, tmp_path: Path) -> None:
    flink = rs.run(f"{rs.SEEDS}/*", tmp_path / "out", flink_args, "seeds FlinkRunner (session cluster)")
    rs.assert_equivalent(direct_seeds.output, flink.output, "seeds: FlinkRunner vs DirectRunner")


@pytest.mark.scale
def test_flink_synth_matches_direct(rs, flink_args: list[str], direct_synth, synth_corpus: Path,
                                    tmp_path: Path) -> None:
    flink = rs.run(f"{synth_corpus}/*", tmp_path / "out", flink_args, f"synth {rs.SYNTH_ARTICLES} FlinkRunner")
    rs.assert_equivalent(direct_synth.output, flink.output, f"synth {rs.SYNTH_ARTICLES}: FlinkRunner vs DirectRunner")
