"""Entity mentions for an article: gazetteer matches (linked) combined with CRF spans (unlinked).

Gazetteer matches win because they carry a canonical name and a Wikidata id. CRF spans fill the
gaps; a CRF span is linked only when its text looks up in the gazetteer or it is a surname
repeating a person named earlier in the same text. Nothing is ever linked by guess.
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING, Any, Callable

from pipeline.lib.arabic import match_form, match_key
from pipeline.lib.model import EntityMention
from pipeline.lib.ner import NerTagger, split_proclitics, trigger_kind

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
        # With gazetteer features. They cost 0.7 F1 on both ANERcorp devs once the name priors are in
        # (PER 2 points on the last 12%), but without them the CRF joins names it does not know
        # into one span in news ('فورونيج وكورسك' PER, 'حوض البحر الأسود' MISC): 6 seed places lost.
        return tagger.tag(text, gazetteer=gazetteer)
    return list(tagger.tag(text))  # any object with tag(text) -> mentions (tests, other models)


def _same_entity(entry: Any, mention: EntityMention, crf: EntityMention, text: str) -> bool:
    """Does the CRF span (gazetteer entry `entry`) denote the entity of the longer gazetteer
    `mention`? Yes when they look up to the same entry, or when the gazetteer's extra words are
    only a person's titles ('الشيخ محمد بن راشد')."""
    if mention.type == "PER" and crf.type == "PER" and mention.start <= crf.start and crf.end <= mention.end:
        extra = (text[mention.start : crf.start] + " " + text[crf.end : mention.end]).split()
        if extra and all(trigger_kind(match_form(w)) == "PERT" for w in extra):
            return True
    if entry is None:
        return False
    if mention.wikidata_id or entry.qid:
        return entry.qid == mention.wikidata_id
    return entry.canonical == mention.canonical


# Geographic head nouns: a place named with one (المحيط الهادئ، البحر الأسود، نهر النيل) is a place in any
# context; only bare place names alternate with clubs and governments.
_GEO_HEADS = frozenset(match_form(w) for w in "محيط بحر خليج نهر جبل جبال جزيرة جزر مضيق صحراء بحيرة وادي".split())


def _fixed_type(g: EntityMention, crf: EntityMention) -> bool:
    """Is the gazetteer's type of `g` beyond the CRF's reading `crf` from context?"""
    if "PER" in (g.type, crf.type):
        return True
    words = g.surface.split()
    return g.type == "LOC" and bool(words) and split_proclitics(match_form(words[0]))[2] in _GEO_HEADS


def _name_like(tagger: Any, word: str) -> bool:
    """Could `word` be part of a name (rare in news, or a known name part)? Without a tagger that
    can tell, assume it could: the CRF span then stands."""
    probe = getattr(tagger, "is_name_like", None)
    return True if probe is None else probe(word)


def tag_entities(text: str, gazetteer: Gazetteer | None, tagger: NerTagger | None) -> list[EntityMention]:
    """All entity mentions in `text`, sorted by start and non-overlapping.

    The CRF decides spans and types where it finds a name; the gazetteer links them and adds what
    the CRF missed. The gazetteer's span or type wins over an overlapping CRF span only where the
    CRF is wrong by construction, not where the two follow different conventions:
    - a longer gazetteer name that is another entity than the CRF span's own lookup ('قطاع غزة'
      over the city 'غزة'; but 'حركة حماس' does not replace 'حماس', which denotes the same body);
    - the same span with a person's type on one side only (a known person is not a place);
    - a CRF span running on from a gazetteer name into common words ('عمان الأسبوع'), or joining
      two gazetteer names ('فولجوجراد وروستوف').
    City/club and country/government readings (LOC vs ORG) stay the CRF's: it reads them from
    context. A CRF span is linked when it looks up with its type, or holds one gazetteer name of
    its type plus at most a proclitic. Nothing is linked by guess.
    """
    gaz = _non_overlapping(list(gazetteer.find(text))) if gazetteer is not None else []
    gaz_ends = [g.end for g in gaz]  # sorted: the spans are sorted and do not overlap
    touched_any: set[int] = set()
    out: list[EntityMention] = []
    # Per text: names repeat within an article, and each surface needs its lookup only once.
    demonym: dict[str, bool] = {}
    looked_up: dict[str, Any] = {}
    for m in _crf_mentions(text, gazetteer, tagger):
        # Only the gazetteer spans from the first ending after m.start can overlap m (a scan of
        # all of them per CRF span was quadratic: minutes on a 2 MB body).
        touched = []
        for i in range(bisect.bisect_right(gaz_ends, m.start), len(gaz)):
            if gaz[i].start >= m.end:
                break
            if _overlaps(m, gaz[i]):
                touched.append(i)
        touched_any.update(touched)
        # Demonyms come out of the CRF as LOC/MISC; single-word ORG nisbas are often clubs.
        if m.type in ("LOC", "MISC"):
            dem = demonym.get(m.surface)
            if dem is None:
                dem = demonym[m.surface] = is_demonym(m.surface, gazetteer)
            if dem:
                continue
        if m.surface in looked_up:
            entry = looked_up[m.surface]
        else:
            entry = looked_up[m.surface] = gazetteer.lookup(m.surface) if gazetteer is not None else None
        if entry is not None and entry.type != m.type and "PER" in (entry.type, m.type):
            m = EntityMention(m.surface, entry.type, m.start, m.end)
        hits = [gaz[i] for i in touched]
        if any((g.start < m.start or g.end > m.end) and not _same_entity(entry, g, m, text) for g in hits):
            continue  # the gazetteer's longer name is another entity
        if any((g.start, g.end) == (m.start, m.end) and g.type != m.type and _fixed_type(g, m) for g in hits):
            continue  # a known person's name is not a place or a body, nor the reverse; an ocean is no club
        if len(hits) > 1 and all(m.start <= g.start and g.end <= m.end for g in hits):
            continue  # two known names joined into one span: coordination ('زابوريجيا وخيرسون')
        if len(hits) == 1 and m.start <= hits[0].start and hits[0].end <= m.end:
            extra = (text[m.start : hits[0].start] + " " + text[hits[0].end : m.end]).split()
            if extra and not any(_name_like(tagger, w) for w in extra):
                continue  # run on past the name into common words ('حوض البحر الأسود', 'عمان الأسبوع')
        if entry is not None and entry.type == m.type:
            out.append(EntityMention(m.surface, m.type, m.start, m.end, entry.canonical, entry.qid))
            continue
        if len(hits) == 1:
            g = hits[0]
            if g.type == m.type and m.start <= g.start and g.end <= m.end and (m.end - m.start) - (g.end - g.start) <= 3:
                out.append(EntityMention(m.surface, m.type, m.start, m.end, g.canonical, g.wikidata_id))
                continue
        out.append(EntityMention(m.surface, m.type, m.start, m.end, m.surface, ""))
    # Gazetteer names the CRF did not tag, or whose CRF span lost above.
    overlaps_kept = _overlap_test(out)
    out += [g for i, g in enumerate(gaz) if i not in touched_any or not overlaps_kept(g)]
    return _link_surnames(_non_overlapping(out))


def _overlap_test(spans: list[EntityMention]) -> Callable[[EntityMention], bool]:
    """g -> any(_overlaps(g, o) for o in spans). The tagger's spans come sorted and disjoint: then
    only the last one starting before g ends can overlap g (a bisect, not a scan per name)."""
    if not all(a.start < a.end for a in spans) or not all(a.end <= b.start for a, b in zip(spans, spans[1:])):
        return lambda g: any(_overlaps(g, o) for o in spans)
    starts = [o.start for o in spans]

    def test(g: EntityMention) -> bool:
        i = bisect.bisect_left(starts, g.end) - 1
        return i >= 0 and _overlaps(g, spans[i])

    return test


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
