"""Driver for a batch run: resolve inputs, build and run the pipeline, write the run manifest.

The CLI is a thin layer over `run_batch`; tests and benchmarks call it directly.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import platform
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__
from pipeline.config import Config, ConfigError, S3Settings, s3_settings
from pipeline.errors import RunFailed, fatal_cause, systematic_failures
from pipeline.graph import RunContext, build, build_streaming
from pipeline.io.commit import commit_section, commit_staged, discard_staged
from pipeline.io.story_state import commit_story_state, discard_story_state
from pipeline.io.ledger import Ledger
from pipeline.io.replay import ReplayFiles, plan_replay
from pipeline.io.sinks import window_counts, write_manifest
from pipeline.io.sources import InputError, ReadFiles, expand_inputs
from pipeline.io.storage import ObjectInfo, S3Storage, Storage, StorageError, is_s3
from pipeline.lib.ids import new_run_id
from pipeline.transforms.base import METRICS_NAMESPACE

log = logging.getLogger("newspipe")

RUNNER_NAMES = {"direct": "DirectRunner", "prism": "PrismRunner", "flink": "FlinkRunner",
                "dask": "pipeline.runners.dask.DaskRunner"}  # Beam's DaskRunner, corrected (docs/runners.md)
# `runner: direct` means Beam's in-process FnApiRunner, named explicitly: Beam's DirectRunner would
# first try to download a Prism binary (a failed network call per run here) and then pick the
# FnApiRunner anyway. It runs a bounded replay to the end (stage by stage, so event-time results
# are right but nothing is written until the replay is exhausted); a replay that never ends
# (`--loop`) needs a streaming engine: `runner: prism` or `flink`.
LOCAL_ENGINE = "FnApiRunner"


def _flat_fnapi_metrics() -> None:
    """The FnApiRunner folds each bundle's metrics into a lazy generator wrapped around the previous
    one, so a stage that runs more than ~1000 bundles (a paced streaming replay checkpoints often)
    overflows the stack when the metrics are read, and the run reports no counts. Materialising each
    fold keeps the nesting flat; the result is the same."""
    from apache_beam.metrics import monitoring_infos
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    if getattr(fn_runner.consolidate_monitoring_infos, "_newspipe_flat", False):
        return

    def consolidate(infos, key=monitoring_infos.to_key):
        return list(monitoring_infos.consolidate(infos, key))

    consolidate._newspipe_flat = True  # type: ignore[attr-defined]
    fn_runner.consolidate_monitoring_infos = consolidate


_flat_fnapi_metrics()


@dataclass
class RunSummary:
    run_id: str
    output: str
    inputs: int
    articles: int
    dead_letters: int
    dead_letters_by_reason: dict[str, int]
    counters: dict[str, int]
    seconds: float
    manifest_uri: str
    already_present: int = 0
    inputs_skipped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pipeline_options(cfg: Config, beam_args: Sequence[str]) -> PipelineOptions:
    """Beam options from config (`runner`, `beam:`) with command-line Beam flags taking precedence."""
    given = {a.split("=", 1)[0].lstrip("-") for a in beam_args if a.startswith("--")}
    args: list[str] = []
    if "runner" not in given:
        args.append(f"--runner={LOCAL_ENGINE if cfg.runner == 'direct' else RUNNER_NAMES[cfg.runner]}")
    beam_cfg = dict(cfg.beam)
    if cfg.runner in ("prism", "flink"):
        # Beam waits for a portable job's result no longer than job_server_timeout (300 s by default),
        # which kills longer jobs (apache/beam#35867).
        beam_cfg.setdefault("job_server_timeout", 7200)
    for key, value in beam_cfg.items():
        if key not in given:
            if isinstance(value, str):  # paths in config may use ~ and $VARS (e.g. a cached Prism binary)
                value = os.path.expandvars(os.path.expanduser(value))
            args.append(f"--{key}={value}")
    options = PipelineOptions(args + list(beam_args))
    runner = options.get_all_options().get("runner")
    try:
        from apache_beam.runners.runner import create_runner

        create_runner(runner)
    except (ValueError, ImportError):
        raise ConfigError(
            f"unknown runner {runner!r}: set runner: direct | prism | flink | dask in --config (dask: pip install "
            "'newspipe[dask]'), or a Beam runner class name"
        ) from None
    return options


def collect_counters(result: Any) -> dict[str, int]:
    counters: dict[str, int] = defaultdict(int)
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    except Exception:  # noqa: BLE001 - some runners do not report metrics; the run still counts
        log.warning("this runner reported no metrics; manifest counts are incomplete")
        log.debug("metrics query failed", exc_info=True)
        return {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[counter.key.metric.name] += int(value or 0)
    return dict(sorted(counters.items()))


def _settings_for(uris: Sequence[str], cfg: Config) -> S3Settings | None:
    return s3_settings(cfg) if any(is_s3(u) for u in uris) else None


@dataclass
class _Run:
    """What every kind of run sets up before its pipeline and reports after it."""

    cfg: Config
    ctx: RunContext
    storage: Storage
    options: PipelineOptions
    mode: str
    t0: float
    files: list[ObjectInfo] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, inputs: Sequence[str], output: str, cfg: Config, beam_args: Sequence[str], mode: str) -> "_Run":
        from pipeline.doctor import ensure_core

        ensure_core()  # a broken install fails here with doctor's line, before any input is read
        started = datetime.now(timezone.utc)
        output = output.rstrip("/")
        settings = _settings_for([*inputs, output], cfg)
        storage = Storage.for_uri(output, settings)
        if isinstance(storage, S3Storage):
            storage.ensure_bucket(output)
        ctx = RunContext(run_id=new_run_id(started), output=output, started_at=started, settings=settings)
        run = cls(cfg, ctx, storage, pipeline_options(cfg, beam_args), mode, time.monotonic())
        run.files = expand_inputs(inputs, settings)
        return run

    def execute(self, wire: Callable[[beam.Pipeline], None], log_every: float = 0.0) -> dict[str, int]:
        """Build with `wire`, run to the end, return the counters (logged every `log_every` s if > 0)."""
        log.info("run %s (%s): %d input file(s) → %s", self.ctx.run_id, self.mode, len(self.files), self.ctx.output)
        p = beam.Pipeline(options=self.options)
        wire(p)
        quiet = _QuietStorageErrors()
        for name in _BEAM_ERROR_LOGGERS:
            logging.getLogger(name).addFilter(quiet)
        try:
            result = p.run()
            if log_every > 0:
                _log_progress_until_done(result, log_every)
            result.wait_until_finish()
        except (StorageError, RunFailed):
            raise
        except MemoryError as exc:
            raise RunFailed("out of memory; give the run more memory, fewer worker processes or smaller inputs") from exc
        except Exception as exc:  # a worker's StorageError or RunFailed, wrapped by the runner
            cause = fatal_cause(exc)
            if cause is None:
                raise
            raise cause from exc
        finally:
            for name in _BEAM_ERROR_LOGGERS:
                logging.getLogger(name).removeFilter(quiet)
        counters = collect_counters(result)
        failures = systematic_failures(counters)
        if failures:
            raise RunFailed(failures[0])
        return counters

    def commit_rows(self, tag: str | None = None) -> int:
        """Make the rows the run (or its chunk `tag`) staged visible (pipeline/io/commit.py), then its
        story state; the ledger and feed state are committed after this by their owners."""
        tag = tag or self.ctx.run_id
        moved = commit_staged(self.storage, self.ctx.output, tag)
        commit_story_state(self.storage, self.ctx.output, tag)  # after the rows it points at
        return moved

    def discard(self, tag: str | None = None) -> None:
        """A failed run commits nothing: drop what it staged."""
        tag = tag or self.ctx.run_id
        discard_staged(self.storage, self.ctx.output, tag)
        discard_story_state(self.storage, self.ctx.output, tag)

    def finish(self, counters: dict[str, int], pipeline_seconds: float) -> RunSummary:
        dead_by_reason = {
            name[len("dead_letter."):]: n for name, n in counters.items() if name.startswith("dead_letter.")
        }
        seconds = round(time.monotonic() - self.t0, 3)
        ctx, cfg = self.ctx, self.cfg
        manifest = {
            "run_id": ctx.run_id,
            "mode": self.mode,
            "inputs_skipped": self.skipped,
            "started_at": ctx.started_at.isoformat(),
            "finished_at": datetime.now(timezone.utc).isoformat(),
            "output": ctx.output,
            "inputs": [{"uri": f.uri, "size": f.size, "fingerprint": f.fingerprint} for f in self.files],
            "counts": {
                "input_files": len(self.files),
                "articles_written": counters.get("sink.rows", 0),
                "articles_already_present": counters.get("sink.already_present", 0),
                "dead_letters": sum(dead_by_reason.values()),
                "per_stage": {k: v for k, v in counters.items() if not k.startswith("dead_letter.")},
            },
            "dead_letters_by_reason": dead_by_reason,
            **warc_counts(counters),
            "versions": {
                "newspipe": __version__,
                "apache_beam": beam.__version__,
                "python": platform.python_version(),
                "runner": self.options.get_all_options().get("runner"),
            },
            "config": {"runner": cfg.runner, "format": cfg.output.format, "language": cfg.language.__dict__,
                       "enrich": cfg.enrich.__dict__},
            "timings": {"pipeline_seconds": round(pipeline_seconds, 3), "total_seconds": seconds},
            **self.extra,
        }
        manifest_uri = write_manifest(ctx.output, ctx.run_id, manifest, ctx.settings)
        return RunSummary(
            run_id=ctx.run_id,
            output=ctx.output,
            inputs=len(self.files),
            articles=counters.get("sink.rows", 0),
            dead_letters=sum(dead_by_reason.values()),
            dead_letters_by_reason=dead_by_reason,
            counters=counters,
            seconds=seconds,
            manifest_uri=manifest_uri,
            already_present=counters.get("sink.already_present", 0),
            inputs_skipped=self.skipped,
        )


def warc_counts(counters: dict[str, int]) -> dict[str, Any]:
    """The manifest's `warc` block: records by WARC-Type, pages dropped by filter reason, pages read."""
    if not any(name.startswith("warc.") for name in counters):
        return {}
    block: dict[str, Any] = {"records": {}, "filtered": {}, "pages": counters.get("warc.pages", 0)}
    for name, n in counters.items():
        kind, _, key = name.partition(".")[2].partition(".")
        if kind in ("records", "filtered") and key:
            block[kind][key] = n
    block["dead_letters"] = {k[len("dead_letter.warc."):]: n for k, n in counters.items()
                             if k.startswith("dead_letter.warc.")}
    return {"warc": block}


# Beam logs a failing DoFn's exception with its traceback before re-raising it.
_BEAM_ERROR_LOGGERS = ("apache_beam.runners.common", "apache_beam.runners.worker.sdk_worker")


class _QuietStorageErrors(logging.Filter):
    """Drops Beam's traceback log of a StorageError or RunFailed: the error reaches the caller, which
    reports it once (the CLI as one line; `-v` adds the traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return fatal_cause(exc) is None and not isinstance(record.msg, (StorageError, RunFailed))


def _log_progress_until_done(result: Any, every: float) -> None:
    """Log the stage counters every `every` seconds while a (streaming) job runs."""
    from apache_beam.runners.runner import PipelineState

    while not PipelineState.is_terminal(result.state):
        time.sleep(every)
        try:
            counters = collect_counters(result)
        except Exception:  # noqa: BLE001 - progress is best effort
            continue
        shown = ", ".join(f"{k}={v}" for k, v in counters.items() if k.endswith((".out", "rows", "dead_letters")))
        log.info("progress: %s", shown or "starting")


def run_batch(
    inputs: Sequence[str],
    output: str,
    cfg: Config,
    beam_args: Sequence[str] = (),
    *,
    incremental: bool = False,
) -> RunSummary:
    """Run the batch pipeline over `inputs` into `output`; returns the summary (also in the manifest).

    With `incremental`, only inputs that no earlier successful run committed are processed, and
    concurrent runs never process the same input twice (pipeline/io/ledger.py).
    Raises InputError / StorageError / ConfigError for problems the user can fix.
    """
    run = _Run.start(inputs, output, cfg, beam_args, "incremental" if incremental else "batch")
    ledger = Ledger(run.storage, run.ctx.output, run.ctx.run_id) if incremental else None
    if ledger is not None:
        ledger.start_heartbeat()  # before claiming: a concurrent run must see this one alive
        try:
            claims = ledger.claim(run.files)
        except BaseException:
            ledger.stop_heartbeat()
            raise
        run.skipped = {"already_committed": len(claims.done), "claimed_by_another_run": len(claims.busy)}
        run.files = claims.mine
    try:
        return _run_chunks(run, cfg, ledger)
    finally:
        if ledger is not None:
            ledger.stop_heartbeat()


def _run_chunks(run: _Run, cfg: Config, ledger: Ledger | None) -> RunSummary:
    counters: dict[str, int] = {}
    t_pipeline = time.monotonic()
    chunks = input_chunks(run.files, cfg)
    for k, chunk in enumerate(chunks):
        # One pipeline per chunk, committed (rows, story state, ledger) before the next starts: memory
        # stays bounded, and a crash loses at most the chunk in flight.
        ctx = run.ctx if len(chunks) == 1 else dataclasses.replace(run.ctx, run_id=f"{run.ctx.run_id}-c{k:04d}")
        if len(chunks) > 1:
            log.info("chunk %d/%d: %d file(s)", k + 1, len(chunks), len(chunk))
        committed = False
        try:
            part = run.execute(lambda p: build(p, cfg, ReadFiles(chunk, cfg, ctx.settings), ctx))
            with commit_section():  # rows, story state, ledger: all of it or none, even on Ctrl-C
                run.commit_rows(ctx.run_id)
                if ledger is not None:
                    ledger.commit(chunk)
                committed = True
        except BaseException:
            if not committed:
                run.discard(ctx.run_id)
            if ledger is not None:
                ledger.release([f for c in chunks[k + int(committed):] for f in c])
            raise
        for name, value in part.items():
            counters[name] = counters.get(name, 0) + value
    return run.finish(counters, time.monotonic() - t_pipeline)


def input_chunks(files: Sequence[ObjectInfo], cfg: Config) -> list[list[ObjectInfo]]:
    """Consecutive chunks of at most input.chunk_files files and about input.chunk_mb MiB each."""
    limit_bytes, limit_files = cfg.input.chunk_mb * 1024 * 1024, cfg.input.chunk_files
    chunks: list[list[ObjectInfo]] = []
    current: list[ObjectInfo] = []
    size = 0
    for info in files:
        if current and ((limit_files and len(current) >= limit_files) or (limit_bytes and size + info.size > limit_bytes)):
            chunks.append(current)
            current, size = [], 0
        current.append(info)
        size += info.size
    if current:
        chunks.append(current)
    return chunks


def run_replay(
    inputs: Sequence[str],
    output: str,
    cfg: Config,
    beam_args: Sequence[str] = (),
    *,
    rate: float | None = None,
    speedup: float | None = None,
    window_seconds: int = 60,
    lateness_seconds: int = 600,
    loop: bool = False,
    synthetic_interval: timedelta = timedelta(hours=1),
    log_every: float = 10.0,
) -> RunSummary:
    """Replay files as a stream with event time into windowed output (Beam streaming mode)."""
    if loop and cfg.runner == "direct" and not any(a.split("=", 1)[0] == "--runner" for a in beam_args):
        raise ConfigError("--loop never ends, so it needs a streaming engine: set runner: prism or flink in --config")
    run = _Run.start(inputs, output, cfg, [*beam_args, "--streaming"], "replay")
    plan = plan_replay(
        run.files, Storage.for_uri(run.files[0].uri, run.ctx.settings), cfg,
        rate=rate, speedup=speedup, synthetic_interval=synthetic_interval,
    )
    t_pipeline = time.monotonic()
    local = run.options.get_all_options().get("runner") == LOCAL_ENGINE
    # The local engine runs a bounded stream stage by stage, so a window could not see the story
    # state of the windows before it: there each window is its own pipeline, and its story state is
    # committed before the next starts (docs/decisions/0003-story-state.md).
    steps = replay_windows(plan, window_seconds) if local and not loop else [plan]
    counters: dict[str, int] = {}
    for k, step in enumerate(steps):
        ctx = dataclasses.replace(run.ctx, state_tag=f"{run.ctx.run_id}-w{k:04d}")
        part = run.execute(
            lambda p: build_streaming(
                p, cfg, ReplayFiles(step, loop), ctx, window_seconds, lateness_seconds, flag_too_late=not local,
            ),
            log_every=log_every,
        )
        commit_story_state(run.storage, run.ctx.output, ctx.state_tag)
        for name, value in part.items():
            counters[name] = counters.get(name, 0) + value
    run.extra = {
        "replay": {"window_seconds": window_seconds, "allowed_lateness_seconds": lateness_seconds,
                   "rate": rate, "speedup": speedup, "loop": loop},
        "windows": window_counts(run.storage, run.ctx.output, run.ctx.run_id, run.ctx.settings),
    }
    return run.finish(counters, time.monotonic() - t_pipeline)


def replay_windows(plan: list, window_seconds: int) -> list[list]:
    """The replay plan cut into consecutive event-time windows, each paced from its own start."""
    from dataclasses import replace

    steps: dict[int, list] = {}
    for item in plan:
        steps.setdefault(int(item.event_time.timestamp()) // window_seconds, []).append(item)
    out = []
    for _, items in sorted(steps.items()):
        first = items[0].emit_after
        out.append([replace(item, emit_after=item.emit_after - first) for item in items])
    return out


def run_feeds(feeds: Sequence[str], output: str, cfg: Config, beam_args: Sequence[str] = ()) -> RunSummary:
    """Poll `feeds` once and run the batch pipeline on their new entries (pipeline/io/feeds.py).

    Feed state is written only after the pipeline succeeded, so a failed run re-emits its entries.
    A feed that cannot be fetched or parsed is a dead letter; the run itself still succeeds.
    """
    from pipeline.io.feeds import FeedSource, check_feed_args, feed_settings, poll_feeds

    feed_s3 = feed_settings(feeds, cfg)
    check_feed_args(feeds, feed_s3)
    run = _Run.start([], output, cfg, beam_args, "feeds")
    poll = poll_feeds(feeds, run.ctx.output, run.storage, cfg, settings=feed_s3, now=run.ctx.started_at)
    run.files = poll.inputs
    run.extra = {"feeds": [r.__dict__ for r in poll.reports]}
    counters: dict[str, int] = {}
    t_pipeline = time.monotonic()
    if poll.docs or poll.dead:
        try:
            counters = run.execute(lambda p: build(p, cfg, FeedSource(poll.docs, poll.dead), run.ctx))
        except BaseException:
            run.discard()
            raise
    with commit_section():  # rows, story state, then feed state: all of it or none, even on SIGINT/SIGTERM
        if poll.docs or poll.dead:
            run.commit_rows()
        poll.commit()
    return run.finish(counters, time.monotonic() - t_pipeline)


def run_redrive(dead_letters: str, output: str | None, cfg: Config, beam_args: Sequence[str] = ()) -> RunSummary:
    """Feed dead letters back in after a fix (pipeline/io/redrive.py); output defaults to the
    output the dead letters belong to. Rows already present are not written again."""
    from pipeline.io.redrive import RedriveSource, plan_redrive

    base = dead_letters.rstrip("/")
    if output is None:
        if "/dead_letters" not in base:
            raise ConfigError(f"{dead_letters}: not under a dead_letters/ folder; pass --output")
        output = base[: base.index("/dead_letters")]
    run = _Run.start([], output, cfg, beam_args, "redrive")
    plan = plan_redrive(dead_letters, cfg, _settings_for([dead_letters], cfg) or run.ctx.settings)
    if not plan.letters:
        raise InputError(f"{dead_letters}: no dead letters found")
    run.files = plan.files
    run.extra = {"redrive": {"from": dead_letters, "dead_letters": plan.letters, "files": len(plan.files),
                             "documents": len(plan.docs),
                             "resumed": {k: len(v) for k, v in plan.resume.items()}, "skipped": plan.skipped}}
    t_pipeline = time.monotonic()
    try:
        counters = run.execute(
            lambda p: build(p, cfg, RedriveSource(plan, cfg, run.ctx.settings), run.ctx, resume=plan.resume)
        )
        run.commit_rows()
    except BaseException:
        run.discard()
        raise
    return run.finish(counters, time.monotonic() - t_pipeline)
