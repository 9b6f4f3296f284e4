"""Event-time behaviour pinned with TestStream: on-time pane, late pane within allowed lateness,
too-late data as a dead letter, per window."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.windowed_value import PaneInfoTiming

from pipeline.transforms.windowing import WindowByEventTime

TIMING = {PaneInfoTiming.ON_TIME: "on_time", PaneInfoTiming.LATE: "late", PaneInfoTiming.EARLY: "early"}


class _Panes(beam.DoFn):
    def process(self, kv, window=beam.DoFn.WindowParam, pane=beam.DoFn.PaneInfoParam):  # type: ignore[no-untyped-def]
        yield int(window.start), TIMING.get(pane.timing, "unknown"), sorted(kv[1])


def test_on_time_late_and_too_late_per_window() -> None:
    stream = (
        TestStream()
        .advance_watermark_to(0)
        .add_elements([TimestampedValue("a", 5), TimestampedValue("b", 50), TimestampedValue("c", 65)])
        .advance_watermark_to(61)  # window [0, 60) fires on time with a, b
        .add_elements([TimestampedValue("late", 30)])  # within 120 s lateness: a late pane of [0, 60)
        .advance_watermark_to(200)  # [0, 60) expires at 180; [60, 120) fires on time with c
        .add_elements([TimestampedValue("too-late", 10), TimestampedValue("d", 190)])
        .advance_watermark_to_infinity()
    )
    with TestPipeline(options=PipelineOptions(["--streaming"])) as p:
        windowed, too_late = p | stream | WindowByEventTime(window_seconds=60, lateness_seconds=120)
        panes = windowed | beam.Map(lambda x: ("k", x)) | beam.GroupByKey() | beam.ParDo(_Panes())
        assert_that(
            panes,
            equal_to([
                (0, "on_time", ["a", "b"]),
                (0, "late", ["late"]),
                (60, "on_time", ["c"]),
                (180, "on_time", ["d"]),
            ]),
            label="Panes",
        )
        assert_that(
            too_late | beam.Map(lambda d: (d.stage, d.reason, d.payload)),
            equal_to([("window", "too_late", b"'too-late'")]),
            label="TooLate",
        )
