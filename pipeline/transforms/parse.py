"""Parse and split: a RawDocument becomes one Article per full article it holds.

HTML goes through trafilatura; plain-text pages are split by their layout (pipeline/lib/pages.py);
a JSONL record is one article whose title and body the producer already separated.
"""

from __future__ import annotations

from typing import Iterable

from pipeline.lib.feeds import entry_articles
from pipeline.lib.pages import article_from_fields, extract_html, split_page
from pipeline.protos.article_pb2 import Article, RawDocument
from pipeline.transforms.base import Reject, Stage, StageFn
from pipeline.transforms.convert import article_from_parsed


class _ParseSplitFn(StageFn):
    stage = "parse"

    def process_one(self, doc: RawDocument) -> Iterable[Article]:
        if doc.source_kind == "feed":  # title and body come separately; body may be an HTML snippet
            parsed = entry_articles(doc.title, doc.text, doc.content_type, url=doc.url)
        elif doc.content_type == "html":
            parsed = extract_html(doc.text, url=doc.url)
        elif doc.line and doc.title:
            parsed = [article_from_fields(doc.title, doc.text, page_format="jsonl")]
        else:
            parsed = split_page(doc.text)
        parsed = [p for p in parsed if p.body.strip()]
        if not parsed:
            raise Reject("no_article", "no article text found in the document")
        return [article_from_parsed(doc, p) for p in parsed]


class ParseAndSplit(Stage):
    """RawDocument → Article per full article on the page (teasers go to `related`)."""

    step = "SplitArticles"

    def make_fn(self) -> StageFn:
        return _ParseSplitFn()
