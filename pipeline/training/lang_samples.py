"""Build language-ID tuning samples in lingua's test-data layout (single words, word pairs, sentences).

The Arabic-script decision in pipeline/lib/language.py has a handful of weights; they are tuned on
samples built here, never on lingua's test data (which is only measured on). Layout written:

    OUT/single-words/<code>.txt   OUT/word-pairs/<code>.txt   OUT/sentences/<code>.txt

one sample per line, the same shape as lingua's `language-testdata/`, so `newspipe eval lang
--lingua-testdata OUT` scores a tuning set the same way as the measurement set.

Sources (none of them is committed; pass their paths):
  --ant DIR              Arabic: ANT archives (/work/shared/data/ant): titles and body sentences.
  --conllu CODE=FILE     sentences of a Universal Dependencies treebank (`# text = ...` lines), e.g.
                         fa=UD_Persian-Seraji/fa_seraji-ud-dev.conllu, ur=UD_Urdu-UDTB/ur_udtb-ud-dev.conllu
  --lines CODE=FILE      one sentence per line (e.g. the hand-written tests/fixtures/lang/ps.txt)

Usage:
    python -m pipeline.training.lang_samples --out /tmp/lang-tune --ant /work/shared/data/ant \
        --conllu fa=.../fa_seraji-ud-dev.conllu --conllu ur=.../ur_udtb-ud-dev.conllu
Deterministic (fixed random seed, sorted inputs).
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
from pathlib import Path

from pipeline.lib.ant import iter_ant_tar

PER_LENGTH = 1000
_WORD = re.compile(r"[^\W\d_]{2,}")
_SENTENCE_END = re.compile(r"(?<=[.!؟?۔])\s+|\n")


def conllu_sentences(path: str) -> list[str]:
    """The `# text = ...` lines of a CoNLL-U file."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("# text ="):
            text = " ".join(line.split("=", 1)[1].split())
            if text:
                out.append(text)
    return out


def ant_sentences(ant_dir: str, limit: int = 6000, seed: int = 20261201) -> list[str]:
    """Titles and body sentences of ANT articles (both archives), a deterministic sample."""
    rng = random.Random(seed)
    sentences: list[str] = []
    for name in ("ant_v1.1_jawharafm.tar.xz", "ant_v2.1_train_sources.tar.xz"):
        path = Path(ant_dir) / name
        if not path.exists():
            continue
        for doc in iter_ant_tar(str(path)):
            if rng.random() > 0.05:
                continue
            if doc.title.strip():
                sentences.append(" ".join(doc.title.split()))
            parts = [" ".join(s.split()) for s in _SENTENCE_END.split(doc.text)]
            parts = [p for p in parts if 20 <= len(p) <= 400]
            if parts:
                sentences.append(rng.choice(parts))
    rng.shuffle(sentences)
    return sentences[:limit]


def samples_from_sentences(sentences: list[str], seed: int, n: int = PER_LENGTH) -> dict[str, list[str]]:
    """{length: samples}: whole sentences, single words and adjacent word pairs drawn from them."""
    rng = random.Random(seed)
    words: list[str] = []
    pairs: list[str] = []
    for sentence in sentences:
        tokens = sentence.split()
        clean = [t for t in tokens if _WORD.fullmatch(t)]
        words += clean
        pairs += [f"{a} {b}" for a, b in itertools.pairwise(tokens) if _WORD.fullmatch(a) and _WORD.fullmatch(b)]
    unique_words = sorted(set(words))
    unique_pairs = sorted(set(pairs))
    return {
        "sentences": rng.sample(sentences, min(n, len(sentences))),
        "single-words": rng.sample(unique_words, min(n, len(unique_words))),
        "word-pairs": rng.sample(unique_pairs, min(n, len(unique_pairs))),
    }


def write_samples(out: str, code: str, samples: dict[str, list[str]]) -> None:
    for length, lines in samples.items():
        folder = Path(out) / length
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{code}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--ant")
    parser.add_argument("--conllu", action="append", default=[], metavar="CODE=FILE")
    parser.add_argument("--lines", action="append", default=[], metavar="CODE=FILE")
    args = parser.parse_args(argv)
    sources: dict[str, list[str]] = {}
    if args.ant:
        sources["ar"] = ant_sentences(args.ant)
    for spec in args.conllu:
        code, path = spec.split("=", 1)
        sources.setdefault(code, []).extend(conllu_sentences(path))
    for spec in args.lines:
        code, path = spec.split("=", 1)
        lines = [" ".join(ln.split()) for ln in Path(path).read_text(encoding="utf-8").splitlines()]
        sources.setdefault(code, []).extend(ln for ln in lines if ln)
    for i, (code, sentences) in enumerate(sorted(sources.items())):
        samples = samples_from_sentences(sentences, seed=1000 + i)
        write_samples(args.out, code, samples)
        print(code, {k: len(v) for k, v in samples.items()})


if __name__ == "__main__":
    main()
