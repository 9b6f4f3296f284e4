"""The entities stage tags exactly what it tagged before its speed work (issue 14).

tests/fixtures/ner_pinned.json.gz holds 30 synthetic news articles (benchmarks/synth.py, ~5 KB each)
and the mentions the shipped model v4.1 gave, recorded at commit 40a8f8e before any speed change:
`tag_entities` (gazetteer + CRF, what the pipeline runs) and `NerTagger.tag` without a gazetteer
(CRF alone), for them, for the five seed articles and for the sentences of ner_small.conll. A
change that only makes tagging faster must leave every span, type and link as it was. A retrained
model or a new gazetteer changes the tags on purpose: record again with

    python tests/lib/test_ner_pinned.py --record
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "ner_pinned.json.gz"


def _texts(synth: list[str]) -> list[str]:
    from pipeline.lib.ner import read_conll

    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    conll = [" ".join(toks) for toks, _ in read_conll(ROOT / "tests" / "fixtures" / "ner_small.conll")]
    return synth + seeds + conll


def _tag_all(texts: list[str]) -> dict[str, list]:
    from pipeline.lib.entities import tag_entities
    from pipeline.lib.gazetteer import Gazetteer
    from pipeline.lib.ner import NerTagger

    gaz, tagger = Gazetteer.load(), NerTagger.load()

    def rows(mentions: list) -> list[list]:
        return [[m.surface, m.type, m.start, m.end, m.canonical, m.wikidata_id] for m in mentions]

    return {
        "full": [rows(tag_entities(t, gaz, tagger)) for t in texts],
        "crf": [rows(tagger.tag(t)) for t in texts],
    }


def _record() -> None:
    import tempfile
    from datetime import datetime, timezone

    from apache_beam.pvalue import TaggedOutput

    from benchmarks.synth import write_corpus
    from pipeline.config import Config
    from pipeline.graph import enrichment_stages
    from pipeline.io.sources import raw_documents
    from pipeline.io.storage import LocalStorage

    cfg = Config()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_corpus(Path(tmp), 30)
        storage = LocalStorage()
        elements = []
        for path in files:
            info = storage.stat(str(path))
            elements += [d for d in raw_documents(info, storage.read_bytes(str(path)), cfg) if not isinstance(d, tuple)]
    for stage in enrichment_stages(cfg, datetime(2026, 12, 2, tzinfo=timezone.utc)):
        fn = stage.make_fn()
        if fn.stage == "entities":
            break
        fn.setup()
        elements = [o for e in elements for o in fn.process(e) if not isinstance(o, TaggedOutput)]
    synth = [t for art in elements for t in (art.title, art.body) if t]
    data = {"synth": synth, **_tag_all(_texts(synth))}
    with gzip.open(FIXTURE, "wt", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
    print(f"{FIXTURE}: {len(synth)} synthetic texts, {sum(map(len, data['full']))} mentions")


@pytest.fixture(scope="module")
def pinned() -> dict:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def test_tags_are_the_pinned_ones(pinned: dict) -> None:
    texts = _texts(pinned["synth"])
    got = _tag_all(texts)
    assert sum(map(len, got["full"])) > 1000  # an empty tagger must not pass
    for kind in ("full", "crf"):
        for i, (want, have) in enumerate(zip(pinned[kind], got[kind])):
            assert have == want, (kind, i, texts[i][:80])
        assert len(got[kind]) == len(pinned[kind])


def test_tags_do_not_depend_on_cache_state(pinned: dict) -> None:
    """Caches emptied at every text (their bound reached) give the same tags as warm caches."""
    from pipeline.lib.entities import tag_entities
    from pipeline.lib.gazetteer import Gazetteer
    from pipeline.lib.ner import NerTagger

    gaz, tagger = Gazetteer.load(), NerTagger.load()
    texts = _texts(pinned["synth"])[::7]
    sc = tagger._scorer(gaz)
    saved = sc._MAX_WORDS
    sc._MAX_WORDS = 1  # every call starts over
    try:
        for i, t in zip(range(0, len(texts) * 7, 7), texts):
            mentions = tag_entities(t, gaz, tagger)
            have = [[m.surface, m.type, m.start, m.end, m.canonical, m.wikidata_id] for m in mentions]
            assert have == pinned["full"][i]
    finally:
        sc._MAX_WORDS = saved
        sc._reset()


def test_fold_letters_is_the_translate_table() -> None:
    """fold_letters' replace() passes on long text give what str.translate(_FOLD) gives."""
    import random

    from pipeline.lib.arabic import _FOLD, fold_letters

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert fold_letters(every) == every.translate(_FOLD)
    rng = random.Random(14)
    alphabet = [chr(k) for k in _FOLD] + list("ابتثجحخدذرزسشصضطظعغفقكلمنهوي اَ\nAbc1")
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert fold_letters(s) == s.translate(_FOLD)


def test_match_form_is_idempotent_so_form_types_equals_token_types() -> None:
    """The feature extractor asks the gazetteer for the types of match-form words without
    normalising them again: that is token_types only because match_form(match_form(x)) == match_form(x)."""
    import random

    from pipeline.lib.arabic import match_form
    from pipeline.lib.gazetteer import Gazetteer

    for c in range(0x110000):
        if not 0xD800 <= c < 0xE000:
            once = match_form(chr(c))
            assert match_form(once) == once, hex(c)
    gaz = Gazetteer.load()
    rng = random.Random(14)
    names = sorted(gaz._token_types)
    words = [p + rng.choice(names) for p in ("", "و", "بال", "لل", "وال", "ف", "ك") for _ in range(300)]
    words += ["وَاشِنْطُن", "الـقاهرة", "بالأردن", "للهند", "ΣΟΦΊΑ", "İstanbul", "x", ""]
    for w in words:
        assert gaz.form_types(match_form(w)) == gaz.token_types(w), w
    assert sum(bool(gaz.token_types(w)) for w in words) > 1000

def test_match_form_length_changes_are_the_listed_characters() -> None:
    """MATCH_DROPPED / MATCH_GROWS name exactly the characters match_form drops or grows, and
    _ODD_WHITESPACE finds what _ODD_SPACE finds: what _form_with_offsets relies on."""
    import re

    from pipeline.lib.arabic import MATCH_DROPPED, MATCH_GROWS, match_form
    from pipeline.lib.gazetteer import _ODD_SPACE, _ODD_WHITESPACE

    for c in map(chr, range(0x110000)):
        if 0xD800 <= ord(c) < 0xE000:
            continue
        n = len(match_form(c))
        assert (n == 0) == bool(MATCH_DROPPED.match(c)), hex(ord(c))
        assert (n > 1) == bool(MATCH_GROWS.match(c)), hex(ord(c))
        assert bool(re.match(r"\s", c)) == c.isspace()
        if c.isspace():
            assert ord(c) < 0x3001
            for probe in (c, "a" + c + "b", c + c, " " + c):
                assert bool(_ODD_SPACE.search(probe)) == ("  " in probe or bool(_ODD_WHITESPACE.search(probe)))


def _old_form_with_offsets(text: str) -> tuple[str, list[int]]:
    """The code before the speed work (per-distinct-character sizes), as a reference."""
    import re

    from pipeline.lib.arabic import match_form, match_form_with_offsets
    from pipeline.lib.gazetteer import _ODD_SPACE, _ListOffsets, _Offsets

    form = match_form(text)
    sizes = {ch: len(match_form(ch)) for ch in set(text)}
    if any(n > 1 for n in sizes.values()):
        form, kept = match_form_with_offsets(text)
        offsets: _Offsets = _ListOffsets(kept)
    else:
        offsets = _Offsets()
        if len(form) != len(text):
            dropped = "".join(sorted(ch for ch, n in sizes.items() if n == 0))
            removed = [m.start() for m in re.finditer("[" + re.escape(dropped) + "]", text)]
            if len(text) - len(form) == len(removed):
                offsets.drop(removed)
            else:
                form, kept = match_form_with_offsets(text)
                offsets = _ListOffsets(kept)
    if _ODD_SPACE.search(form):
        removed = []
        for m in _ODD_SPACE.finditer(form):
            removed.extend(range(m.start() + 1, m.end()))
        form = _ODD_SPACE.sub(" ", form)
        offsets.drop(removed)
    return form, [offsets[p] for p in range(len(form))]


def test_form_with_offsets_as_before(pinned: dict) -> None:
    import random

    from pipeline.lib.gazetteer import _form_with_offsets

    rng = random.Random(14)
    alphabet = list("ابتثجحخدذرزسشصضطظعغفقكلمنهوي أإآةى")
    alphabet += ["\u064e", "\u0651", "\u0640", "\u200f", "\t", "\n", "  ", "\xa0", "İ", "Σ", "A", "1"]
    texts = _texts(pinned["synth"])[:20]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    for t in texts:
        form, offsets = _form_with_offsets(t)
        assert (form, [offsets[p] for p in range(len(form))]) == _old_form_with_offsets(t), t

def test_span_offsets_are_the_token_matches(pinned: dict) -> None:
    """_span_offsets (non-whitespace character counts) gives the offsets _TOKEN_RE.finditer gives."""
    import random

    from pipeline.lib.ner import _TOKEN_RE, _sentence_split, _span_offsets

    rng = random.Random(14)
    alphabet = list("ابت جح،.؟!«»()3٫5\u064e\u0640") + ["\n", "\t", "\xa0", "\u2003", "\u3000", "12.5", "A", "😀", "\udcff"]
    texts = _texts(pinned["synth"])
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))) for _ in range(3000)]
    checked = 0
    for t in texts:
        flat, _ = _sentence_split(t)
        if not flat:
            continue
        matches = list(_TOKEN_RE.finditer(t))
        assert [m.group() for m in matches] == flat
        spans = [(i, j, "X") for i in range(0, len(flat), 3) for j in (i + 1, min(i + 3, len(flat)))]
        assert _span_offsets(t, flat, spans) == (
            [matches[i].start() for i, _, _ in spans],
            [matches[j - 1].end() for _, j, _ in spans],
        )
        checked += 1
    assert checked > 2500

def test_overlap_test_is_the_scan() -> None:
    import random

    from pipeline.lib.entities import _overlap_test, _overlaps
    from pipeline.lib.model import EntityMention

    rng = random.Random(14)
    for trial in range(400):
        spans, pos = [], 0
        for _ in range(rng.randint(0, 12)):
            pos += rng.randint(0, 4) if trial % 4 else rng.randint(-3, 4)  # every 4th: unsorted or overlapping
            end = pos + rng.randint(0 if trial % 7 == 0 else 1, 6)
            spans.append(EntityMention("x", "PER", pos, end))
            pos = end
        test = _overlap_test(spans)
        for s in range(-2, pos + 3):
            for e in range(s, s + 5):
                g = EntityMention("y", "LOC", s, e)
                assert test(g) == any(_overlaps(g, o) for o in spans), (spans, g)

def test_match_forms_in_one_call_are_each_tokens() -> None:
    import random

    from pipeline.lib.arabic import match_form
    from pipeline.lib.ner import _match_forms

    rng = random.Random(14)
    alphabet = list("ابتةىأإآ") + ["\u064e", "\u0651", "\u0640", "\u200f", "Σ", "σ", "Α", "İ", "I", "'", "a", "\u0301"]
    for _ in range(3000):
        tokens = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 8))]
        assert _match_forms(tokens) == [match_form(t) for t in tokens], tokens
    assert _match_forms(["a\nb", "C"]) == ["a\nb", "c"]  # a token holding a line break: one by one

if __name__ == "__main__" and "--record" in sys.argv:
    sys.path.insert(0, str(ROOT))
    _record()
