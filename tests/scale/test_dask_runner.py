"""Each correction in pipeline/runners/dask.py, pinned with a small pipeline on the real cluster that
tests/run.sh starts (a `dask scheduler` and 2 `dask worker` processes, NEWSPIPE_TEST_DASK_ADDRESS).

The test process is the dask client; the DoFns below run in the worker processes (this module is pickled
by value, since the workers cannot import a test module). Results are checked with Beam's assert_that, which
runs on the workers too and fails the job (and so the test) on a mismatch or an empty output.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import apache_beam as beam
import pytest
from apache_beam.internal.cloudpickle import cloudpickle as beam_cloudpickle
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to
from apache_beam.transforms import userstate, window

pytestmark = pytest.mark.runners
beam_cloudpickle.register_pickle_by_value(sys.modules[__name__])

RUNNER = "pipeline.runners.dask.DaskRunner"


def run(address: str, build: Callable[[beam.Pipeline], Any], *flags: str) -> dict[str, int]:
    """Run `build` on the cluster at `address`; returns the committed counters by name."""
    p = beam.Pipeline(options=PipelineOptions([f"--runner={RUNNER}", f"--dask_client_address={address}", *flags]))
    build(p)
    result = p.run()
    assert result.wait_until_finish() == "DONE"
    return {c.key.metric.name: c.committed for c in result.metrics().query()["counters"]}


class SplitTens(beam.DoFn):
    def process(self, x: int):
        if x % 10 == 0:
            yield beam.pvalue.TaggedOutput("tens", x)
        else:
            yield x


def test_runner_dask_from_config(dask_address: str) -> None:
    """`runner: dask` names this module's runner by its class path; Beam's short name is not registered."""
    from apache_beam.runners.dask.dask_runner import DaskRunner as BeamDaskRunner
    from apache_beam.runners.runner import create_runner

    from pipeline.config import load_config
    from pipeline.run import pipeline_options

    root = Path(__file__).resolve().parents[2]
    options = pipeline_options(load_config(root / "config" / "dask.yaml"), ["--dask_client_address", dask_address])
    assert options.get_all_options()["runner"] == RUNNER
    assert isinstance(create_runner(RUNNER), BeamDaskRunner)
    with pytest.raises(ValueError):
        create_runner("DaskRunner")


def test_multi_output_pardo_keeps_tags(dask_address: str) -> None:
    def build(p: beam.Pipeline) -> None:
        out = p | beam.Create(range(100)) | beam.Reshuffle() | beam.ParDo(SplitTens()).with_outputs("tens", main="rest")
        assert_that(out.rest, equal_to([x for x in range(100) if x % 10]), label="Rest")
        assert_that(out.tens, equal_to(list(range(0, 100, 10))), label="Tens")

    run(dask_address, build)


def test_every_leaf_is_computed(dask_address: str, tmp_path: Path) -> None:
    """Two sinks: both write (Beam's runner computed only the last Bag, the other sink wrote 0 rows)."""

    def build(p: beam.Pipeline) -> None:
        out = p | beam.Create(range(100)) | beam.ParDo(SplitTens()).with_outputs("tens", main="rest")
        out.rest | "WriteRest" >> beam.Map(str) | "TextRest" >> beam.io.WriteToText(str(tmp_path / "rest"))
        out.tens | "WriteTens" >> beam.Map(str) | "TextTens" >> beam.io.WriteToText(str(tmp_path / "tens"))

    run(dask_address, build)

    def lines(prefix: str) -> list[int]:
        return sorted(int(line) for f in tmp_path.glob(f"{prefix}-*") for line in f.read_text().split())

    assert lines("rest") == [x for x in range(100) if x % 10]
    assert lines("tens") == list(range(0, 100, 10))


class EmitAtFinish(beam.DoFn):
    def start_bundle(self) -> None:
        self.seen: list[int] = []

    def process(self, x: int):
        self.seen.append(x)

    def finish_bundle(self):
        for x in self.seen:
            yield window.GlobalWindows.windowed_value(x * 2)


def test_finish_bundle_outputs_kept(dask_address: str) -> None:
    def build(p: beam.Pipeline) -> None:
        doubled = p | beam.Create(range(50)) | beam.Reshuffle() | beam.ParDo(EmitAtFinish())
        assert_that(doubled, equal_to([x * 2 for x in range(50)]))

    run(dask_address, build, "--dask_npartitions=4")


def test_read_and_write_text(dask_address: str, tmp_path: Path) -> None:
    """ReadFromText (a Read transform, split into bundles) and WriteToText (finish_bundle) on the workers."""
    source = tmp_path / "in.txt"
    source.write_text("".join(f"line {i}\n" for i in range(5000)))

    def build(p: beam.Pipeline) -> None:
        lines = p | beam.io.ReadFromText(str(source))
        assert_that(lines, equal_to([f"line {i}" for i in range(5000)]), label="ReadAll")
        lines | beam.Map(str.upper) | beam.io.WriteToText(str(tmp_path / "out"), num_shards=3)

    run(dask_address, build)
    written = sorted(line for f in tmp_path.glob("out-*") for line in f.read_text().splitlines())
    assert written == sorted(f"LINE {i}" for i in range(5000))
    assert len(list(tmp_path.glob("out-*-of-00003"))) == 3


def test_fixed_windows_and_timestamps_kept(dask_address: str) -> None:
    def window_of(kv: tuple[str, list[int]], w: Any = beam.DoFn.WindowParam) -> tuple[int, list[int]]:
        return int(w.start), sorted(kv[1])

    def build(p: beam.Pipeline) -> None:
        stamped = (p | beam.Create(range(30)) | beam.Reshuffle()
                   | beam.Map(lambda x: window.TimestampedValue(x, x * 60)))
        assert_that(stamped | beam.Map(lambda x, ts=beam.DoFn.TimestampParam: (x, int(ts))),
                    equal_to([(x, x * 60) for x in range(30)]), label="Timestamps")
        windows = (stamped | beam.WindowInto(window.FixedWindows(600)) | beam.Map(lambda x: ("k", x))
                   | beam.GroupByKey() | beam.Map(window_of))
        expected = [(start, list(range(start // 60, start // 60 + 10))) for start in (0, 600, 1200)]
        assert_that(windows, equal_to(expected), label="Windows")

    run(dask_address, build)


def test_side_inputs_and_combiners(dask_address: str) -> None:
    """AsDict/AsList side inputs (the stories stage uses AsDict) reach every bundle; CombinePerKey groups."""

    def build(p: beam.Pipeline) -> None:
        names = p | "Names" >> beam.Create([(i, f"name-{i}") for i in range(20)])
        ids = p | "Ids" >> beam.Create(range(200)) | beam.Reshuffle()
        named = ids | beam.Map(lambda i, by_id, every: (by_id[i % 20], len(every)),
                               beam.pvalue.AsDict(names), beam.pvalue.AsList(names))
        counts = named | beam.Map(lambda kv: (kv[0], 1)) | beam.CombinePerKey(sum)
        assert_that(counts, equal_to([(f"name-{i}", 10) for i in range(20)]), label="Counts")
        assert_that(named | beam.Map(lambda kv: kv[1]) | beam.Distinct(), equal_to([20]), label="SideList")

    run(dask_address, build, "--dask_npartitions=4")


class IndexOnce(beam.DoFn):
    """Derives an index from its side input once per side-input object, as _StateEdgesFn does."""

    def setup(self) -> None:
        self._index = None

    def process(self, x: int, names: list[str]):
        if self._index is None or self._index[0] is not names:
            Metrics.counter("test", "index_builds").inc()
            self._index = (names, set(names))
        yield x, f"name-{x % 20}" in self._index[1]


def test_side_input_built_once_per_worker(dask_address: str) -> None:
    """A side input was materialised anew for each of the 16 bundles, so an index a DoFn derives from it
    was rebuilt per bundle; now once per worker (1 thread each)."""

    def build(p: beam.Pipeline) -> None:
        names = p | "Names" >> beam.Create([f"name-{i}" for i in range(20)])
        found = (p | "Ids" >> beam.Create(range(160)) | beam.Reshuffle()
                 | beam.ParDo(IndexOnce(), beam.pvalue.AsList(names)))
        assert_that(found | beam.Map(lambda kv: kv[1]) | beam.Distinct(), equal_to([True]))

    counters = run(dask_address, build, "--dask_npartitions=16")
    assert 1 <= counters["index_builds"] <= 2, counters


def test_partitions_move_as_one_pickle() -> None:
    """distributed serialises a plain list item by item (a header, frames and a pickle each); every
    partition the runner's tasks return is a `_Part`, which goes as one pickle and comes back equal:
    values, timestamps, windows and panes."""
    from apache_beam.coders import coders
    from apache_beam.internal import pickler
    from apache_beam.utils.timestamp import Timestamp
    from apache_beam.utils.windowed_value import PaneInfo, PaneInfoTiming, WindowedValue
    from distributed.protocol.serialize import deserialize, serialize

    from pipeline.runners import dask as runner

    def moved(part: Any) -> Any:
        header, frames = serialize(part)
        assert not header.get("is-collection") and len(frames) <= 2, (header.keys(), len(frames))
        return deserialize(header, frames)

    made = runner._create(pickler.dumps([(f"k{i % 7}", i) for i in range(500)]))
    reified = runner._Part(WindowedValue((k, (v, Timestamp(micros=v), [window.IntervalWindow(v // 100, v // 100 + 1)],
                                               PaneInfo(True, True, PaneInfoTiming.ON_TIME, 0, 0))), 0, [window.GlobalWindow()])
                           for k, v in (wv.value for wv in made))
    splits = runner._split_by_key(pickler.dumps(coders.StrUtf8Coder()), 3, reified)
    windowed = runner._Part(WindowedValue(i, Timestamp(micros=i * 10), [window.IntervalWindow(i // 50, i // 50 + 1)])
                            for i in range(300))
    parts = [made, windowed, runner._merge_groups(*splits), runner._concat(*runner._split_round_robin(1, 3, windowed)),
             *runner._split_round_robin(0, 2, made), runner._impulse()]
    for part in parts:
        assert type(part) is runner._Part
        back = moved(part)
        assert type(back) is runner._Part and back == part
        assert [(wv.timestamp, wv.windows, wv.pane_info) for wv in back] == [
            (wv.timestamp, wv.windows, wv.pane_info) for wv in part]
    for bucket in splits:
        assert type(bucket) is runner._Part and len(bucket) > 0
        back = moved(bucket)
        assert type(back) is runner._Part and back == bucket
    merged = runner._merge_groups(*[moved(b) for b in splits])
    assert sorted((k, sorted(v[0] for v in vs)) for k, vs in (wv.value for wv in merged)) == [
        (f"k{k}", list(range(k, 500, 7))) for k in range(7)]


class CountSetup(beam.DoFn):
    def __init__(self, marks: str) -> None:
        self.marks = marks

    def setup(self) -> None:
        Path(self.marks, f"setup-{os.getpid()}-{time.monotonic_ns()}").touch()

    def start_bundle(self) -> None:
        Metrics.counter("test", "bundles").inc()

    def process(self, x: int):
        time.sleep(0.02)
        yield x


def test_setup_once_per_worker(dask_address: str, tmp_path: Path) -> None:
    """Beam's runner called setup() (and teardown()) around every partition."""
    counters = run(dask_address, lambda p: p | beam.Create(range(64)) | beam.Reshuffle()
                   | beam.ParDo(CountSetup(str(tmp_path))) | beam.Map(lambda x: x), "--dask_npartitions=16")
    setups = list(tmp_path.glob("setup-*"))
    pids = {s.name.split("-")[1] for s in setups}
    assert counters["bundles"] == 16
    assert 1 <= len(setups) == len(pids) <= 2, [s.name for s in setups]  # one per worker process (1 thread each)


def test_group_by_key_across_workers(dask_address: str) -> None:
    """String keys hash differently in every worker process (PYTHONHASHSEED); groups must still be whole."""

    def build(p: beam.Pipeline) -> None:
        grouped = (p | beam.Create(range(2000)) | beam.Reshuffle() | beam.Map(lambda i: (f"key-{i % 97}", i))
                   | beam.GroupByKey() | beam.MapTuple(lambda k, vs: (k, sorted(vs))))
        assert_that(grouped, equal_to([(f"key-{k}", list(range(k, 2000, 97))) for k in range(97)]))

    run(dask_address, build, "--dask_npartitions=8")


@pytest.mark.xfail(strict=False, reason="placement is a loose preference (dask.annotate workers=, "
                   "allow_other_workers): measured 2 of 5 runs on one worker; not reliable yet, see docs/performance.md")
def test_reshuffle_spreads_work_over_workers(dask_address: str) -> None:
    """Eight slow elements from one Create: after Reshuffle both workers take part."""

    def two_processes(pids: list[int]) -> None:
        if len(pids) != 8 or len(set(pids)) < 2:
            raise BeamAssertException(f"work ran in {len(set(pids))} process(es): {pids}")

    def build(p: beam.Pipeline) -> None:
        pids = p | beam.Create(range(8)) | beam.Reshuffle() | beam.Map(lambda x: time.sleep(0.5) or os.getpid())
        assert_that(pids, two_processes)

    run(dask_address, build)


class Stateful(beam.DoFn):
    SEEN = userstate.BagStateSpec("seen", beam.coders.VarIntCoder())

    def process(self, kv: tuple[str, int], seen: Any = beam.DoFn.StateParam(SEEN)):
        seen.add(kv[1])
        yield kv


def test_stateful_dofn_and_streaming_refused(dask_address: str) -> None:
    from pipeline.runners.dask import DaskUnsupported

    with pytest.raises(DaskUnsupported, match="stateful DoFn.*use runner: prism"):
        run(dask_address, lambda p: p | beam.Create([("a", 1)]) | beam.ParDo(Stateful()))
    with pytest.raises(DaskUnsupported, match="streaming.*use runner: prism"):
        run(dask_address, lambda p: p | beam.Create([1]) | beam.Map(str), "--streaming")


class FailFirstAttempt(beam.DoFn):
    """Counts every element, then fails the first attempt of the bundle holding element 0."""

    def __init__(self, marks: str) -> None:
        self.marks = marks

    def setup(self) -> None:
        self.seen = Metrics.counter("test", "seen")

    def start_bundle(self) -> None:
        self.batch: list[int] = []

    def process(self, x: int):
        self.seen.inc()
        self.batch.append(x)
        yield x

    def finish_bundle(self) -> None:
        mark = Path(self.marks, "failed-once")
        if 0 in self.batch and not mark.exists():
            mark.touch()
            raise RuntimeError("first attempt fails after counting its elements")


def test_metrics_once_per_element_under_retry(dask_address: str, tmp_path: Path) -> None:
    """A bundle that counted its elements and then failed is run again (--dask_task_retries): the committed
    count is once per element, not once per attempt."""
    counters = run(dask_address, lambda p: p | beam.Create(range(40)) | beam.Reshuffle()
                   | beam.ParDo(FailFirstAttempt(str(tmp_path))), "--dask_task_retries=1", "--dask_npartitions=4")
    assert (tmp_path / "failed-once").exists()  # the failure did happen
    assert counters["seen"] == 40
