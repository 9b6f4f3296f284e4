"""`newspipe eval topics`: top-1 IPTC topic accuracy/macro-F1 of a classifier on an ANT archive.

Desk classes (internationalNews, middleEast, localNews, diverse) carry no topic, so they are skipped
and counted; topic classes are mapped to IPTC with pipeline.lib.ant.ANT_TO_IPTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pipeline.lib.ant import ANT_TO_IPTC, iter_ant
from pipeline.lib.model import TopicScore


class _Classifier(Protocol):
    def predict_batch(self, docs: list[tuple[str, str]]) -> list[list[TopicScore]]: ...


def classification_report(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over the gold classes present, per-class P/R/F1/support, confusion matrix.

    Macro-F1 averages over gold classes only: a predicted class with no gold examples (e.g. conflict
    on ANT) lowers the precision of nothing but the recall of the true class, which is already counted.
    """
    gold_labels = sorted(set(y_true))
    labels = sorted(set(y_true) | set(y_pred))
    pos = {c: i for i, c in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(y_true, y_pred):
        matrix[pos[t]][pos[p]] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    for c in gold_labels:
        i = pos[c]
        tp = matrix[i][i]
        support = sum(matrix[i])
        predicted = sum(row[i] for row in matrix)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[c] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    n = len(y_true)
    return {
        "accuracy": sum(t == p for t, p in zip(y_true, y_pred)) / n if n else 0.0,
        "macro_f1": sum(v["f1"] for v in per_class.values()) / len(per_class) if per_class else 0.0,
        "per_class": per_class,
        "confusion": {"labels": labels, "matrix": matrix},
    }


def evaluate_ant(tar_path: str, manifest_path: str, classifier: _Classifier, batch_size: int = 256) -> dict[str, Any]:
    """Score `classifier` (top-1 topic) on every topic-labelled article of an ANT archive.

    Returns {"accuracy", "macro_f1", "per_class": {code: {"precision", "recall", "f1", "support"}},
    "confusion": {"labels", "matrix"}, "skipped": N}; rows of the matrix are gold, columns predicted.
    `skipped` counts desk-class articles and articles with neither title nor text.
    """
    y_true: list[str] = []
    y_pred: list[str] = []
    skipped = 0
    batch: list[tuple[str, str]] = []
    gold: list[str] = []

    def flush() -> None:
        for g, scores in zip(gold, classifier.predict_batch(batch)):
            y_true.append(g)
            y_pred.append(scores[0].code if scores else "")
        batch.clear()
        gold.clear()

    for doc, _row in iter_ant(tar_path, manifest_path or None):
        code = ANT_TO_IPTC.get(doc.category)
        body = doc.text or doc.abstract
        if code is None or not (doc.title.strip() or body.strip()):
            skipped += 1
            continue
        batch.append((doc.title, body))
        gold.append(code)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    report = classification_report(y_true, y_pred)
    report["skipped"] = skipped
    return report
