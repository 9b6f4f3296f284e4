"""Each stage composite on TestPipeline: its good output and its dead-letter output."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to, is_not_empty

from pipeline.config import Config
from pipeline.io.sources import ReadFiles
from pipeline.io.storage import LocalStorage
from pipeline.protos.article_pb2 import Article, Entity, RawDocument
from pipeline.transforms.classify import ClassifyTopics
from pipeline.transforms.clean import CleanArticles
from pipeline.transforms.dedupe import Deduplicate
from pipeline.transforms.entities import TagEntities
from pipeline.transforms.language import DetectLanguage
from pipeline.transforms.metadata import ExtractMetadata
from pipeline.transforms.parse import ParseAndSplit
from pipeline.transforms.stories import AssignStories

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
BODY = "قال وزير الخارجية الروسي سيرغي لافروف في موسكو إن روسيا ستواصل المحادثات مع كوريا الشمالية."


def _article(**fields) -> Article:  # type: ignore[no-untyped-def]
    base = {"title": "لافروف في موسكو", "body": BODY, "paragraphs": [BODY], "source_uri": "mem://x"}
    base.update(fields)
    return Article(**base)


def _dead(pcoll):  # type: ignore[no-untyped-def]
    return pcoll | beam.Map(lambda d: (d.stage, d.reason))


def test_read_files_decodes_and_dead_letters(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("عنوان\n\n" + BODY, encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text('{"title": "t", "body": "نص"}\nnot json\n', encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    files = LocalStorage().list(str(tmp_path))
    with TestPipeline() as p:
        docs, dead = p | ReadFiles(files, Config(), None)
        assert_that(
            docs | beam.Map(lambda d: (Path(d.source_uri).name, d.content_type, d.line)),
            equal_to([("ok.txt", "text", 0), ("bad.jsonl", "text", 1)]),
            label="Docs",
        )
        assert_that(_dead(dead), equal_to([("decode", "invalid_json"), ("read", "empty")]), label="Dead")


def test_parse_splits_pages_and_rejects_empty_documents() -> None:
    page = (ROOT / "seeds" / "002_778974e6473988db.txt").read_text(encoding="utf-8")
    docs = [
        RawDocument(source_uri="seed", content_type="text", text=page),
        RawDocument(source_uri="jsonl", content_type="text", text=BODY, title="عنوان", line=3),
        RawDocument(source_uri="blank", content_type="text", text="   \n  "),
    ]
    with TestPipeline() as p:
        articles, dead = p | beam.Create(docs) | ParseAndSplit()
        assert_that(
            articles | beam.Map(lambda a: (a.source_uri, a.page_format, a.role)),
            equal_to([("seed", "aggregator", "main"), ("seed", "aggregator", "secondary"), ("jsonl", "jsonl", "main")]),
            label="Articles",
        )
        assert_that(_dead(dead), equal_to([("parse", "no_article")]), label="Dead")


def test_clean_keeps_title_text_and_rejects_oversize() -> None:
    arts = [
        _article(title="  لافـــروف\u200f   في موسكو ", image_captions=["صورة (أ.ب)", "صورة (أ.ب)"]),
        _article(title="مقابلة حصرية لـCNN مع مدير الـCIA بـ90 دقيقة عن الـ 92 عاماً"),
        _article(title="x" * 5000),
        _article(body="", paragraphs=[]),
    ]
    with TestPipeline() as p:
        good, dead = p | beam.Create(arts) | CleanArticles()
        # Only whitespace folds: tatweel, tanween and bidi marks are the page's own text.
        assert_that(good | beam.Map(lambda a: (a.title, list(a.image_captions))),
                    equal_to([("لافـــروف\u200f في موسكو", ["صورة (أ.ب)"]),
                              ("مقابلة حصرية لـCNN مع مدير الـCIA بـ90 دقيقة عن الـ 92 عاماً", [])]), label="Good")
        assert_that(_dead(dead), equal_to([("clean", "title_too_long"), ("clean", "empty_body")]), label="Dead")


def test_metadata_sets_date_keywords_and_stable_ids() -> None:
    arts = [_article(published_raw="24th, September 2023 GMT", outlet="صدى البلد",
                     keywords_raw="الرئيس الروسي فلاديمير بوتين كوريا الشمالية")]
    with TestPipeline() as p:
        good, dead = p | beam.Create(arts) | ExtractMetadata(NOW)
        assert_that(
            good | beam.Map(lambda a: (a.published_at.ToDatetime().date().isoformat(), list(a.keywords), len(a.id))),
            equal_to([("2023-09-24", ["الرئيس الروسي فلاديمير بوتين", "كوريا الشمالية"], 32)]),
            label="Good",
        )
        assert_that(dead, equal_to([]), label="NoDead")


def test_language_body_language_and_producer_hint() -> None:
    arts = [_article(), _article(body="The minister said talks would continue next month in the capital.",
                                 paragraphs=["x"], title="Talks"), _article(language="fr")]
    with TestPipeline() as p:
        good, _ = p | beam.Create(arts) | DetectLanguage(0.5)
        assert_that(good | beam.Map(lambda a: a.language), equal_to(["ar", "en", "fr"]))


def test_entities_link_to_wikidata_with_body_offsets() -> None:
    with TestPipeline() as p:
        good, dead = p | beam.Create([_article()]) | TagEntities(use_ner_model=True)
        found = good | beam.FlatMap(
            lambda a: [(e.surface, e.type, e.wikidata_id, a.body[e.start:e.end] == e.surface)
                       for e in a.entities if not e.in_title]
        )
        assert_that(found | beam.Filter(lambda t: t[0] in ("موسكو", "روسيا", "كوريا الشمالية")),
                    equal_to([("موسكو", "LOC", "Q649", True), ("روسيا", "LOC", "Q159", True),
                              ("كوريا الشمالية", "LOC", "Q423", True)]), label="Linked")
        assert_that(found | beam.Filter(lambda t: "لافروف" in t[0]) | beam.Map(lambda t: t[1]),
                    equal_to(["PER"]), label="Person")
        assert_that(dead, equal_to([]), label="NoDead")


def test_classify_gives_iptc_codes() -> None:
    sport = _article(title="ريال مدريد يفوز على برشلونة", body="سجل اللاعب هدفين في المباراة وفاز الفريق بالدوري.",
                     paragraphs=["x"])
    with TestPipeline() as p:
        good, _ = p | beam.Create([sport]) | ClassifyTopics()
        assert_that(good | beam.Map(lambda a: a.topics[0].code), equal_to(["15000000"]))


def test_dedupe_keeps_one_per_id_and_marks_copies() -> None:
    a = _article(id="a", content_hash="h1")
    a_again = _article(id="a", content_hash="h1", source_uri="mem://y")
    b_copy = _article(id="b", content_hash="h1", outlet="other")
    c = _article(id="c", content_hash="h2")
    with TestPipeline() as p:
        out = p | beam.Create([a, a_again, b_copy, c]) | Deduplicate()
        assert_that(out | beam.Map(lambda x: (x.id, x.duplicate_of)), equal_to([("a", ""), ("b", "a"), ("c", "")]))


def test_stories_cluster_near_copies_only() -> None:
    entities = [Entity(canonical=n, wikidata_id=q) for n, q in (("Moscow", "Q649"), ("Russia", "Q159"))]
    one = _article(id="1", entities=entities)
    two = _article(id="2", body=BODY + " وأضاف أن الزيارة ستتم قريبا.", entities=entities)
    other = _article(id="3", title="مباراة", body="فاز الفريق الأهلي على الزمالك بهدفين في الدوري المصري.")
    with TestPipeline() as p:
        out = p | beam.Create([one, two, other]) | AssignStories()
        pairs = out | beam.Map(lambda a: ("k", (a.id, a.story_id))) | beam.GroupByKey() | beam.Map(
            lambda kv: sorted(kv[1]))
        assert_that(pairs | beam.Map(lambda s: (s[0][1] == s[1][1], s[0][1] != s[2][1], all(x[1] for x in s))),
                    equal_to([(True, True, True)]))
        assert_that(out, is_not_empty(), label="NotEmpty")


@pytest.mark.parametrize("stage", [CleanArticles(), ExtractMetadata(NOW)])
def test_unexpected_errors_become_dead_letters_not_crashes(stage) -> None:  # type: ignore[no-untyped-def]
    with TestPipeline() as p:
        good, dead = p | beam.Create([b"not an article"]) | stage
        assert_that(good, equal_to([]), label="NoGood")
        assert_that(dead | beam.Map(lambda d: d.reason), equal_to(["error"]), label="Dead")
