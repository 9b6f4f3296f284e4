"""Same-story clustering: near-duplicates and reports of one event from different outlets.

Each article becomes a set of content-word stems of its match form (stop words dropped, Arabic
clitics stripped, so that two outlets' wordings of one event overlap), summarised by a MinHash.
Candidate pairs share an LSH band key or an (entity, day) key; a pair is the same story when the
window allows it (`admissible`: within stories.window_days) and

* its estimated Jaccard similarity is high (`threshold`: rewrites and syndicated copies), or
* the similarity is moderate (`related_threshold`), the entity sets overlap strongly, and the two
  were published within `max_gap` of each other (same event, told differently).

Stories are connected components of those pairs. A new story's id is a hash of its smallest article
id, so it does not depend on the order articles arrive in; a story that reaches stories of earlier
runs keeps the earliest one's id (docs/stories.md).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from pipeline.lib.arabic import HARAKAT, TATWEEL, match_form
from pipeline.lib.cache import CACHE_SIZE, BoundedCache


# Stop words in match form (alef/yeh/teh-marbuta folded: "الى" covers إلى, "هذه" covers هذة).
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ARABIC_STOP = frozenset(
    match_form(w)
    for w in _words(
        "في من على إلى الى عن مع أن إن أنه إنه كان كانت يكون قد لقد لم لن لا ما ماذا هل بين بعد "
        "قبل حتى أو ثم كما التي الذي الذين اللذين اللتين هذا هذه ذلك تلك هؤلاء هناك هنا هو هي هم "
        "نحن أنا كل بعض غير عند عندما حيث منذ خلال ضد لدى لكن ولكن إذا اذا أي أيضا أيضاً فقط "
        "قال وقال قالت وقالت أكد وأكد أضاف وأضاف أشار وأشار مشيرا مشيراً أعلن وأعلن ذكر وذكر "
        "اليوم أمس الأحد الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت يوم وفق وفقا وفقاً "
        "إطار اطار نحو حول عبر دون تم يتم جرى وقت سابق الماضي المقبل الجاري الشهر العام عام "
        "له لها لهم به بها بهم فيه فيها منه منها عليه عليها إليه اليه وهو وهي وكان وفي ومن "
        "رويترز فرانس برس أ.ف.ب وكالة وكالات"
    )
)
_LATIN_STOP = _words(
    "the a an of to in on at for from by with and or but is are was were be been has have had "
    "it its this that these those as not no he she they we you said says will would can could "
    "le la les un une des du de et en au aux pour par sur dans est sont a été qui que il elle"
)
# Light stemming in the style of Larkey's light10, in match form: one conjunction (و/ف), then
# the article with an optional preposition; enclitic pronouns and plural/feminine endings. Bare
# ب/ل/ك are not stripped: too many names start with them (بوتين, لافروف). A stem keeps at least
# MIN_STEM letters so short roots survive.
_CONJUNCTIONS = ("و", "ف")
_ARTICLES = ("بال", "كال", "لل", "ال")
_SUFFIXES = ("هما", "كما", "ات", "ون", "ين", "ان", "ها", "هم", "كم", "نا", "يه", "ه", "ي")
MIN_STEM = 3
_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    # Cached: news vocabulary repeats heavily and stemming is the hot loop of content_stems.
    if word[:1] in _CONJUNCTIONS and len(word) - 1 >= MIN_STEM and word[1:] not in _ARABIC_STOP:
        word = word[1:]
    for article in _ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= MIN_STEM:
            word = word[len(article) :]
            break
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            return word[: -len(suffix)]
    return word


def content_stems(text: str) -> set[str]:
    """Content-word stems of `text` in match form: what two outlets' versions of a story share."""
    # match_form of the distinct words only (one translate over far fewer characters than the
    # text); the word pattern already skips the invisible controls clean_text would remove.
    words = set(_WORD.findall(HARAKAT.sub("", text.replace(TATWEEL, ""))))
    stems = set()
    for word in match_form("\n".join(words)).split("\n"):
        if len(word) < 2 or word in _ARABIC_STOP or word in _LATIN_STOP:
            continue
        stem = _stem(word)
        if stem not in _ARABIC_STOP:
            stems.add(stem)
    return stems


# Signatures are cached per whitespace-separated chunk of text (news repeats its words): the
# content stems of a text are the union of its chunks' (see content_stems: whitespace is never part
# of a word), so a chunk's stem hashes are computed once. Bounded: emptied when full.


def _identity(value: int) -> int:
    return value


def _normalise_keys(keys: Iterable[str]) -> frozenset[str]:
    return frozenset(k.strip().casefold() for k in keys if k and k.strip())


def story_id_for(article_id: str) -> str:
    """The id of a story whose smallest member id is `article_id`."""
    return "story-" + hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]


class StoryClusterer:
    """The article signature (MinHash of its content stems) and the LSH parameters; the clustering
    itself is keyed (below), so that it distributes and joins articles of earlier runs."""

    # (permutations, scheme) per num_perm: generating permutations costs more than hashing an article.
    _permutations: ClassVar[dict[int, tuple[object, str]]] = {}
    # MinHash's own hash of each stem (its default hashfunc of the UTF-8 bytes), per text chunk.
    _chunk_hashes: ClassVar[dict[object, BoundedCache]] = {}
    # LSH (bands, rows) per (threshold, num_perm): datasketch integrates numerically to find them.
    _lsh_params: ClassVar[dict[tuple[float, int], tuple[int, int]]] = {}

    def __init__(self, num_perm: int = 128) -> None:
        # Imported here: datasketch pulls in numpy/scipy, which a lib import must not pay for.
        from datasketch import MinHash

        self.num_perm = num_perm
        self._MinHash = MinHash
        if num_perm not in self._permutations:
            template = MinHash(num_perm=num_perm, seed=1)
            self._permutations[num_perm] = (template.permutations, template.scheme)
        probe = MinHash(num_perm=1, seed=1, scheme=self._permutations[num_perm][1])
        self._signature_dtype = probe.hashvalues.dtype
        hashfunc = probe.hashfunc
        if hashfunc not in self._chunk_hashes:
            self._chunk_hashes[hashfunc] = BoundedCache(
                lambda chunk: tuple(hashfunc(stem.encode("utf-8")) for stem in content_stems(chunk)), CACHE_SIZE
            )
        self._hashes_of_chunk = self._chunk_hashes[hashfunc].__getitem__

    def signature(self, text: str) -> bytes:
        """The article's MinHash as bytes (uint32 values): compute it where the text is (in
        parallel), and send only this (512 bytes at 128 permutations) to where it is clustered."""
        # The MinHash of content_stems(text) (MinHash's default hash of each stem's UTF-8 bytes),
        # from the chunks' cached stem hashes: a MinHash is a min over the set's hashes, so neither
        # order nor repeats of a stem change it.
        hashes = set().union(*map(self._hashes_of_chunk, set(text.split())))
        permutations, scheme = self._permutations[self.num_perm]
        minhash = self._MinHash(num_perm=self.num_perm, permutations=permutations, scheme=scheme, hashfunc=_identity)
        if hashes:
            minhash.update_batch(hashes)
        return minhash.hashvalues.tobytes()


def _aware(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC so naive and aware values compare.
    from datetime import timezone

    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# --- keyed clustering across runs --------------------------------------------------------------
#
# The same rule as StoryClusterer, evaluated per candidate group instead of against one in-memory
# index, so that it distributes (a GroupByKey per key) and so that articles of earlier runs (read
# from the story state) take part like articles of this run. A candidate group is the set of
# articles sharing one key:
#
# * a band key "b<i>:<hash of the band's rows>" (near-duplicate LSH, the same bands as above);
# * an entity key "e:<entity>:<bucket>" for dated articles: buckets of `gap_days` days, each article
#   in its bucket and the next, so two articles less than `gap_days` apart share a key;
# * an ingest key "i:<entity>:<bucket>" (buckets of window_days + 1 days of *ingest* time): an
#   undated article may be the same event as an article of any date, as long as the two were
#   ingested within the window of each other (this bounds what a run must read).
#
# Only the edges (id pairs) that pass the rule leave a group; union-find over them gives stories.
#
# Pairs of this run's articles are decided per group (`edges_in_group`, after a GroupByKey). Pairs
# with an article of an earlier run are decided where the state rows are read (`RunIndex`): this
# run's records, indexed by key, are small next to the state, so each row read is compared with the
# articles it shares a key with, once per pair, and only the edges leave (a map-side join). What a run
# holds is then its own records and one batch of state rows, however big the state in its window.

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class StoryRules:
    """The same-story rule's settings (defaults as StoryClusterer's) and the retention window."""

    threshold: float = 0.5
    related_threshold: float = 0.2
    min_shared_entities: int = 3
    min_entity_overlap: float = 0.5
    max_gap_seconds: float = 3 * DAY_SECONDS
    window_days: int = 7
    num_perm: int = 128

    @property
    def gap_days(self) -> int:
        return int(self.max_gap_seconds // DAY_SECONDS) + 1

    def bands(self) -> tuple[int, int]:
        """(bands, rows per band) of the near-duplicate LSH (StoryClusterer's recall-weighted choice)."""
        key = (max(self.threshold - 0.1, 0.05), self.num_perm)
        if key not in StoryClusterer._lsh_params:
            from datasketch import MinHashLSH

            lsh = MinHashLSH(threshold=key[0], num_perm=self.num_perm, weights=(0.1, 0.9))
            StoryClusterer._lsh_params[key] = (lsh.b, lsh.r)
        return StoryClusterer._lsh_params[key]


@dataclass(frozen=True)
class StoryRecord:
    """What clustering needs of one article; also one row of the story state.

    `day` is the event day (date ordinal): the publication day, else the fetch/ingest day.
    `ingest_day` is the day of the run that first saw the article. For a record read from the
    state, `story_id` is the story it was written with and `canonical` the article its content
    points at (itself, or the `duplicate_of` it got)."""

    article_id: str
    signature: bytes
    entities: tuple[str, ...]
    published: float | None  # epoch seconds, None if undated
    day: int
    ingest_day: int
    content_hash: str
    story_id: str = ""
    canonical: str = ""

    @property
    def is_old(self) -> bool:
        return bool(self.story_id)

    @property
    def dated(self) -> bool:
        return self.published is not None

    @property
    def sort_time(self) -> float:
        """When the article happened, for ordering stories: published, else its event day."""
        return self.published if self.published is not None else self.day * DAY_SECONDS


def day_ordinal(when: datetime) -> int:
    return _aware(when).date().toordinal()


def make_record(
    article_id: str, signature: bytes, entity_keys: Iterable[str], published: datetime | None,
    fallback_day: datetime, ingested: datetime, content_hash: str = "",
) -> StoryRecord:
    """A new article's record; `fallback_day` (fetch or ingest time) is the event day of an undated one."""
    published = _aware(published) if published is not None else None
    return StoryRecord(
        article_id=article_id, signature=signature, entities=tuple(sorted(_normalise_keys(entity_keys))),
        published=published.timestamp() if published is not None else None,
        day=day_ordinal(published if published is not None else fallback_day),
        ingest_day=day_ordinal(ingested), content_hash=content_hash,
    )


def _band_hashes(signature: bytes, rules: StoryRules) -> list[str]:
    bands, rows = rules.bands()
    width = rows * 4  # uint32 hash values (StoryClusterer.signature)
    return [
        f"b{i}:" + hashlib.blake2b(signature[i * width:(i + 1) * width], digest_size=8).hexdigest()
        for i in range(bands)
    ]


def group_keys(record: StoryRecord, rules: StoryRules) -> list[str]:
    """The candidate groups an article belongs to (see the section comment)."""
    keys = _band_hashes(record.signature, rules)
    if len(record.entities) >= rules.min_shared_entities:
        if record.dated:
            bucket = record.day // rules.gap_days
            keys += [f"e:{e}:{b}" for e in record.entities for b in (bucket, bucket + 1)]
        bucket = record.ingest_day // (rules.window_days + 1)
        keys += [f"i:{e}:{b}" for e in record.entities for b in (bucket, bucket + 1)]
    return keys


def lookup_keys(record: StoryRecord, rules: StoryRules) -> list[str]:
    """Keys under which a later article may need this one: its group keys and its content hash."""
    keys = group_keys(record, rules)
    if record.content_hash:
        keys.append("h:" + record.content_hash)
    return keys


def key_hash(key: str) -> int:
    """A key as a signed 64-bit integer (how the state stores and filters keys)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def state_days(record: StoryRecord, rules: StoryRules) -> list[int]:
    """Event days of the state a new article may pair with (dated pairs within the window)."""
    if not record.dated:
        return []
    return list(range(record.day - rules.window_days, record.day + rules.window_days + 1))


def ingest_days(ingest_day: int, rules: StoryRules) -> list[int]:
    """Ingest days whose articles a run ingesting on `ingest_day` may pair with an undated article."""
    return list(range(ingest_day - rules.window_days - 1, ingest_day + 1))


def admissible(a: StoryRecord, b: StoryRecord, rules: StoryRules) -> bool:
    """Whether the window allows the pair at all: dated pairs within window_days of event time, a pair
    with an undated article within window_days of ingest time."""
    if a.dated and b.dated:
        return abs(a.day - b.day) <= rules.window_days
    return abs(a.ingest_day - b.ingest_day) <= rules.window_days


def same_story(a: StoryRecord, b: StoryRecord, rules: StoryRules) -> bool:
    """The rule for one pair (the reference the group evaluation must equal)."""
    import numpy as np

    if not admissible(a, b, rules):
        return False
    sa, sb = (np.frombuffer(s, dtype=np.uint32) for s in (a.signature, b.signature))
    similarity = float(np.count_nonzero(sa == sb)) / rules.num_perm
    if similarity >= rules.threshold:
        return True
    shared = len(set(a.entities) & set(b.entities))
    return (
        similarity >= rules.related_threshold
        and shared >= rules.min_shared_entities
        and shared >= rules.min_entity_overlap * min(len(a.entities), len(b.entities))
        and (a.published is None or b.published is None or abs(a.published - b.published) <= rules.max_gap_seconds)
    )


_MAX_PAIRS = 50_000  # pairs per block of the pairwise arrays in one group (bounds a big group's memory)


def edges_in_group(key: str, members: Iterable[StoryRecord], rules: StoryRules) -> list[tuple[str, str]]:
    """Pairs of `members` (sharing `key`) that are the same story, vectorised; pairs of two records
    from the state are skipped (an earlier run decided them). Also yields (id, id) when a record of
    this run has the id of one from the state (the same article again)."""
    import numpy as np

    recs = list({(r.article_id, r.is_old): r for r in members}.values())
    if len(recs) < 2 or all(r.is_old for r in recs):
        return []
    recs.sort(key=lambda r: (r.article_id, r.is_old))
    kind = key[0]
    n = len(recs)
    arrays = _record_arrays(recs)
    old, dated = np.array([r.is_old for r in recs]), arrays["dated"]
    ids = [r.article_id for r in recs]
    # An entity or ingest key names a bucket, and every article is in its bucket and the next: two
    # articles of one bucket share two such groups. Each pair is decided in one of them only, the
    # later bucket of the two (which both always have).
    if kind != "b":
        width = rules.gap_days if kind == "e" else rules.window_days + 1
        bucket = (arrays["day"] if kind == "e" else arrays["ingest"]) // width
        group_bucket = int(key.rsplit(":", 1)[1])
    # Every pair to check has a "pivot", an article of this run, and is generated once, pivot x
    # partners, a block of pivots at a time. In an ingest group a pair needs an undated side: an
    # undated pivot pairs with all, a dated pivot only with the undated articles of earlier runs.
    everyone = np.arange(n)
    if kind == "i":
        products = [(np.flatnonzero(~old & ~dated), everyone, True),
                    (np.flatnonzero(~old & dated), np.flatnonzero(old & ~dated), False)]
    else:
        products = [(np.flatnonzero(~old), everyone, True)]
    # Blocks of at most _MAX_PAIRS pairs: the signature comparison of a block holds 512 bytes a pair.
    blocks = []
    for piv, partners, symmetric in products:
        step = max(1, _MAX_PAIRS // max(1, len(partners)))
        blocks += [(piv[k:k + step], partners, symmetric) for k in range(0, len(piv), step)]
    out: list[tuple[str, str]] = []
    for block, partners, symmetric in blocks:
        i = np.repeat(block, len(partners))
        j = np.tile(partners, len(block))
        keep = i != j
        if symmetric:  # both sides pivots: keep the pair once
            pivot = np.zeros(n, dtype=bool)
            pivot[products[0][0]] = True
            keep &= ~pivot[j] | (j > i)
        i, j = i[keep], j[keep]
        keep = ~(old[i] & old[j])
        if kind != "b":
            keep &= np.maximum(bucket[i], bucket[j]) == group_bucket
        i, j = i[keep], j[keep]
        # the rule itself, as for a pair sharing a key of this kind only (_decide)
        kinds = np.full(len(i), _KIND_BITS[kind], dtype=np.uint8)
        out.extend((ids[a], ids[b]) for a, b in _decide(arrays, i, arrays, j, kinds, rules))
    return out


_KIND_BITS = {"b": 1, "e": 2, "i": 4}
_BAND, _ENTITY, _INGEST = 1, 2, 4
_DENSE_CELLS = 1 << 21  # (state rows x run articles) of a batch up to which pairs are marked, not sorted
_DENSE_RATIO = 4  # key entries per (row, article) cell above which every cell is decided at once
_DENSE_MIN_CELLS = 1 << 16  # ... in a batch that big at least (below, a pass per hash value costs more)


class RunIndex:
    """This run's records indexed by the hashes of their candidate keys, to decide the pairs they form
    with state rows (articles of earlier runs): the same pairs and rule as their candidate groups
    would (`edges_in_group`), each pair decided once, whatever the number of keys it shares."""

    def __init__(self, records: Iterable[StoryRecord], rules: StoryRules) -> None:
        import numpy as np

        self.rules = rules
        self.records = sorted({r.article_id: r for r in records if not r.is_old}.values(), key=lambda r: r.article_id)
        self._arrays = _record_arrays(self.records)
        rows = [(key_hash(k), i, _KIND_BITS[k[0]])
                for i, r in enumerate(self.records) for k in set(group_keys(r, rules))]
        rows.sort()
        # CSR: the members of key_hashes[k] are _member[_start[k]:_start[k + 1]]
        hashes = np.array([k for k, _, _ in rows], dtype=np.int64)
        self.key_hashes, first = np.unique(hashes, return_index=True)
        self._start = np.append(first, len(hashes)).astype(np.int64)
        self._member = np.array([i for _, i, _ in rows], dtype=np.int64)
        self._kind = np.array([b for _, _, b in rows], dtype=np.uint8)
        self.content_hashes = frozenset(r.content_hash for r in self.records if r.content_hash)
        self._vocab = {e: k for k, e in enumerate(sorted({e for r in self.records for e in r.entities}))}
        self._entity_matrix = _entity_matrix(self.records, self._vocab)

    def edges(self, rows: list[StoryRecord], keys: Any, parents: Any) -> list[tuple[str, str]]:
        """(this run's id, row's id) for each state row in `rows` that is the same story as an article
        of this run. `keys` are the rows' stored key hashes, flattened, `parents` the row of each."""
        import numpy as np

        if not rows or not self.records:
            return []
        keys, parents = np.asarray(keys, dtype=np.int64), np.asarray(parents, dtype=np.int64)
        if not len(self.key_hashes) or not len(keys):
            return []
        at = np.minimum(np.searchsorted(self.key_hashes, keys), len(self.key_hashes) - 1)
        hit = self.key_hashes[at] == keys
        at, parents = at[hit], parents[hit]
        lo = self._start[at]
        count = self._start[at + 1] - lo
        total = int(count.sum())
        if not total:
            return []
        n = len(self.records)
        if total > _DENSE_RATIO * len(rows) * n and len(rows) * n >= _DENSE_MIN_CELLS:
            # Most (row, article) cells share keys, many each (popular entities, undated articles):
            # deciding every cell at once costs less than listing each pair once per key it shares.
            step = max(1, _DENSE_CELLS // n)
            return [(self.records[a].article_id, rows[k + b].article_id)
                    for k in range(0, len(rows), step) for a, b in self._decide_all(rows[k:k + step])]
        # every (row, member, kind) that a shared key gives, then one entry per (row, member) pair
        entry = np.repeat(lo - np.concatenate(([0], np.cumsum(count)[:-1])), count) + np.arange(total)
        cell = np.repeat(parents, count) * n + self._member[entry]
        kind = self._kind[entry]
        cells = len(rows) * n
        if cells <= _DENSE_CELLS:  # a mark per (row, member) cell and kind: linear, no sort
            marks = [np.zeros(cells, dtype=bool) for _ in _KIND_BITS]
            for mark, bit in zip(marks, (_BAND, _ENTITY, _INGEST)):
                mark[cell[kind == bit]] = True
            code = np.flatnonzero(marks[0] | marks[1] | marks[2])
            kinds = (marks[0][code] * _BAND + marks[1][code] * _ENTITY + marks[2][code] * _INGEST).astype(np.uint8)
        else:
            order = np.argsort(cell, kind="stable")
            cell, kind = cell[order], kind[order]
            first = np.flatnonzero(np.concatenate(([True], cell[1:] != cell[:-1])))
            code, kinds = cell[first], np.bitwise_or.reduceat(kind, first)
        old, new = _record_arrays(rows), self._arrays
        out: list[tuple[str, str]] = []
        for k in range(0, len(code), _MAX_PAIRS):
            block = code[k:k + _MAX_PAIRS]
            for a, b in _decide(new, block % n, old, block // n, kinds[k:k + _MAX_PAIRS], self.rules):
                out.append((self.records[a].article_id, rows[b].article_id))
        return out

    def _decide_all(self, rows: list[StoryRecord]) -> list[tuple[int, int]]:
        """(article index, row index) of every same-story pair of `rows` x this run's articles, all cells
        at once: the same rule and the same key kinds as `_decide`, the kinds derived from what the keys
        encode (a band's hash values; an entity and a bucket of event or ingest days, for articles
        with at least min_shared_entities entities)."""
        import numpy as np

        rules, x, y = self.rules, self._arrays, _record_arrays(rows)
        col, row = (lambda a: a[None, :]), (lambda a: a[:, None])  # articles across, rows down
        counts, band = _match_counts(y["sig"], x["sig"], *rules.bands())
        shared = (_entity_matrix(rows, self._vocab) @ self._entity_matrix.T).toarray()
        both_dated = row(y["dated"]) & col(x["dated"])
        has_keys = row(y["n_ent"] >= rules.min_shared_entities) & col(x["n_ent"] >= rules.min_shared_entities)
        gap, width = rules.gap_days, rules.window_days + 1
        entity = both_dated & (np.abs(row(y["day"] // gap) - col(x["day"] // gap)) <= 1)
        ingest = ~both_dated & (np.abs(row(y["ingest"] // width) - col(x["ingest"] // width)) <= 1)
        entity_like = has_keys & (shared > 0) & (entity | ingest)
        admissible = np.where(both_dated, np.abs(row(y["day"]) - col(x["day"])) <= rules.window_days,
                              np.abs(row(y["ingest"]) - col(x["ingest"])) <= rules.window_days)
        similarity = counts / float(rules.num_perm)
        same = admissible & (band | entity_like) & (similarity >= rules.threshold)
        related = (
            admissible & entity_like & (similarity >= rules.related_threshold)
            & (shared >= rules.min_shared_entities)
            & (shared >= rules.min_entity_overlap * np.minimum(row(y["n_ent"]), col(x["n_ent"])))
            & ~(np.abs(row(y["when"]) - col(x["when"])) > rules.max_gap_seconds)  # NaN (undated) passes
        )
        r, a = np.nonzero(same | related)
        return list(zip(a.tolist(), r.tolist()))


def _match_counts(a: Any, b: Any, bands: int, band_rows: int) -> tuple[Any, Any]:
    """(len(a), len(b)) matrices: how many hash values each signature of `a` shares with each of `b`,
    and whether the two share an LSH band (all `band_rows` values of one of the first `bands` bands)."""
    import numpy as np

    at, bt = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    counts = np.zeros((a.shape[0], b.shape[0]), dtype=np.uint8)
    band = np.zeros(counts.shape, dtype=bool)
    whole = np.ones(counts.shape, dtype=bool)
    for k in range(at.shape[0]):
        equal = at[k][:, None] == bt[k][None, :]
        counts += equal
        if k < bands * band_rows:
            whole &= equal
            if k % band_rows == band_rows - 1:
                band |= whole
                whole[:] = True
    return counts, band


def _entity_matrix(records: list[StoryRecord], vocab: dict[str, int]) -> Any:
    """records x vocab sparse 0/1 matrix of the records' entities (those in `vocab`)."""
    import numpy as np
    from scipy.sparse import csr_matrix

    cols = [[vocab[e] for e in r.entities if e in vocab] for r in records]
    indptr = np.cumsum([0] + [len(c) for c in cols])
    data = np.ones(int(indptr[-1]), dtype=np.int32)
    return csr_matrix((data, np.array([k for c in cols for k in c], dtype=np.int64), indptr),
                      shape=(len(records), max(1, len(vocab))))


def _record_arrays(records: list[StoryRecord]) -> dict[str, Any]:
    import numpy as np

    return {
        "sig": np.stack([np.frombuffer(r.signature, dtype=np.uint32) for r in records]) if records
        else np.zeros((0, 0), dtype=np.uint32),
        "dated": np.array([r.dated for r in records], dtype=bool),
        "day": np.array([r.day for r in records], dtype=np.int64),
        "ingest": np.array([r.ingest_day for r in records], dtype=np.int64),
        "when": np.array([r.published if r.published is not None else np.nan for r in records], dtype=float),
        "n_ent": np.array([len(r.entities) for r in records], dtype=np.int64),
        "entities": [r.entities for r in records],
    }


def _decide(x: dict[str, Any], i: Any, y: dict[str, Any], j: Any, kind: Any, rules: StoryRules) -> list[tuple[int, int]]:
    """The rule for pairs (x[i], y[j]) that share keys of the kinds `kind` (bits): a band key admits the
    near-duplicate test, an entity key (both dated) or an ingest key (one side undated) both tests."""
    import numpy as np

    both_dated = x["dated"][i] & y["dated"][j]
    entity_like = ((kind & _ENTITY) > 0) | (((kind & _INGEST) > 0) & ~both_dated)
    keep = (((kind & _BAND) > 0) | entity_like) & np.where(
        both_dated, np.abs(x["day"][i] - y["day"][j]) <= rules.window_days,
        np.abs(x["ingest"][i] - y["ingest"][j]) <= rules.window_days)
    i, j, entity_like = i[keep], j[keep], entity_like[keep]
    if not len(i):
        return []
    similarity = np.count_nonzero(x["sig"][i] == y["sig"][j], axis=1) / float(rules.num_perm)
    same = similarity >= rules.threshold
    maybe = np.flatnonzero(~same & entity_like & (similarity >= rules.related_threshold))
    if len(maybe):
        a, b = i[maybe], j[maybe]
        ea, eb = x["entities"], y["entities"]
        shared = np.fromiter((len(set(ea[p]).intersection(eb[q])) for p, q in zip(a.tolist(), b.tolist())),
                             dtype=np.int64, count=len(maybe))
        gap = np.abs(x["when"][a] - y["when"][b])
        related = (
            (shared >= rules.min_shared_entities)
            & (shared >= rules.min_entity_overlap * np.minimum(x["n_ent"][a], y["n_ent"][b]))
            & ~(gap > rules.max_gap_seconds)  # NaN (an undated side) passes
        )
        same[maybe[related]] = True
    return list(zip(i[same].tolist(), j[same].tolist()))


@dataclass
class Assignment:
    """The result of joining this run's articles to stories."""

    story_of: dict[str, str]  # article id (of this run) -> story id, for articles in some edge
    merges: dict[str, str]  # story of an earlier run -> the earlier story it is merged into
    known: set[str]  # ids of this run that the state already holds (the same article again)


class Forest:
    """Union-find over article ids; `add` says whether an edge joined two components.

    Only the connected components decide the stories (assign_stories), so a spanning forest of the
    edges says as much as all of them. A stage that keeps only the edges `add` accepts sends at most
    n - 1 edges for a story of n articles, where the pairs decided in its candidate groups are up to
    n(n - 1)/2, each once per group the two share. An edge (id, id) marks an article the state
    already holds; it is accepted once per id."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.selfs: set[str] = set()

    def find(self, x: str) -> str:
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def add(self, a: str, b: str) -> bool:
        if a == b:
            self.find(a)
            if a in self.selfs:
                return False
            self.selfs.add(a)
            return True
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


def assign_stories(
    edges: Iterable[tuple[str, str]], old: dict[str, tuple[str, float]],
) -> Assignment:
    """Union-find over the edges. `old`: state article id -> (story id as written, sort time).

    A component without state articles gets the id of its smallest article (as in one batch). A
    component that reaches stories of earlier runs takes the earliest of them (by its earliest
    state member, then id); the others are recorded as merged into it: written ids never change."""
    forest = Forest()
    for a, b in edges:
        forest.add(a, b)
    known = forest.selfs
    components: dict[str, list[str]] = {}
    for node in list(forest.parent):
        components.setdefault(forest.find(node), []).append(node)
    story_of: dict[str, str] = {}
    merges: dict[str, str] = {}
    for nodes in components.values():
        stories: dict[str, float] = {}
        for node in nodes:
            if node in old:
                story, when = old[node]
                stories[story] = min(when, stories.get(story, when))
        if stories:
            target = min(stories, key=lambda s: (stories[s], s))
            for story in stories:
                if story != target:
                    merges[story] = target
        else:
            target = story_id_for(min(nodes))
        for node in nodes:
            if node not in old or node in known:
                story_of[node] = old[node][0] if node in known else target
    return Assignment(story_of, dict(sorted(merges.items())), known)


def keyed_cluster(
    records: Iterable[StoryRecord], rules: StoryRules, state: Iterable[StoryRecord] = ()
) -> Assignment:
    """In-process keyed clustering (what the Beam transform distributes): group by key, edges per
    group, union-find. Used by pipeline/local.py and tests."""
    import numpy as np

    records = list(records)
    groups: dict[str, list[StoryRecord]] = {}
    for record in records:
        for key in group_keys(record, rules):
            groups.setdefault(key, []).append(record)
    edges = {edge for key, members in groups.items() for edge in edges_in_group(key, members, rules)}
    state = list(state)
    if state:
        keys = [[key_hash(k) for k in set(lookup_keys(r, rules))] for r in state]
        parents = np.repeat(np.arange(len(state)), [len(k) for k in keys])
        edges |= set(RunIndex(records, rules).edges(state, np.array([h for k in keys for h in k], dtype=np.int64),
                                                    parents))
    old = {r.article_id: (r.story_id, r.sort_time) for r in state}
    return assign_stories(sorted(edges), old)


def cluster_stories(
    items: Iterable[tuple[str, str, Iterable[str], datetime | None]], rules: StoryRules | None = None,
    ingested: datetime | None = None,
) -> dict[str, str]:
    """article id -> story id for one batch of (id, text, entity keys, published), all ingested at
    `ingested` (an undated article's day); the same for any order of `items`."""
    from datetime import timezone

    rules = rules or StoryRules()
    ingested = ingested or datetime(2026, 1, 1, tzinfo=timezone.utc)
    signer = StoryClusterer(rules.num_perm)
    records = [make_record(a, signer.signature(text), keys, when, ingested, ingested) for a, text, keys, when in items]
    result = keyed_cluster(records, rules)
    return {r.article_id: result.story_of.get(r.article_id) or story_id_for(r.article_id) for r in records}
