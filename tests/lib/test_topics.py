"""Tests for pipeline.lib.topics: the shipped IPTC topic model, its features and its run-time deps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.lib.topics import IPTC_LABELS, TopicClassifier, extract_features, light_stem

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
