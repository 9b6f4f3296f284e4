"""IPTC Media Topic classification of Arabic news: TF-IDF features and a linear model in numpy.

The model is fitted offline by pipeline/training/train_topics.py (scikit-learn is a train-time
dependency only). This module holds the one feature extractor that both training and inference
use, so the two cannot drift, and scores new articles with plain Python + numpy.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise
from pathlib import Path

import numpy as np

from pipeline.lib.arabic import clean_line, match_form
from pipeline.lib.cache import CACHE_SIZE, BoundedCache
from pipeline.lib.model import TopicScore

# All 17 top-level IPTC Media Topics (http://cv.iptc.org/newscodes/mediatopic/).
IPTC_LABELS: dict[str, str] = {
    "01000000": "arts, culture, entertainment and media",
    "02000000": "crime, law and justice",
    "03000000": "disaster, accident and emergency incident",
    "04000000": "economy, business and finance",
    "05000000": "education",
    "06000000": "environment",
    "07000000": "health",
    "08000000": "human interest",
    "09000000": "labour",
    "10000000": "lifestyle and leisure",
    "11000000": "politics",
    "12000000": "religion",
    "13000000": "science and technology",
    "14000000": "society",
    "15000000": "sport",
    "16000000": "conflict, war and peace",
    "17000000": "weather",
}

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "resources" / "topics"
MODEL_FILE = "model.npz"

# Topic is usually settled in the first paragraphs; capping the body bounds cost on long pages.
MAX_BODY_CHARS = 6000
CHAR_NGRAMS = (3, 5)

_LETTERS = re.compile(r"[^\W\d_]+")
# Proclitic conjunction/preposition + article. Stripping it lets "والحرب", "بالحرب", "الحرب" share
# one word feature; char n-grams keep the unstripped evidence.
_PROCLITIC = re.compile(r"^(?:و|ف)?(?:ال|بال|لل|كال)(?=..)")


def light_stem(token: str) -> str:
    """Strip a leading w/f + article cluster when at least two letters remain."""
    return _PROCLITIC.sub("", token)


def _tokens(text_mf: str) -> list[str]:
    return [t for t in _LETTERS.findall(text_mf) if len(t) > 1]


# News vocabulary repeats heavily, so the per-article work is cached per distinct string. The
# caches are bounded (cleared when full: cheap, and the common strings come straight back).


def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    return tuple(_tokens(match_form(clean_line(chunk))))


_CHUNK_TOKENS = BoundedCache(_chunk_tokens, CACHE_SIZE)


def match_tokens(text: str) -> list[str]:
    """The words of `text` in match form (letters only, 2+ long): `_tokens(match_form(clean_line(text)))`.

    Computed per whitespace-separated chunk, cached: every step of clean_line/match_form works
    character by character inside a chunk (whitespace never joins or splits letter runs, and is
    neither cased nor case-ignorable for lower()), so the chunks' tokens in order are the text's.
    """
    return list(chain.from_iterable(map(_CHUNK_TOKENS.__getitem__, text.split())))


@dataclass(frozen=True)
class DocFeatures:
    """Raw term counts of one article, split in the two feature blocks."""

    chars: Counter[str]
    words: Counter[str]


def extract_features(title: str, body: str) -> DocFeatures:
    """Counts of char n-grams (within words, match form) and word uni/bigrams, title words tagged.

    Title words get an extra "T:" feature because a headline is denser topic evidence than a
    body sentence; everything is in the match form so spelling variants share features.
    """
    title_toks = match_tokens(title)
    body_toks = match_tokens(body[:MAX_BODY_CHARS])

    chars: Counter[str] = Counter()
    lo, hi = CHAR_NGRAMS
    # Words repeat a lot in news; n-gram each distinct word once and weight by its count.
    for tok, count in Counter(title_toks + body_toks).items():
        padded = f" {tok} "
        n_chars = len(padded)
        for n in range(lo, min(hi, n_chars) + 1):
            for i in range(n_chars - n + 1):
                chars[padded[i : i + n]] += count

    words: Counter[str] = Counter()
    for toks, tag in ((title_toks, True), (body_toks, False)):
        stems = [light_stem(t) for t in toks]
        words.update(stems)
        words.update(f"{a} {b}" for a, b in pairwise(stems))
        if tag:
            words.update(f"T:{s}" for s in stems)
    return DocFeatures(chars, words)


class _TokenTable:
    """Per distinct token, what it contributes to an article's features (in-vocabulary only):
    its char n-gram feature indices (a slice of one int32 pool, repeats kept), and the feature
    index of its stem, of its title tag "T:stem", and its bigram stem id (-1: none).

    Shared by the threads of a worker: tokens are added under a lock, arrays grow by copy, and a
    reader takes the arrays after its own tokens are in (every later copy holds them too).
    """

    def __init__(self, vec: Vectorizer) -> None:
        self.vec = vec
        self.ids: dict[str, int] = {}
        self.lock = threading.Lock()
        n = 4096
        self.uni = np.full(n, -1, np.int64)
        self.tag = np.full(n, -1, np.int64)
        self.stem = np.full(n, -1, np.int64)
        self.ng_off = np.zeros(n, np.int64)
        self.ng_len = np.zeros(n, np.int64)
        self.pool = np.zeros(8 * n, np.int32)
        self.pool_used = 0

    def lookup(self, toks: list[str]) -> np.ndarray:
        """Row ids of `toks` (added on first sight)."""
        ids = self.ids
        try:
            return np.fromiter(map(ids.__getitem__, toks), np.int64, len(toks))
        except KeyError:
            with self.lock:
                for tok in toks:
                    if tok not in ids:
                        self._add(tok)
            return np.fromiter(map(ids.__getitem__, toks), np.int64, len(toks))

    def _add(self, tok: str) -> None:
        vec = self.vec
        row = len(self.ids)
        if row == len(self.uni):
            for name in ("uni", "tag", "stem", "ng_off", "ng_len"):
                old = getattr(self, name)
                grown = np.full(2 * len(old), -1 if name in ("uni", "tag", "stem") else 0, old.dtype)
                grown[: len(old)] = old
                setattr(self, name, grown)
        char_index = vec.char_index
        padded = f" {tok} "
        n_chars = len(padded)
        lo, hi = CHAR_NGRAMS
        grams = [
            j
            for n in range(lo, min(hi, n_chars) + 1)
            for i in range(n_chars - n + 1)
            if (j := char_index.get(padded[i : i + n])) is not None
        ]
        used = self.pool_used
        if used + len(grams) > len(self.pool):
            grown = np.zeros(max(2 * len(self.pool), used + len(grams)), np.int32)
            grown[:used] = self.pool[:used]
            self.pool = grown
        self.pool[used : used + len(grams)] = grams
        self.pool_used = used + len(grams)
        stem = light_stem(tok)
        self.ng_off[row] = used
        self.ng_len[row] = len(grams)
        self.uni[row] = vec.word_index.get(stem, -1)
        self.tag[row] = vec.word_index.get(f"T:{stem}", -1)
        self.stem[row] = vec.bigram_stems.get(stem, -1)
        self.ids[tok] = row  # last: a reader that sees the id sees the row


class Vectorizer:
    """Two TF-IDF blocks (char, word) side by side: sublinear tf x idf, each block l2-normalised.

    The same recipe as sklearn's TfidfVectorizer(sublinear_tf=True) per block. Rows come out as
    CSR pieces (indptr, indices, data); the arithmetic runs once per batch in numpy.

    `transform` computes the same counts as `extract_features` + `transform_features` without
    building strings per n-gram: each distinct token's features are looked up once (cached,
    bounded by CACHE_SIZE tokens) and an article's counts are gathers and bincounts.
    """

    def __init__(
        self, char_terms: Sequence[str], char_idf: np.ndarray, word_terms: Sequence[str], word_idf: np.ndarray
    ) -> None:
        self.char_index = {t: i for i, t in enumerate(char_terms)}
        self.word_index = {t: i + len(char_terms) for i, t in enumerate(word_terms)}
        self.idf = np.concatenate([np.asarray(char_idf, np.float32), np.asarray(word_idf, np.float32)])
        self.n_features = len(self.idf)
        self.n_char = len(char_terms)
        # Word bigrams "a b" by (stem id of a) * n + (stem id of b), sorted, for one searchsorted.
        self.bigram_stems: dict[str, int] = {}
        keys: list[tuple[str, str, int]] = []
        for term, j in self.word_index.items():
            if " " in term:
                a, b = term.split(" ", 1)
                keys.append((a, b, j))
                for part in (a, b):
                    self.bigram_stems.setdefault(part, len(self.bigram_stems))
        n_stems = max(len(self.bigram_stems), 1)
        codes = np.array([self.bigram_stems[a] * n_stems + self.bigram_stems[b] for a, b, _ in keys], np.int64)
        order = np.argsort(codes)
        self._n_stems = n_stems
        self._bigram_codes = codes[order]
        self._bigram_index = np.array([j for *_, j in keys], np.int64)[order]
        self._table = _TokenTable(self)

    def _bigrams(self, stems: np.ndarray) -> np.ndarray:
        a, b = stems[:-1], stems[1:]
        codes = (a * self._n_stems + b)[(a >= 0) & (b >= 0)]
        if not len(codes) or not len(self._bigram_codes):
            return codes[:0]
        pos = np.searchsorted(self._bigram_codes, codes)
        pos[pos == len(self._bigram_codes)] = 0
        return self._bigram_index[pos[self._bigram_codes[pos] == codes]]

    def _doc_counts(self, title: str, body: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(char indices, their counts, word indices, their counts) of one article."""
        table = self._table
        if len(table.ids) >= CACHE_SIZE:
            table = self._table = _TokenTable(self)
        title_rows = table.lookup(match_tokens(title))
        body_rows = table.lookup(match_tokens(body[:MAX_BODY_CHARS]))
        # Char n-grams: each distinct token's n-grams once, weighted by the token's count.
        rows, row_counts = np.unique(np.concatenate((title_rows, body_rows)), return_counts=True)
        lengths = table.ng_len[rows]
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        grams = table.pool[np.arange(total) + np.repeat(table.ng_off[rows] - (ends - lengths), lengths)]
        per_gram = np.bincount(grams, weights=np.repeat(row_counts, lengths), minlength=self.n_char)
        char_idx = np.flatnonzero(per_gram != 0)  # (a bool scan is much faster than a float one)
        # Words: stems, stem bigrams, and title-tagged stems of the title.
        uni, tag, stem = table.uni, table.tag, table.stem
        words = np.concatenate(
            (
                uni[title_rows],
                self._bigrams(stem[title_rows]),
                tag[title_rows],
                uni[body_rows],
                self._bigrams(stem[body_rows]),
            )
        )
        word_idx, word_counts = np.unique(words[words >= 0], return_counts=True)
        return char_idx, per_gram[char_idx], word_idx, word_counts

    def _tfidf(
        self, seg_ptr: list[int], idx: np.ndarray, counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        data = (1.0 + np.log(np.asarray(counts, dtype=np.float32))) * self.idf[idx]
        seg = np.asarray(seg_ptr, dtype=np.int64)
        lengths = np.diff(seg)
        if len(data):
            sq = np.zeros(len(lengths), dtype=np.float32)
            nonempty = lengths > 0
            sq[nonempty] = np.add.reduceat(data * data, seg[:-1][nonempty])
            norms = np.sqrt(sq)
            norms[norms == 0] = 1.0
            data = (data / np.repeat(norms, lengths)).astype(np.float32)
        return seg[::2].copy(), idx, data.astype(np.float32)

    def transform_features(self, feats: Iterable[DocFeatures]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        seg_ptr = [0]  # two segments (char block, word block) per document
        indices: list[int] = []
        counts: list[int] = []
        for f in feats:
            for index, terms in ((self.char_index, f.chars), (self.word_index, f.words)):
                for term, count in terms.items():
                    j = index.get(term)
                    if j is not None:
                        indices.append(j)
                        counts.append(count)
                seg_ptr.append(len(indices))
        return self._tfidf(seg_ptr, np.asarray(indices, dtype=np.int64), np.asarray(counts, dtype=np.float32))

    def transform(self, docs: Iterable[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`transform_features` of `extract_features` for (title, body) pairs (same numbers, faster)."""
        seg_ptr = [0]
        idx: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        for title, body in docs:
            char_idx, char_counts, word_idx, word_counts = self._doc_counts(title, body)
            idx += (char_idx, word_idx)
            counts += (char_counts, word_counts)
            seg_ptr += (seg_ptr[-1] + len(char_idx), seg_ptr[-1] + len(char_idx) + len(word_idx))
        if not idx:
            return self._tfidf(seg_ptr, np.zeros(0, np.int64), np.zeros(0, np.float32))
        return self._tfidf(seg_ptr, np.concatenate(idx).astype(np.int64), np.concatenate(counts).astype(np.float32))


def _encode_terms(terms: Sequence[str]) -> np.ndarray:
    # One newline-joined UTF-8 blob is far smaller than a fixed-width unicode array.
    return np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8)


def _decode_terms(blob: np.ndarray) -> list[str]:
    text = blob.tobytes().decode("utf-8")
    return text.split("\n") if text else []


def save_model(
    path: str | Path,
    *,
    char_terms: Sequence[str],
    char_idf: np.ndarray,
    word_terms: Sequence[str],
    word_idf: np.ndarray,
    classes: Sequence[str],
    coef: np.ndarray,
    intercept: np.ndarray,
    platt_a: np.ndarray,
    platt_b: np.ndarray,
    threshold: float,
    meta: dict,
) -> Path:
    """Write the artefact TopicClassifier.load reads (called by the training script)."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    target = out / MODEL_FILE
    np.savez_compressed(
        target,
        char_terms=_encode_terms(char_terms),
        char_idf=np.asarray(char_idf, dtype=np.float32),
        word_terms=_encode_terms(word_terms),
        word_idf=np.asarray(word_idf, dtype=np.float32),
        classes=np.asarray(list(classes), dtype="<U8"),
        coef=np.asarray(coef, dtype=np.float16),  # (n_features, n_classes); half precision keeps it small
        intercept=np.asarray(intercept, dtype=np.float32),
        platt_a=np.asarray(platt_a, dtype=np.float32),
        platt_b=np.asarray(platt_b, dtype=np.float32),
        threshold=np.asarray([threshold], dtype=np.float32),
        meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
    )
    return target


class TopicClassifier:
    """Multi-label IPTC topic scorer: calibrated one-vs-rest linear model over TF-IDF features."""

    def __init__(
        self,
        vectorizer: Vectorizer,
        classes: Sequence[str],
        coef: np.ndarray,
        intercept: np.ndarray,
        platt_a: np.ndarray,
        platt_b: np.ndarray,
        threshold: float,
        meta: dict | None = None,
    ) -> None:
        self.vectorizer = vectorizer
        self.classes = list(classes)
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.platt_a = np.asarray(platt_a, dtype=np.float32)
        self.platt_b = np.asarray(platt_b, dtype=np.float32)
        self.threshold = float(threshold)
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | None = None) -> TopicClassifier:
        """Load the shipped artefact (default pipeline/resources/topics/); a dir or the .npz itself."""
        p = Path(path) if path else DEFAULT_MODEL_DIR
        if p.is_dir():
            p = p / MODEL_FILE
        with np.load(p, allow_pickle=False) as z:
            vec = Vectorizer(
                _decode_terms(z["char_terms"]), z["char_idf"], _decode_terms(z["word_terms"]), z["word_idf"]
            )
            return cls(
                vec,
                [str(c) for c in z["classes"]],
                z["coef"],
                z["intercept"],
                z["platt_a"],
                z["platt_b"],
                float(z["threshold"][0]),
                json.loads(z["meta"].tobytes().decode("utf-8")),
            )

    def decision_csr(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> np.ndarray:
        """Raw linear scores (n_docs, n_classes) for CSR rows, without scipy."""
        n_docs = len(indptr) - 1
        out = np.zeros((n_docs, len(self.classes)), dtype=np.float32)
        if len(indices):
            contrib = self.coef[indices] * data[:, None]
            # reduceat needs non-empty segments; empty rows are filled with zeros below.
            starts = indptr[:-1]
            nonempty = indptr[1:] > starts
            if nonempty.any():
                out[nonempty] = np.add.reduceat(contrib, starts[nonempty], axis=0)
        return out + self.intercept

    def probabilities(self, docs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Calibrated per-topic probabilities (n_docs, n_classes), columns in `self.classes` order."""
        z = self.decision_csr(*self.vectorizer.transform(docs))
        return 1.0 / (1.0 + np.exp(-(self.platt_a * z + self.platt_b)))

    def _scores(self, probs: np.ndarray) -> list[TopicScore]:
        order = np.argsort(-probs, kind="stable")
        picked = [j for j in order if probs[j] >= self.threshold] or [int(order[0])]
        return [TopicScore(self.classes[j], IPTC_LABELS[self.classes[j]], round(float(probs[j]), 4)) for j in picked]

    def predict(self, title: str, body: str) -> list[TopicScore]:
        """Every topic at or above the tuned threshold (at least the best one), by score desc."""
        return self.predict_batch([(title, body)])[0]

    def predict_batch(self, docs: list[tuple[str, str]]) -> list[list[TopicScore]]:
        """`predict` for many (title, body) pairs with one matrix product."""
        if not docs:
            return []
        return [self._scores(row) for row in self.probabilities(docs)]
