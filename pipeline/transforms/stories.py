"""Stories: same-story clustering across outlets (MinHash LSH over content stems + entity overlap).

Signatures are computed in parallel next to the articles; only (id, signature, entity keys, date)
travel to the single place that clusters them, per window in streaming (bounded by the window).
"""

from __future__ import annotations

from datetime import timezone
from typing import Iterable, Iterator

import apache_beam as beam

from pipeline.lib.stories import StoryClusterer, cluster_signatures
from pipeline.protos.article_pb2 import Article

StoryItem = tuple[str, bytes, set[str], object]


def story_text(a: Article) -> str:
    return a.title + "\n" + a.body


def story_entity_keys(a: Article) -> set[str]:
    return {e.wikidata_id or e.canonical for e in a.entities if e.wikidata_id or e.canonical}


def story_item(clusterer: StoryClusterer, a: Article) -> StoryItem:
    published = a.published_at.ToDatetime(tzinfo=timezone.utc) if a.HasField("published_at") else None
    return a.id, clusterer.signature(story_text(a)), story_entity_keys(a), published


def with_story(a: Article, story_id: str) -> Article:
    out = Article()
    out.CopyFrom(a)
    out.story_id = story_id
    return out


class _SignatureFn(beam.DoFn):
    def setup(self) -> None:
        self.clusterer = StoryClusterer()

    def process(self, a: Article) -> Iterator[tuple[None, StoryItem]]:
        yield None, story_item(self.clusterer, a)


def _cluster(group: tuple[None, Iterable[StoryItem]]) -> Iterator[tuple[str, str]]:
    yield from cluster_signatures(list(group[1])).items()


def _join(item: tuple[str, dict[str, list]]) -> Iterator[Article]:
    _, joined = item
    story = joined["story"][0] if joined["story"] else ""
    for a in joined["article"]:
        yield with_story(a, story)


class AssignStories(beam.PTransform):
    def expand(self, articles):  # type: ignore[no-untyped-def]
        stories = (
            articles
            | "StorySignatures" >> beam.ParDo(_SignatureFn())
            | "GatherSignatures" >> beam.GroupByKey()
            | "ClusterStories" >> beam.FlatMap(_cluster)
        )
        keyed = articles | "KeyArticlesById" >> beam.Map(lambda a: (a.id, a))
        return (
            {"article": keyed, "story": stories}
            | "JoinStories" >> beam.CoGroupByKey()
            | "SetStoryIds" >> beam.FlatMap(_join)
        )
