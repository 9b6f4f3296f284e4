"""Tests for pipeline.lib.topics: the shipped IPTC topic model, its features and its run-time deps."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from pipeline.lib import topics as topics_mod
from pipeline.lib.arabic import clean_line, match_form
from pipeline.lib.topics import (
    IPTC_LABELS,
    MAX_BODY_CHARS,
    TopicClassifier,
    Vectorizer,
    extract_features,
    light_stem,
    match_tokens,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clf() -> TopicClassifier:
    return TopicClassifier.load()


def test_iptc_labels_are_the_17_top_level_topics() -> None:
    assert len(IPTC_LABELS) == 17
    assert sorted(IPTC_LABELS) == [f"{i:02d}000000" for i in range(1, 18)]
    assert IPTC_LABELS["11000000"] == "politics"
    assert IPTC_LABELS["16000000"] == "conflict, war and peace"


def test_features_fold_spelling_variants_and_strip_article() -> None:
    assert light_stem("والحرب") == "حرب"
    assert light_stem("بالحرب") == "حرب"
    assert light_stem("الى") == "الى"  # too short to be article + word
    a = extract_features("إعلان", "أزمة الحكومة")
    b = extract_features("اعلان", "ازمه حكومة")
    assert a.words["T:اعلان"] == 1
    assert a.words["حكومه"] == b.words["حكومه"] == 1
    assert a.chars == extract_features("اعلان", "ازمه الحكومه").chars


# Made-up one-liners (not from ANT, the check set or the seeds): one clear topic each.
CASES = [
    (
        "15000000",
        "الأهلي يفوز على الزمالك في نهائي الكأس",
        "سجل المهاجم هدفين في الشوط الثاني ليقود فريقه إلى الفوز باللقب أمام جماهير غفيرة في الملعب.",
    ),
    (
        "15000000",
        "اللاعب ينتقل إلى نادٍ أوروبي",
        "وقع لاعب الوسط عقدا لثلاثة مواسم مع ناديه الجديد بعد مفاوضات مع إدارة فريقه السابق.",
    ),
    (
        "04000000",
        "ارتفاع أسعار الذهب في الأسواق",
        "صعدت أسعار الذهب مع تراجع الدولار وتزايد الطلب من المستثمرين، فيما استقرت أسواق الأسهم.",
    ),
    (
        "04000000",
        "الحكومة تتوقع نمو الناتج المحلي",
        "توقعت وزارة المالية نمو الناتج المحلي الإجمالي بنسبة ثلاثة في المئة مع تحسن الاستثمار والصادرات وتراجع عجز الميزانية.",
    ),
    (
        "13000000",
        "شركة تطلق حاسوبا محمولا بمعالج جديد",
        "كشفت الشركة عن حاسوب محمول بمعالج جديد وذاكرة أكبر وبطارية تدوم طويلا، مع تحديث لنظام التشغيل والتطبيقات.",
    ),
    (
        "13000000",
        "باحثون يطورون روبوتا يعمل بالذكاء الاصطناعي",
        "طور باحثون في جامعة تقنية روبوتا يعتمد على الذكاء الاصطناعي والبرمجيات لتحليل الصور والبيانات.",
    ),
    (
        "01000000",
        "عرض أول لفيلم سينمائي جديد",
        "شهدت قاعة السينما العرض الأول لفيلم من بطولة نجمة معروفة وإخراج مخرج شاب، وحضره فنانون ونقاد.",
    ),
    (
        "01000000",
        "أمسية شعرية في دار الثقافة",
        "نظمت دار الثقافة أمسية شعرية وموسيقية شارك فيها شعراء وفنانون، وتخللها معرض للكتاب والرواية.",
    ),
    (
        "16000000",
        "مقتل مسلحين في غارة جوية",
        "قتل عدد من المسلحين في غارة جوية استهدفت مواقعهم، وأكد الجيش استمرار العمليات العسكرية والقصف المدفعي.",
    ),
    (
        "16000000",
        "هجوم صاروخي على مدينة حدودية",
        "أطلقت صواريخ على مدينة حدودية ما أدى إلى سقوط قتلى وجرحى، وتبادلت القوات إطلاق النار عبر الحدود.",
    ),
    (
        "11000000",
        "الناخبون يدلون بأصواتهم في الانتخابات التشريعية",
        "توجه الناخبون إلى صناديق الاقتراع لاختيار نواب البرلمان، وسط منافسة بين أحزاب الائتلاف الحاكم والمعارضة.",
    ),
    (
        "11000000",
        "الرئيس يستقبل وزير الخارجية الأميركي",
        "استقبل الرئيس وزير الخارجية الأميركي وبحث معه العلاقات الثنائية والملفات الدبلوماسية في المنطقة.",
    ),
]


@pytest.mark.parametrize("code,title,body", CASES)
def test_made_up_articles_get_their_topic_first(clf: TopicClassifier, code: str, title: str, body: str) -> None:
    scores = clf.predict(title, body)
    assert scores[0].code == code, [(s.code, s.score) for s in scores]
    assert scores[0].label == IPTC_LABELS[code]


def test_predict_is_sorted_calibrated_and_multilabel(clf: TopicClassifier) -> None:
    for _, title, body in CASES:
        scores = clf.predict(title, body)
        assert scores, "at least the top topic is always returned"
        assert [s.score for s in scores] == sorted((s.score for s in scores), reverse=True)
        assert all(0.0 <= s.score <= 1.0 for s in scores)
        assert all(s.score >= clf.threshold for s in scores[1:])
    # An empty article still gets exactly one (low-confidence) topic, never an exception.
    assert len(clf.predict("", "")) == 1


def test_predict_batch_matches_predict(clf: TopicClassifier) -> None:
    docs = [(t, b) for _, t, b in CASES]
    batch = clf.predict_batch(docs)
    assert len(batch) == len(docs)
    for (title, body), got in zip(docs, batch):
        assert [s.code for s in got] == [s.code for s in clf.predict(title, body)]
    assert clf.predict_batch([]) == []


def _main_article(seeds_dir: Path, record: dict) -> tuple[str, str]:
    lines = (seeds_dir / record["file"]).read_text(encoding="utf-8").splitlines()
    art = record["articles"][0]
    body = "\n".join(lines[art["body_first_line"] - 1 : art["body_last_line"]])
    return art["title"], body


def test_seed_main_articles_are_politics_or_conflict(clf: TopicClassifier, seeds_dir: Path, gold: dict) -> None:
    for record in gold["files"]:
        title, body = _main_article(seeds_dir, record)
        codes = {s.code for s in clf.predict(title, body)}
        assert codes & {"11000000", "16000000"}, (record["file"], codes)
        # Every predicted hard-news code is one the gold lists (no politics on a pure-war piece etc.).
        assert codes & set(record["articles"][0]["iptc_topics"]), (record["file"], codes)


def test_runtime_does_not_import_sklearn() -> None:
    code = (
        "import sys\n"
        "from pipeline.lib.topics import TopicClassifier\n"
        "c = TopicClassifier.load()\n"
        "r = c.predict('غارة جوية', 'قصف ومعارك')\n"
        "assert r and r[0].code\n"
        "bad = [m for m in ('sklearn', 'scipy', 'joblib') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- the fast path (token cache, gathers) against the plain reference it replaced -------------

TRICKY = [
    "",
    " ",
    "x",
    "Σ.a İstanbul ΣΑΣ σ",
    "ﻻ ﷺ ـــكلمة  كَلِمَةٌ ١٢٣ ٣٫٥ word\u200cjoin\u200b ab\u00adcd",
    "وفي الحرب،والسلام\tبالحرب\u00a0للحكومة\r\nالدولة\n\n\nإلى أن",
    "\ufeffالبيان\u202bالرسمي\u202c ــــــ ۱۲۳ گزارش پیام ڤيديو",
    "Élysée DE-GAULLE o'neil l'État 3G5 4x4 __init__ a_b",
]


def _reference_tokens(text: str) -> list[str]:
    return [t for t in topics_mod._LETTERS.findall(match_form(clean_line(text))) if len(t) > 1]


def _reference_probabilities(clf: TopicClassifier, docs: list[tuple[str, str]]) -> np.ndarray:
    """The classifier as it was before the token cache: string n-grams counted in Counters."""
    vec = clf.vectorizer
    seg_ptr, indices, counts = [0], [], []
    for title, body in docs:
        title_toks = _reference_tokens(title)
        body_toks = _reference_tokens(body[:MAX_BODY_CHARS])
        chars: Counter[str] = Counter()
        for tok, count in Counter(title_toks + body_toks).items():
            padded = f" {tok} "
            for n in range(3, min(5, len(padded)) + 1):
                for i in range(len(padded) - n + 1):
                    chars[padded[i : i + n]] += count
        words: Counter[str] = Counter()
        for toks, tag in ((title_toks, True), (body_toks, False)):
            stems = [light_stem(t) for t in toks]
            words.update(stems)
            words.update(f"{a} {b}" for a, b in pairwise(stems))
            if tag:
                words.update(f"T:{s}" for s in stems)
        for index, terms in ((vec.char_index, chars), (vec.word_index, words)):
            for term, count in terms.items():
                if (j := index.get(term)) is not None:
                    indices.append(j)
                    counts.append(count)
            seg_ptr.append(len(indices))
    idx = np.asarray(indices, dtype=np.int64)
    data = (1.0 + np.log(np.asarray(counts, dtype=np.float32))) * vec.idf[idx]
    seg = np.asarray(seg_ptr, dtype=np.int64)
    lengths = np.diff(seg)
    if len(data):
        sq = np.zeros(len(lengths), dtype=np.float32)
        nonempty = lengths > 0
        sq[nonempty] = np.add.reduceat(data * data, seg[:-1][nonempty])
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        data = (data / np.repeat(norms, lengths)).astype(np.float32)
    indptr = seg[::2]
    z = np.zeros((len(docs), len(clf.classes)), dtype=np.float32)
    for d in range(len(docs)):
        lo, hi = indptr[d], indptr[d + 1]
        z[d] = (clf.coef[idx[lo:hi]] * data[lo:hi, None]).sum(axis=0)
    z += clf.intercept
    return 1.0 / (1.0 + np.exp(-(clf.platt_a * z + clf.platt_b)))


def _fixed_docs(seeds_dir: Path, gold: dict) -> list[tuple[str, str]]:
    from benchmarks.synth import make_article, seed_paragraphs

    docs = [(title, body) for _, title, body in CASES]
    for record in gold["files"]:
        lines = (seeds_dir / record["file"]).read_text(encoding="utf-8").splitlines()
        for art in record["articles"]:
            docs.append((art["title"], "\n".join(lines[art["body_first_line"] - 1 : art["body_last_line"]])))
    rng, paragraphs = random.Random(11), seed_paragraphs()
    docs += [(a["title"], a["body"]) for a in (make_article(rng, paragraphs, i) for i in range(40))]
    docs += [(a, b) for a in TRICKY[:4] for b in TRICKY]
    return docs


def test_match_tokens_equal_clean_then_match_form_then_tokens(seeds_dir: Path) -> None:
    texts = TRICKY + [p.read_text(encoding="utf-8") for p in sorted(seeds_dir.glob("*.txt"))]
    alphabet = list("ابتةىيأإآؤئءـ ًٌٍَُِّْٰ٠١٢٣۴٫٬ \t\n\r\u00a0\u200c\u200d\u200e\ufeff\u00adﻻﷺﺑﺒ.,:;'-_ΣσİIiKaZ09؟،")
    rng = random.Random(3)
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))) for _ in range(3000)]
    for text in texts:
        assert match_tokens(text) == _reference_tokens(text), repr(text)


def test_fast_transform_matches_reference_probabilities(clf: TopicClassifier, seeds_dir: Path, gold: dict) -> None:
    docs = _fixed_docs(seeds_dir, gold)
    expected = _reference_probabilities(clf, docs)
    np.testing.assert_allclose(clf.probabilities(docs), expected, rtol=0, atol=1e-6)
    # One at a time (the classify stage's call) and via the public two-step path (training's).
    single = np.vstack([clf.probabilities([doc]) for doc in docs])
    np.testing.assert_allclose(single, expected, rtol=0, atol=1e-6)
    two_step = clf.decision_csr(*clf.vectorizer.transform_features(extract_features(t, b) for t, b in docs))
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-(clf.platt_a * two_step + clf.platt_b))), expected, atol=1e-6)


def test_token_cache_bound_and_threads(clf: TopicClassifier, seeds_dir: Path, gold: dict, monkeypatch) -> None:
    docs = _fixed_docs(seeds_dir, gold)
    expected = _reference_probabilities(clf, docs)
    # A tiny bound: the caches empty themselves over and over and results do not change.
    monkeypatch.setattr(topics_mod, "CACHE_SIZE", 50)
    monkeypatch.setattr(topics_mod, "_CHUNK_TOKENS", topics_mod.BoundedCache(topics_mod._chunk_tokens, 50))
    np.testing.assert_allclose(clf.probabilities(docs), expected, atol=1e-6)
    assert len(clf.vectorizer._table.ids) < 50 + 2000 and len(topics_mod._CHUNK_TOKENS) <= 50
    monkeypatch.undo()
    # A fresh vectorizer filled by several threads at once gives the same numbers.
    vec = clf.vectorizer
    fresh = TopicClassifier(
        Vectorizer(list(vec.char_index), vec.idf[: vec.n_char], list(vec.word_index), vec.idf[vec.n_char :]),
        clf.classes,
        clf.coef,
        clf.intercept,
        clf.platt_a,
        clf.platt_b,
        clf.threshold,
    )
    results: dict[int, np.ndarray] = {}

    def run(k: int) -> None:
        order = list(range(len(docs)))
        random.Random(k).shuffle(order)
        probs = np.vstack([fresh.probabilities([docs[i]]) for i in order])
        results[k] = probs[np.argsort(order)]

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for probs in results.values():
        np.testing.assert_allclose(probs, expected, atol=1e-6)
