"""Clean: tidy whitespace in titles and captions, bound sizes, rebuild the body from paragraphs.

Title, captions and `body` keep the original characters of the page (entity offsets point into
them): tatweel ("لـCNN", "الـ 92"), tanween, digits and bidi marks stay. Only whitespace is folded
to single spaces. The noise that `pipeline.lib.arabic.clean_text` removes is handled in the match
form (`match_key`, `match_form`) that ids, dedupe and entity matching use.
"""

from __future__ import annotations

from typing import Iterable

from pipeline.protos.article_pb2 import Article
from pipeline.transforms.base import Reject, Stage, StageFn

MAX_TITLE_CHARS = 1000
MAX_BODY_CHARS = 2_000_000


def _one_line(text: str) -> str:
    """The text as one line with single spaces; every other character is kept as written."""
    return " ".join(text.split())


class _CleanFn(StageFn):
    stage = "clean"

    def process_one(self, art: Article) -> Iterable[Article]:
        out = Article()
        out.CopyFrom(art)
        paragraphs = [p.strip() for p in art.paragraphs if p.strip()] or [
            p.strip() for p in art.body.split("\n") if p.strip()
        ]
        if not paragraphs:
            raise Reject("empty_body", "article has no body text")
        body = "\n\n".join(paragraphs)
        if len(body) > MAX_BODY_CHARS:
            raise Reject("body_too_long", f"body has {len(body)} characters (limit {MAX_BODY_CHARS})")
        title = _one_line(art.title)
        if len(title) > MAX_TITLE_CHARS:
            raise Reject("title_too_long", f"title has {len(title)} characters (limit {MAX_TITLE_CHARS}): page not split right")
        del out.paragraphs[:]
        out.paragraphs.extend(paragraphs)
        out.body = body
        out.title = title or _one_line(paragraphs[0])[:200]
        del out.image_captions[:]
        seen: set[str] = set()
        for caption in art.image_captions:
            c = _one_line(caption)
            if c and c not in seen:
                seen.add(c)
                out.image_captions.append(c)
        out.outlet = _one_line(art.outlet)
        return [out]


class CleanArticles(Stage):
    step = "CleanArticles"

    def make_fn(self) -> StageFn:
        return _CleanFn()
