"""Train the IPTC Media Topic classifier (pipeline/lib/topics.py) on the ANT corpus.

    python -m pipeline.training.train_topics --ant-dir /work/shared/data/ant --out pipeline/resources/topics/

ANT topic classes give real labels (culture, economy, sport, technology, politic, society). Politics
(11000000) and conflict (16000000) are too thin or absent there, so articles from the regional desks
(internationalNews, middleEast, localNews, diverse) get weak labels from a small general lexicon;
half of those have the lexicon terms masked before featurising, so the model must learn the context
words around them instead of the lexicon itself. Reports cross-outlet figures (each outlet held out in
turn, vocabulary and feature selection refitted without it), then fits on everything and writes the
artefact. scikit-learn/scipy are needed here only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.feature_selection import chi2
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import normalize

from pipeline.lib.ant import ANT_TO_IPTC, DESK_CLASSES, iter_ant
from pipeline.lib.arabic import clean_line, match_form
from pipeline.lib.topics import (
    IPTC_LABELS,
    MAX_BODY_CHARS,
    TopicClassifier,
    _tokens,
    extract_features,
    light_stem,
    save_model,
)

N_JOBS = 2  # one binary problem per class; spread them over cores
POLITICS = "11000000"
CONFLICT = "16000000"
CLASSES = ["01000000", "04000000", "11000000", "13000000", "14000000", "15000000", "16000000"]

ARCHIVES = (
    ("ant_v2.1_train_sources.tar.xz", "manifest_v2.1_train_sources.tsv"),
    ("ant_v1.1_jawharafm.tar.xz", "manifest_v1.1.tsv"),
)

# --- Weak-supervision lexicons -------------------------------------------------------------------
# General news vocabulary of armed conflict / of politics and government, written from general
# knowledge of Arabic news style (not from any evaluation page). Entries are normalised to the
# match form and light-stemmed, so "الحرب", "والحرب", "بالحرب" all hit "حرب".
# One space-separated block reads better than a quoted list for a reviewer of Arabic terms.
CONFLICT_WORDS = """
حرب حروب الحرب قتال معارك معركة هجوم هجمات غارة غارات قصف قذائف قذيفة صاروخ صواريخ صاروخية مسيرات
جنود جندي عسكري عسكرية عسكريين العسكريون اشتباكات اشتباك هدنة مسلح مسلحين مسلحون مسلحة ميليشيا ميليشيات مليشيات
الجيش جيش جيوش انفجار تفجير تفجيرات انتحاري إرهابي إرهابية إرهابيين الإرهاب إرهاب قتلى قتيل مقاتلين مقاتلون مقاتلات
دبابات ذخيرة أسلحة سلاح احتلال غزو اجتياح حصار نزاع صراع مواجهات عدوان كمين أسرى رهائن متمردين متمردون
انقلاب القوات قوات الدفاعات دفاعات المدفعية مدفعية الجوية عملية_عسكرية تحالف_عسكري
""".split()  # noqa: SIM905
CONFLICT_PHRASES = [
    "وقف إطلاق النار",
    "إطلاق النار",
    "طائرة مسيرة",
    "طائرات مسيرة",
    "طائرات بدون طيار",
    "وزارة الدفاع",
    "وزير الدفاع",
    "عملية عسكرية",
    "حفظ السلام",
    "الحرب الأهلية",
    "اتفاق السلام",
    "عملية السلام",
]
POLITICS_WORDS = """
انتخابات انتخابية الانتخابية برلمان البرلمان برلماني برلمانية نواب النواب حكومة الحكومة حكومي حكومية
رئيس الرئيس رئاسة رئاسية الرئاسية وزير الوزير وزراء وزارة دبلوماسي دبلوماسية الدبلوماسية محادثات مفاوضات قمة
سفير سفارة حزب أحزاب معارضة المعارضة تصويت استفتاء دستور دستوري دستورية سياسي سياسية السياسية سياسة سياسيين
عقوبات مرشح ناخبين اقتراع ائتلاف الكونغرس الكونجرس نائب تشريعية زعيم زعماء ثنائية
""".split()  # noqa: SIM905
POLITICS_PHRASES = [
    "رئيس الوزراء",
    "رئيس الحكومة",
    "رئيس الجمهورية",
    "مجلس النواب",
    "مجلس الأمن",
    "الأمم المتحدة",
    "وزير الخارجية",
    "الاتحاد الأوروبي",
    "البيت الأبيض",
    "بيان مشترك",
    "العلاقات الثنائية",
]
# A desk article gets a weak label when its lexicon score (title hits x2 + body hits) reaches
# WEAK_MIN_SCORE with at least WEAK_MIN_DISTINCT different entries: one stray word is not a topic.
WEAK_MIN_SCORE = 5
WEAK_MIN_DISTINCT = 3


def _norm_entry(entry: str) -> tuple[str, ...]:
    return tuple(light_stem(t) for t in _tokens(match_form(entry.replace("_", " "))))


def _lexicon(words: list[str], phrases: list[str]) -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
    entries = [_norm_entry(e) for e in words + phrases]
    return (
        frozenset(e[0] for e in entries if len(e) == 1),
        frozenset(e for e in entries if len(e) > 1),
    )


LEXICONS = {CONFLICT: _lexicon(CONFLICT_WORDS, CONFLICT_PHRASES), POLITICS: _lexicon(POLITICS_WORDS, POLITICS_PHRASES)}


def _stems(text: str) -> list[str]:
    return [light_stem(t) for t in _tokens(match_form(clean_line(text)))]


def _hit_positions(
    stems: list[str], lexicon: tuple[frozenset[str], frozenset[tuple[str, ...]]]
) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, entry) for every lexicon hit; phrases win over their single words."""
    words, phrases = lexicon
    hits = []
    i = 0
    while i < len(stems):
        for n in (4, 3, 2):
            if tuple(stems[i : i + n]) in phrases:
                hits.append((i, i + n, tuple(stems[i : i + n])))
                i += n
                break
        else:
            if stems[i] in words:
                hits.append((i, i + 1, (stems[i],)))
            i += 1
    return hits


def lexicon_score(title: str, body: str, code: str) -> tuple[int, int]:
    """(score, distinct entries) of one lexicon on an article; title hits count double."""
    lex = LEXICONS[code]
    t_hits = _hit_positions(_stems(title), lex)
    b_hits = _hit_positions(_stems(body[:MAX_BODY_CHARS]), lex)
    return 2 * len(t_hits) + len(b_hits), len({h[2] for h in t_hits + b_hits})


def weak_labels(title: str, body: str) -> set[str]:
    """Politics and/or conflict labels a desk article earns from the lexicons (maybe none)."""
    out = set()
    for code in (POLITICS, CONFLICT):
        score, distinct = lexicon_score(title, body, code)
        if score >= WEAK_MIN_SCORE and distinct >= WEAK_MIN_DISTINCT:
            out.add(code)
    return out


def mask_lexicon(text: str) -> str:
    """The text's words with every lexicon hit removed (input for extract_features)."""
    stems_raw = _tokens(match_form(clean_line(text)))
    stems = [light_stem(t) for t in stems_raw]
    drop: set[int] = set()
    for lex in LEXICONS.values():
        for start, end, _ in _hit_positions(stems, lex):
            drop.update(range(start, end))
    return " ".join(t for i, t in enumerate(stems_raw) if i not in drop)


# --- Corpus -> deduplicated examples --------------------------------------------------------------
@dataclass
class Example:
    sha1: str
    title: str
    body: str
    sources: set[str] = field(default_factory=set)
    cats: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    weak: bool = False
    masked: bool = False


def load_examples(ant_dir: Path) -> list[Example]:
    """One example per distinct text (manifest text_sha1): its labels are the union of the group's."""
    groups: dict[str, Example] = {}
    for tar_name, manifest_name in ARCHIVES:
        for doc, row in iter_ant(str(ant_dir / tar_name), str(ant_dir / manifest_name)):
            body = doc.text or doc.abstract
            if not body.strip() and not doc.title.strip():
                continue
            key = row.text_sha1 if doc.text.strip() else f"abstract:{doc.docno}"
            ex = groups.setdefault(key, Example(key, doc.title, body))
            ex.sources.add(row.source)
            ex.cats.add(row.category)
    examples = []
    for ex in groups.values():
        ex.labels = {ANT_TO_IPTC[c] for c in ex.cats if c in ANT_TO_IPTC}
        if not ex.labels and ex.cats & DESK_CLASSES:
            ex.labels = weak_labels(ex.title, ex.body)
            ex.weak = bool(ex.labels)
            # Deterministic half: mask lexicon words so the model learns what surrounds them.
            ex.masked = ex.weak and zlib.crc32(ex.sha1.encode()) % 2 == 0
        if ex.labels:
            examples.append(ex)
    return examples


# --- Features ------------------------------------------------------------------------------------
class RawCounts:
    """Every example's raw term counts as two sparse matrices over a corpus-wide term index."""

    def __init__(self, examples: list[Example]) -> None:
        self.char_terms: dict[str, int] = {}
        self.word_terms: dict[str, int] = {}
        blocks: dict[str, tuple[list[int], list[int], list[int]]] = {"c": ([0], [], []), "w": ([0], [], [])}
        for ex in examples:
            title, body = (
                (mask_lexicon(ex.title), mask_lexicon(ex.body[:MAX_BODY_CHARS])) if ex.masked else (ex.title, ex.body)
            )
            f = extract_features(title, body)
            for name, counts, index in (("c", f.chars, self.char_terms), ("w", f.words, self.word_terms)):
                indptr, indices, data = blocks[name]
                for term, count in counts.items():
                    indices.append(index.setdefault(term, len(index)))
                    data.append(count)
                indptr.append(len(indices))
        self.char = self._csr(blocks["c"], len(self.char_terms))
        self.word = self._csr(blocks["w"], len(self.word_terms))

    @staticmethod
    def _csr(block: tuple[list[int], list[int], list[int]], n_terms: int) -> sp.csr_matrix:
        indptr, indices, data = block
        return sp.csr_matrix(
            (np.asarray(data, np.float32), np.asarray(indices, np.int32), np.asarray(indptr, np.int64)),
            shape=(len(indptr) - 1, n_terms),
        )


@dataclass
class BlockFit:
    term_ids: np.ndarray  # columns of the raw matrix kept, in artefact order
    idf: np.ndarray


def _tfidf(raw: sp.csr_matrix, fit: BlockFit) -> sp.csr_matrix:
    x = raw[:, fit.term_ids].tocsr().astype(np.float32)
    x.data = 1.0 + np.log(x.data)  # sublinear tf, as TfidfBlock.row
    x = x @ sp.diags(fit.idf.astype(np.float32))
    return normalize(x, norm="l2", copy=False)


def fit_block(raw: sp.csr_matrix, y: np.ndarray, k: int, min_df: int) -> BlockFit:
    """Smoothed idf on these rows, then the k terms with the best one-vs-rest chi2 score."""
    n = raw.shape[0]
    df = np.asarray((raw > 0).sum(axis=0)).ravel()
    cand = np.flatnonzero(df >= min_df)
    idf = np.log((1.0 + n) / (1.0 + df[cand])) + 1.0
    x = _tfidf(raw, BlockFit(cand, idf))
    score = np.zeros(len(cand))
    for j in range(y.shape[1]):
        if y[:, j].any():
            s, _ = chi2(x, y[:, j])
            score = np.maximum(score, np.nan_to_num(s))
    top = np.sort(np.argsort(-score, kind="stable")[:k])
    return BlockFit(cand[top], idf[top])


def features(raw: RawCounts, rows: np.ndarray, fits: tuple[BlockFit, BlockFit]) -> sp.csr_matrix:
    x = sp.hstack([_tfidf(raw.char[rows], fits[0]), _tfidf(raw.word[rows], fits[1])]).tocsr()
    # Canonical CSR up front: joblib hands workers read-only memmaps that liblinear cannot re-sort.
    x.sum_duplicates()
    x.sort_indices()
    return x


# --- Model ---------------------------------------------------------------------------------------
@dataclass
class LinearModel:
    coef: np.ndarray  # (n_features, n_classes)
    intercept: np.ndarray
    platt_a: np.ndarray
    platt_b: np.ndarray


def _fit_binary(x: sp.csr_matrix, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    if y.min() == y.max():
        return np.zeros(x.shape[1], np.float32), -10.0  # class absent from this slice: never fires
    clf = LogisticRegression(C=c, solver="liblinear", max_iter=200).fit(x, y)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


def _fit_ovr(x: sp.csr_matrix, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    fitted = Parallel(n_jobs=N_JOBS)(delayed(_fit_binary)(x, y[:, j], c) for j in range(y.shape[1]))
    coef = np.stack([w for w, _ in fitted], axis=1)
    intercept = np.array([b for _, b in fitted], np.float32)
    return coef, intercept


def fit_model(
    x: sp.csr_matrix, y: np.ndarray, c: float, folds: int = 3, seed: int = 13
) -> tuple[LinearModel, np.ndarray]:
    """One-vs-rest logistic regression + per-class Platt scaling on out-of-fold decision values.

    Returns the model and the out-of-fold calibrated probabilities (for threshold tuning).
    """
    n = x.shape[0]
    fold = np.random.default_rng(seed).integers(0, folds, n)
    oof = np.zeros(y.shape, np.float32)
    for f in range(folds):
        tr, te = fold != f, fold == f
        x_tr = x[tr]
        x_tr.sort_indices()
        coef, intercept = _fit_ovr(x_tr, y[tr], c)
        oof[te] = x[te] @ coef + intercept
    platt_a = np.ones(y.shape[1], np.float32)
    platt_b = np.zeros(y.shape[1], np.float32)
    for j in range(y.shape[1]):
        if y[:, j].min() != y[:, j].max():
            cal = LogisticRegression(C=1e4).fit(oof[:, j : j + 1], y[:, j])
            platt_a[j], platt_b[j] = cal.coef_[0, 0], cal.intercept_[0]
    coef, intercept = _fit_ovr(x, y, c)
    probs = 1.0 / (1.0 + np.exp(-(platt_a * oof + platt_b)))
    return LinearModel(coef, intercept, platt_a, platt_b), probs


def predict_proba(model: LinearModel, x: sp.csr_matrix) -> np.ndarray:
    z = np.asarray(x @ model.coef) + model.intercept
    return 1.0 / (1.0 + np.exp(-(model.platt_a * z + model.platt_b)))


def tune_threshold(probs: np.ndarray, y: np.ndarray) -> float:
    """Global threshold maximising sample-averaged F1 of "all above t, at least the top one"."""
    best_t, best_f = 0.5, -1.0
    for t in np.arange(0.20, 0.81, 0.05):
        pred = probs >= t
        pred[np.arange(len(probs)), probs.argmax(1)] = True
        f = f1_score(y, pred, average="samples", zero_division=0)
        if f > best_f:
            best_t, best_f = float(round(t, 2)), float(f)
    return best_t


def top1_report(y_true: list[str], y_pred: list[str]) -> dict:
    """Accuracy and macro-F1 over the gold classes present (the same recipe as `eval topics`)."""
    from pipeline.evaluate.topics import classification_report

    return classification_report(y_true, y_pred)


# --- Driver --------------------------------------------------------------------------------------
def label_matrix(examples: list[Example]) -> np.ndarray:
    return np.array([[c in ex.labels for c in CLASSES] for ex in examples], dtype=np.int8)


def cross_outlet(raw: RawCounts, examples: list[Example], y: np.ndarray, args: argparse.Namespace) -> dict:
    outlets = sorted({s for ex in examples for s in ex.sources})
    results = {}
    for held in outlets:
        test = np.array([held in ex.sources for ex in examples])
        tr, te = np.flatnonzero(~test), np.flatnonzero(test)
        fits = (
            fit_block(raw.char[tr], y[tr], args.char_features, args.min_df),
            fit_block(raw.word[tr], y[tr], args.word_features, args.min_df),
        )
        model, _ = fit_model(features(raw, tr, fits), y[tr], args.C)
        probs = predict_proba(model, features(raw, te, fits))
        real = [i for i, ex in enumerate(examples[k] for k in te) if not ex.weak]
        # Gold for top-1 scoring: a single-label example's label; multi-label groups count as correct
        # when the top topic is any of their labels.
        gold, pred = [], []
        for i in real:
            ex = examples[te[i]]
            top = CLASSES[int(probs[i].argmax())]
            gold.append(top if top in ex.labels else min(ex.labels))
            pred.append(top)
        rep = top1_report(gold, pred)
        weak_idx = [i for i, k in enumerate(te) if examples[k].weak]
        weak_hit = [CLASSES[int(probs[i].argmax())] in (POLITICS, CONFLICT) for i in weak_idx]
        masked_idx = [i for i in weak_idx if examples[te[i]].masked]
        masked_hit = [CLASSES[int(probs[i].argmax())] in examples[te[i]].labels for i in masked_idx]
        results[held] = {
            "n_real": len(real),
            "accuracy": round(rep["accuracy"], 4),
            "macro_f1": round(rep["macro_f1"], 4),
            "per_class_f1": {k: round(v["f1"], 4) for k, v in rep["per_class"].items()},
            "n_weak": len(weak_idx),
            "weak_top1_politics_or_conflict": round(float(np.mean(weak_hit)), 4) if weak_hit else None,
            "masked_weak_top1_in_weak_labels": round(float(np.mean(masked_hit)), 4) if masked_hit else None,
        }
        print(f"held-out {held}: {json.dumps(results[held], ensure_ascii=False)}", flush=True)
    return results


def checkset_report(clf: TopicClassifier, path: Path) -> dict:
    """Hand-written check set: model vs the weak-label lexicon on politics/conflict."""
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    top1_ok = 0
    tp = {c: [0, 0, 0] for c in (POLITICS, CONFLICT)}  # model tp, fp, fn
    lex = {c: [0, 0, 0] for c in (POLITICS, CONFLICT)}
    for labels, title, body in rows:
        gold = set(labels.split("|"))
        pred = clf.predict(title, body)
        top1_ok += pred[0].code in gold
        got = {p.code for p in pred}
        weak = weak_labels(title, body)
        for c in (POLITICS, CONFLICT):
            for counts, s in ((tp, got), (lex, weak)):
                counts[c][0] += c in s and c in gold
                counts[c][1] += c in s and c not in gold
                counts[c][2] += c not in s and c in gold

    def f1(t: list[int]) -> float:
        return round(2 * t[0] / max(1, 2 * t[0] + t[1] + t[2]), 4)

    return {
        "n": len(rows),
        "top1_accuracy": round(top1_ok / len(rows), 4),
        "model_f1": {c: f1(tp[c]) for c in tp},
        "lexicon_f1": {c: f1(lex[c]) for c in lex},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ant-dir", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--char-features", type=int, default=60000)
    ap.add_argument("--word-features", type=int, default=40000)
    ap.add_argument("--min-df", type=int, default=3)
    ap.add_argument("--C", type=float, default=10.0)
    ap.add_argument("--skip-cross", action="store_true", help="only fit and write the shipped model")
    args = ap.parse_args(argv)

    t0 = time.time()
    examples = load_examples(args.ant_dir)
    y = label_matrix(examples)
    stats = {
        "examples": len(examples),
        "real": sum(not e.weak for e in examples),
        "weak": sum(e.weak for e in examples),
        "weak_masked": sum(e.masked for e in examples),
        "label_counts": {c: int(y[:, j].sum()) for j, c in enumerate(CLASSES)},
        "weak_label_counts": dict(Counter(c for e in examples if e.weak for c in e.labels)),
    }
    print(f"examples: {json.dumps(stats)} ({time.time() - t0:.0f}s)", flush=True)
    raw = RawCounts(examples)
    print(f"raw terms: char {len(raw.char_terms)} word {len(raw.word_terms)} ({time.time() - t0:.0f}s)", flush=True)

    cross = {} if args.skip_cross else cross_outlet(raw, examples, y, args)

    rows = np.arange(len(examples))
    fits = (
        fit_block(raw.char, y, args.char_features, args.min_df),
        fit_block(raw.word, y, args.word_features, args.min_df),
    )
    model, oof = fit_model(features(raw, rows, fits), y, args.C)
    threshold = tune_threshold(oof, y)
    inv_char = np.empty(len(raw.char_terms), dtype=object)
    for t, i in raw.char_terms.items():
        inv_char[i] = t
    inv_word = np.empty(len(raw.word_terms), dtype=object)
    for t, i in raw.word_terms.items():
        inv_word[i] = t
    meta = {
        "trained": dt.date.today().isoformat(),
        "classes": {c: IPTC_LABELS[c] for c in CLASSES},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "corpus": stats,
        "threshold": threshold,
        "cross_outlet": cross,
        "weak_rule": {"min_score": WEAK_MIN_SCORE, "min_distinct": WEAK_MIN_DISTINCT},
    }
    artefact = dict(
        char_terms=list(inv_char[fits[0].term_ids]),
        char_idf=fits[0].idf,
        word_terms=list(inv_word[fits[1].term_ids]),
        word_idf=fits[1].idf,
        classes=CLASSES,
        coef=model.coef,
        intercept=model.intercept,
        platt_a=model.platt_a,
        platt_b=model.platt_b,
        threshold=threshold,
        meta=meta,
    )
    target = save_model(args.out, **artefact)
    clf = TopicClassifier.load(str(target))
    # The numpy path must reproduce the training matrix: compare on a sample of unmasked examples.
    sample = [i for i in range(0, len(examples), max(1, len(examples) // 200)) if not examples[i].masked]
    want = predict_proba(model, features(raw, np.array(sample), fits))
    got = clf.probabilities([(examples[i].title, examples[i].body) for i in sample])
    drift = float(np.abs(want - got).max())
    check = checkset_report(clf, Path(__file__).resolve().parent.parent / "resources" / "topics" / "checkset.tsv")
    meta.update(
        {"numpy_vs_sklearn_max_abs_diff": round(drift, 5), "checkset": check, "artefact_bytes": target.stat().st_size}
    )
    save_model(args.out, **artefact)  # again, now with the verification figures in `meta`
    (args.out / "metrics.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {k: meta[k] for k in ("threshold", "numpy_vs_sklearn_max_abs_diff", "checkset", "artefact_bytes")},
            ensure_ascii=False,
        )
    )
    print(f"done in {time.time() - t0:.0f}s", flush=True)
    return 0 if math.isfinite(drift) and drift < 1e-2 else 1


if __name__ == "__main__":
    sys.exit(main())
