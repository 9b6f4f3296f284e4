"""Entity mentions for an article: gazetteer matches (linked) combined with CRF spans (unlinked).

Gazetteer matches win because they carry a canonical name and a Wikidata id. CRF spans fill the
gaps; a CRF span is linked only when its text looks up in the gazetteer or it is a surname
repeating a person named earlier in the same text. Nothing is ever linked by guess.
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING, Any

from pipeline.lib.arabic import match_form, match_key
from pipeline.lib.model import EntityMention
from pipeline.lib.ner import ENTITY_TYPES, NerTagger, split_proclitics, trigger_kind

if TYPE_CHECKING:
    from pipeline.lib.gazetteer import Gazetteer

# Nisba adjective ending on a match-form core: -ي, -يه (ية folded), -يين, -يون, -يات.
_NISBA_END = re.compile("(?:ي|يه|يين|يون|يات)$")


def is_demonym(surface: str, gazetteer: Any = None) -> bool:
    """True for spans made only of definite nisba adjectives ('الروسي', 'الكوري الشمالي').

    General morphology, not a list: every word is (clitic +) ال + stem ending in a nisba suffix,
    and the span is not a gazetteer name (some places and families look like nisbas).
    """
    words = surface.split()
    if not words:
        return False
    for word in words:
        _, has_al, core = split_proclitics(match_form(word))
        if not has_al or len(core) < 3 or not _NISBA_END.search(core):
            return False
    return not (gazetteer is not None and gazetteer.lookup(surface) is not None)


def _overlaps(a: EntityMention, b: EntityMention) -> bool:
    return a.start < b.end and b.start < a.end


def _non_overlapping(mentions: list[EntityMention]) -> list[EntityMention]:
    """Earliest first, longer first on ties; drop anything overlapping an already kept span."""
    kept: list[EntityMention] = []
    for m in sorted(mentions, key=lambda m: (m.start, -(m.end - m.start))):
        if not kept or m.start >= kept[-1].end:
            kept.append(m)
    return kept


def _crf_mentions(text: str, gazetteer: Any, tagger: Any) -> list[EntityMention]:
    if tagger is None:
        return []
    if isinstance(tagger, NerTagger):
        return tagger.tag(text, gazetteer=gazetteer)
    return list(tagger.tag(text))  # any object with tag(text) -> mentions (tests, other models)


def _names_institution_at(outer: EntityMention, place: EntityMention) -> bool:
    """'جامعة القاهرة', 'مصرف قطر المركزي': an ORG/MISC span built around one place name with an
    institution noun (trigger word) beside it is the institution, not the place."""
    if outer.type not in ("ORG", "MISC") or place.type != "LOC":
        return False
    if not (
        outer.start <= place.start and place.end <= outer.end and outer.end - outer.start > place.end - place.start
    ):
        return False
    rest = outer.surface[: place.start - outer.start] + " " + outer.surface[place.end - outer.start :]
    return any(trigger_kind(match_form(w)) == "ORGT" for w in rest.split())


def tag_entities(text: str, gazetteer: Gazetteer | None, tagger: NerTagger | None) -> list[EntityMention]:
    """All entity mentions in `text`, sorted by start and non-overlapping.

    Gazetteer matches win over CRF spans they overlap (CRF spans often run on into a following
    word or a coordinated name). One exception: a CRF ORG/MISC span that holds exactly one
    gazetteer place plus an institution noun is the institution ('جامعة القاهرة').
    """
    gaz = _non_overlapping(list(gazetteer.find(text))) if gazetteer is not None else []
    gaz_ends = [g.end for g in gaz]  # sorted: the spans are sorted and do not overlap
    replaced: set[int] = set()
    crf_out: list[EntityMention] = []
    for m in _crf_mentions(text, gazetteer, tagger):
        # Only the gazetteer spans from the first ending after m.start can overlap m (a scan of
        # all of them per CRF span was quadratic: minutes on a 2 MB body).
        touched = []
        for i in range(bisect.bisect_right(gaz_ends, m.start), len(gaz)):
            if gaz[i].start >= m.end:
                break
            if _overlaps(m, gaz[i]):
                touched.append(i)
        if touched and not (len(touched) == 1 and _names_institution_at(m, gaz[touched[0]])):
            continue
        # Demonyms come out of the CRF as LOC/MISC; single-word ORG nisbas are often clubs.
        if m.type in ("LOC", "MISC") and is_demonym(m.surface, gazetteer):
            continue
        entry = gazetteer.lookup(m.surface) if gazetteer is not None else None
        if entry is not None:
            typ = entry.type if entry.type in ENTITY_TYPES else m.type
            crf_out.append(EntityMention(m.surface, typ, m.start, m.end, entry.canonical, entry.qid))
        else:
            crf_out.append(EntityMention(m.surface, m.type, m.start, m.end, m.surface, ""))
        replaced.update(touched)
    out = [g for i, g in enumerate(gaz) if i not in replaced] + crf_out
    return _link_surnames(_non_overlapping(out))


def _link_surnames(mentions: list[EntityMention]) -> list[EntityMention]:
    """A lone one-word PER that repeats the last word of an earlier PER refers to that person."""
    last_word: dict[str, EntityMention] = {}
    result: list[EntityMention] = []
    for m in mentions:
        if m.type == "PER":
            words = match_key(m.surface).split()
            if len(words) == 1 and not m.wikidata_id and words[0] in last_word:
                person = last_word[words[0]]
                m = EntityMention(
                    m.surface, "PER", m.start, m.end, person.canonical or person.surface, person.wikidata_id
                )
            elif len(words) > 1:
                last_word[words[-1]] = m
        result.append(m)
    return result
