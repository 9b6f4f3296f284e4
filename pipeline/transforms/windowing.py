"""Event-time windowing for streaming runs: fixed windows, late panes, and too-late dead letters.

Beam drops data that arrives after its window's allowed lateness without telling anyone. Before
windowing, `FlagTooLate` keeps, per window, a watermark timer at window end + allowed lateness;
once it has fired, anything else for that window leaves as a dead letter with reason `too_late`
instead of vanishing. Limitation: a DoFn cannot read the watermark, so an element whose window
never saw any earlier element and has already expired when it arrives is still dropped by Beam
(counted nowhere); keep allowed lateness generous for sources with such stragglers.

Dead letters are not event-time windowed (a too-late record would be too late again): they go to
the global window and are written as they come (a count trigger works on every runner; a
processing-time trigger does not run on the FnApiRunner).
"""

from __future__ import annotations

import typing
from typing import Any, Iterator

import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms import trigger, window
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from pipeline.transforms.base import DEAD, METRICS_NAMESPACE, OK, dead_letter


class _FlagTooLateFn(beam.DoFn):
    EXPIRED = ReadModifyWriteStateSpec("expired", BooleanCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, window_seconds: int, lateness_seconds: int) -> None:
        self.window_seconds = window_seconds
        self.lateness_seconds = lateness_seconds
        self._too_late = Metrics.counter(METRICS_NAMESPACE, "dead_letter.window.too_late")

    def process(
        self,
        keyed: tuple[int, Any],
        timestamp=beam.DoFn.TimestampParam,
        expired=beam.DoFn.StateParam(EXPIRED),
        expiry=beam.DoFn.TimerParam(EXPIRY),
    ) -> Iterator[Any]:
        window_start, element = keyed
        if expired.read():
            self._too_late.inc()
            letter = dead_letter(
                "window", "too_late",
                f"event time {Timestamp.of(timestamp).to_rfc3339()} is past its window's allowed lateness "
                f"({self.lateness_seconds}s)",
                element,
            )
            yield TaggedOutput(DEAD, letter)
            return
        expiry.set(Timestamp.of(window_start + self.window_seconds + self.lateness_seconds))
        yield element

    @on_timer(EXPIRY)
    def _expire(self, expired=beam.DoFn.StateParam(EXPIRED)) -> None:
        expired.write(True)


class WindowByEventTime(beam.PTransform):
    """Timestamped elements → FixedWindows with on-time and late panes; returns (windowed, too_late)."""

    def __init__(self, window_seconds: int, lateness_seconds: int, flag_too_late: bool = True) -> None:
        super().__init__()
        self.window_seconds = window_seconds
        self.lateness_seconds = lateness_seconds
        # Off on the FnApiRunner: it runs a bounded stream stage by stage and may fire the expiry
        # timers before the source's deferred remainder has emitted; nothing is late there anyway.
        self.flag_too_late = flag_too_late

    def _key(self, element: Any, timestamp=beam.DoFn.TimestampParam) -> tuple[int, Any]:  # type: ignore[no-untyped-def]
        start = int(timestamp.micros // 1_000_000) // self.window_seconds * self.window_seconds
        return start, element

    def expand(self, pcoll):  # type: ignore[no-untyped-def]
        if not self.flag_too_late:
            return self._window(pcoll), pcoll.pipeline | "NoTooLate" >> beam.Create([])
        flagged = (
            pcoll
            | "KeyByWindow" >> beam.Map(self._key).with_output_types(typing.Tuple[int, typing.Any])
            | "FlagTooLate"
            >> beam.ParDo(_FlagTooLateFn(self.window_seconds, self.lateness_seconds)).with_outputs(DEAD, main=OK)
        )
        return self._window(flagged[OK]), flagged[DEAD]

    def _window(self, pcoll):  # type: ignore[no-untyped-def]
        return pcoll | "FixedWindows" >> beam.WindowInto(
            window.FixedWindows(self.window_seconds),
            trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
            allowed_lateness=self.lateness_seconds,
            accumulation_mode=trigger.AccumulationMode.DISCARDING,
        )


class FlushDeadLetters(beam.PTransform):
    """Dead letters of a streaming run: global window, a pane as soon as any arrive."""

    def expand(self, pcoll):  # type: ignore[no-untyped-def]
        return pcoll | "GlobalWindowEveryElement" >> beam.WindowInto(
            window.GlobalWindows(),
            trigger=trigger.Repeatedly(trigger.AfterCount(1)),
            accumulation_mode=trigger.AccumulationMode.DISCARDING,
        )
