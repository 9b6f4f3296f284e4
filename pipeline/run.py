"""Driver for a batch run: resolve inputs, build and run the pipeline, write the run manifest.

The CLI is a thin layer over `run_batch`; tests and benchmarks call it directly.
"""

from __future__ import annotations

import logging
import platform
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__
from pipeline.config import Config, S3Settings, s3_settings
from pipeline.graph import RunContext, build
from pipeline.io.sinks import write_manifest
from pipeline.io.sources import ReadFiles, expand_inputs
from pipeline.io.ledger import Ledger
from pipeline.io.storage import S3Storage, Storage, is_s3
from pipeline.lib.ids import new_run_id
from pipeline.transforms.base import METRICS_NAMESPACE

log = logging.getLogger("newspipe")

RUNNER_NAMES = {"direct": "DirectRunner", "prism": "PrismRunner", "flink": "FlinkRunner"}


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
        return {k: v for k, v in self.__dict__.items()}


def pipeline_options(cfg: Config, beam_args: Sequence[str]) -> PipelineOptions:
    """Beam options from config (`runner`, `beam:`) with command-line Beam flags taking precedence."""
    args: list[str] = []
    if not any(a.startswith("--runner") for a in beam_args):
        args.append(f"--runner={RUNNER_NAMES[cfg.runner]}")
    for key, value in cfg.beam.items():
        if not any(a.startswith(f"--{key}") for a in beam_args):
            args.append(f"--{key}={value}")
    return PipelineOptions(args + list(beam_args))


def collect_counters(result: Any) -> dict[str, int]:
    counters: dict[str, int] = defaultdict(int)
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    except Exception:  # noqa: BLE001 - some runners do not report metrics; the run still counts
        log.warning("this runner reported no metrics; manifest counts are incomplete")
        return {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[counter.key.metric.name] += int(value or 0)
    return dict(sorted(counters.items()))


def _settings_for(uris: Sequence[str], cfg: Config) -> S3Settings | None:
    return s3_settings(cfg) if any(is_s3(u) for u in uris) else None


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
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    output = output.rstrip("/")
    settings = _settings_for([*inputs, output], cfg)
    storage = Storage.for_uri(output, settings)
    if isinstance(storage, S3Storage):
        storage.ensure_bucket(output)
    files = expand_inputs(inputs, settings)
    run_id = new_run_id(started)
    ctx = RunContext(run_id=run_id, output=output, started_at=started, settings=settings)
    ledger = Ledger(storage, output, run_id) if incremental else None
    skipped: dict[str, int] = {}
    if ledger is not None:
        claims = ledger.claim(files)
        skipped = {"already_committed": len(claims.done), "claimed_by_another_run": len(claims.busy)}
        files = claims.mine
    log.info("run %s: %d input file(s) → %s", run_id, len(files), ctx.output)

    options = pipeline_options(cfg, beam_args)
    with_timings: dict[str, float] = {}
    counters: dict[str, int] = {}
    t_build = time.monotonic()
    if files:
        try:
            p = beam.Pipeline(options=options)
            build(p, cfg, ReadFiles(files, cfg, settings), ctx)
            result = p.run()
            result.wait_until_finish()
        except BaseException:
            if ledger is not None:
                ledger.release(files)
            raise
        counters = collect_counters(result)
        if ledger is not None:
            ledger.commit(files)
    with_timings["pipeline_seconds"] = round(time.monotonic() - t_build, 3)

    dead_by_reason = {
        name[len("dead_letter."):]: n for name, n in counters.items() if name.startswith("dead_letter.")
    }
    seconds = round(time.monotonic() - t0, 3)
    manifest = {
        "run_id": run_id,
        "mode": "incremental" if incremental else "batch",
        "inputs_skipped": skipped,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "output": ctx.output,
        "inputs": [{"uri": f.uri, "size": f.size, "fingerprint": f.fingerprint} for f in files],
        "counts": {
            "input_files": len(files),
            "articles_written": counters.get("sink.rows", 0),
            "articles_already_present": counters.get("sink.already_present", 0),
            "dead_letters": sum(dead_by_reason.values()),
            "per_stage": {k: v for k, v in counters.items() if not k.startswith("dead_letter.")},
        },
        "dead_letters_by_reason": dead_by_reason,
        "versions": {
            "newspipe": __version__,
            "apache_beam": beam.__version__,
            "python": platform.python_version(),
            "runner": options.get_all_options().get("runner"),
        },
        "config": {"runner": cfg.runner, "format": cfg.output.format, "language": cfg.language.__dict__,
                   "enrich": cfg.enrich.__dict__},
        "timings": {**with_timings, "total_seconds": seconds},
    }
    manifest_uri = write_manifest(ctx.output, run_id, manifest, settings)
    return RunSummary(
        run_id=run_id,
        output=ctx.output,
        inputs=len(files),
        articles=counters.get("sink.rows", 0),
        dead_letters=sum(dead_by_reason.values()),
        dead_letters_by_reason=dead_by_reason,
        counters=counters,
        seconds=seconds,
        manifest_uri=manifest_uri,
        already_present=counters.get("sink.already_present", 0),
        inputs_skipped=skipped,
    )
