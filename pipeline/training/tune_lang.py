"""Grid search for the Arabic-script weights of pipeline/lib/language.py (`ArabicScriptWeights`).

Reads a tuning directory built by pipeline/training/lang_samples.py (NOT lingua's test data,
which is kept for measurement), computes each sample's evidence once, and scores every weight
combination: accuracy per language and length, and the precision/recall of `ar`. Prints the best
combinations and the softmax temperature that minimises the log loss of the best one.

Usage: python -m pipeline.training.tune_lang --tune /tmp/lang-tune [--top 15]

The shipped defaults (lingua 1.0, lexicon 2.0, letters 1.0, penalty 1.0, prior_ar 0.25, temperature 1.25)
score 2.961 on the 2026-12-01 tuning set against the best combination's 2.972; among such
near-ties it keeps more Pashto/Sindhi word-pair accuracy (0.67/0.74 against 0.64/0.72 with lexicon 3.0)
and Arabic recall (prior 0.25 against 0.15).
"""

from __future__ import annotations

import argparse
import itertools
import math

from pipeline.evaluate.lang import read_lingua_testdata
from pipeline.lib.language import (
    ARABIC_SCRIPT_CODES,
    ArabicScriptWeights,
    LanguageDetector,
    _letter_stats,
    _softmax,
    combine_features,
)

GRID = {
    "lingua": (0.25, 0.5, 1.0),
    "lexicon": (0.75, 1.0, 1.5, 2.0, 3.0),
    "letters": (0.25, 0.5, 1.0),
    "prior_ar": (0.15, 0.25, 0.4),
}
PENALTIES = (1.0, 2.0)
MAIN = ("ar", "fa", "ur")


def _features(tune: str, penalty: float) -> list[tuple[str, str, dict, tuple[int, int] | None]]:
    detector = LanguageDetector(tuple(ARABIC_SCRIPT_CODES), 0.0, "prs", ArabicScriptWeights(no_lexicon_penalty=penalty))
    rows = []
    for length, by_code in read_lingua_testdata(tune).items():
        for code, texts in by_code.items():
            if code not in ARABIC_SCRIPT_CODES:
                continue
            for text in texts:
                stats = _letter_stats(text)
                feats, dari = detector.arabic_features(text, stats, detector._lingua_arabic(text[:1000]))
                rows.append((length, code, feats, dari))
    return rows


def _score(rows: list, w: ArabicScriptWeights, log_prior: dict[str, float]) -> dict:
    hits: dict[tuple[str, str], list[int]] = {}
    predicted_ar: dict[str, int] = {}
    for length, code, feats, dari in rows:
        scores = combine_features(feats, w, log_prior)
        got = max(scores, key=scores.__getitem__)
        if got == "fa" and dari:
            got = "prs"
        right = got == code or (code, got) == ("fa", "prs") or (code, got) == ("prs", "fa")
        cell = hits.setdefault((code, length), [0, 0])
        cell[0] += right
        cell[1] += 1
        if got == "ar":
            predicted_ar[length] = predicted_ar.get(length, 0) + 1
    acc = {key: h / n for key, (h, n) in hits.items()}
    ar_precision = {
        length: hits[("ar", length)][0] / predicted_ar[length] for length in predicted_ar if ("ar", length) in hits
    }
    main = [v for (code, _), v in acc.items() if code in MAIN]
    extra = [v for (code, _), v in acc.items() if code not in MAIN]
    arabic = [v for (code, _), v in acc.items() if code == "ar"]
    # The weakest of ar/fa/ur, their mean, Arabic again (its recall is a goal of its own), the rest.
    objective = min(main) + sum(main) / len(main) + sum(arabic) / len(arabic) + 0.25 * sum(extra) / max(len(extra), 1)
    return {"objective": objective, "accuracy": acc, "ar_precision": ar_precision}


def _temperature(rows: list, w: ArabicScriptWeights, log_prior: dict[str, float]) -> float:
    best_t, best_loss = 1.0, math.inf
    for t in (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 3.0):
        loss = 0.0
        for _, code, feats, _dari in rows:
            probs = _softmax(combine_features(feats, w, log_prior), t)
            loss -= math.log(max(probs.get("fa" if code == "prs" else code, 0.0), 1e-12))
        if loss < best_loss:
            best_t, best_loss = t, loss
    return best_t


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tune", required=True)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    results = []
    for penalty in PENALTIES:
        rows = _features(args.tune, penalty)
        base = LanguageDetector(tuple(ARABIC_SCRIPT_CODES), 0.0, "prs")
        for values in itertools.product(*GRID.values()):
            params = dict(zip(GRID, values))
            w = ArabicScriptWeights(no_lexicon_penalty=penalty, **params)
            log_prior = dict(base._log_prior, ar=math.log(w.prior_ar))
            results.append((_score(rows, w, log_prior), w, rows, log_prior))
    results.sort(key=lambda r: -r[0]["objective"])
    for score, w, _, _ in results[: args.top]:
        cells = " ".join(f"{c}/{l[:2]}={v:.3f}" for (c, l), v in sorted(score["accuracy"].items()))
        precision = " ".join(f"{l[:2]}={v:.3f}" for l, v in sorted(score["ar_precision"].items()))
        print(f"{score['objective']:.4f} {w}\n   {cells}\n   ar precision {precision}")
    _, best_w, rows, log_prior = results[0]
    print("temperature", _temperature(rows, best_w, log_prior))


if __name__ == "__main__":
    main()
