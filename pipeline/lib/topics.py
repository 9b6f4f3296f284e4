"""IPTC Media Topic classification of Arabic news: TF-IDF features and a linear model in numpy.

The model is fitted offline by pipeline/training/train_topics.py (scikit-learn is a train-time
dependency only). This module holds the one feature extractor that both training and inference
use, so the two cannot drift, and scores new articles with plain Python + numpy.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from pipeline.lib.arabic import clean_line, match_form
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
    title_mf = match_form(clean_line(title))
    body_mf = match_form(clean_line(body[:MAX_BODY_CHARS]))
    title_toks = _tokens(title_mf)
    body_toks = _tokens(body_mf)

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


class Vectorizer:
    """Two TF-IDF blocks (char, word) side by side: sublinear tf x idf, each block l2-normalised.

    The same recipe as sklearn's TfidfVectorizer(sublinear_tf=True) per block. Rows come out as
    CSR pieces (indptr, indices, data); the arithmetic runs once per batch in numpy.
    """

    def __init__(
        self, char_terms: Sequence[str], char_idf: np.ndarray, word_terms: Sequence[str], word_idf: np.ndarray
    ) -> None:
        self.char_index = {t: i for i, t in enumerate(char_terms)}
        self.word_index = {t: i + len(char_terms) for i, t in enumerate(word_terms)}
        self.idf = np.concatenate([np.asarray(char_idf, np.float32), np.asarray(word_idf, np.float32)])
        self.n_features = len(self.idf)

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
        idx = np.asarray(indices, dtype=np.int64)
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

    def transform(self, docs: Iterable[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.transform_features(extract_features(t, b) for t, b in docs)


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
