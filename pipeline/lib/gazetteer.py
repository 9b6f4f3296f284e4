"""Entity gazetteer: finds known people, places and organisations in Arabic text and links them.

`Gazetteer.find` scans the match form of a text with one Aho-Corasick automaton over every name
variant in pipeline/resources/gazetteer/entities.tsv (built by pipeline/training/build_gazetteer.py),
keeps whole-token matches that may carry Arabic proclitics, takes leftmost-longest spans and links
each to a Wikidata id where the table has one. Short forms resolve by context: a surname, a Korean
family name or a generic 'وزارة الدفاع' shared by several entries links to the one named last
before it; a bare given name links only to a person already named or whose surname follows at once.
`split_keywords` segments an aggregator's keyword line into phrases with the same table.
"""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ahocorasick

from pipeline.lib.arabic import MATCH_DROPPED, MATCH_GROWS, match_form, match_form_with_offsets, match_key
from pipeline.lib.cache import BoundedCache
from pipeline.lib.model import EntityMention

RESOURCE_DIR = Path(__file__).resolve().parents[1] / "resources" / "gazetteer"
DEFAULT_PATH = RESOURCE_DIR / "entities.tsv"

FULL, PARTIAL, GIVEN = 0, 1, 2  # variant kinds, in order of trust

# Proclitic strings allowed glued before a name (match form): conjunction, preposition, article.
_CONJ = ("", "و", "ف")
_PREP = ("", "ب", "ل", "ك")
PROCLITICS: frozenset[str] = frozenset(c + p + a for c in _CONJ for p in _PREP for a in ("", "ال")) | frozenset(
    c + "لل" for c in _CONJ
)
_MAX_PROCLITIC = max(map(len, PROCLITICS))
# Forms where ل + ال fused into لل and the article's alef is gone (للهند = ل + الهند).
_FUSED_LAM = frozenset(c + "لل" for c in _CONJ)

_STOP_TOKENS = frozenset(
    match_form(w) for w in ["في", "من", "على", "عن", "إلى", "الى", "و", "ال", "بن", "آل", "أبو", "ابو", "لل"]
)
_NO_TYPES: frozenset[str] = frozenset()
_ODD_SPACE = re.compile(r"[^\S\n]{2,}|[^\S \n]")  # whitespace that is not a single plain space
# It matches where there are two spaces or a whitespace character other than ' ' and '\n' (all of
# which lie below U+3001; re's \s is str.isspace).
_ODD_WHITESPACE = re.compile(
    "[" + re.escape("".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \n")) + "]"
)


@dataclass(frozen=True)
class GazetteerEntry:
    qid: str
    type: str  # PER | LOC | ORG
    canonical: str


@dataclass(frozen=True)
class _Pattern:
    entries: tuple[tuple[int, int], ...]  # (entry index, variant kind)
    fused_al: bool  # key is a name with its ال removed: needs a fused لل before it
    exact: str  # for all-caps Latin acronyms: the case the original text must have


@dataclass
class _Candidate:
    start: int  # span in the scanned form
    end: int
    pattern: _Pattern


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


class _Offsets:
    """Maps a position in the scanned form back to the original text.

    The form is the text with some characters removed (harakat, tatweel, extra spaces), so a form
    position p is original position p + (number of removed characters before it): two bisects over
    the removed positions instead of a list as long as the text.
    """

    __slots__ = ("_layers",)

    def __init__(self) -> None:
        self._layers: list[list[int]] = []

    def drop(self, removed: list[int]) -> None:
        """Add a removal step; `removed` are sorted positions in the previous layer's string."""
        if removed:
            self._layers.append([r - j for j, r in enumerate(removed)])

    def __getitem__(self, p: int) -> int:
        for shifted in reversed(self._layers):
            p += bisect.bisect_right(shifted, p)
        return p


class _ListOffsets(_Offsets):
    __slots__ = ("_kept",)

    def __init__(self, kept: list[int]) -> None:
        super().__init__()
        self._kept = kept

    def __getitem__(self, p: int) -> int:
        return self._kept[super().__getitem__(p)]


def _form_with_offsets(text: str) -> tuple[str, _Offsets]:
    """`match_form_with_offsets` with whitespace runs collapsed to one space (names match across
    double spaces but not across lines), with offsets kept as removed positions, not a full list.

    Which characters the match form drops or grows is arabic.py's (MATCH_DROPPED, MATCH_GROWS,
    checked against match_form for every code point), one regex pass each; odd cases fall back to
    match_form_with_offsets. (A set of the text's characters cost 0.2 ms on a 5 KB article.)
    """
    form = match_form(text)
    offsets: _Offsets
    if MATCH_GROWS.search(text):
        form, kept = match_form_with_offsets(text)  # lower() grew a character ('İ')
        offsets = _ListOffsets(kept)
    else:
        offsets = _Offsets()
        if len(form) != len(text):
            removed = [m.start() for m in MATCH_DROPPED.finditer(text)]
            if len(text) - len(form) == len(removed):
                offsets.drop(removed)
            else:
                form, kept = match_form_with_offsets(text)
                offsets = _ListOffsets(kept)
    if "  " in form or _ODD_WHITESPACE.search(form):  # == _ODD_SPACE.search(form), 5x faster
        removed: list[int] = []
        for m in _ODD_SPACE.finditer(form):
            removed.extend(range(m.start() + 1, m.end()))
        form = _ODD_SPACE.sub(" ", form)
        offsets.drop(removed)
    return form, offsets


class Gazetteer:
    """Name table plus automaton. Build once per process with `Gazetteer.load()`."""

    _cache: ClassVar[dict[str, Gazetteer]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, entries: list[GazetteerEntry], countries: list[str], variants: list[tuple[int, int, str]]):
        self.entries = entries
        self._country = countries  # ISO code per entry ('' when none)
        self._country_entry = {c: i for i, (c, e) in enumerate(zip(countries, entries)) if c and e.type == "LOC"}
        self._index: dict[str, list[tuple[int, int]]] = {}
        self._exact: dict[str, str] = {}
        token_types: dict[str, set[str]] = {}
        for idx, kind, variant in variants:
            key = match_key(variant)
            if not key:
                continue
            self._index.setdefault(key, [])
            if (idx, kind) not in self._index[key]:
                self._index[key].append((idx, kind))
            if variant.isascii() and variant.isupper():
                self._exact[key] = variant
            for tok in key.split():
                if len(tok) > 1 and tok not in _STOP_TOKENS:
                    token_types.setdefault(tok, set()).add(entries[idx].type)
        self._token_types = {t: frozenset(s) for t, s in token_types.items()}
        self._automaton = ahocorasick.Automaton()
        patterns: dict[str, _Pattern] = {}
        for key, ents in self._index.items():
            patterns[key] = _Pattern(tuple(ents), False, self._exact.get(key, ""))
        for key, ents in self._index.items():
            # للهند: the article's alef is not written after ل, so 'الهند' is not a substring.
            if key.startswith("ال") and len(key) > 4 and key[2:] not in patterns:
                patterns[key[2:]] = _Pattern(tuple(ents), True, "")
        for key, pat in patterns.items():
            self._automaton.add_word(key, (key, pat))
        self._automaton.make_automaton()
        self._lookups = BoundedCache(self._lookup, 100_000)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | None = None) -> Gazetteer:
        """The gazetteer in `path` (default: the shipped table), built once per process."""
        resolved = str(Path(path) if path else DEFAULT_PATH)
        with cls._lock:
            if resolved not in cls._cache:
                cls._cache[resolved] = cls._read(Path(resolved))
            return cls._cache[resolved]

    @classmethod
    def _read(cls, path: Path) -> Gazetteer:
        entries: list[GazetteerEntry] = []
        countries: list[str] = []
        variants: list[tuple[int, int, str]] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t") + [""] * 7
            qid, etype, canonical = cols[0], cols[1], cols[2]
            idx = len(entries)
            entries.append(GazetteerEntry(qid, etype, canonical))
            countries.append(cols[6])
            for kind, cell in ((FULL, cols[3]), (PARTIAL, cols[4]), (GIVEN, cols[5])):
                variants += [(idx, kind, v) for v in cell.split("|") if v]
        return cls(entries, countries, variants)

    # ------------------------------------------------------------------ lookups

    def lookup(self, name: str) -> GazetteerEntry | None:
        """The entry a name denotes out of context (most trusted kind, then table order); proclitics tolerated."""
        return self._lookups[name]  # names repeat across articles; the table never changes

    def _lookup(self, name: str) -> GazetteerEntry | None:
        key = match_key(name)
        for cand in self._keys_without_proclitics(key):
            ents = self._index.get(cand)
            if ents:
                idx, _ = min(ents, key=lambda e: (e[1], e[0]))
                return self.entries[idx]
        return None

    def _keys_without_proclitics(self, key: str) -> list[str]:
        out = [key]
        for n in range(1, 5):
            prefix, rest = key[:n], key[n:]
            if prefix in PROCLITICS and len(rest) >= 2:
                out.append(rest)
                if prefix in _FUSED_LAM:
                    out.append("ال" + rest)
        return out

    def token_types(self, token: str) -> frozenset[str]:
        """Types of entries with a name containing this token (proclitics tolerated): a CRF feature."""
        return self.form_types(match_form(token))

    def form_types(self, form: str) -> frozenset[str]:
        """`token_types` of a token already in match form (match_form is idempotent): the CRF
        feature extractor has the form at hand, and normalising it again cost a third of the call.
        Probes the same keys in the same order as `_keys_without_proclitics`, without the list."""
        types = self._token_types
        hit = types.get(form)
        if hit is not None:
            return hit
        for n in range(1, 5):
            prefix, rest = form[:n], form[n:]
            if prefix in PROCLITICS and len(rest) >= 2:
                hit = types.get(rest)
                if hit is None and prefix in _FUSED_LAM:
                    hit = types.get("ال" + rest)
                if hit is not None:
                    return hit
        return _NO_TYPES

    # ------------------------------------------------------------------ scanning

    def _scan(self, text: str) -> tuple[str, _Offsets, list[_Candidate]]:
        """Whole-token candidate matches over a whitespace-collapsed match form of `text`."""
        form, idx = _form_with_offsets(text)
        cands: list[_Candidate] = []
        n = len(form)
        for end_incl, (key, pat) in self._automaton.iter(form):
            start, end = end_incl - len(key) + 1, end_incl + 1
            if end < n and form[end].isalnum():
                continue  # something glued after the name: a longer word (روبوتيني)
            tok_start = start
            limit = max(0, start - _MAX_PROCLITIC)
            while tok_start > limit and form[tok_start - 1].isalnum():
                tok_start -= 1
            if tok_start > 0 and form[tok_start - 1].isalnum():
                continue  # too much glued before: inside another word
            prefix = form[tok_start:start]
            if pat.fused_al:
                if prefix not in _FUSED_LAM:
                    continue
                start -= 2  # the surface keeps لل: the bare name is not in the text
            elif prefix not in PROCLITICS or (prefix and not key[0].isalpha()):
                continue
            if pat.exact and text[idx[start] : idx[end - 1] + 1] != pat.exact:
                continue  # 'NATO' but not the English word 'who' for 'WHO'
            cands.append(_Candidate(start, end, pat))
        return form, idx, cands

    def _longest(self, cands: list[_Candidate]) -> list[_Candidate]:
        kept: list[_Candidate] = []
        for c in sorted(cands, key=lambda c: (c.start, -(c.end - c.start))):
            if not kept or c.start >= kept[-1].end:
                kept.append(c)
        return kept

    def find(self, text: str) -> list[EntityMention]:
        """Gazetteer mentions in `text`, spans as offsets into `text`, in text order."""
        form, idx, cands = self._scan(text)
        chosen = self._longest(cands)
        # First country named anywhere: the default owner of a bare 'وزارة الخارجية'.
        first_country = ""
        for c in chosen:
            full = [i for i, k in c.pattern.entries if k == FULL and i in self._country_entry.values()]
            if full:
                first_country = self._country[full[0]]
                break
        mentioned: dict[int, int] = {}  # entry -> position of its latest linked mention
        out: list[EntityMention] = []
        for n, c in enumerate(chosen):
            nxt = chosen[n + 1] if n + 1 < len(chosen) else None
            resolved = self._resolve(c, nxt, form, mentioned, first_country)
            if resolved is None:
                continue
            entry_idx, etype = resolved
            s, e = idx[c.start], idx[c.end - 1] + 1
            if entry_idx is None:
                out.append(EntityMention(text[s:e], etype, s, e))
                continue
            mentioned[entry_idx] = c.start
            ent = self.entries[entry_idx]
            out.append(EntityMention(text[s:e], ent.type, s, e, ent.canonical, ent.qid))
        return out

    def _resolve(
        self, c: _Candidate, nxt: _Candidate | None, form: str, mentioned: dict[int, int], first_country: str
    ) -> tuple[int | None, str] | None:
        """(entry, type), (None, type) for a typed but unlinked mention, or None to drop it."""
        ents = c.pattern.entries
        full = [i for i, k in ents if k == FULL]
        partial = [i for i, k in ents if k == PARTIAL]
        given = [i for i, k in ents if k == GIVEN]
        seen = [i for i, _ in ents if i in mentioned]
        if len(full) == 1 and not seen:
            return full[0], ""
        if seen:
            return max(seen, key=lambda i: mentioned[i]), ""
        if full:
            return min(full), ""
        if partial and len(set(partial)) == 1 and not given:
            return partial[0], ""
        if partial:
            # A generic body ('وزارة الخارجية') belongs to the country the text is about.
            owned = [i for i in partial if first_country and self._country[i] == first_country]
            if len(owned) == 1:
                return owned[0], ""
            types = {self.entries[i].type for i in partial + given}
            return (None, types.pop()) if len(types) == 1 else None
        # A bare given name: only when the same person's surname follows directly ('فلاديمير) بوتين').
        if nxt is not None and not any(_is_word_char(ch) for ch in form[c.end : nxt.start]):
            follow = {i for i, k in nxt.pattern.entries if k in (FULL, PARTIAL)}
            hit = [i for i in given if i in follow]
            if hit:
                return min(hit), ""
        return None


# ---------------------------------------------------------------------- keyword segmentation

# Titles that precede a name in Arabic news phrases. A noun + one definite word ('وزير الخارجية')
# or a definite title alone ('الرئيس'); 'باسم' titles take an organisation.
_TITLE_NOUNS = frozenset(
    match_form(w)
    for w in [
        "وزير",
        "وزيرة",
        "رئيس",
        "رئيسة",
        "قائد",
        "قائدة",
        "مدير",
        "مديرة",
        "حاكم",
        "حاكمة",
        "سفير",
        "سفيرة",
        "مندوب",
        "مندوبة",
        "أمين",
        "مستشار",
        "مستشارة",
    ]
)
_DEFINITE_TITLES = frozenset(
    match_form(w)
    for w in [
        "الرئيس",
        "الرئيسة",
        "الزعيم",
        "الزعيمة",
        "الملك",
        "الملكة",
        "الأمير",
        "الأميرة",
        "السلطان",
        "الشيخ",
        "المستشار",
        "المستشارة",
        "السفير",
        "السفيرة",
        "المندوب",
        "المندوبة",
        "الجنرال",
        "الأدميرال",
        "المرشد",
        "البابا",
        "الإمام",
        "العاهل",
        "رئيس",
    ]
)
_MULTI_TITLES = tuple(
    tuple(match_form(w) for w in t.split())
    for t in ("ولي العهد", "الأمين العام", "المرشد الأعلى", "رئيس الوزراء", "رئيسة الوزراء", "رئيس هيئة الأركان")
)
_SPOKES = frozenset(match_form(w) for w in ["المتحدث", "المتحدثة", "الناطق", "الناطقة"])
_NAMED_FOR = frozenset(match_form(w) for w in ("باسم", "بإسم"))
_DEPUTY = frozenset(match_form(w) for w in ("نائب", "نائبة"))


def _load_demonyms() -> tuple[tuple[str, ...], ...]:
    path = RESOURCE_DIR / "demonyms.tsv"
    forms: set[tuple[str, ...]] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        for cell in line.split("\t")[1:]:
            forms |= {tuple(match_form(d).split()) for d in cell.split("|") if d}
    return tuple(sorted(forms, key=len, reverse=True))


_DEMONYMS: tuple[tuple[str, ...], ...] | None = None


def _demonym_at(words: list[str], i: int) -> int:
    """Number of words of a definite demonym ('الروسي', 'الكوري الشمالي') starting at i, else 0."""
    global _DEMONYMS
    if _DEMONYMS is None:
        _DEMONYMS = _load_demonyms()
    for form in _DEMONYMS:
        if tuple(words[i : i + len(form)]) == form:
            return len(form)
    return 0


def _title_at(words: list[str], i: int) -> tuple[int, bool]:
    """(length of a title starting at i, whether it names an organisation: 'المتحدث باسم')."""
    j = i
    while j < len(words) and words[j] in _DEPUTY:
        j += 1
    if j >= len(words):
        return 0, False
    if words[j] in _SPOKES:
        k = j + 1
        if k < len(words) and words[k] == match_form("الرسمي"):
            k += 1
        if k < len(words) and words[k] in _NAMED_FOR:
            return k + 1 - i, True
        return 0, False
    for multi in _MULTI_TITLES:
        if tuple(words[j : j + len(multi)]) == multi:
            return j + len(multi) - i, False
    if words[j] in _TITLE_NOUNS and j + 1 < len(words) and words[j + 1].startswith("ال"):
        return j + 2 - i, False
    if words[j] in _DEFINITE_TITLES:
        return j + 1 - i, False
    return (j - i, False) if j > i else (0, False)


def split_keywords(raw: str, gazetteer: Gazetteer) -> list[str]:
    """Segment an aggregator keyword line into phrases; ' '.join(result) == raw.

    Greedy left to right: a title (+ demonym) attaches to the name after it, a name or an
    organisation (+ demonym, 'تاس الروسية') is one phrase, and leftover words form one phrase per run.
    """
    tokens = raw.split(" ")
    words = [match_form(t) for t in tokens]
    tok_start: list[int] = []
    pos = 0
    for t in tokens:
        tok_start.append(pos)
        pos += len(t) + 1
    # The longest gazetteer name starting at each token, as (token count, entry types).
    starts: dict[int, tuple[int, set[str]]] = {}
    _, idx, cands = gazetteer._scan(raw)
    for c in cands:
        first = bisect.bisect_right(tok_start, idx[c.start]) - 1
        last = bisect.bisect_right(tok_start, idx[c.end - 1]) - 1
        if idx[c.end - 1] + 1 != tok_start[last] + len(tokens[last]):
            continue
        types = {gazetteer.entries[i].type for i, _ in c.pattern.entries}
        if last + 1 - first > starts.get(first, (0, set()))[0]:
            starts[first] = (last + 1 - first, types)
    phrases: list[list[str]] = []
    leftover: list[str] = []

    def flush() -> None:
        if leftover:
            phrases.append(list(leftover))
            leftover.clear()

    i = 0
    while i < len(tokens):
        if not words[i]:
            (leftover if leftover or not phrases else phrases[-1]).append(tokens[i])
            i += 1
            continue
        title_len, takes_org = _title_at(words, i)
        name = starts.get(i)
        if title_len and not (name and name[0] >= title_len):
            j = i + title_len
            j += _demonym_at(words, j)
            nxt = starts.get(j)
            if nxt and ("PER" in nxt[1] or (takes_org and nxt[1] & {"ORG", "LOC"})):
                j += nxt[0]
            flush()
            phrases.append(tokens[i:j])
            i = j
            continue
        if name:
            j = i + name[0]
            if "ORG" in name[1]:
                j += _demonym_at(words, j)
            flush()
            phrases.append(tokens[i:j])
            i = j
            continue
        leftover.append(tokens[i])
        i += 1
    flush()
    return [" ".join(p) for p in phrases]
