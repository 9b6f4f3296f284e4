"""Train the Arabic CRF NER model shipped in pipeline/resources/ner/.

Three steps, all reproducible from the read-only corpora (commands with figures in
pipeline/resources/ner/PROVENANCE.md):

    python -m pipeline.training.train_ner lexicon --ant /work/shared/data/ant \
        --out pipeline/resources/ner/lexicon.tsv.gz --extra-text <CoNLL files, see PROVENANCE.md>
    python -m pipeline.training.build_name_priors --extra /work/shared/data/ner-extra \
        --out pipeline/resources/ner/name_priors.tsv.gz
    python -m pipeline.training.train_ner train \
        --train /work/shared/data/anercorp-train/ANERCorp_CamelLab_train.txt \
        --out pipeline/resources/ner/model.crfsuite --grid 0.1:0.01 [--dev-protocol v4] [--skip-dev]

`lexicon` counts words in the ANT news corpus (plus the words of `--extra-text` CoNLL files, tags
ignored) and clusters the frequent ones by their left/right neighbours (PPMI + SVD + k-means):
clusters let the CRF generalise from names it saw to names it did not. `train` follows the dev protocol (`protocol_split`): dev = whole blocks of the file, the
last 12% and the 40-50% block, never random sentences, plus the cross-domain AQMAR dev; it tunes
c1/c2 on the ANERcorp devs, prints per-type P/R/F1 on every dev and writes the final model trained
on all sentences. Training uses `pipeline.lib.ner.FeatureExtractor`, the same code inference uses.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from pipeline.lib.ant import iter_ant_tar
from pipeline.lib.arabic import clean_text, match_form
from pipeline.lib.ner import (
    DEFAULT_LEXICON,
    DEFAULT_MODEL,
    DEFAULT_PRIORS,
    FeatureExtractor,
    Lexicon,
    NamePriors,
    NerTagger,
    is_punct,
    read_conll,
    tokenize,
)

Sentence = tuple[list[str], list[str]]


# --------------------------------------------------------------------------------------------
# Corpus reading
# --------------------------------------------------------------------------------------------


def to_pieces(tokens: Sequence[str], tags: Sequence[str]) -> tuple[list[str], list[str]]:
    """Re-tokenize whitespace tokens the way inference does and carry the BIO tags over.

    Punctuation at the edge of an entity token is O; a piece inside an entity continues it (I-).
    """
    pieces: list[str] = []
    ptags: list[str] = []
    prev_type = ""
    for tok, tag in zip(tokens, tags, strict=True):
        parts = [t.text for t in tokenize(tok)] or [tok]
        prefix, _, typ = tag.partition("-")
        word_idx = [i for i, p in enumerate(parts) if not is_punct(p)]
        first_w = word_idx[0] if word_idx else -1
        last_w = word_idx[-1] if word_idx else -1
        for i, part in enumerate(parts):
            if prefix == "O" or not word_idx or i < first_w or i > last_w:
                ptags.append("O")
            elif i == first_w and (prefix == "B" or prev_type != typ):
                ptags.append("B-" + typ)
            else:
                ptags.append("I-" + typ)
            pieces.append(part)
        prev_type = typ if prefix in ("B", "I") and ptags[-1] != "O" else ""
    return pieces, ptags


# --------------------------------------------------------------------------------------------
# Lexicon (word frequency + distributional clusters) from ANT
# --------------------------------------------------------------------------------------------

def iter_ant_texts(ant_dir: str | Path) -> Iterator[str]:
    # ABSTRACT usually repeats the lead paragraph; TITLE + TEXT avoids double counts. (The lexicon
    # reads tokens only: these are token for token what the shipped lexicon was built from.)
    for archive in sorted(Path(ant_dir).glob("*.tar.xz")):
        for doc in iter_ant_tar(str(archive)):
            yield clean_text(doc.title + "\n" + doc.text)


def build_lexicon(
    ant_dir: str,
    out: str,
    min_freq: int = 5,
    n_cluster_words: int = 60000,
    n_ctx: int = 3000,
    fine_k: int = 600,
    coarse_k: int = 60,
    seed: int = 13,
    extra_k: Sequence[int] = (200, 2000),
    extra_text: Sequence[str | Path] = (),
) -> dict:
    import numpy as np
    from scipy import sparse
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    t0 = time.time()
    # Words are interned to ids as they are read: ~15M tokens as int arrays instead of str lists.
    ids_of: dict[str, int] = {}
    docs: list[np.ndarray] = []
    for text in iter_ant_texts(ant_dir):
        words = [t.text for t in tokenize(match_form(text))]
        docs.append(np.fromiter((ids_of.setdefault(w, len(ids_of)) for w in words), dtype=np.int64))
    n_ant = len(docs)
    # Unlabelled use of CoNLL files (their words only, tags ignored), one document per sentence.
    for path in extra_text:
        for toks, _ in read_conll(path):
            words = [t.text for t in tokenize(match_form(" ".join(toks)))]
            docs.append(np.fromiter((ids_of.setdefault(w, len(ids_of)) for w in words), dtype=np.int64))
    words_by_id = list(ids_of)
    counts = np.bincount(np.concatenate(docs), minlength=len(words_by_id))
    freq = {w: int(counts[i]) for i, w in enumerate(words_by_id)}
    n_tokens = int(counts.sum())
    order = np.argsort(-counts, kind="stable")
    vocab = [words_by_id[i] for i in order if counts[i] >= min_freq]
    cluster_words = vocab[:n_cluster_words]
    # Map corpus ids to cluster-row ids and context ids (-1 = not in the set).
    row_of = np.full(len(words_by_id), -1, dtype=np.int64)
    ctx_of = np.full(len(words_by_id), -1, dtype=np.int64)
    for r, w in enumerate(cluster_words):
        row_of[ids_of[w]] = r
    for c, w in enumerate(vocab[:n_ctx]):
        ctx_of[ids_of[w]] = c
    rows_l, cols_l = [], []
    for d in docs:
        if len(d) < 2:
            continue
        r, c = row_of[d], ctx_of[d]
        left = (r[1:] >= 0) & (c[:-1] >= 0)
        rows_l.append(r[1:][left])
        cols_l.append(c[:-1][left])
        right = (r[:-1] >= 0) & (c[1:] >= 0)
        rows_l.append(r[:-1][right])
        cols_l.append(n_ctx + c[1:][right])
    rows = np.concatenate(rows_l)
    cols = np.concatenate(cols_l)
    wid = {w: i for i, w in enumerate(cluster_words)}
    m = sparse.coo_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(cluster_words), 2 * n_ctx)
    ).tocsr()
    m.sum_duplicates()
    # Positive PMI with context-distribution smoothing (alpha 0.75).
    total = m.sum()
    row_sum = np.asarray(m.sum(axis=1)).ravel() + 1e-9
    col_sum = np.asarray(m.sum(axis=0)).ravel() ** 0.75
    col_sum = col_sum / col_sum.sum()
    coo = m.tocoo()
    pmi = np.log((coo.data / total) / ((row_sum[coo.row] / total) * col_sum[coo.col] + 1e-12))
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=m.shape)
    vecs = TruncatedSVD(n_components=100, random_state=seed).fit_transform(ppmi)
    vecs = normalize(vecs)
    fine = MiniBatchKMeans(n_clusters=fine_k, random_state=seed, batch_size=4096, n_init=3).fit(vecs)
    coarse = MiniBatchKMeans(n_clusters=coarse_k, random_state=seed, batch_size=4096, n_init=3).fit(vecs)
    # More granularities (extra columns, read as LexEntry.clusters): a name's neighbourhood at
    # several sizes, the k-means stand-in for the prefixes of a Brown-cluster path.
    extra = [MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=3).fit(vecs) for k in extra_k]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the gzip byte-identical across rebuilds.
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(("word\tfreq\tfine\tcoarse" + "".join(f"\tk{k}" for k in extra_k) + "\n").encode())
        for w in vocab:
            if "\t" in w or "\n" in w:
                continue
            i = wid.get(w)
            f_c = str(fine.labels_[i]) if i is not None else "-"
            c_c = str(coarse.labels_[i]) if i is not None else "-"
            more = "".join("\t" + (str(km.labels_[i]) if i is not None else "-") for km in extra)
            gz.write(f"{w}\t{freq[w]}\t{f_c}\t{c_c}{more}\n".encode())
    stats = {
        "docs": len(docs),
        "ant_docs": n_ant,
        "tokens": n_tokens,
        "vocab_min_freq": len(vocab),
        "clustered": len(cluster_words),
        "fine_k": fine_k,
        "coarse_k": coarse_k,
        "extra_k": list(extra_k),
        "seconds": round(time.time() - t0, 1),
    }
    print(json.dumps(stats))
    return stats


# --------------------------------------------------------------------------------------------
# CRF training
# --------------------------------------------------------------------------------------------


def _use_gazetteer(i: int, rate: float) -> bool:
    # Deterministic per-sentence coin: half the sentences see gazetteer features, so the model
    # neither ignores them nor depends on them (it must work when no gazetteer is passed).
    return (zlib.crc32(str(i).encode()) % 1000) < rate * 1000


def train_crf(
    sentences: Sequence[Sentence],
    out: str | Path,
    lexicon: Lexicon,
    gazetteer=None,
    c1: float = 0.05,
    c2: float = 0.05,
    max_iter: int = 60,
    gaz_rate: float = 0.5,
    min_freq: int = 1,
    priors: NamePriors | None = None,
    sport_context: bool = False,
) -> float:
    import pycrfsuite

    plain = FeatureExtractor(lexicon, None, priors, sport_context)
    with_gaz = FeatureExtractor(lexicon, gazetteer, priors, sport_context) if gazetteer is not None else plain
    trainer = pycrfsuite.Trainer(verbose=False)
    for i, (toks, tags) in enumerate(sentences):
        pieces, ptags = to_pieces(toks, tags)
        fx = with_gaz if _use_gazetteer(i, gaz_rate) else plain
        trainer.append(fx.sequence(pieces), ptags)
    trainer.set_params(
        {
            "c1": c1,
            "c2": c2,
            "max_iterations": max_iter,
            "feature.possible_transitions": True,
            "feature.minfreq": min_freq,
        }
    )
    t0 = time.time()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    trainer.train(str(out))
    return time.time() - t0


def _load_gazetteer(flag: str):
    if flag == "none":
        return None
    try:
        from pipeline.lib.gazetteer import Gazetteer
    except ImportError:
        print("gazetteer: pipeline.lib.gazetteer not available, training without it")
        return None
    return Gazetteer.load(None if flag == "default" else flag)


def _dev_report(model: Path, dev: Sequence[Sentence], gazetteer, doc_size: int = 10) -> dict:
    from pipeline.evaluate.ner import evaluate_sentences
    from pipeline.lib import ner as ner_mod

    ner_mod._LOADED.pop(str(model), None)
    tagger = NerTagger.load(str(model))
    report = {"crf_only": evaluate_sentences(dev, tagger, None, crf_only=True, doc_size=doc_size)}
    if gazetteer is not None:
        report["crf_gazfeat"] = evaluate_sentences(dev, tagger, gazetteer, crf_only=True, doc_size=doc_size)
        report["combined"] = evaluate_sentences(dev, tagger, gazetteer, doc_size=doc_size)
    else:
        report["combined_no_gazetteer"] = evaluate_sentences(dev, tagger, None, doc_size=doc_size)
    return report


def _fmt(rep: dict) -> str:
    cells = [
        f"{t} " + "/".join(f"{rep['per_type'][t][k] * 100:.1f}" for k in ("precision", "recall", "f1"))
        for t in ("PER", "LOC", "ORG", "MISC")
    ]
    m = rep["micro"]
    return " | ".join(cells) + f" | micro P {m['precision'] * 100:.1f} R {m['recall'] * 100:.1f} F1 {m['f1'] * 100:.1f}"


# --------------------------------------------------------------------------------------------
# Dev protocol
# --------------------------------------------------------------------------------------------

AQMAR_DEV = "/work/shared/data/ner-extra/aqmar/aqmar.dev.nogroups.txt"


def protocol_split(sentences: Sequence[Sentence], protocol: str = "v4") -> tuple[list[Sentence], dict[str, list[Sentence]]]:
    """(train, {dev name: sentences}) of the ANERcorp train file, cut in contiguous blocks.

    v4: dev A = the last 12% of the sentences (later documents, as the unseen portion is);
    dev S = the 40-50% block (a second slice: slices differ by up to 20 points); train = the rest.
    'last10' is the earlier protocol (last 10% dev, train = all before it). Random sentences are
    never used: they share documents, and so names, with training.
    """
    n = len(sentences)
    if protocol == "last10":
        cut = n - round(n * 0.1)
        return list(sentences[:cut]), {"anercorp_last10": list(sentences[cut:])}
    if protocol != "v4":
        raise ValueError(f"unknown dev protocol {protocol!r} (v4 or last10)")
    a0 = n - round(n * 0.12)
    s0, s1 = round(n * 0.40), round(n * 0.50)
    train = list(sentences[:s0]) + list(sentences[s1:a0])
    return train, {"anercorp_last12": list(sentences[a0:]), "anercorp_40_50": list(sentences[s0:s1])}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lx = sub.add_parser("lexicon", help="build word frequency + cluster lexicon from ANT")
    lx.add_argument("--ant", default="/work/shared/data/ant")
    lx.add_argument("--out", default=str(DEFAULT_LEXICON))
    lx.add_argument("--extra-k", default="200,2000", help="further cluster granularities ('' for none)")
    lx.add_argument(
        "--extra-text",
        default="",
        help="comma-separated CoNLL files whose words (not tags) join ANT's for counts and clusters",
    )
    tr = sub.add_parser("train", help="train the CRF")
    tr.add_argument("--train", required=True)
    tr.add_argument("--out", default=str(DEFAULT_MODEL))
    tr.add_argument("--lexicon", default=str(DEFAULT_LEXICON))
    tr.add_argument(
        "--priors",
        default=str(DEFAULT_PRIORS),
        help="name-prior table (build_name_priors.py); '' trains without name-prior features",
    )
    tr.add_argument(
        "--max-iter",
        type=int,
        default=60,
        help="L-BFGS iterations; stopping at 60 scores 1-2 micro F1 above 200 on all three v4 devs (PROVENANCE.md)",
    )
    tr.add_argument(
        "--sport-context",
        action="store_true",
        help="also train the sport-sentence features (v4 lever: ORG +1.5, PER/LOC -1 to -2 on the devs; off)",
    )
    tr.add_argument(
        "--dev-protocol",
        choices=("v4", "last10"),
        default="v4",
        help="v4: dev = last 12%% and the 40-50%% block of the file, train = the rest; last10: the old last-10%% dev",
    )
    tr.add_argument("--dev-b", default=AQMAR_DEV, help="cross-domain gold dev (CoNLL); '' to skip")
    tr.add_argument("--gazetteer", default="default", help="'default', 'none' or a path")
    tr.add_argument(
        "--grid",
        default="0.05:0.05,0.1:0.01,0.02:0.1",
        help="c1:c2 pairs tried on dev; the best micro-F1 pair trains the final model",
    )
    tr.add_argument(
        "--final",
        choices=("all", "train"),
        default="all",
        help="ship a model retrained on all sentences (default) or the train-split one",
    )
    tr.add_argument("--report", default="", help="write dev figures as JSON here")
    tr.add_argument(
        "--doc-size",
        type=int,
        default=10,
        help="dev scoring: consecutive sentences tagged as one text (as `eval ner --doc-size`); 1 = per sentence",
    )
    tr.add_argument(
        "--skip-dev",
        action="store_true",
        help="no dev runs: train the final model on all sentences with the first --grid pair",
    )
    args = ap.parse_args(argv)

    if args.cmd == "lexicon":
        build_lexicon(
            args.ant,
            args.out,
            extra_k=[int(k) for k in args.extra_k.split(",") if k],
            extra_text=[p for p in args.extra_text.split(",") if p],
        )
        return

    sentences = read_conll(args.train)
    train, devs = protocol_split(sentences, args.dev_protocol)
    if args.dev_b and Path(args.dev_b).exists():
        devs["aqmar_dev"] = read_conll(args.dev_b)
    print(f"sentences: train {len(train)} " + " ".join(f"{k} {len(v)}" for k, v in devs.items()))
    lexicon = Lexicon.read(args.lexicon)
    priors = NamePriors.read(args.priors) if args.priors else None
    gazetteer = _load_gazetteer(args.gazetteer)
    out = Path(args.out)
    results: dict = {"protocol": args.dev_protocol, "doc_size": args.doc_size, "max_iter": args.max_iter, "grid": {}}
    best, best_f1 = None, -1.0
    for pair in [] if args.skip_dev else args.grid.split(","):
        c1, c2 = (float(x) for x in pair.split(":"))
        tmp = out.with_name(f".dev-{c1}-{c2}.crfsuite")
        secs = train_crf(
            train,
            tmp,
            lexicon,
            gazetteer,
            c1=c1,
            c2=c2,
            max_iter=args.max_iter,
            priors=priors,
            sport_context=args.sport_context,
        )
        reps = {name: _dev_report(tmp, dev, gazetteer, args.doc_size) for name, dev in devs.items()}
        results["grid"][pair] = {"train_seconds": round(secs, 1), **reps}
        print(f"c1={c1} c2={c2} train {secs:.0f}s")
        for dev_name, rep in reps.items():
            for name, r in rep.items():
                print(f"  {dev_name:15s} {name:22s} {_fmt(r)}")
        # Tuned on the ANERcorp devs only (mean micro F1); the cross-domain dev is a check.
        anercorp = [r["crf_only"]["micro"]["f1"] for k, r in reps.items() if k.startswith("anercorp")]
        f1 = sum(anercorp) / len(anercorp)
        if f1 > best_f1:
            best, best_f1 = (c1, c2), f1
        if args.final == "train" and best == (c1, c2):
            tmp.replace(out)
        else:
            tmp.unlink()
    if best is None:  # --skip-dev
        best = tuple(float(x) for x in args.grid.split(",")[0].split(":"))
        args.final = "all"
    results["best"] = {"c1": best[0], "c2": best[1]}
    if args.final == "all":
        secs = train_crf(
            sentences,
            out,
            lexicon,
            gazetteer,
            c1=best[0],
            c2=best[1],
            max_iter=args.max_iter,
            priors=priors,
            sport_context=args.sport_context,
        )
        results["final_train_seconds"] = round(secs, 1)
        print(f"final model on all {len(sentences)} sentences: {secs:.0f}s -> {out}")
    results["model_bytes"] = out.stat().st_size
    if args.report:
        Path(args.report).write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
