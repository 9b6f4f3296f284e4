"""Shared pieces of the fuzz suite: hypothesis budgets, a wall-clock limit, text strategies.

CI budget: the whole suite stays near 90 s. `NEWSPIPE_FUZZ_LONG=1` multiplies the examples
(and the big-input sizes) for a longer hunt.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

LONG = os.environ.get("NEWSPIPE_FUZZ_LONG", "") not in ("", "0")


def budget(ci: int, long: int | None = None) -> settings:
    """Hypothesis settings: `ci` examples normally, `long` (default 20x) under NEWSPIPE_FUZZ_LONG."""
    return settings(
        max_examples=(long or ci * 20) if LONG else ci,
        deadline=None,  # wall-clock bounds are asserted explicitly with time_limit
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        derandomize=not LONG,  # CI runs are reproducible; long runs explore
        database=None,
    )


class TimeLimit(BaseException):
    """BaseException so that no `except Exception` in the code under test can swallow it."""


@contextmanager
def time_limit(seconds: float, what: str = "") -> Iterator[None]:
    """Fail (raise TimeLimit) if the block runs longer than `seconds` of wall-clock time."""

    def expire(signum, frame):  # type: ignore[no-untyped-def]
        raise TimeLimit(f"{what or 'block'} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


ARABIC_WORDS = ["قال", "وزير", "الخارجية", "المصري", "إن", "القاهرة", "تدعم", "الحل", "السلمي", "في", "المنطقة", "وأضاف", "أن", "الحكومة", "ستواصل", "الإصلاحات", "الاقتصادية", "خلال", "العام", "المقبل", "بعد", "اجتماع", "مجلس", "الأمن", "الدولي", "في", "نيويورك", "مع", "ممثلي", "الأمم", "المتحدة", "والاتحاد", "الأوروبي", "وأعلنت", "الشرطة", "عن", "اعتقال", "عدد", "من", "المشتبه", "بهم", "في", "بيروت", "ودمشق", "الرياض", "دبي", "عمّان", "بغداد", "فلسطين", "السعودية", "إسرائيل", "إيران", "رويترز", "الجزيرة", "محمد", "بن", "سلمان", "بوتين", "ترامب", "مُحَمَّد", "الـــرئيس", "ﻻ", "١٢", "٢٠٢٤", "يناير", "سبتمبر", "كانون", "الثاني"]
LAYOUT_MARKERS = [
    "TT", "مقالات ذات صلة", "مواضيع ذات صلة", "أخبار ذات صلة", "إقرأ أيضاً:", "اقرأ أيضا", "إقرأ أيضا:",
    "تاريخ النشر: 2024-09-13", "تاريخ النشر: 13 سبتمبر 2024", "تاريخ النشر:", "المصدر: رويترز", "المصدر:",
    "كلمات دلالية: مصر، السعودية", "كلمات دلالية:", " TT ", "المصدر : الجزيرة", "تاريخ النشر : أمس",
]
# Characters that hurt: controls, bidi/zero-width marks, tatweel, harakat, presentation forms,
# Arabic-Indic digits, line/paragraph separators, NUL, BOM, astral characters, dotted I.
HOSTILE_CHARS = "\x00\x01\x7f\u200b\u200c\u200d\u200e\u200f\u202e\u2066\u2069\u061c\ufeff\u0640\u064b\u0651" \
    "\u0670\ufefb\ufe8d\u0660\u0669\u06f4\u2028\u2029\x85\x0b\x0c\r\t\u0130\U0001f600\ufffd\u00ad İ"

arabic_word = st.sampled_from(ARABIC_WORDS)
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(HOSTILE_CHARS), st.sampled_from("ابتثجحخدذرسشصضطظعغفقكلمنهويةىءأإآؤئ .،؟!:()«»\n")),
    max_size=200,
)


@st.composite
def arabic_sentence(draw, min_words: int = 1, max_words: int = 25, end: str | None = None) -> str:  # type: ignore[no-untyped-def]
    words = draw(st.lists(arabic_word, min_size=min_words, max_size=max_words))
    tail = draw(st.sampled_from([".", "", "؟", ":", " (رويترز)", "»"])) if end is None else end
    return " ".join(words) + tail


page_line = st.one_of(
    st.sampled_from(LAYOUT_MARKERS),
    arabic_sentence(),
    arabic_sentence(min_words=4, max_words=10, end=""),  # title-shaped
    arabic_sentence(min_words=10, max_words=40, end="."),  # body-shaped
    st.just(""),
    hostile_text,
)


# --------------------------------------------------------------------------- the chain, without Beam

PARTITION = r"^dt=\d{4}-\d\d-\d\d/lang=[a-z]{2,3}$"


class ChainResult:
    """What one input file became: articles, and dead letters keyed 'stage.reason'."""

    def __init__(self) -> None:
        self.articles: list = []
        self.dead: list = []  # DeadLetter protos, or (stage, reason, detail) for file/line-level ones
        self.seconds = 0.0
        self.max_record_seconds = 0.0

    @property
    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.dead:
            key = f"{d[0]}.{d[1]}" if isinstance(d, tuple) else f"{d.stage}.{d.reason}"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))


def run_file(pipeline, cfg, name: str, data: bytes, per_record_seconds: float = 60.0) -> ChainResult:  # type: ignore[no-untyped-def]
    """raw_documents + every LocalPipeline stage over one file, as the Beam graph runs them.

    Asserts the conservation the pipeline promises: every RawDocument leaves the stages as at least
    one article or at least one dead letter, and every dead letter has a stage and a reason.
    Only BadInput may leave raw_documents (the read stage's dead letter); anything else fails.
    """
    import re
    import time
    from datetime import datetime, timezone

    from pipeline.graph import stamp_version
    from pipeline.io.sinks import article_partition
    from pipeline.io.sources import raw_documents
    from pipeline.io.storage import ObjectInfo
    from pipeline.lib.decode import BadInput
    from pipeline.local import assign_stories, dedupe

    result = ChainResult()
    start = time.perf_counter()
    info = ObjectInfo(f"/fuzz/in/{name}", len(data), datetime(2024, 5, 6, 7, 8, tzinfo=timezone.utc))
    docs = []
    try:
        with time_limit(per_record_seconds, f"reading {name}"):
            for item in raw_documents(info, data, cfg):
                if isinstance(item, tuple):
                    _, line_no, _, exc = item
                    assert line_no >= 1 and exc.reason and str(exc)
                    result.dead.append(("decode", exc.reason, str(exc)))
                else:
                    docs.append(item)
    except BadInput as exc:
        assert exc.reason and str(exc)
        result.dead.append(("read", exc.reason, str(exc)))
        docs = []
    produced = []
    for doc in docs:
        t0 = time.perf_counter()
        with time_limit(per_record_seconds, f"one record of {name}"):
            articles, dead = pipeline.enrich(doc)
        result.max_record_seconds = max(result.max_record_seconds, time.perf_counter() - t0)
        assert articles or dead, f"a record of {name} vanished without an article or a dead letter"
        for letter in dead:
            assert letter.stage and letter.reason and letter.error, letter
            assert letter.payload, "a dead letter keeps the original payload"
        produced += articles
        result.dead += dead
    with time_limit(per_record_seconds, f"dedupe/stories of {name}"):
        articles = dedupe(produced)
        if cfg.enrich.stories:
            articles = assign_stories(articles)
    result.articles = [stamp_version(a) for a in articles]
    assert len({a.id for a in produced}) == len(result.articles), "dedupe keeps exactly one row per id"
    for art in result.articles:
        part = article_partition(art)
        assert re.fullmatch(PARTITION, part), f"partition {part!r} from {name}"
        assert art.title and art.body and art.id and art.content_hash
        title, body = art.title, art.body  # one copy each: proto string access copies
        for ent in art.entities:
            text = title if ent.in_title else body
            assert text[ent.start : ent.end] == ent.surface
    result.seconds = time.perf_counter() - start
    return result
