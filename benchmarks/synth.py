"""Synthetic corpus for benchmarks: N ~5 KB Arabic articles built from the seed articles.

Real news comes in stories: a handful of outlets report each event within a few days, in their own
words, and unrelated stories share little beyond common words. The corpus has that shape, so that
every stage (story clustering especially) does the work it does on real news:

* each story picks seed paragraphs and its own wording: the seed's main names are replaced by
  gazetteer names, then most words are swapped, consistently across the story, for other Arabic
  news words of similar frequency rank (from the shipped NER lexicon; its many names make each
  story's entities its own, and the swap reaches the gazetteer names too);
* a story has 1 to 6 articles (most have one or two), on different outlets, published within two
  days; each drops or reorders a paragraph and rewords a little more;
* every article is distinct (no accidental dedupe). Half are JSONL records, half two-article
  aggregator-layout text pages.

`make_article` (paragraph recombination without stories) is kept: tests pin outputs on it.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import random
import re
from datetime import date, timedelta
from pathlib import Path

from pipeline.lib.pages import split_page

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "pipeline" / "resources"
OUTLETS = ["صدى البلد", "بوابة الوفد", "الشرق الأوسط", "العربية", "سكاي نيوز عربية", "فرانس 24", "الجزيرة", "الأهرام",
           "الخليج", "النهار", "الرأي", "هسبريس", "الشروق", "البيان", "المدى", "عنب بلدي"]
SWAPS = [
    ("موسكو", ["القاهرة", "بغداد", "طهران", "أنقرة", "الرياض", "دمشق"]),
    ("روسيا", ["مصر", "العراق", "إيران", "تركيا", "السعودية", "سوريا"]),
    ("بوتين", ["السيسي", "أردوغان", "بايدن", "ماكرون", "شولتس"]),
    ("كوريا الشمالية", ["اليابان", "الصين", "الهند", "فرنسا", "ألمانيا"]),
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
STORY_SIZES = [1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6]  # mean 2.6 articles per story
REWORD_STORY = 0.9  # share of a story's content words swapped for other words
REWORD_ARTICLE = 0.08  # and of each article's, on top
_ARABIC_WORD = re.compile(r"[\u0621-\u064a]{3,}")


def seed_paragraphs() -> list[str]:
    paragraphs: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for art in split_page(path.read_text(encoding="utf-8")):
            paragraphs.extend(art.paragraphs)
    return paragraphs


@functools.lru_cache(maxsize=1)
def _vocabulary() -> tuple[list[str], dict[str, int]]:
    """Arabic words of the NER lexicon (built from news), commonest first, and their ranks."""
    words = []
    with gzip.open(RESOURCES / "ner" / "lexicon.tsv.gz", "rt", encoding="utf-8") as f:
        next(f)
        rows = [line.split("\t", 2)[:2] for line in f]
    for word, _ in sorted(rows, key=lambda row: -int(row[1])):
        if _ARABIC_WORD.fullmatch(word):
            words.append(word)
    return words, {word: rank for rank, word in enumerate(words)}


@functools.lru_cache(maxsize=1)
def _entity_names() -> list[str]:
    """One Arabic name of each person, place and organisation in the shipped gazetteer."""
    names = []
    for line in (RESOURCES / "gazetteer" / "entities.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) > 3 and fields[1] in ("PER", "LOC", "ORG") and fields[3]:
            names.append(fields[3].split("|")[0])
    return names


def _reword(rng: random.Random, text: str, share: float, mapping: dict[str, str] | None = None) -> str:
    """Swap `share` of the words for news words of about the same frequency rank (a word the
    lexicon does not know counts as rare); `mapping` keeps the choice for every repeat."""
    words, ranks = _vocabulary()

    def other(match: re.Match) -> str:
        word = match.group(0)
        if mapping is not None and word in mapping:
            return mapping[word]
        new = word
        if rng.random() < share:
            rank = ranks.get(word, len(words) // 4)
            new = words[min(len(words) - 1, rng.randrange(rank // 2, rank * 2 + 2))]
        if mapping is not None:
            mapping[word] = new
        return new

    return _ARABIC_WORD.sub(other, text)


def _date_line(day: date) -> str:
    return f"{day.day}th, {MONTHS[day.month - 1]} {day.year} GMT"


def make_story(rng: random.Random, paragraphs: list[str], first: int, target_chars: int = 5000) -> list[dict[str, str]]:
    """The articles of one story (ids `first`, `first`+1, ...)."""
    body: list[str] = []
    while sum(len(p) for p in body) < target_chars * 1.15:
        body.append(rng.choice(paragraphs))
    text = "\n".join(body)
    names = _entity_names()
    for original, _ in SWAPS:
        text = text.replace(original, rng.choice(names))
    story_paragraphs = _reword(rng, text, REWORD_STORY, mapping={}).split("\n")
    day = date(2023, 1, 1) + timedelta(days=rng.randrange(730))
    articles = []
    for k in range(rng.choice(STORY_SIZES)):
        kept = list(story_paragraphs)
        if len(kept) > 2:
            kept.pop(rng.randrange(len(kept)))
            i = rng.randrange(len(kept) - 1)
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
        body_text = _reword(rng, "\n".join(kept), REWORD_ARTICLE)
        i = first + k
        title = " ".join(body_text.split()[: rng.randrange(6, 12)]).rstrip("،.") + f" ({i})"
        articles.append({
            "title": title,
            "body": body_text,
            "url": f"https://news.example/{i}",
            "published": _date_line(day + timedelta(days=rng.randrange(3))),
            "outlet": rng.choice(OUTLETS),
        })
    return articles


def make_article(rng: random.Random, paragraphs: list[str], i: int, target_chars: int = 5000) -> dict[str, str]:
    """One article of recombined seed paragraphs (no story structure)."""
    body: list[str] = []
    while sum(len(p) for p in body) < target_chars:
        body.append(rng.choice(paragraphs))
    text = "\n".join(body)
    for original, replacements in SWAPS:
        if rng.random() < 0.5:
            text = text.replace(original, rng.choice(replacements))
    day = date(2023, 1, 1) + timedelta(days=rng.randrange(730))
    title = " ".join(text.split()[:rng.randrange(6, 12)]).rstrip("،.") + f" ({i})"
    return {
        "title": title,
        "body": text,
        "url": f"https://news.example/{i}",
        "published": _date_line(day),
        "outlet": rng.choice(OUTLETS),
    }


def make_corpus(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    paragraphs = seed_paragraphs()
    articles: list[dict[str, str]] = []
    while len(articles) < n:
        articles += make_story(rng, paragraphs, len(articles))
    del articles[n:]
    rng.shuffle(articles)  # a story's articles arrive spread over the input, as from many feeds
    return articles


def write_corpus(out: Path, n: int, seed: int = 7, per_file: int = 500, all_dated: bool = False) -> list[Path]:
    """Half the articles in JSONL files, half two to a text page; the second article of a page has no
    date line (as on the seed aggregator pages) unless `all_dated`."""
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    articles = make_corpus(n, seed)
    half = n // 2
    for start in range(0, half, per_file):
        path = out / f"batch-{start:07d}.jsonl"
        path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles[start:min(half, start + per_file)]),
                        encoding="utf-8")
        files.append(path)
    for j in range(half, n, 2):
        pair = articles[j:j + 2]
        page = []
        for k, a in enumerate(pair):
            if k:
                page.append("إقرأ أيضاً:")
            if k == 0:
                page += [a["title"], f"تاريخ النشر: {a['published']}", a["body"], f"المصدر: {a['outlet']}"]
            elif all_dated:
                page += [a["title"], f"تاريخ النشر: {a['published']}", a["body"]]
            else:
                page += [a["title"], a["body"]]
        path = out / f"page-{j:07d}.txt"
        path.write_text("\n".join(page) + "\n", encoding="utf-8")
        files.append(path)
    return files


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--all-dated", action="store_true", help="give the second article of a page a date line too")
    args = ap.parse_args()
    files = write_corpus(args.out, args.n, all_dated=args.all_dated)
    print(f"wrote {args.n} articles in {len(files)} files to {args.out}")
