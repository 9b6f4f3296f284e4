"""Beam batch pipelines on a real dask.distributed cluster: Beam 2.77's DaskRunner with its corrections.

`runner: dask` (config/dask.yaml) selects `DaskRunner` below; Beam's own `--dask_client_address HOST:PORT`
names the scheduler (without it dask starts a LocalCluster inside this process). Batch only: stateful DoFns,
timers, splittable DoFns and streaming are refused with one line that points at `runner: prism`.

How a pipeline runs here: every PCollection is a list of dask tasks ("partitions"), each computing a list of
`WindowedValue`s, so timestamps and windows travel with the elements. A ParDo is one task per partition that
returns its outputs per tag *and* the metrics it counted; GroupByKey and Reshuffle are all-to-all shuffles
keyed by the coder bytes of the key; all leaves and all metrics are computed in one `client.compute`.

Each correction of `apache_beam.runners.dask` is a function or class below whose docstring names the Beam
behaviour it corrects and the test that pins it (tests/scale/test_dask_*.py), so that it can be proposed
upstream one by one. `DaskRunner` keeps Beam's option parsing (`DaskOptions`), client creation and graph
overrides (`dask_overrides()`), and replaces the translation and the result.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.coders import coders, typecoders
from apache_beam.internal import pickler
from apache_beam.metrics.execution import MetricKey, MetricResult, MetricsContainer
from apache_beam.metrics.metric import MetricResults
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor
from apache_beam.runners.common import DoFnRunner, DoFnSignature, Receiver
from apache_beam.runners.dask.dask_runner import DaskOptions
from apache_beam.runners.dask.dask_runner import DaskRunner as BeamDaskRunner
from apache_beam.runners.dask.dask_runner import DaskRunnerResult
from apache_beam.runners.dask.overrides import _Create, _Flatten, _GroupByKeyOnly, _Read, _Reshuffle, dask_overrides
from apache_beam.runners.runner import PipelineState
from apache_beam.runners.worker import statesampler
from apache_beam.transforms.sideinputs import SideInputMap
from apache_beam.transforms.window import GlobalWindow, GlobalWindows, TimestampedValue
from apache_beam.typehints import trivial_inference
from apache_beam.utils import counters as beam_counters
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.config import ConfigError

log = logging.getLogger(__name__)

RUNNER_PATH = "pipeline.runners.dask.DaskRunner"


class DaskUnsupported(ConfigError):
    """A pipeline feature this runner does not execute; the message is one line naming the way out."""


class DaskUnreachable(ConfigError):
    """The scheduler named by --dask_client_address does not answer (an environment error: the run fails)."""


def _refuse(what: str) -> DaskUnsupported:
    return DaskUnsupported(f"runner: dask runs batch pipelines only and cannot run {what}; use runner: prism")


class NewspipeDaskOptions(PipelineOptions):
    """Options this runner adds to Beam's `DaskOptions` (`--dask_client_address`, `--dask_npartitions`, ...)."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--dask_task_retries", type=int, default=0,
            help="How often dask re-runs a task whose user code raised (a task on a worker that died is "
                 "always re-run, up to distributed.scheduler.allowed-failures times).")


# ------------------------------------------------------------------------------------------------ worker side

_LOCK = threading.Lock()
_IDLE: dict[tuple[str, str], list["_DoFnInstance"]] = {}  # (job, step) -> DoFn instances set up, not in use
_ALL: dict[str, list["_DoFnInstance"]] = {}  # job -> every instance made in this worker process
_THREAD = threading.local()


@dataclass
class _DoFnInstance:
    fn: Any
    args: Sequence[Any]
    kwargs: dict[str, Any]
    windowing: Any
    side_specs: list[tuple[Any, dict[str, Any]]]
    tags: list[str | None]
    set_up: bool = False
    sides: tuple[Any, list[SideInputMap]] | None = None  # (the partitions they were made of, the maps)

    def side_maps(self, sides: list[list[list[WindowedValue]]]) -> list[SideInputMap]:
        """The side inputs of a bundle, materialised once per instance while their partitions stay the same.

        Corrects: a side input made anew for every partition (as Beam's DaskRunner would, were it to support
        them) rebuilds the view, and whatever a DoFn derives from it (an index of the run's story records),
        once per bundle instead of once per worker. dask hands every task on a worker the same partition
        objects, so their identities (held here, so they stay valid) tell when a view can be reused.
        Pinned by test_dask_runner.py::test_side_input_built_once_per_worker.
        """
        if self.sides is None or len(self.sides[0]) != len(sides) or any(
                len(a) != len(b) or any(x is not y for x, y in zip(a, b)) for a, b in zip(self.sides[0], sides)):
            maps = [SideInputMap(view, options, list(itertools.chain.from_iterable(parts)))
                    for (view, options), parts in zip(self.side_specs, sides)]
            self.sides = (sides, maps)
        return self.sides[1]


def _acquire(job: str, step: str, payload: bytes) -> _DoFnInstance:
    """One set-up DoFn instance per worker thread and step, reused by every bundle of the job.

    Corrects: Beam's `apply_dofn_to_bundle` calls `setup()` and `teardown()` around every partition, so an
    expensive `setup()` (a model load) runs once per partition instead of once per worker, against the DoFn
    contract. Pinned by tests/scale/test_dask_runner.py::test_setup_once_per_worker.
    """
    with _LOCK:
        idle = _IDLE.setdefault((job, step), [])
        if idle:
            return idle.pop()
    fn, args, kwargs, windowing, side_specs, tags = pickler.loads(payload)
    inst = _DoFnInstance(fn, args, kwargs, windowing, side_specs, tags)
    with _LOCK:
        _ALL.setdefault(job, []).append(inst)
    return inst


def _release(job: str, step: str, inst: _DoFnInstance) -> None:
    with _LOCK:
        _IDLE.setdefault((job, step), []).append(inst)


def _end_job(job: str) -> int:
    """Run on every worker when a job ends: teardown() each DoFn instance once, forget the job."""
    with _LOCK:
        instances = _ALL.pop(job, [])
        for key in [k for k in _IDLE if k[0] == job]:
            del _IDLE[key]
    for inst in instances:
        if inst.set_up:
            try:
                inst.fn.teardown()
            except Exception:  # noqa: BLE001 - teardown is best effort, as in every Beam runner
                log.warning("teardown of %s failed", type(inst.fn).__name__, exc_info=True)
    return len(instances)


class _Part(list):
    """The elements of one partition, as every task here returns them.

    Corrects: Beam's DaskRunner keeps partitions as dask Bags of bare Python lists, and distributed
    serialises a plain `list` element by element when a partition moves between workers (one header,
    frame and `pickle.dumps` per WindowedValue, plus a module lookup each): on newspipe that was a third
    of the workers' CPU. A list subclass is pickled in one call, its items in C.
    Pinned by test_dask_runner.py::test_partitions_move_as_one_pickle.
    """

    __slots__ = ()


class _ListReceiver(Receiver):
    def __init__(self, out: list[WindowedValue]) -> None:
        self.out = out

    def receive(self, windowed_value: WindowedValue) -> None:
        self.out.append(windowed_value)


class _DropReceiver(Receiver):
    def receive(self, windowed_value: WindowedValue) -> None:
        pass  # an output tag no transform consumes: dropped, as in Beam's DirectRunner


class _Receivers(dict):
    """Receivers of one bundle, one list per output tag; the main output is tag None."""

    def __missing__(self, tag: Any) -> Receiver:
        return _DropReceiver()


def _bundle_metrics(step: str) -> tuple[MetricsContainer, Any]:
    """A fresh metrics container made current for this thread; Beam counters in the DoFn land in it.

    Corrects: Beam's DaskRunnerResult.metrics() raises `NotImplementedError: collecting metrics will come
    later!`. Here every ParDo task returns the metrics it counted together with its outputs, so the counts
    come only from task attempts whose results dask kept (a task re-run after a worker died, or its result
    lost with the worker, is counted once). Pinned by test_dask_runner.py::test_metrics_once_per_element_under_retry.
    """
    container = MetricsContainer(step)
    sampler = statesampler.StateSampler(step, beam_counters.CounterFactory())  # fresh: it caches its states
    statesampler.set_current_tracker(sampler)
    return container, sampler.scoped_state(step, "process", metrics_container=container)


def _run_pardo(job: str, step: str, payload: bytes, elements: list[WindowedValue],
               sides: list[list[list[WindowedValue]]]) -> dict[str, Any]:
    """Run one bundle (a partition) of a ParDo; returns {"outputs": {tag: [...]}, "metrics": MetricUpdates}.

    Corrects: Beam's ParDo translation shares one receiver list between all output tags and all partitions,
    unwraps main outputs to bare values but tagged ones to WindowedValues, and reads the list before
    `finish_bundle()`: tagged outputs (dead letters) end up in the main output, windows and timestamps are
    lost, and whatever finish_bundle emits is dropped (WriteToText writes 0 rows). Here each bundle has its
    own receivers, one list per tag, read after finish_bundle.
    Pinned by test_dask_runner.py::test_multi_output_pardo_keeps_tags and ::test_finish_bundle_outputs_kept.
    """
    inst = _acquire(job, step, payload)
    buffers: dict[str | None, list[WindowedValue]] = {tag: _Part() for tag in inst.tags}
    receivers = _Receivers({tag: _ListReceiver(buf) for tag, buf in buffers.items()})
    side_maps = inst.side_maps(sides)
    previous = statesampler.get_current_tracker()
    container, scope = _bundle_metrics(step)
    try:
        with scope:
            runner = DoFnRunner(inst.fn, inst.args, inst.kwargs, side_maps, inst.windowing, receivers, step_name=step)
            if not inst.set_up:
                runner.setup()
                inst.set_up = True
            runner.start()
            for wv in elements:
                runner.process(wv)
            runner.finish()
    finally:
        statesampler.set_current_tracker(previous)
    _release(job, step, inst)  # only after a successful bundle: a failed instance is not reused
    return {"outputs": buffers, "metrics": container.get_cumulative()}


def _output(result: dict[str, Any], tag: str | None) -> list[WindowedValue]:
    return result["outputs"][tag]


def _metrics(result: dict[str, Any]) -> Any:
    return result["metrics"]


def _create(payload: bytes) -> list[WindowedValue]:
    return _Part(GlobalWindows.windowed_value(v) for v in pickler.loads(payload))


def _impulse() -> list[WindowedValue]:
    return _Part([GlobalWindows.windowed_value(b"")])


def _read_bundle(payload: bytes) -> list[WindowedValue]:
    """Read one split of a BoundedSource.

    Corrects: Beam's DaskRunner replaces `beam.io.Read` with `_Read` but has no translation for it (nor for
    Impulse), so ReadFromText/ReadFromParquet produce nothing. Here the source is split on the client into
    about one bundle per partition and each bundle is read by its own task.
    Pinned by test_dask_runner.py::test_read_and_write_text.
    """
    bundle = pickler.loads(payload)
    tracker = bundle.source.get_range_tracker(bundle.start_position, bundle.stop_position)
    out = _Part()
    for value in bundle.source.read(tracker):
        if isinstance(value, WindowedValue):
            out.append(value)
        elif isinstance(value, TimestampedValue):
            out.append(WindowedValue(value.value, value.timestamp, (GlobalWindow(),)))
        else:
            out.append(GlobalWindows.windowed_value(value))
    return out


def _key_bytes(coder: coders.Coder, key: Any) -> bytes:
    return coder.encode(key)


def _split_by_key(payload: bytes, n: int, elements: list[WindowedValue]) -> tuple[list[Any], ...]:
    """Shuffle map side: (encoded key, key, [reified values]) into bucket crc32(encoded key) % n, the
    values of a key already gathered in this partition (a key sent once per partition, not once per
    value: the story stage's ~224 candidate keys per article repeat a lot; 3,000 articles on 2 workers
    took 90 s instead of 105).

    Corrects: Beam's GroupByKey translation (`dask.bag.groupby`) hashes keys with Python's `hash()`, which
    differs between worker processes (PYTHONHASHSEED), and drops the windows the values were reified with.
    Here the key's deterministic coder bytes decide the bucket and the equality, and the values keep their
    windows for `_GroupAlsoByWindow`. Pinned by test_dask_runner.py::test_group_by_key_across_workers.
    """
    coder = pickler.loads(payload)
    groups: list[dict[bytes, tuple[Any, list[Any]]]] = [{} for _ in range(n)]
    for wv in elements:
        key, value = wv.value
        encoded = _key_bytes(coder, key)
        group = groups[zlib.crc32(encoded) % n]
        entry = group.get(encoded)
        if entry is None:
            group[encoded] = (key, [value])
        else:
            entry[1].append(value)
    return tuple(_Part((encoded, key, values) for encoded, (key, values) in g.items()) for g in groups)


def _merge_groups(*buckets: list[Any]) -> list[WindowedValue]:
    """Shuffle reduce side: (key, [reified values]) per key, in a deterministic order (input order)."""
    groups: dict[bytes, tuple[Any, list[Any]]] = {}
    for bucket in buckets:
        for encoded, key, values in bucket:
            entry = groups.get(encoded)
            if entry is None:
                groups[encoded] = (key, list(values))
            else:
                entry[1].extend(values)
    return _Part(GlobalWindows.windowed_value((key, values)) for key, values in groups.values())


def _split_round_robin(offset: int, n: int, elements: list[WindowedValue]) -> tuple[list[WindowedValue], ...]:
    """Reshuffle map side: element i of input partition p goes to partition (p + i) % n.

    Corrects: Beam's DaskRunner translates Reshuffle as a no-op, so a pipeline that starts from a small
    Create (a list of files) runs entirely in the one partition Create made (`partition_size` >= 128) and on
    one worker. Here Reshuffle redistributes its elements over the cluster's partitions.
    Pinned by test_dask_runner.py::test_reshuffle_spreads_work_over_workers.
    """
    buckets: tuple[list[WindowedValue], ...] = tuple(_Part() for _ in range(n))
    for i, wv in enumerate(elements):
        buckets[(offset + i) % n].append(wv)
    return buckets


def _concat(*parts: list[WindowedValue]) -> list[WindowedValue]:
    return _Part(wv for part in parts for wv in part)


def _count(part: list[Any]) -> int:
    return len(part)


# ------------------------------------------------------------------------------------------------ translation

@dataclass
class _Graph:
    """The dask graph being built: partitions per PCollection, and what the client must compute."""

    job: str
    parallelism: int
    partition_size: int | None
    workers: list[str] = field(default_factory=list)  # worker addresses, one per thread, in a stable order
    parts: dict[Any, list[Any]] = field(default_factory=dict)
    metrics: list[Any] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)
    produced: list[Any] = field(default_factory=list)
    _n: Any = field(default_factory=itertools.count)

    def key(self, label: str) -> str:
        safe = "".join(c if c.isalnum() else "-" for c in label)[:60].strip("-") or "step"
        return f"{safe}-{self.job[:8]}-{next(self._n)}"


def _deterministic_key_coder(node: AppliedPTransform) -> coders.Coder:
    input_type = node.inputs[0].element_type
    try:
        key_type, _ = trivial_inference.key_value_types(input_type)
        coder = typecoders.registry.get_coder(key_type)
    except Exception:  # noqa: BLE001 - an untyped input: pickle-free primitives coder
        coder = coders.FastPrimitivesCoder()
    try:
        return coder.as_deterministic_coder(node.full_label)
    except ValueError:
        return coder


class _Translator(PipelineVisitor):
    """Beam primitives → dask Delayed tasks.

    Corrects: Beam's DaskBagVisitor looks translations up by exact class (`TRANSLATIONS.get(cls, NoOp)`),
    so ParDo subclasses (`WindowInto`, `_GroupAlsoByWindow`) silently become no-ops (FixedWindows are
    dropped, every element lands in the GlobalWindow at timestamp 0) and any other untranslated primitive
    passes its input through unnoticed. Here ParDo subclasses run as ParDos and an unknown primitive is an
    error naming it. Pinned by test_dask_runner.py::test_fixed_windows_and_timestamps_kept.
    """

    def __init__(self, graph: _Graph) -> None:
        self.g = graph

    def visit_transform(self, node: AppliedPTransform) -> None:
        import dask

        g, t = self.g, node.transform
        for pc in node.inputs:
            g.consumed.add(id(pc))
        for si in node.side_inputs:
            g.consumed.add(id(si.pvalue))
        for pc in node.outputs.values():
            if isinstance(pc, pvalue.PCollection) and not pc.is_bounded:
                raise _refuse(f"the unbounded PCollection of {node.full_label!r} (streaming)")
        inputs = [g.parts[id(pc)] for pc in node.inputs if not isinstance(pc, pvalue.PBegin)]
        task = lambda fn: dask.delayed(fn, pure=False)  # noqa: E731 - keys are named explicitly below

        if isinstance(t, beam.Impulse):
            out = [task(_impulse)(dask_key_name=g.key(node.full_label))]
        elif isinstance(t, _Create):
            out = self._create(node, list(t.values))
        elif isinstance(t, _Read):
            out = self._read(node, t.source)
        elif isinstance(t, _Flatten):
            out = [part for parts in inputs for part in parts]
        elif isinstance(t, _Reshuffle):
            out = self._shuffle(node, inputs[0], None)
        elif isinstance(t, _GroupByKeyOnly):
            out = self._shuffle(node, inputs[0], _deterministic_key_coder(node))
        elif isinstance(t, beam.ParDo):
            self._pardo(node, inputs[0])
            return
        else:
            raise DaskUnsupported(
                f"runner: dask has no translation for {type(t).__name__} ({node.full_label!r}); use runner: prism")
        (pc,) = node.outputs.values()
        self._set(pc, out)

    def _set(self, pc: Any, parts: list[Any]) -> None:
        self.g.parts[id(pc)] = parts
        self.g.produced.append(pc)

    def _create(self, node: AppliedPTransform, values: list[Any]) -> list[Any]:
        """Corrects: Beam's Create puts at least 128 elements in a partition, so a Create of a few file
        names is one partition and one task: here it makes up to one partition per cluster slot."""
        import dask

        g = self.g
        if g.partition_size:
            n = max(1, -(-len(values) // g.partition_size))
        else:
            n = max(1, min(len(values), g.parallelism))
        size = -(-len(values) // n) if values else 0
        chunks = [values[i * size:(i + 1) * size] for i in range(n)] if values else [[]]
        return [dask.delayed(_create, pure=False)(pickler.dumps(chunk), dask_key_name=g.key(node.full_label))
                for chunk in chunks]

    def _read(self, node: AppliedPTransform, source: Any) -> list[Any]:
        import dask

        g = self.g
        try:
            size = int(source.estimate_size() or 0)
        except Exception:  # noqa: BLE001 - a source that cannot estimate: Beam's default bundle size
            size = 0
        desired = max(1 << 20, size // max(1, g.parallelism)) if size else 64 << 20
        bundles = list(source.split(desired_bundle_size=desired))
        return [dask.delayed(_read_bundle, pure=False)(pickler.dumps(b), dask_key_name=g.key(node.full_label))
                for b in bundles]

    def _shuffle(self, node: AppliedPTransform, parts: list[Any], key_coder: coders.Coder | None) -> list[Any]:
        import dask

        g, n = self.g, self.g.parallelism
        splits = []
        coder_payload = pickler.dumps(key_coder) if key_coder is not None else b""
        for p, part in enumerate(parts):
            if key_coder is None:
                split = dask.delayed(_split_round_robin, pure=False, nout=n)(
                    p, n, part, dask_key_name=g.key(node.full_label + "-split"))
            else:
                split = dask.delayed(_split_by_key, pure=False, nout=n)(
                    coder_payload, n, part, dask_key_name=g.key(node.full_label + "-split"))
            splits.append(split)
        merge = _concat if key_coder is None else _merge_groups
        out = []
        for j in range(n):
            # Partition j prefers worker slot j: the shuffle's output (and the ParDos that follow it, which run
            # where their input is) spreads over the cluster even when the inputs sat on one worker. Loose: a
            # busy or lost worker's share goes elsewhere.
            preferred = [g.workers[j % len(g.workers)]] if g.workers else None
            with dask.annotate(workers=preferred, allow_other_workers=True):
                out.append(dask.delayed(merge, pure=False)(*[s[j] for s in splits],
                                                           dask_key_name=g.key(node.full_label)))
        return out

    def _pardo(self, node: AppliedPTransform, parts: list[Any]) -> None:
        """Corrects: Beam's translation builds the DoFn invoker from objects that dask's cloudpickle
        serialises itself, by value where it sees fit; with newspipe's DoFns that fails with `TypeError:
        Could not serialize object of type _HLGExprSequence` (a module-level lock reached through a model
        loader). Here the DoFn, its arguments and windowing are pickled once on the client with Beam's own
        pickler, as every other Beam runner ships them, and dask only moves bytes.
        Pinned by test_dask_equivalence.py::test_seeds_match_local_runner (the real NER/topic stages)."""
        import dask

        g, t = self.g, node.transform
        fn = t.fn
        signature = DoFnSignature(fn)
        if signature.is_stateful_dofn():
            raise _refuse(f"the stateful DoFn in {node.full_label!r}")
        if signature.has_timers():
            raise _refuse(f"the timers of {node.full_label!r}")
        if signature.is_splittable_dofn():
            raise _refuse(f"the splittable DoFn in {node.full_label!r}")
        tags = list(node.outputs)
        main_tag = getattr(node, "main_output_tag", None)
        side_specs = [(type(si), si._view_options()) for si in node.side_inputs]
        side_parts = [g.parts[id(si.pvalue)] for si in node.side_inputs]
        receiver_tags = [None if tag == main_tag else tag for tag in tags]
        try:
            windowing = node.inputs[0].windowing
        except AttributeError:  # the output of Beam's _Read override, which declares no windowing
            windowing = beam.Windowing(GlobalWindows())
        payload = dask.delayed(pickler.dumps((fn, t.args, t.kwargs, windowing, side_specs, receiver_tags)),
                               name=g.key(node.full_label + "-fn"))
        step = node.full_label
        results = [dask.delayed(_run_pardo, pure=False)(g.job, step, payload, part, side_parts,
                                                         dask_key_name=g.key(step))
                   for part in parts]
        g.metrics.extend(dask.delayed(_metrics, pure=False)(r, dask_key_name=g.key(step + "-metrics"))
                         for r in results)
        for tag, receiver_tag in zip(tags, receiver_tags):
            self._set(node.outputs[tag], [dask.delayed(_output, pure=False)(r, receiver_tag,
                                                                            dask_key_name=g.key(step + "-out"))
                                          for r in results])


# ------------------------------------------------------------------------------------------------ result

class CommittedMetrics(MetricResults):
    """Metrics merged from the results of the task attempts dask kept: `committed` counts each element once
    (attempted is reported equal to committed: a failed attempt's counts are never seen by the client)."""

    def __init__(self, updates: Iterable[Any]) -> None:
        self._cells: dict[str, dict[MetricKey, Any]] = {
            self.COUNTERS: {}, self.DISTRIBUTIONS: {}, self.GAUGES: {}, self.STRINGSETS: {}}
        for update in updates:
            for kind, values in ((self.COUNTERS, update.counters), (self.DISTRIBUTIONS, update.distributions),
                                 (self.GAUGES, update.gauges), (self.STRINGSETS, update.string_sets)):
                cells = self._cells[kind]
                for key, value in values.items():
                    cells[key] = value if key not in cells else (
                        cells[key] + value if kind == self.COUNTERS else cells[key].combine(value))

    def query(self, filter: Any = None) -> dict[str, list[MetricResult]]:
        out: dict[str, list[MetricResult]] = {self.BOUNDED_TRIES: [], self.HISTOGRAMS: []}
        for kind, cells in self._cells.items():
            results = []
            for key, value in cells.items():
                if self.matches(filter, key):
                    final = value.get_result() if hasattr(value, "get_result") else value
                    results.append(MetricResult(key, final, final))
            out[kind] = results
        return out


@dataclass
class DaskPipelineResult(DaskRunnerResult):
    """Waits for every leaf and every metric; tears the job's DoFns down on the workers; closes the client.

    Corrects: Beam's DaskRunner computes only the last Bag the visitor produced ("connected to the full
    task graph", which it is not when a pipeline has several sinks: the others write 0 rows), and never
    closes its client. Pinned by test_dask_runner.py::test_every_leaf_is_computed.
    """

    job: str = ""
    n_metrics: int = 0
    _metrics: CommittedMetrics | None = None

    def wait_until_finish(self, duration: Any = None) -> str:
        if PipelineState.is_terminal(self._state):
            return self._state
        import dask.distributed as ddist

        updates: list[Any] = []
        metric_keys = {f.key for f in self.futures[: self.n_metrics]}
        try:
            timeout = duration / 1000 if duration is not None else None
            for future, value in ddist.as_completed(self.futures, loop=self.client.loop, timeout=timeout,
                                                       with_results=True):
                if future.key in metric_keys:
                    updates.append(value)
            self._metrics = CommittedMetrics(updates)
            self._state = PipelineState.DONE
        except BaseException:
            self._state = PipelineState.FAILED
            self.client.cancel(self.futures)
            raise
        finally:
            self._close()
        return self._state

    def _close(self) -> None:
        try:
            self.client.run(_end_job, self.job)
        except Exception:  # noqa: BLE001 - a worker gone at the end: nothing left to tear down there
            log.debug("teardown on the workers failed", exc_info=True)
        self.client.close()

    def metrics(self) -> CommittedMetrics:
        if self._metrics is None:
            raise RuntimeError("metrics are available once wait_until_finish() returned")
        return self._metrics


class DaskRunner(BeamDaskRunner):
    """Beam's DaskRunner with the corrections of this module; name it `pipeline.runners.dask.DaskRunner`
    (newspipe's `runner: dask` does).

    Corrects: Beam 2.77 does not list DaskRunner among its known runners, so `--runner=DaskRunner` fails and
    it must be named by its full class path (`apache_beam.runners.dask.dask_runner.DaskRunner`). Pinned by
    tests/scale/test_dask_runner.py::test_runner_dask_from_config.
    """

    def run_pipeline(self, pipeline: beam.Pipeline, options: PipelineOptions) -> DaskPipelineResult:
        import dask.distributed as ddist

        if options.view_as(StandardOptions).streaming:
            raise _refuse("a streaming pipeline")
        dask_options = options.view_as(DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = DaskOptions._extract_bag_kwargs(dask_options)
        retries = options.view_as(NewspipeDaskOptions).dask_task_retries
        pipeline.replace_all(dask_overrides())
        try:
            client = ddist.Client(set_as_default=False, **dask_options)
        except (OSError, TimeoutError) as exc:
            where = dask_options.get("address") or dask_options.get("scheduler_file") or "a new LocalCluster"
            raise DaskUnreachable(f"cannot reach the dask scheduler at {where} ({type(exc).__name__}): start "
                                  "`dask scheduler` and `dask worker`s, or fix --dask_client_address") from None
        try:
            slots = sorted(addr for addr, threads in client.nthreads().items() for _ in range(threads))
            parallelism = bag_kwargs.get("npartitions") or 2 * max(1, len(slots))
            graph = _Graph(uuid.uuid4().hex, parallelism, bag_kwargs.get("partition_size"), slots)
            pipeline.visit(_Translator(graph))
            leaves = [dask_delayed_count(part) for pc in graph.produced if id(pc) not in graph.consumed
                      for part in graph.parts[id(pc)]]
            log.info("dask job %s: %d partitions per stage, %d tasks to collect on %s", graph.job[:8],
                     parallelism, len(graph.metrics) + len(leaves), client.scheduler.address)
            futures = client.compute([*graph.metrics, *leaves], retries=retries)
        except BaseException:
            client.close()
            raise
        return DaskPipelineResult(client, futures, job=graph.job, n_metrics=len(graph.metrics))


def dask_delayed_count(part: Any) -> Any:
    import dask

    return dask.delayed(_count, pure=False)(part)
