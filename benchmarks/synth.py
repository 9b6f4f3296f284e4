"""Synthetic corpus for benchmarks: N ~5 KB Arabic articles built from the seed articles.

Paragraphs are drawn from all seed articles and recombined, with entities, dates and outlets varied,
so that every article is distinct (no accidental dedupe) but realistic for every stage. Half the
articles are written as JSONL records, half as two-article aggregator-layout text pages.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date, timedelta
from pathlib import Path

from pipeline.lib.pages import split_page

ROOT = Path(__file__).resolve().parents[1]
OUTLETS = ["صدى البلد", "بوابة الوفد", "الشرق الأوسط", "العربية", "سكاي نيوز عربية", "فرانس 24", "الجزيرة", "الأهرام"]
SWAPS = [
    ("موسكو", ["القاهرة", "بغداد", "طهران", "أنقرة", "الرياض", "دمشق"]),
    ("روسيا", ["مصر", "العراق", "إيران", "تركيا", "السعودية", "سوريا"]),
    ("بوتين", ["السيسي", "أردوغان", "بايدن", "ماكرون", "شولتس"]),
    ("كوريا الشمالية", ["اليابان", "الصين", "الهند", "فرنسا", "ألمانيا"]),
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def seed_paragraphs() -> list[str]:
    paragraphs: list[str] = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for art in split_page(path.read_text(encoding="utf-8")):
            paragraphs.extend(art.paragraphs)
    return paragraphs


def make_article(rng: random.Random, paragraphs: list[str], i: int, target_chars: int = 5000) -> dict[str, str]:
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
        "published": f"{day.day}th, {MONTHS[day.month - 1]} {day.year} GMT",
        "outlet": rng.choice(OUTLETS),
    }


def write_corpus(out: Path, n: int, seed: int = 7, per_file: int = 500) -> list[Path]:
    rng = random.Random(seed)
    paragraphs = seed_paragraphs()
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    articles = [make_article(rng, paragraphs, i) for i in range(n)]
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
    args = ap.parse_args()
    files = write_corpus(args.out, args.n)
    print(f"wrote {args.n} articles in {len(files)} files to {args.out}")
