"""Arabic named-entity tagger: an offset-keeping tokenizer, CRF features and a python-crfsuite model.

The same `FeatureExtractor` turns tokens into features at training time
(`pipeline/training/train_ner.py`) and at inference (`NerTagger`), so the two cannot drift.
Features are computed once per distinct word and cached, because the per-article cost is dominated
by feature construction, not by Viterbi decoding.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import operator
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from pipeline.lib.arabic import match_form
from pipeline.lib.cache import BoundedCache
from pipeline.lib.model import EntityMention

if TYPE_CHECKING:  # only for hints; the gazetteer is optional at run time
    from pipeline.lib.gazetteer import Gazetteer

RESOURCE_DIR = Path(__file__).resolve().parent.parent / "resources" / "ner"
DEFAULT_MODEL = RESOURCE_DIR / "model.crfsuite"
DEFAULT_LEXICON = RESOURCE_DIR / "lexicon.tsv.gz"
DEFAULT_PRIORS = RESOURCE_DIR / "name_priors.tsv.gz"
ENTITY_TYPES = ("PER", "LOC", "ORG", "MISC")
Sentence = tuple[list[str], list[str]]  # whitespace tokens, BIO tags

# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------

# Punctuation and symbols split off as one-character tokens: ASCII, Arabic (، ؛ ؟ ٪ ۔), guillemets,
# typographic quotes and dashes.
_PUNCT_CHARS = "!\"#$%&'()*+,./:;<=>?@[\\]^_`{|}~-،؛؟٪۔٭«»‹›“”‘’„‚…–—•·"
_PUNCT_CLASS = "[" + re.escape(_PUNCT_CHARS) + "]"
# Numbers keep their internal separators (3.5, 1,200, 2023/10) so they stay one token.
_TOKEN_RE = re.compile(r"\d+(?:[.,:/]\d+)+|[^\s" + re.escape(_PUNCT_CHARS) + r"]+|" + _PUNCT_CLASS)


class Token(NamedTuple):
    text: str
    start: int
    end: int  # exclusive: text == source[start:end]


def tokenize(text: str) -> list[Token]:
    """Split on whitespace and punctuation, keeping character offsets into `text`."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def is_punct(token: str) -> bool:
    return bool(token) and not token.strip(_PUNCT_CHARS)  # only punctuation (no regex per token)


# --------------------------------------------------------------------------------------------
# Morphology helpers (all on the match form)
# --------------------------------------------------------------------------------------------

# Proclitic sequences, longest first: conjunction (و ف) + preposition (ب ل ك) + article (ال).
# "لل" is ل + ال with the alef elided.
_ARTICLE_PREFIXES = (
    "وبال",
    "وكال",
    "فبال",
    "فكال",
    "وال",
    "فال",
    "بال",
    "كال",
    "ولل",
    "فلل",
    "لل",
    "ال",
)
_CLITIC_LETTERS = ("وب", "ول", "وك", "فب", "فل", "فك", "و", "ف", "ب", "ل", "ك")
_AL_WORDS = {"ال"}


_ARTICLE_CLITICS = {pre: (pre[:-2] if pre.endswith("ال") else pre[:-1]) for pre in _ARTICLE_PREFIXES}
_CLITIC_SET = frozenset(_CLITIC_LETTERS)


def split_proclitics(word: str) -> tuple[str, bool, str]:
    """(clitics, has_article, core) for a match-form word: 'والعراق' -> ('و', True, 'عراق').

    Only strips when at least two letters remain, so short words are left alone. A bare clitic
    letter is ambiguous with a name's first letter ('بوتين'); the CRF sees both forms and decides.
    Longest prefix first (the prefixes of one length are mutually exclusive): two dict probes
    per length instead of a scan over all prefixes.
    """
    n = len(word)
    for k in (4, 3, 2):
        if n - k >= 2:
            clitics = _ARTICLE_CLITICS.get(word[:k])  # 'لل' -> clitic 'ل'
            if clitics is not None:
                return clitics, True, word[k:]
    for k in (2, 1):
        if n - k >= 3 and word[:k] in _CLITIC_SET:
            return word[:k], False, word[k:]
    return "", False, word


_ARABIC_CHARS = "".join(map(chr, range(0x0600, 0x0700))) + "".join(map(chr, range(0x0750, 0x0780)))


def _shape(token: str) -> str:
    if is_punct(token):
        return "P"
    if not token.strip(_ARABIC_CHARS):  # all Arabic letters: the common case, one C call
        return "A"
    kinds = set()
    for ch in token:
        if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f":
            kinds.add("A")
        elif ch.isdigit():
            kinds.add("D")
        elif ch.isalpha():
            kinds.add("U" if ch.isupper() else "L")
        else:
            kinds.add("O")
    return "".join(sorted(kinds))


# Words that announce a name next to them. Kept small and general; values are the kind of name.
# Stored in match form and without clitics/article so 'والرئيس' and 'رئيس' both hit.
_TRIGGERS_RAW = {
    "PERT": (
        "رئيس رئيسة وزير وزيرة متحدث متحدثة ناطق زعيم ملك ملكة امير اميرة شيخ شيخة سيد سيدة"
        " دكتور مستشار مستشارة نائب سفير سفيرة جنرال لواء عميد عقيد مدير مديرة امين قائد"
        " مرشح مرشحة مدرب لاعب كاتب فنان فنانة ممثل ممثلة صحفي مراسل بابا رئيسا قال قالت"
        " اكد اكدت اعلن اعلنت اضاف اضافت مبعوث نجم مطرب مطربة مهاجم حارس مدافع هداف بطل بطلة كابتن"
    ),
    "KIN": "بن ابن بنت ابو ام ال",
    "LOCT": (
        "عاصمة مدينة بلدة قرية محافظة ولاية مقاطعة اقليم منطقة جزيرة نهر جبل دولة بلاد"
        " شمال جنوب شرق غرب وسط حي شارع ميناء مطار بحر خليج"
    ),
    "ORGT": (
        "وزارة شركة مؤسسة وكالة حزب حركة منظمة جمعية جامعة بنك مصرف صحيفة مجلة قناة اتحاد"
        " نادي مجلس هيئة لجنة جيش محكمة برلمان مجموعة فريق منتخب تلفزيون اذاعة كتلة تيار جبهة ائتلاف رابطة"
    ),
    "MISCT": "بطولة كأس دوري مسابقة جائزة أولمبياد مونديال دورة",
}
TRIGGERS: dict[str, str] = {match_form(w): kind for kind, words in _TRIGGERS_RAW.items() for w in words.split()}


def trigger_kind(word: str) -> str:
    """Trigger class of a match-form word (after clitics), or ''."""
    return _trigger_of(word, split_proclitics(word)[2])


def _trigger_of(word: str, core: str) -> str:
    kind = TRIGGERS.get(word)
    if kind:
        return kind
    kind = TRIGGERS.get(core, "")
    if not kind and core.endswith("ه"):  # construct state: وزارة -> وزارت not used; 'رئيسه' forms
        kind = TRIGGERS.get(core[:-1], "")
    return kind


# --------------------------------------------------------------------------------------------
# Lexicon: unlabelled-corpus word frequency and distributional cluster
# --------------------------------------------------------------------------------------------


class LexEntry(NamedTuple):  # a tuple: hashes fast as part of feature-group keys
    freq: int
    cluster_fine: str
    cluster_coarse: str
    clusters: tuple[str, ...] = ()  # further granularities (lexicon columns after 'coarse')


class Lexicon:
    """Word frequencies and clusters from unlabelled news (built by train_ner.py build-lexicon)."""

    def __init__(self, entries: dict[str, LexEntry]):
        self.entries = entries

    @classmethod
    def read(cls, path: str | Path) -> Lexicon:
        entries: dict[str, LexEntry] = {}
        p = Path(path)
        if not p.exists():
            return cls(entries)
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 4 or parts[0] == "word":
                    continue
                entries[parts[0]] = LexEntry(int(parts[1]), parts[2], parts[3], tuple(parts[4:]))
        return cls(entries)

    def freq(self, word: str) -> int:
        e = self.entries.get(word)
        return e.freq if e else 0

    def get(self, word: str) -> LexEntry | None:
        return self.entries.get(word)


def prior_bucket(count: int, total: int) -> int:
    """Level 0-4 of P(type | word) = count / (total + 2): smoothed, so one sighting is not certainty."""
    if count <= 0:
        return 0
    p = count / (total + 2)
    return 4 if p >= 0.8 else 3 if p >= 0.5 else 2 if p >= 0.2 else 1 if p >= 0.05 else 0


class NamePriors:
    """P(type | word) levels from other NER corpora and Wikidata person-name parts (built by
    pipeline/training/build_name_priors.py): soft evidence for the CRF, not matches."""

    def __init__(self, entries: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]]):
        self.entries = entries  # word -> (gold codes, silver codes, Wikidata person-label count)

    @classmethod
    def read(cls, path: str | Path) -> NamePriors:
        entries: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {}
        p = Path(path)
        if not p.exists():
            return cls(entries)
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            next(fh, None)
            for line in fh:
                w, gold, silver, wd = line.rstrip("\n").split("\t")
                entries[w] = (tuple(gold.split(",")) if gold else (), tuple(silver.split(",")) if silver else (), int(wd))
        return cls(entries)

    def features(self, w: str, core: str, ant_freq: int) -> tuple[str, ...]:
        """'gPER3' (gold), 'sLOC2' (silver), 'wd2h' (Wikidata name part: count level, and h/m/l for
        how that count compares with the word's frequency in news); 'c...' the same for the core."""
        entries = self.entries
        if w not in entries and (core == w or core not in entries):
            return ()  # most words: no prior for the word or its core
        out: list[str] = []
        for prefix, form in (("", w), ("c", core)):
            if prefix and core == w:
                break
            e = entries.get(form)
            if e is None:
                continue
            out.extend(prefix + "g" + c for c in e[0])
            out.extend(prefix + "s" + c for c in e[1])
            n = e[2]
            if n:
                level = "3" if n >= 100 else "2" if n >= 10 else "1"
                ratio = n / (ant_freq + 1)
                out.append(prefix + "wd" + level + ("h" if ratio >= 1 else "m" if ratio >= 0.05 else "l"))
        return tuple(out)


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------

_OFFSETS = (-3, -2, -1, 1, 2, 3)
_NEAR = (-2, -1, 1, 2)  # most context features; triggers, gazetteer types and words reach +-3
_NISBA_ENDS = ("ي", "يه", "يين", "يون", "يات")

Feats = tuple[list[str], dict[int, list[str]]]  # own features, features by neighbour offset
_NO_REL: dict[int, list[str]] = {k: [] for k in _OFFSETS}
_NO_WORD: tuple[list[str], ...] = ([],) * (1 + len(_OFFSETS))  # word-group slots of a word the model lacks


class _Analysis(NamedTuple):
    """What the features of one word type are computed from (all word-intrinsic)."""

    w: str  # match form
    shape: str
    clitics: str
    has_al: bool
    core: str
    trig: str
    lex: LexEntry | None
    core_lex: LexEntry | None  # lexicon entry of the core (== lex when nothing was stripped)
    cl: str  # coarse cluster of the word, else of its core, else '-'
    strip: str  # '', 'strip_ok' or 'strip_no'
    gaz: tuple[str, ...]
    prior: tuple[str, ...] = ()  # NamePriors.features of the word


class _WordFeats(NamedTuple):
    own: list[str]
    rel: dict[int, list[str]]  # features this word contributes when it is at offset k
    key: str  # match form, used for bigrams
    cluster: str  # coarse cluster, used for cluster bigrams
    sport_word: bool = False  # marks its sentence as sport reporting
    in_sport: tuple[str, ...] = ()  # its features when its sentence is sport reporting


# Words that mark a sentence as sport reporting. There a city or country name is mostly a club or
# a national team ('فاز برشلونة على فالنسيا': ORG in ANERcorp), so a token's place-like evidence
# (name priors, cluster) is conjoined with the sentence's sport flag.
_SPORT_RAW = (
    "مباراة مباراته مباريات هدف هدفين اهداف دوري لاعب لاعبي لاعبين مدرب فريق نادي بطولة كأس ملعب تعادل"
    " فوز فاز خسر خسارة منتخب شوط ركلة جزاء مهاجم حارس مدافع هداف موسم تأهل نهائي مرمى الدوري"
)
SPORT_WORDS = frozenset(match_form(w) for w in _SPORT_RAW.split())


def _in_sport_feats(a: _Analysis) -> tuple[str, ...]:
    return ("sport", "sport&c1=" + a.cl, *("sport&pr:" + x for x in a.prior))


# Feature groups. Each depends only on the part of the analysis named in its `*_key` below, so
# the scorer caches one summed weight block per group key; training concatenates the groups.
# Every feature of a word belongs to exactly one group.


def _word_group(a: _Analysis) -> Feats:
    w = a.w
    return ["w=" + w], {k: [f"{k}w={w}"] for k in _OFFSETS}


def _core_key(a: _Analysis) -> str:
    return a.core


def _core_group(a: _Analysis) -> Feats:
    core = a.core
    return ["core=" + core], {k: ([f"{k}core={core}"] if k in _NEAR else []) for k in _OFFSETS}


class _Affix(NamedTuple):
    """One family of affix features: the leading or trailing letters of the word or of its core."""

    name: str  # feature name stem: p (prefix), s (suffix), cs (core suffix), cp (core prefix)
    of_core: bool  # the clitic-free core instead of the match form
    from_end: bool  # suffixes instead of prefixes
    lengths: tuple[int, ...]
    shorter_only: bool = True  # only affixes shorter than the text itself
    near: int = 0  # length of the affix also shown to the words at +-1 (0: none)


def _affix_fns(spec: _Affix) -> tuple:
    """(key function, feature function) of one affix family; the one builder for all of them."""
    top = max(spec.lengths + (spec.near,))
    field = _Analysis._fields.index("core" if spec.of_core else "w")  # tuple index: the fast path
    start = -top if spec.from_end else 0
    stop = None if spec.from_end else top

    def cut(t: str, n: int) -> str:
        return t[-n:] if spec.from_end else t[:n]

    def key(a: _Analysis) -> tuple:
        t = a[field]
        return (a.shape == "P", t[start:stop], min(len(t), top + 1))

    def group(a: _Analysis) -> Feats:
        t = a[field]
        own = []
        if a.shape != "P":  # punctuation has no affixes of its own (neighbours still see it)
            own = [f"{spec.name}{n}={cut(t, n)}" for n in spec.lengths if len(t) > n or not spec.shorter_only]
        if not spec.near:
            return own, _NO_REL
        shown = f"{spec.name}{spec.near}={cut(t, spec.near)}"
        return own, {k: ([f"{k}{shown}"] if abs(k) == 1 else []) for k in _OFFSETS}

    return key, group


_AFFIXES = (
    _Affix("p", of_core=False, from_end=False, lengths=(1, 2, 3)),
    _Affix("s", of_core=False, from_end=True, lengths=(1, 2, 3), near=2),
    _Affix("cs", of_core=True, from_end=True, lengths=(1, 2, 3)),
    _Affix("cp", of_core=True, from_end=False, lengths=(2,), shorter_only=False),
)


def _flags_key(a: _Analysis) -> tuple:
    return (
        min(len(a.w), 8),
        a.shape,
        a.clitics,
        a.has_al,
        a.has_al and a.core.endswith(_NISBA_ENDS),
        a.trig,
        a.strip,
        a.gaz,
    )


def _flags_group(a: _Analysis) -> Feats:
    own = ["bias", "shape=" + a.shape, "len=" + str(min(len(a.w), 8))]
    if a.clitics:
        own.append("clitic=" + a.clitics)
    if a.has_al:
        own.append("al")
        # Nisba ending (ي/يه/يين/يون/يات): demonyms and adjectives, rarely a name on their own.
        if a.core.endswith(_NISBA_ENDS):
            own.append("nisba")
    if a.trig:
        own.append("trig=" + a.trig)
    if a.strip:
        own.append(a.strip)
    own.extend("gaz=" + t for t in a.gaz)
    rel: dict[int, list[str]] = {}
    for k in _OFFSETS:
        r = [f"{k}shape={a.shape}"] if k in _NEAR else []
        if abs(k) == 1 and a.has_al:
            r.append(f"{k}al")
        if a.trig:
            r.append(f"{k}trig={a.trig}")
        r.extend(f"{k}gaz={t}" for t in a.gaz)
        rel[k] = r
    return own, rel


def _lex_key(a: _Analysis) -> tuple | None:
    lex = a.lex
    return lex and (lex.cluster_coarse, lex.cluster_fine, min(len(str(lex.freq)), 6))


def _lex_group(a: _Analysis) -> Feats:
    lex = a.lex
    if lex is None:
        return ["oov"], {k: ([f"{k}oov"] if abs(k) == 1 else []) for k in _OFFSETS}
    fq = str(min(len(str(lex.freq)), 6))
    return ["c1=" + lex.cluster_coarse, "c2=" + lex.cluster_fine, "fq=" + fq], {
        k: ([f"{k}fq={fq}"] if abs(k) == 1 else []) for k in _OFFSETS
    }


def _core_lex_key(a: _Analysis) -> tuple:
    core_lex = a.core_lex
    return (
        core_lex and (core_lex.cluster_coarse, core_lex.cluster_fine, min(len(str(core_lex.freq)), 6)),
        a.core != a.w,
    )


def _core_lex_group(a: _Analysis) -> Feats:
    core_lex = a.core_lex
    if core_lex is None:
        return [], _NO_REL
    # The clitic-free core's cluster: 'بواشنطن' is rare, 'واشنطن' is a well-clustered city.
    own = ["cc1=" + core_lex.cluster_coarse, "cc2=" + core_lex.cluster_fine] if a.core != a.w else []
    fine = core_lex.cluster_fine
    if a.core != a.w:
        own.append("cfq=" + str(min(len(str(core_lex.freq)), 6)))
    return own, {k: ([f"{k}c2={fine}"] if abs(k) == 1 else []) for k in _OFFSETS}


def _more_clusters_key(a: _Analysis) -> tuple:
    lex, core_lex = a.lex, a.core_lex
    ctx = lex or core_lex
    return (
        lex.clusters if lex is not None else None,
        core_lex.clusters if core_lex is not None and a.core != a.w else None,
        ctx.clusters if ctx is not None else None,
    )


def _more_clusters_group(a: _Analysis) -> Feats:
    """Cluster ids at the lexicon's further granularities: the word's, its core's, and (for the
    neighbours) the one the word shows them."""
    lex, core_lex = a.lex, a.core_lex
    own: list[str] = []
    if lex is not None:
        own.extend(f"k{i}={c}" for i, c in enumerate(lex.clusters))
    if core_lex is not None and a.core != a.w:
        own.extend(f"ck{i}={c}" for i, c in enumerate(core_lex.clusters))
    ctx = lex or core_lex
    rel: dict[int, list[str]] = {k: [] for k in _OFFSETS}
    if ctx is not None:
        for k in (-1, 1):
            rel[k] = [f"{k}k{i}={c}" for i, c in enumerate(ctx.clusters)]
    return own, rel


def _cluster_key(a: _Analysis) -> str:
    return a.cl


def _cluster_group(a: _Analysis) -> Feats:
    return [], {k: ([f"{k}c1={a.cl}"] if k in _NEAR else []) for k in _OFFSETS}


def _is_sport_word(a: _Analysis) -> bool:
    return a.w in SPORT_WORDS or a.core in SPORT_WORDS


def _prior_feats(codes: tuple[str, ...]) -> Feats:
    return ["pr:" + x for x in codes], {k: ([f"{k}pr:{x}" for x in codes] if abs(k) == 1 else []) for k in _OFFSETS}


# The word's priors and its core's ('c...') are one group keyed by the codes themselves: most
# words have none, and one key and one cache probe per new word cost less than two.
def _prior_key(a: _Analysis) -> tuple[str, ...]:
    return a.prior


def _prior_group(a: _Analysis) -> Feats:
    return _prior_feats(a.prior)


# (key function, feature function) of the cached groups; the word group is per word type.
_GROUPS = (
    (_core_key, _core_group),
    *(_affix_fns(spec) for spec in _AFFIXES),
    (_flags_key, _flags_group),
    (_lex_key, _lex_group),
    (_core_lex_key, _core_lex_group),
    (_cluster_key, _cluster_group),
    (_more_clusters_key, _more_clusters_group),
    (_prior_key, _prior_group),
)
_CORE_GROUP = 0  # index of (_core_key, _core_group) in _GROUPS
assert _GROUPS[_CORE_GROUP][0] is _core_key


_SORTED_TYPES: dict[frozenset[str], tuple[str, ...]] = {}


class FeatureExtractor:
    """Token features for the CRF. One instance per (lexicon, gazetteer); caches per word."""

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        gazetteer: Gazetteer | None = None,
        priors: NamePriors | None = None,
        sport_context: bool = False,
    ):
        self.sport_context = sport_context  # training switch; a model without them ignores them
        self.lexicon = lexicon or Lexicon({})
        self.gazetteer = gazetteer
        self.priors = priors
        self._cache: dict[str, _WordFeats] = {}
        self._lock = threading.Lock()

    def _gaz_types(self, word: str, core: str) -> tuple[str, ...]:
        """Gazetteer types of the match-form word or its core, sorted."""
        if self.gazetteer is None:
            return ()
        # The word and its core are already in match form: skip normalising them again.
        types_of = getattr(self.gazetteer, "form_types", None) or self.gazetteer.token_types
        types = types_of(word)
        if core != word:
            types = types | types_of(core)
        out = _SORTED_TYPES.get(types)
        if out is None:
            out = _SORTED_TYPES[types] = tuple(sorted(types))  # at most 2^3 type sets
        return out

    def analyse(self, token: str, w: str | None = None) -> _Analysis:
        """What the features of `token` are computed from; `w`: its match form, if known."""
        if w is None:
            w = match_form(token)
        shape = _shape(token)
        clitics, has_al, core = split_proclitics(w)
        entries = self.lexicon.entries
        lex = entries.get(w)
        core_lex = entries.get(core) if core != w else lex
        cl_entry = lex or core_lex
        cl = cl_entry.cluster_coarse if cl_entry is not None else "-"
        strip = ""
        # How a bare clitic letter should be read: is the stripped word more common than the whole?
        if clitics and not has_al and entries:
            strip = "strip_ok" if (core_lex.freq if core_lex else 0) > (lex.freq if lex else 0) else "strip_no"
        return _Analysis(
            w,
            shape,
            clitics,
            has_al,
            core,
            _trigger_of(w, core),
            lex,
            core_lex,
            cl,
            strip,
            self._gaz_types(w, core),
            self.priors.features(w, core, lex.freq if lex else 0) if self.priors is not None else (),
        )

    def _compute(self, token: str) -> _WordFeats:
        a = self.analyse(token)
        own, rel = _word_group(a)
        for _, group in _GROUPS:
            g_own, g_rel = group(a)
            own.extend(g_own)
            for k in _OFFSETS:
                rel[k].extend(g_rel[k])
        return _WordFeats(own, rel, a.w, a.cl, _is_sport_word(a), _in_sport_feats(a))

    def word(self, token: str) -> _WordFeats:
        wf = self._cache.get(token)
        if wf is None:
            wf = self._compute(token)
            if len(self._cache) > 500_000:  # bound memory on endless streams
                with self._lock:
                    self._cache.clear()
            self._cache[token] = wf
        return wf

    def sequence(self, tokens: Sequence[str]) -> list[list[str]]:
        """Feature lists for one sentence (or one article: sentences are not needed for decoding)."""
        wfs = [self.word(t) for t in tokens]
        n = len(wfs)
        out: list[list[str]] = []
        for i, wf in enumerate(wfs):
            feats = list(wf.own)
            for k in _OFFSETS:
                j = i + k
                if 0 <= j < n:
                    feats.extend(wfs[j].rel[k])
                else:
                    feats.append(f"{k}pad")
            prev = wfs[i - 1].key if i > 0 else "<s>"
            nxt = wfs[i + 1].key if i + 1 < n else "</s>"
            feats.append("bg-=" + prev + "|" + wf.key)
            feats.append("bg+=" + wf.key + "|" + nxt)
            prev_c = wfs[i - 1].cluster if i > 0 else "<s>"
            next_c = wfs[i + 1].cluster if i + 1 < n else "</s>"
            feats.append("cb-=" + prev_c + "|" + wf.cluster)
            feats.append("cb+=" + wf.cluster + "|" + next_c)
            out.append(feats)
        if self.sport_context and any(wf.sport_word for wf in wfs):
            for feats, wf in zip(out, wfs):
                feats.extend(wf.in_sport)
        return out


# --------------------------------------------------------------------------------------------
# BIO helpers
# --------------------------------------------------------------------------------------------


def bio_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """conlleval chunking: (first, last_exclusive, type); an I- after O or another type starts one."""
    spans: list[tuple[int, int, str]] = []
    start, cur = -1, ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, typ = tag.partition("-")
        if prefix == "I" and typ == cur:
            continue
        if cur:
            spans.append((start, i, cur))
        if prefix in ("B", "I"):
            start, cur = i, typ
        else:
            start, cur = -1, ""
    return spans


def read_conll(path: str | Path) -> list[Sentence]:
    """`token TAG` per line (split on the LAST space), blank line between sentences; PERS -> PER."""
    sentences: list[Sentence] = []
    toks: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                if toks:
                    sentences.append((toks, tags))
                    toks, tags = [], []
                continue
            token, _, tag = line.rpartition(" ")
            token = token.strip()
            if not token:  # a line holding only a tag carries no text
                continue
            toks.append(token)
            tags.append(normalise_tag(tag))
    if toks:
        sentences.append((toks, tags))
    return sentences


def normalise_tag(tag: str) -> str:
    tag = tag.strip()
    if tag.endswith("-PERS"):
        return tag[:-1]
    return tag or "O"


# --------------------------------------------------------------------------------------------
# Tagger
# --------------------------------------------------------------------------------------------

_LOCK = threading.Lock()
_LOADED: dict[str, NerTagger] = {}
# Sentence-final tokens: decoding is per sentence, as in training (ANERcorp sentences end at '.').
_SENT_END = frozenset(".!?؟")


_OFFSET_ARRAY = np.array(_OFFSETS)


def _rolled(a: np.ndarray, shift: int) -> np.ndarray:
    """np.roll(a, shift) for shift +-1 on a 1-d array, without np.roll's Python-level overhead."""
    out = np.empty_like(a)
    if shift == 1:
        out[1:] = a[:-1]
        out[:1] = a[-1:]
    else:
        out[:-1] = a[1:]
        out[-1:] = a[:1]
    return out


def _match_forms(tokens: list[str]) -> list[str]:
    """[match_form(t) for t in tokens] in one call: match_form works character by character, and
    a line break (in no token) stops lower()'s only context rule (final sigma) as a token end does."""
    forms = match_form("\n".join(tokens)).split("\n")
    return forms if len(forms) == len(tokens) else list(map(match_form, tokens))


def _grown(a: np.ndarray, need: int = 0) -> np.ndarray:
    """`a` with more rows (4x up to 64k, then 2x; at least `need`), the new ones zero. np.zeros
    maps fresh zero pages, so only the copied part is written (concatenate with zeros_like wrote
    all of it twice), and rows not yet used cost no memory."""
    out = np.zeros((max(need, (4 if len(a) < 65536 else 2) * len(a)), *a.shape[1:]), dtype=a.dtype)
    out[: len(a)] = a
    return out


class _Scores:
    """Per-word emission blocks for one FeatureExtractor, compiled from the model's weights.

    A word's block holds its own score vector and the vectors it adds to the tokens at offsets
    in _OFFSETS (shape (1 + len(_OFFSETS), L)). It is the sum of its feature groups' blocks; all groups
    but the word group are cached by their keys (affixes, core, flags, clusters), which most new
    words share with words seen before. Junction features (word and cluster bigrams) are added
    per article from precomputed tables.
    """

    _MAX_WORDS = 400_000  # bound memory on endless streams: all caches start over past this

    def __init__(self, fx: FeatureExtractor, attr_index: dict[str, int], weights: np.ndarray):
        self.fx = fx
        self.attr_index = attr_index  # attribute -> row of `weights`; row 0 is all zeros
        self.weights = weights
        self.n_labels = weights.shape[1]
        self.pad = np.stack([weights[attr_index.get(f"{k}pad", 0)] for k in _OFFSETS])
        # Cluster bigrams: dense tables over cluster ids (0 = '<s>', 1 = '</s>').
        names = ["<s>", "</s>", "-", *sorted({e.cluster_coarse for e in fx.lexicon.entries.values()} - {"-"})]
        self.cluster_id = {c: i for i, c in enumerate(names)}
        get = attr_index.get
        self.cb_minus = np.array([[get(f"cb-={a}|{b}", 0) for b in names] for a in names], dtype=np.intp)
        self.cb_plus = np.array([[get(f"cb+={a}|{b}", 0) for b in names] for a in names], dtype=np.intp)
        # Word bigrams: only words occurring in some model bigram can fire one (a superset is fine).
        parts: set[str] = set()
        for attr in attr_index:
            if attr.startswith(("bg+=", "bg-=")):
                rest = attr[4:]
                for p, ch in enumerate(rest):
                    if ch == "|":
                        parts.add(rest[:p])
                        parts.add(rest[p + 1 :])
        self.bigram_words = frozenset(parts)
        # Words with some word-group feature ('w=', '-1w=' ...) in the model: the others' word
        # group scores zero, so a new word outside this set needs no feature strings at all.
        wg = {f"{k}w=" for k in _OFFSETS} | {"w="}
        self.model_words = frozenset(
            attr.partition("=")[2] for attr in attr_index if attr.partition("=")[0] + "=" in wg
        )
        # Clitic-free cores with some core-group feature ('core=', '-1core=' ...) in the model: the
        # others' core group is zero (block 0), with no key, no probe and no strings.
        cg = {f"{k}core=" for k in _NEAR} | {"core="}
        self.model_cores = frozenset(
            attr.partition("=")[2] for attr in attr_index if attr.partition("=")[0] + "=" in cg
        )
        self.bos_in_bigram = "<s>" in parts
        self.has_sport = "sport" in attr_index  # models before v4 have no sport features
        self.eos_in_bigram = "</s>" in parts
        self._reset()

    def _reset(self) -> None:
        n_slots = 1 + len(_OFFSETS)
        self.index: dict[str, int] = {}  # token -> word slot
        self.keys: list[str] = []  # slot -> match form
        # slot -> id of its clitic-free core (document consistency compares these)
        self.core_index: dict[str, int] = {}
        self.core_ids = np.zeros(1024, dtype=np.intp)
        self.rows = np.zeros((1024, n_slots, self.n_labels))
        self.cluster = np.zeros(1024, dtype=np.intp)
        self.sport_word = np.zeros(1024, dtype=bool)
        self.sport_rows = np.zeros((1024, self.n_labels))
        self.sport_blocks: dict[tuple, np.ndarray] = {}
        self.in_bigram = np.zeros(1024, dtype=bool)
        self.group_blocks: list[dict[tuple, int]] = [{} for _ in _GROUPS]
        self.blocks = np.zeros((256, n_slots, self.n_labels))  # block 0 stays zero
        self.n_blocks = 1

    def _sums(self, groups: Sequence[Iterable[str]]) -> np.ndarray:
        """One summed weight vector per feature group, in one numpy call. A group none of whose
        features the model has is zero (about half of them are: empty neighbour slots), and is
        left out of the call; the others are summed exactly as before (row 0, then their rows)."""
        get = self.attr_index.get
        idx: list[int] = []
        starts: list[int] = []
        at: list[int] = []
        for g, feats in enumerate(groups):
            if not feats:
                continue
            rows = list(filter(None, map(get, feats)))  # row 0 is zero anyway
            if rows:
                at.append(g)
                starts.append(len(idx))
                idx.append(0)
                idx.extend(rows)
        out = np.zeros((len(groups), self.n_labels))
        if idx:
            out[at] = np.add.reduceat(self.weights[idx], starts, axis=0)
        return out

    def word_ids(self, tokens: Sequence[str]) -> np.ndarray:
        index = self.index
        if len(index) + len(tokens) > self._MAX_WORDS:
            self._reset()
            index = self.index
        ids = list(map(index.get, tokens, itertools.repeat(-1, len(tokens))))
        if -1 not in ids:
            return np.asarray(ids)
        # The text's new words, each once, in order of first occurrence; then group by group over
        # all of them (one cache at a time, C-level maps): which block of each group each one takes.
        new = list(dict.fromkeys(itertools.compress(tokens, map((-1).__eq__, ids))))
        analyses = list(map(self.fx.analyse, new, _match_forms(new)))
        n_new = len(new)
        first_slot = len(self.keys)
        new_slots = list(range(first_slot, first_slot + n_new))
        pending: list[list[str]] = []  # 7 feature lists per new block
        new_blocks: list[int] = []
        columns: list[list[int]] = []
        model_cores = self.model_cores
        for g, ((key_fn, group_fn), cache) in enumerate(zip(_GROUPS, self.group_blocks)):
            if g == _CORE_GROUP:  # a core the model has no core feature for: zero block (0)
                todo = [i for i, a in enumerate(analyses) if a.core in model_cores]
                col = [0] * n_new
                keys = [None] * n_new
                for i in todo:
                    keys[i] = key_fn(analyses[i])
                    col[i] = cache.get(keys[i])
            else:
                keys = list(map(key_fn, analyses))
                col = list(map(cache.get, keys))
            for i in itertools.compress(itertools.count(), map(operator.is_, col, itertools.repeat(None))):
                key = keys[i]
                b = cache.get(key)  # another new word of this text may have made it just before
                if b is None:
                    b = cache[key] = self.n_blocks + len(new_blocks)
                    own, rel = group_fn(analyses[i])
                    pending.append(own)
                    pending.extend(rel[k] for k in _OFFSETS)
                    new_blocks.append(b)
                col[i] = b
            columns.append(col)
        word_feats: list[list[str]] = []  # 7 feature lists per new word (its word group)
        model_words = self.model_words
        for a in analyses:
            if a.w in model_words:
                own, rel = _word_group(a)
                word_feats.append(own)
                word_feats.extend(rel[k] for k in _OFFSETS)
            else:
                word_feats.extend(_NO_WORD)
        if new_slots[-1] >= len(self.cluster):
            self._grow_rows(new_slots[-1] + 1)
        cluster_id, core_index, bigram_words = self.cluster_id.get, self.core_index, self.bigram_words
        self.cluster[new_slots] = [cluster_id(a.cl, 2) for a in analyses]
        self.core_ids[new_slots] = [core_index.setdefault(a.core, len(core_index)) for a in analyses]
        self.in_bigram[new_slots] = [a.w in bigram_words for a in analyses]
        if self.has_sport:
            self.sport_word[new_slots] = list(map(_is_sport_word, analyses))
            rows = []
            for a in analyses:
                sport_key = (a.cl, a.prior)  # what _in_sport_feats reads
                row = self.sport_blocks.get(sport_key)
                if row is None:
                    feats = _in_sport_feats(a)
                    row = self.weights[[self.attr_index.get(f, 0) for f in feats]].sum(axis=0)
                    self.sport_blocks[sport_key] = row
                rows.append(row)
            self.sport_rows[new_slots] = rows
        n_slots = 1 + len(_OFFSETS)
        get = self.attr_index.get
        # The word group has one feature per slot: index the weights directly.
        word_rows = self.weights[[get(f[0], 0) if f else 0 for f in word_feats]].reshape(-1, n_slots, self.n_labels)
        if new_blocks:
            sums = self._sums(pending).reshape(-1, n_slots, self.n_labels)
            need = self.n_blocks + len(new_blocks)
            if need > len(self.blocks):
                self.blocks = _grown(self.blocks, need)
            self.blocks[new_blocks] = sums
            self.n_blocks = need
        self.rows[new_slots] = self.blocks[np.asarray(columns).T].sum(axis=1) + word_rows
        index.update(zip(new, new_slots))  # only now: the slots' rows are written
        self.keys.extend(a.w for a in analyses)
        for pos in itertools.compress(itertools.count(), map((-1).__eq__, ids)):
            ids[pos] = index[tokens[pos]]
        return np.asarray(ids)

    def _grow_rows(self, need: int) -> None:
        self.rows = _grown(self.rows, need)
        self.cluster = _grown(self.cluster, need)
        self.in_bigram = _grown(self.in_bigram, need)
        self.sport_word = _grown(self.sport_word, need)
        self.core_ids = _grown(self.core_ids, need)
        self.sport_rows = _grown(self.sport_rows, need)

    def emissions(
        self, tokens: Sequence[str], sent_start: np.ndarray, sent_end: np.ndarray, ids: np.ndarray | None = None
    ) -> np.ndarray:
        """(n, L) state scores for tokens of several sentences laid end to end.

        Neighbour features never cross a sentence boundary (pads instead), exactly as
        FeatureExtractor.sequence() does for each sentence on its own in training.
        """
        n = len(tokens)
        if ids is None:
            ids = self.word_ids(tokens)
        rows = self.rows[ids]
        em = rows[:, 0].copy()
        pos = np.arange(n)
        # What each token's neighbour at offset k shows it: the neighbour's slot row, or the pad
        # where the neighbour lies outside the sentence. A shifted slice, then the pad written
        # over the few outside positions (no gather, no np.clip/np.where per offset), added one
        # offset at a time in _OFFSETS order as before.
        j = pos[:, None] + _OFFSET_ARRAY
        outside = (j < sent_start[:, None]) | (j >= sent_end[:, None])
        shown = np.empty_like(em)
        for r, k in enumerate(_OFFSETS):
            m = n - abs(k)  # tokens whose neighbour at k is inside the text
            if m > 0:
                if k > 0:
                    shown[:m] = rows[k:, r + 1]
                else:
                    shown[-k:] = rows[:m, r + 1]
            shown[outside[:, r]] = self.pad[r]
            em += shown
        first = sent_start == pos  # token opens its sentence: its left neighbour is <s>
        last = sent_end == pos + 1  # token closes its sentence: its right neighbour is </s>
        w = self.weights
        # Cluster bigrams (cb- pairs a token with its left neighbour, cb+ with its right one).
        c = self.cluster[ids]
        left_c = np.where(first, 0, _rolled(c, 1))
        right_c = np.where(last, 1, _rolled(c, -1))
        em += w[self.cb_minus[left_c, c]] + w[self.cb_plus[c, right_c]]
        if self.has_sport:  # sentences holding a sport word: their tokens' in-sport features
            seen = np.concatenate(([0], np.cumsum(self.sport_word[ids])))
            in_sport = seen[sent_end] > seen[sent_start]
            if in_sport.any():
                em[in_sport] += self.sport_rows[ids[in_sport]]
        # Word bigrams: look up only junctions where both words occur in some model bigram.
        f = self.in_bigram[ids]
        left_f = np.where(first, self.bos_in_bigram, _rolled(f, 1))
        right_f = np.where(last, self.eos_in_bigram, _rolled(f, -1))
        keys = self.keys
        get = self.attr_index.get
        rows_bg: list[int] = []
        at: list[int] = []
        slot = ids.tolist()  # Python ints: indexing numpy arrays one element at a time is slow
        minus = np.flatnonzero(f & left_f).tolist()
        for i, opens in zip(minus, first[minus].tolist()):
            r = get("bg-=" + ("<s>" if opens else keys[slot[i - 1]]) + "|" + keys[slot[i]])
            if r is not None:
                rows_bg.append(r)
                at.append(i)
        plus = np.flatnonzero(f & right_f).tolist()
        for i, closes in zip(plus, last[plus].tolist()):
            r = get("bg+=" + keys[slot[i]] + "|" + ("</s>" if closes else keys[slot[i + 1]]))
            if r is not None:
                rows_bg.append(r)
                at.append(i)
        if at:
            np.add.at(em, at, w[rows_bg])
        return em


class NerTagger:
    """A trained CRF plus the feature extractor it was trained with.

    Decoding does not go through CRFsuite's tagger: the model's weights are compiled into
    per-word score vectors (cached) and a batched numpy Viterbi decodes all sentences of a text
    at once. Same model, same scores, ~20x faster on articles.
    """

    def __init__(
        self,
        attr_index: dict[str, int],
        weights: np.ndarray,
        labels: list[str],
        transitions: np.ndarray,
        lexicon: Lexicon,
        priors: NamePriors | None = None,
    ):
        self.attr_index = attr_index
        self.weights = weights
        self.labels = labels
        self.transitions = transitions
        self.lexicon = lexicon
        self.priors = priors
        self._scores: dict[int, _Scores] = {}
        # Document-level consistency over one tag() call (one article): see _consistent(). On the
        # v4 devs it adds 1.4 (ANERcorp last 12%) and 5.0 (AQMAR) micro F1 and costs 0.5 on the
        # ANERcorp 40-50% block (PROVENANCE.md). A spread is vetoed where the CRF's emission for
        # B-type is more than `spread_margin` below O (a common word once read as a name).
        self.document_consistency: frozenset[str] = frozenset({"vote", "spread", "surname"})
        self.spread_margin = 3.0
        self._label_id = {lab: i for i, lab in enumerate(labels)}
        self._proclitic_len = BoundedCache(self._glued_proclitic, 100_000)
        self._o_id: int | None = None
        self._label_parts: list[tuple[str, str]] = []

    @classmethod
    def load(cls, path: str | None = None) -> NerTagger:
        """Open a model (default: the shipped one); cached per process and path."""
        model = str(Path(path) if path else DEFAULT_MODEL)
        with _LOCK:
            if model not in _LOADED:
                # The lexicon the model was trained with sits beside it; else the shipped one.
                lex_path = Path(model).with_name(DEFAULT_LEXICON.name)
                if not lex_path.exists():
                    lex_path = DEFAULT_LEXICON
                pri_path = Path(model).with_name(DEFAULT_PRIORS.name)
                if not pri_path.exists():
                    pri_path = DEFAULT_PRIORS
                _LOADED[model] = cls(*_read_crfsuite(model), Lexicon.read(lex_path), NamePriors.read(pri_path))
            return _LOADED[model]

    def extractor(self, gazetteer: Gazetteer | None = None) -> FeatureExtractor:
        return self._scorer(gazetteer).fx

    def _scorer(self, gazetteer: Gazetteer | None) -> _Scores:
        key = id(gazetteer) if gazetteer is not None else 0
        sc = self._scores.get(key)
        if sc is None:
            with _LOCK:
                sc = self._scores.get(key)
                if sc is None:
                    fx = FeatureExtractor(self.lexicon, gazetteer, self.priors)
                    sc = self._scores[key] = _Scores(fx, self.attr_index, self.weights)
        return sc

    def _viterbi(
        self, flat: list[str], lengths: list[int], gazetteer: Gazetteer | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Label ids of `flat` (sentences laid end to end, `lengths` tokens each), each sentence
        decoded on its own; the (n, L) emission scores; each token's clitic-free core id. Batched: all sentences advance together (time-major arrays), so the
        cost is ~ the longest sentence in numpy steps, not the sum."""
        sc = self._scorer(gazetteer)
        n_sent = len(lengths)
        lens = np.asarray(lengths)
        ends = np.cumsum(lens)
        starts = ends - lens
        sent_start = np.repeat(starts, lens)
        sent_end = np.repeat(ends, lens)
        with _LOCK:  # the score caches grow in place; keep one writer at a time
            ids = sc.word_ids(flat)
            flat_em = sc.emissions(flat, sent_start, sent_end, ids)
            cores = sc.core_ids[ids]
        n_labels = len(self.labels)
        longest = int(lens.max())
        step = np.arange(len(flat)) - sent_start  # position of each token in its sentence
        sent = np.repeat(np.arange(n_sent), lens)
        em = np.zeros((longest, n_sent, n_labels))
        em[step, sent] = flat_em
        # A sentence that has ended keeps going on zero emissions; its result was saved when it
        # ended (final scores) and its backtrack starts there.
        ends_at: dict[int, list[int]] = {}
        for b, n in enumerate(lengths):
            ends_at.setdefault(n - 1, []).append(b)
        trans = self.transitions
        back = np.empty((longest, n_sent, n_labels), dtype=np.intp)
        final_label = np.zeros(n_sent, dtype=np.intp)
        delta = em[0].copy()
        # Candidates laid out (sentence * to, from): the argmax runs over the contiguous last axis
        # and the maximum is read at it, instead of max() and argmax() over a middle axis (each of
        # those costs more than the whole step). Same sums, same first-maximum tie rule.
        cand = np.empty((n_sent * n_labels, n_labels))
        trans_rows = np.tile(np.ascontiguousarray(trans.T), (n_sent, 1))  # row s*L + to: trans[:, to]
        sentence_of_row = np.repeat(np.arange(n_sent), n_labels)
        row_base = np.arange(n_sent * n_labels) * n_labels
        flat_cand = cand.ravel()
        flat_back = back.reshape(longest, n_sent * n_labels)
        flat_delta = delta.reshape(-1)  # a view: the steps below write delta in place
        at_best = np.empty(n_sent * n_labels, dtype=np.intp)
        for t in range(longest):
            if t:
                np.add(delta.take(sentence_of_row, axis=0), trans_rows, out=cand)
                best = flat_back[t]
                cand.argmax(axis=1, out=best)
                np.add(row_base, best, out=at_best)
                flat_cand.take(at_best, out=flat_delta)
                delta += em[t]
            done = ends_at.get(t)
            if done is not None:
                final_label[done] = delta[done].argmax(axis=1)
        path = np.empty((longest, n_sent), dtype=np.intp)
        rows = np.arange(n_sent)
        cur = np.zeros(n_sent, dtype=np.intp)
        for t in range(longest - 1, -1, -1):
            done = ends_at.get(t)
            if done is not None:
                cur[done] = final_label[done]
            path[t] = cur
            if t:
                cur = back[t, rows, cur]
        return path[step, sent], flat_em, cores

    def _decode(self, sentences: list[list[str]], gazetteer: Gazetteer | None) -> list[list[str]]:
        """BIO tags per sentence (each decoded on its own)."""
        if not any(sentences):
            return [[] for _ in sentences]
        lengths = [len(s) for s in sentences if s]
        ids = self._viterbi([t for s in sentences for t in s], lengths, gazetteer)[0].tolist()
        labels = self.labels
        out: list[list[str]] = []
        pos = 0
        for s in sentences:
            out.append([labels[y] for y in ids[pos : pos + len(s)]])
            pos += len(s)
        return out

    def is_name_like(self, word: str) -> bool:
        """Could `word` be part of a name: rare in news (ANT), or a name part by the priors (level
        2+, or a frequent Wikidata name part)? The combiner's test for a CRF span running on."""
        w = match_form(word)
        core = split_proclitics(w)[2]
        freq = self.lexicon.freq(w)
        if freq < 100:
            return True
        if self.priors is None:
            return False
        return any(x[-1] in "234" or x[-2:] in ("2h", "3h", "2m", "3m") for x in self.priors.features(w, core, freq))

    def tag_pieces(self, pieces: Sequence[str], gazetteer: Gazetteer | None = None) -> list[str]:
        """BIO tags for already tokenized pieces, decoded as one sequence."""
        return self._decode([list(pieces)], gazetteer)[0] if pieces else []

    def tag(self, text: str, gazetteer: Gazetteer | None = None) -> list[EntityMention]:
        """Entity spans over `text` (type PER|LOC|ORG|MISC; canonical and wikidata_id empty)."""
        flat, lengths = _sentence_split(text)
        if not flat:
            return []
        path, em, cores = self._viterbi(flat, lengths, gazetteer)
        spans = self._spans(path, lengths)
        if not spans:
            return []
        if self.document_consistency:
            spans = self._consistent(cores, lengths, spans, em)
        starts, ends = _span_offsets(text, flat, spans)
        mentions: list[EntityMention] = []
        strip = self._proclitic_len
        for start, end, (_, _, typ) in zip(starts, ends, spans):
            start += strip[text[start:end].split(" ", 1)[0]]
            if start < end:
                mentions.append(EntityMention(text[start:end], typ, start, end))
        return mentions

    def _consistent(
        self, cores: np.ndarray, lengths: list[int], spans: list[tuple[int, int, str]], em: np.ndarray
    ) -> list[tuple[int, int, str]]:
        """One article, one reading of a name: 'vote' gives every span with the same words the type
        most of them got; 'spread' tags the other untagged occurrences of a tagged name (same words,
        proclitics aside) with it; 'surname' does that for the last word of a multi-word PER."""
        opts = self.document_consistency
        core_of = cores.tolist()  # Python ints from here on: one conversion, not one per slice
        keys = [tuple(core_of[f:l]) for f, l, _ in spans]  # a name = its words' core ids
        votes: dict[tuple[int, ...], dict[str, int]] = {}
        for key, (_, _, typ) in zip(keys, spans):
            v = votes.setdefault(key, {})
            v[typ] = v.get(typ, 0) + 1
        out = list(spans)
        top = {key: max(v, key=v.__getitem__) for key, v in votes.items()}  # each name's commonest type
        if "vote" in opts:
            for i, (key, (f, l, typ)) in enumerate(zip(keys, spans)):
                v = votes[key]
                best = top[key]
                if v[best] > v[typ]:
                    out[i] = (f, l, best)
        wanted: dict[tuple[int, ...], str] = {}
        if "spread" in opts:
            wanted.update(top)
        if "surname" in opts:
            for key, (_, _, typ) in zip(keys, out):
                if typ == "PER" and len(key) > 1 and (key[-1],) not in votes:
                    wanted.setdefault((key[-1],), "PER")
        if not wanted:
            return out
        by_first: dict[int, list[tuple[tuple[int, ...], str]]] = {}
        for key, typ in sorted(wanted.items(), key=lambda kv: -len(kv[0])):  # longest name first
            by_first.setdefault(key[0], []).append((key, typ))
        tagged = [False] * len(core_of)
        for f, l, _ in out:
            tagged[f:l] = [True] * (l - f)
        ends = list(itertools.accumulate(lengths))  # sentence i ends (exclusive) at ends[i]
        added = False
        named = itertools.compress(itertools.count(), map(by_first.__contains__, core_of))
        starts = [p for p in named if not tagged[p]]
        for p in starts:
            if tagged[p]:  # claimed by a name spread just before
                continue
            sent_end = ends[bisect.bisect_right(ends, p)]
            for key, typ in by_first[core_of[p]]:
                n = len(key)
                if p + n <= sent_end and not any(tagged[p : p + n]) and self._plausible(em, p, typ):
                    if tuple(core_of[p : p + n]) == key:
                        out.append((p, p + n, typ))
                        tagged[p : p + n] = [True] * n
                        added = True
                        break
        return sorted(out) if added else out

    def _plausible(self, em: np.ndarray, p: int, typ: str) -> bool:
        """The CRF's own emission score at p does not rule the name out (B-typ within a margin of O)."""
        b, o = self._label_id.get("B-" + typ), self._label_id.get("O")
        return b is None or o is None or em[p, b] - em[p, o] >= -self.spread_margin

    def _spans(self, path: np.ndarray, lengths: list[int]) -> list[tuple[int, int, str]]:
        """bio_spans() of every sentence, in flat token positions, from label ids: only the
        non-O tokens are visited."""
        if self._o_id is None:
            self._o_id = self.labels.index("O") if "O" in self.labels else -1
            self._label_parts = [lab.partition("-")[::2] for lab in self.labels]
        nz = np.flatnonzero(path != self._o_id).tolist()
        if not nz:
            return []
        first_of_sentence = set(itertools.accumulate(lengths[:-1]))
        parts = self._label_parts
        ids = path[nz].tolist()
        spans: list[tuple[int, int, str]] = []
        start, prev, cur = -1, -2, ""
        for i, y in zip(nz, ids):
            prefix, typ = parts[y]
            if prefix == "I" and typ == cur and i == prev + 1 and i not in first_of_sentence:
                prev = i
                continue
            if cur:
                spans.append((start, prev + 1, cur))
            if prefix in ("B", "I"):
                start, prev, cur = i, i, typ
            else:
                start, prev, cur = -1, -2, ""
        if cur:
            spans.append((start, prev + 1, cur))
        return spans

    def tag_tokens(self, tokens: list[str], gazetteer: Gazetteer | None = None) -> list[str]:
        """BIO tags for whitespace tokens (evaluation): tag their joined text, project spans back."""
        text = " ".join(tokens)
        return spans_to_bio(tokens, self.tag(text, gazetteer))

    def _glued_proclitic(self, first: str) -> int:
        """How many leading characters of a span's first word to drop: a conjunction/preposition
        glued to a name goes, ال stays, 'لل' stays. A function of the word and the lexicon alone,
        so tag() reads it from the bounded cache `_proclitic_len` (names repeat)."""
        w = match_form(first)
        if len(w) != len(first):  # harakat inside: leave it, offsets would not line up
            return 0
        for pre in ("وبال", "فبال", "وكال", "فكال", "وال", "فال", "بال", "كال"):
            if w.startswith(pre) and len(w) - len(pre) >= 2:
                return len(pre) - 2
        if w.startswith(("ولل", "فلل")) and len(w) > 4:
            return 1
        if w.startswith(("لل", "ال")):
            return 0
        for pre in _CLITIC_LETTERS:
            rest = w[len(pre) :]
            if w.startswith(pre) and len(rest) >= 3 and self.lexicon.freq(rest) > 2 * self.lexicon.freq(w):
                return len(pre)
        return 0


def _sentences(text: str, tokens: list[Token]) -> Iterable[list[Token]]:
    """Cut at line breaks and after sentence-final punctuation."""
    sent: list[Token] = []
    prev_end = 0
    for tok in tokens:
        if sent and (sent[-1].text in _SENT_END or "\n" in text[prev_end : tok.start]):
            yield sent
            sent = []
        sent.append(tok)
        prev_end = tok.end
    if sent:
        yield sent


# Whitespace code points (re's \s is str.isspace; all of them lie below U+3001).
_IS_SPACE = np.array([c.isspace() for c in map(chr, range(0x3001))])


def _span_offsets(text: str, flat: list[str], spans: list[tuple[int, int, str]]) -> tuple[list[int], list[int]]:
    """Character offsets in `text` of where each span's first token starts and its last ends.

    _TOKEN_RE matches every non-whitespace character of a text (punctuation on its own, anything
    else in runs), so token i starts at the k-th non-whitespace character, k = the length of the
    tokens before it. One numpy pass instead of a Match object per token (finditer: 5% of the
    stage); finditer stays the fallback should the counts ever disagree."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    space = np.zeros(len(cp), dtype=bool)
    low = cp < len(_IS_SPACE)
    space[low] = _IS_SPACE[cp[low]]
    solid = np.flatnonzero(~space)
    before = np.zeros(len(flat) + 1, dtype=np.intp)
    np.cumsum(np.fromiter(map(len, flat), dtype=np.intp, count=len(flat)), out=before[1:])
    if before[-1] != len(solid):
        matches = list(_TOKEN_RE.finditer(text))
        return [matches[f].start() for f, _, _ in spans], [matches[e - 1].end() for _, e, _ in spans]
    firsts = np.fromiter((f for f, _, _ in spans), dtype=np.intp, count=len(spans))
    lasts = np.fromiter((e for _, e, _ in spans), dtype=np.intp, count=len(spans))
    return solid[before[firsts]].tolist(), (solid[before[lasts] - 1] + 1).tolist()


def _sentence_split(text: str) -> tuple[list[str], list[int]]:
    """Token texts of `text` in order, and sentence lengths: what _sentences() cuts, without
    building Token objects (tokens never span a line break, so lines are tokenized apart)."""
    flat: list[str] = []
    lengths: list[int] = []
    findall = _TOKEN_RE.findall
    for line in text.split("\n"):
        toks = findall(line)
        if not toks:
            continue
        flat.extend(toks)
        cuts = itertools.compress(itertools.count(1), map(_SENT_END.__contains__, toks))
        prev = 0
        for c in cuts:
            lengths.append(c - prev)
            prev = c
        if prev < len(toks):
            lengths.append(len(toks) - prev)
    return flat, lengths


def _read_crfsuite(path: str) -> tuple[dict[str, int], np.ndarray, list[str], np.ndarray]:
    """Weights of a CRFsuite model: attribute -> row index, weight matrix, labels, transitions."""
    import pycrfsuite  # lazily: keeps `import pipeline.lib.ner` cheap

    tagger = pycrfsuite.Tagger()
    tagger.open(path)
    labels = list(tagger.labels())
    pos = {lab: i for i, lab in enumerate(labels)}
    info = tagger.info()
    attr_index: dict[str, int] = {}
    for attr, _ in info.state_features:
        attr_index.setdefault(attr, len(attr_index) + 1)  # row 0 stays zero
    weights = np.zeros((len(attr_index) + 1, len(labels)))
    for (attr, label), w in info.state_features.items():
        weights[attr_index[attr], pos[label]] = w
    trans = np.zeros((len(labels), len(labels)))
    for (a, b), w in info.transitions.items():
        trans[pos[a], pos[b]] = w
    tagger.close()
    return attr_index, weights, labels, trans


def spans_to_bio(tokens: Sequence[str], mentions: Iterable[EntityMention]) -> list[str]:
    """Project character spans over ' '.join(tokens) onto tokens: overlap -> tagged, first gets B-."""
    bounds = []
    pos = 0
    for tok in tokens:
        bounds.append((pos, pos + len(tok)))
        pos += len(tok) + 1
    tags = ["O"] * len(tokens)
    for m in sorted(mentions, key=lambda m: m.start):
        first = True
        for i, (s, e) in enumerate(bounds):
            if s < m.end and m.start < e and e > s:
                if tags[i] != "O":  # already claimed by an earlier span
                    first = False
                    continue
                tags[i] = ("B-" if first else "I-") + m.type
                first = False
    return tags
