"""What every stage shares: a DoFn shell that turns bad records into dead letters, and counters.

A stage's work is a pure function in pipeline/lib; the DoFn calls it. Records the function rejects
(`Reject`, `BadInput`) or fails on leave through the `dead_letters` output with the stage name,
a reason code and the original payload, and are counted; nothing is dropped silently.
Errors of the environment (pipeline/errors.py: a missing module, memory, the disk, a model that does not
load in `setup`) are not the record's fault: they raise `RunFailed` and fail the run.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from pipeline import progress
from pipeline.errors import ENVIRONMENT_ERRORS, RunFailed, environment_failure, resource_failure
from pipeline.io.storage import StorageError
from pipeline.lib.decode import BadInput
from pipeline.protos.article_pb2 import Article, RawDocument
from pipeline.protos.dead_letter_pb2 import DeadLetter

DEAD = "dead_letters"
OK = "ok"
METRICS_NAMESPACE = "newspipe"
MAX_PAYLOAD_BYTES = 1 << 20  # dead letters keep at most 1 MiB of the original input


class Reject(BadInput):
    """Raised by stage logic for a record that cannot go on; becomes a dead letter."""


def payload_of(element: Any) -> tuple[bytes, str]:
    """Serialise what a stage received, so the dead letter can be re-driven later."""
    if isinstance(element, (Article, RawDocument)):
        return element.SerializeToString(), element.DESCRIPTOR.full_name
    if isinstance(element, bytes):
        return element, "bytes"
    if isinstance(element, tuple) and len(element) == 2 and isinstance(element[1], bytes):
        return element[1], "bytes"
    return repr(element).encode("utf-8", "replace"), "repr"


def source_of(element: Any) -> tuple[str, int]:
    if isinstance(element, (Article, RawDocument)):
        return element.source_uri, getattr(element, "line", 0)
    if isinstance(element, tuple) and element and isinstance(element[0], str):
        return element[0], 0
    return "", 0


def dead_letter(stage: str, reason: str, error: str, element: Any, run_id: str = "") -> DeadLetter:
    payload, payload_type = payload_of(element)
    uri, line = source_of(element)
    letter = DeadLetter(
        stage=stage,
        reason=reason,
        error=error[:2000],
        source_uri=uri,
        payload=payload[:MAX_PAYLOAD_BYTES],
        payload_truncated=len(payload) > MAX_PAYLOAD_BYTES,
        payload_type=payload_type,
        run_id=run_id,
        line=line,
    )
    letter.failed_at.FromDatetime(datetime.now(timezone.utc))
    return letter


class StageFn(beam.DoFn):
    """Base DoFn: subclasses implement `process_one`; failures become tagged dead letters.

    A subclass's `setup` (models, automata) is wrapped so that a resource that does not load fails the run
    with one line instead of a worker traceback per bundle."""

    stage = "stage"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own_setup = cls.__dict__.get("setup")
        if own_setup is not None and not getattr(own_setup, "_newspipe_guarded", False):

            def setup(self: "StageFn") -> None:
                try:
                    own_setup(self)
                except (RunFailed, StorageError):
                    raise
                except Exception as exc:  # noqa: BLE001 - no record is involved: always the environment
                    raise resource_failure(f"stage {self.stage}: its model or resource", exc) from exc

            setup._newspipe_guarded = True  # type: ignore[attr-defined]
            cls.setup = setup  # type: ignore[method-assign]

    def __init__(self) -> None:
        self._in = Metrics.counter(METRICS_NAMESPACE, f"{self.stage}.in")
        self._out = Metrics.counter(METRICS_NAMESPACE, f"{self.stage}.out")
        self._dead = Metrics.counter(METRICS_NAMESPACE, f"{self.stage}.dead_letters")

    def process_one(self, element: Any) -> Iterable[Any]:
        raise NotImplementedError

    def process(self, element: Any) -> Iterator[Any]:
        self._in.inc()
        try:
            outputs = list(self.process_one(element))
        except (StorageError, RunFailed):
            # The store failing is not the record's fault: fail the bundle (the runner retries, the run
            # ends with a clear error and an incremental run releases its claims) rather than lose it.
            raise
        except BadInput as exc:
            yield self._reject(exc.reason, str(exc), element)
            return
        except ENVIRONMENT_ERRORS as exc:  # a missing module, memory, the disk: never the record's fault
            raise environment_failure(f"stage {self.stage}", exc) from exc
        except Exception as exc:  # noqa: BLE001 - any other failure of pure logic is the record's dead letter
            Metrics.counter(METRICS_NAMESPACE, f"error_type.{self.stage}.{type(exc).__name__}").inc()
            yield self._reject("error", f"{type(exc).__name__}: {exc}", element)
            return
        for out in outputs:
            if not isinstance(out, TaggedOutput):  # per-item dead letters are counted where made
                self._out.inc()
                progress.add(f"{self.stage}.out")
            yield out

    def _reject(self, reason: str, error: str, element: Any) -> TaggedOutput:
        self._dead.inc()
        progress.add("dead_letters")
        Metrics.counter(METRICS_NAMESPACE, f"dead_letter.{self.stage}.{reason}").inc()
        return TaggedOutput(DEAD, dead_letter(self.stage, reason, error, element))


def apply_stage(pcoll: beam.PCollection, label: str, fn: StageFn) -> tuple[beam.PCollection, beam.PCollection]:
    """Apply `fn` under a stable label; returns (good, dead_letters)."""
    result = pcoll | label >> beam.ParDo(fn).with_outputs(DEAD, main=OK)
    return result[OK], result[DEAD]


class Stage(beam.PTransform):
    """One pipeline stage as a composite: `make_fn()` builds its DoFn; expand returns (good, dead).

    The same DoFn runs outside Beam in pipeline/local.py (the bare-loop baseline and `eval seeds`).
    """

    step = "Stage"

    def make_fn(self) -> StageFn:
        raise NotImplementedError

    def expand(self, pcoll):  # type: ignore[no-untyped-def]
        return apply_stage(pcoll, self.step, self.make_fn())
