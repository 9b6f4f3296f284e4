"""Run counts come from Beam metrics; they must survive a stage that runs thousands of bundles
(a paced replay checkpoints after nearly every article)."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.run import LOCAL_ENGINE, collect_counters
from pipeline.transforms.base import METRICS_NAMESPACE

BUNDLES = 1500  # the unpatched FnApiRunner overflows Python's stack at about 1000


class _OnePerBundle(beam.DoFn, beam.transforms.core.RestrictionProvider):
    """Emits one element, then hands the rest back to the runner: one bundle per element."""

    counter = Metrics.counter(METRICS_NAMESPACE, "probe.out")

    def initial_restriction(self, element):
        return OffsetRange(0, element)

    def create_tracker(self, restriction):
        return OffsetRestrictionTracker(restriction)

    def restriction_size(self, element, restriction):
        return restriction.size()

    def process(self, element, tracker=beam.DoFn.RestrictionParam()):
        position = tracker.current_restriction().start
        if tracker.try_claim(position):
            self.counter.inc()
            yield position
            tracker.defer_remainder()


def test_counters_survive_thousands_of_bundles() -> None:
    p = beam.Pipeline(options=PipelineOptions([f"--runner={LOCAL_ENGINE}"]))
    _ = p | beam.Create([BUNDLES]) | beam.ParDo(_OnePerBundle())
    result = p.run()
    result.wait_until_finish()
    assert collect_counters(result) == {"probe.out": BUNDLES}
