"""Stories and cross-run duplicates: keyed same-story clustering against the story state.

Per article a StoryRecord (MinHash signature, entity keys, event and ingest day) is computed where
the article is. Candidate groups come from a GroupByKey on LSH band keys and (entity, day) keys
(pipeline/lib/stories.py) over article ids (the records, one per article, are a side input); the
rule is evaluated per group, in parallel, and only the edges (id pairs) are gathered for union-find.
Articles of earlier runs are read from `_state/stories/` by the `state` transforms
(pipeline/io/story_state.py), which decide their pairs with this run's articles where they read
them (a map-side join on the same keys), so a story and a `duplicate_of` hold across runs, polls
and windows. A written story id never changes: when an article links two
earlier stories, the later one is recorded as merged into the earlier.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsDict, TaggedOutput

from pipeline.lib.stories import (
    Forest, StoryClusterer, StoryRecord, StoryRules, assign_stories, edges_in_group, group_keys, make_record,
)
from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import METRICS_NAMESPACE
from pipeline.transforms.dedupe import CopyLinks, KeepOnePerId

MERGE, FRESH = "merge", "fresh"


def story_text(a: Article) -> str:
    return a.title + "\n" + a.body


def story_entity_keys(a: Article) -> set[str]:
    return {e.wikidata_id or e.canonical for e in a.entities if e.wikidata_id or e.canonical}


def _time(a: Article, name: str) -> datetime | None:
    return getattr(a, name).ToDatetime(tzinfo=timezone.utc) if a.HasField(name) else None


def story_record(clusterer: StoryClusterer, a: Article, ingested_at: datetime) -> StoryRecord:
    """The article's StoryRecord; an undated article's event day is its fetch day, else its ingest day."""
    ingested = _time(a, "ingested_at") or ingested_at
    fallback = _time(a, "source_modified_at") or ingested
    return make_record(a.id, clusterer.signature(story_text(a)), story_entity_keys(a), _time(a, "published_at"),
                       fallback, ingested, a.content_hash)


def with_story(a: Article, story_id: str) -> Article:
    out = Article()
    out.CopyFrom(a)
    out.story_id = story_id
    return out


class _RecordFn(beam.DoFn):
    def __init__(self, ingested_at: datetime) -> None:
        self.ingested_at = ingested_at

    def setup(self) -> None:
        self.clusterer = StoryClusterer()

    def process(self, a: Article) -> Iterator[StoryRecord]:
        yield story_record(self.clusterer, a, self.ingested_at)


class _EdgesFn(beam.DoFn):
    """One candidate group of this run's articles → its same-story edges, those of a spanning forest
    of the bundle's edges only (lib/stories.Forest): two articles of a story share many groups, and
    every pair of a big story is the same story."""

    def __init__(self, rules: StoryRules) -> None:
        self.rules = rules
        self._groups = Metrics.counter(METRICS_NAMESPACE, "stories.candidate_groups")

    def start_bundle(self) -> None:
        self._forest = Forest()

    def process(
        self, group: tuple[str, Iterable[str]], records: dict[str, StoryRecord]
    ) -> Iterator[tuple[str, str, tuple]]:
        key, refs = group
        self._groups.inc()
        for a, b in edges_in_group(key, [records[ref] for ref in set(refs)], self.rules):
            if self._forest.add(a, b):  # how many pass depends on the bundles: not a metric
                yield a, b, ()


def _assign(group: tuple[None, Iterable[tuple]]) -> Iterator[Any]:
    """All edges of the run, each (id, id, what it says of state articles) → (article id, (story id,
    already in state)) and merge records."""
    edges, old, old_days = set(), {}, {}
    for a, b, info in group[1]:
        edges.add((a, b))
        for article_id, story, when, day in info:
            old[article_id] = (story, when)
            old_days.setdefault(story, set()).add(day)
    result = assign_stories(sorted(edges), old)
    for article_id, story in result.story_of.items():
        yield article_id, (story, article_id in result.known)
    for story, target in result.merges.items():
        Metrics.counter(METRICS_NAMESPACE, "stories.merged").inc()
        for day in sorted(old_days.get(story, ())):
            yield TaggedOutput(MERGE, (day, story, target))


def _finish(a: Article, stories: dict[str, tuple[str, bool]], copies: dict[str, str]) -> Iterator[Any]:
    """An article with its story id and duplicate_of (side inputs: only ids were shuffled); a
    slim copy (`story_member`) for the stories table unless the state already held it."""
    story, known = stories.get(a.id, (None, False))
    out = with_story(a, story or _own_story(a.id))
    out.duplicate_of = copies.get(a.id, a.duplicate_of)
    yield out
    if not known:
        yield TaggedOutput(FRESH, story_member(out))


def _state_row(record: StoryRecord, stories: dict[str, tuple[str, bool]], copies: dict[str, str]) -> Iterator[Any]:
    """The state row of an article of this run, unless the state already holds it."""
    from dataclasses import replace

    story, known = stories.get(record.article_id, (None, False))
    if not known:
        yield replace(record, story_id=story or _own_story(record.article_id),
                      canonical=copies.get(record.article_id) or record.article_id)


def _own_story(article_id: str) -> str:
    from pipeline.lib.stories import story_id_for

    return story_id_for(article_id)


class AssignStories(beam.PTransform):
    """Articles → articles with story_id and duplicate_of, also across earlier runs when `state` is
    given (a pipeline/io/story_state.StoryState). `stories_sink`: a PTransform taking the
    (story_id, articles) groups and merges of this run (the `stories` table writer)."""

    def __init__(
        self, ingested_at: datetime | None = None, rules: StoryRules | None = None, state: Any = None,
        stories_sink: Any = None,
    ) -> None:
        super().__init__()
        self.ingested_at = ingested_at or datetime.now(timezone.utc)
        self.rules = rules or StoryRules()
        self.state = state
        self.stories_sink = stories_sink

    def expand(self, articles):  # type: ignore[no-untyped-def]
        p = articles.pipeline
        unique = articles | "KeepOnePerId" >> KeepOnePerId()
        records = unique | "StoryRecords" >> beam.ParDo(_RecordFn(self.ingested_at))
        rules = self.rules
        new_keys = records | "CandidateKeys" >> beam.FlatMap(
            lambda r: ((k, r.article_id) for k in group_keys(r, rules)))
        # Pairs of this run's articles: a GroupByKey per candidate key, over article ids only (the
        # records reach the group evaluation as a side input). Pairs with earlier runs' articles are
        # decided where the state rows are read, against this run's records (ReadStoryState).
        by_id = AsDict(records | "KeyById" >> beam.Map(lambda r: (r.article_id, r)))
        edges = (
            new_keys
            | "GroupByCandidateKey" >> beam.GroupByKey()
            | "SameStoryEdges" >> beam.ParDo(_EdgesFn(rules), by_id)
        )
        if self.state is not None:
            from pipeline.io.story_state import COPIES

            read = records | "ReadStoryState" >> self.state.read()
            old, state_edges = read[COPIES], read.edges
            edges = (edges, state_edges) | "RunAndStateEdges" >> beam.Flatten()
        else:
            old = p | "NoStoryState" >> beam.Create([]).with_output_types(StoryRecord)
        copies = AsDict((records, old) | "CopyLinks" >> CopyLinks(self.rules.window_days))
        assigned = (
            edges
            | "KeyEdges" >> beam.Map(lambda edge: (None, edge))
            | "GatherEdges" >> beam.GroupByKey()
            | "UnionFind" >> beam.FlatMap(_assign).with_outputs(MERGE, main="stories")
        )
        stories = AsDict(assigned.stories)
        joined = unique | "SetStoryIds" >> beam.FlatMap(_finish, stories, copies).with_outputs(FRESH, main="articles")
        from pipeline.io.story_state import day_partition

        merges = assigned[MERGE] | "MergePartitions" >> beam.Map(lambda m: (day_partition(m[0]), (m[1], m[2])))
        if self.state is not None:
            rows = records | "StateRows" >> beam.FlatMap(_state_row, stories, copies)
            _ = (rows, merges) | "WriteStoryState" >> self.state.write()
        if self.stories_sink is not None:
            _ = (joined[FRESH], assigned[MERGE]) | "WriteStories" >> self.stories_sink
        return joined.articles


def story_member(a: Article) -> Article:
    """The fields of an article that `story_rows` reads: what the stories table shuffles, not the body."""
    out = Article(id=a.id, story_id=a.story_id, title=a.title, outlet=a.outlet, language=a.language)
    for name in ("published_at", "ingested_at"):
        if a.HasField(name):
            getattr(out, name).CopyFrom(getattr(a, name))
    for e in a.entities:
        out.entities.add(surface=e.surface, canonical=e.canonical, wikidata_id=e.wikidata_id)
    return out


def story_rows(story_id: str, articles: Iterable[Article], updated_at: datetime, top: int = 5) -> dict[str, Any]:
    """One `stories` row for what this run added to a story (the inspect view folds a story's rows)."""
    members = sorted(articles, key=lambda a: (_time(a, "published_at") or _time(a, "ingested_at") or updated_at, a.id))
    times = [t for t in (_time(a, "published_at") for a in members) if t is not None]
    entities: Counter[tuple[str, str]] = Counter()
    for a in members:
        for key in {(e.canonical or e.surface, e.wikidata_id) for e in a.entities}:
            entities[key] += 1
    return {
        "story_id": story_id, "merged_into": "",
        "first_published": min(times) if times else None, "last_published": max(times) if times else None,
        "article_count": len(members),
        "outlets": sorted({a.outlet for a in members if a.outlet}),
        "languages": sorted({a.language for a in members if a.language}),
        "top_entities": [{"name": n, "wikidata_id": q, "articles": c}
                         for (n, q), c in sorted(entities.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
        "title": members[0].title if members else "",
        "updated_at": updated_at,
    }
