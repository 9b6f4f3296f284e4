"""Held-out page-splitting check: unseen pages in the two seed layouts, assembled from ANT articles.

Pages are built from ANT articles of outlets the teaser openers were not mined from (mining used
AlArabiya and France24; see pipeline/training/mine_teaser_openers.py): JawharaFM (2014-2017) as the
dev set and SkyNews Arabia (2018) as the test set. Each page holds 2-3 articles in the "asharq" or
"aggregator" layout (where a third article sometimes follows the second with no marker), with
inline related-article lines ("<opener><sep> <headline of another article>", or the opener and the
headline on two lines) put between body paragraphs. Some openers in the draw are not in the
shipped list, to measure what the shape rule does with forms nobody listed.

    python -m pipeline.evaluate.pages --ant /work/shared/data/ant/ant_v2.1_train_sources.tar.xz \\
        --source SkyNews --pages 500            # prints one JSON object with the check shares
    python -m pipeline.evaluate.pages ... --write-sample tests/fixtures/pages/heldout  # fixture pages
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import re
from collections import Counter
from dataclasses import dataclass, field

from pipeline.lib.ant import iter_ant_tar
from pipeline.lib.pages import split_page

# Openers of inline teaser lines as outlets write them. `listed` ones are in the shipped resource
# (in some spelling), the others are not and test the general rule.
LISTED_OPENERS = [
    "قد يهمك", "أيضاً", "إقرأ أيضا", "اقرأ أيضاً", "اقرأ المزيد", "شاهد أيضا", "للمزيد", "طالع أيضاً",
    "اقرأ كذلك", "ربما يهمك", "إقرأ أيضاً", "قد يهمك أيضاً", "اخترنا لك", "ذات صلة", "مواضيع ذات صلة",
]
UNLISTED_OPENERS = [
    "لا تفوت", "اقرأ ايضاً على موقعنا", "موضوع ذو صلة", "شاهد بالفيديو", "الأكثر مشاهدة",
    # written before the cue-word rule of pipeline/lib/pages.py existed, to measure it
    "مواضيع قد تهمك", "أخبار ذات علاقة", "اقرأوا أيضاً", "شاهدوا أيضا", "ننصحكم بقراءة", "إقرأ المزيد عن",
    "مقال ذو صلة", "طالع المزيد", "لمن فاته", "روابط مفيدة",
]
SEPARATORS = [": ", " : ", ".. ", "... ", " - ", "… ", " | ", ":", " – "]
CREDITS = ["(رويترز)", "(أ.ف.ب)", "(أرشيفية - رويترز)", "(إ.ب.أ)", "(أ.ب)", "(د.ب.أ)"]
CITIES = ["القاهرة", "بيروت", "الرياض", "تونس", "الرباط", "دبي", "عمان", "باريس", "لندن", "واشنطن"]
OUTLETS = ["بوابة الوفد", "صدى البلد", "سكاي نيوز عربية", "الجوهرة", "وكالات"]
DATES = ["13th, September 2024 GMT", "2nd, March 2018 GMT", "21st, June 2018 GMT", "5 مايو 2018", "2018-07-14"]


@dataclass
class Source:
    title: str
    paragraphs: list[str]


@dataclass
class Expected:
    title: str
    first: str
    last: str
    teasers: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # teasers whose opener is not in the shipped list


@dataclass
class Page:
    layout: str
    text: str
    articles: list[Expected]


def _usable(title: str, text: str) -> Source | None:
    paragraphs = [" ".join(p.split()) for p in text.split("\n")]
    paragraphs = [p for p in paragraphs if p]
    title = " ".join(title.split())
    if not (4 <= len(title.split()) <= 20) or len(paragraphs) < 3 or len(paragraphs) > 30:
        return None
    if any(len(p) > 3000 for p in paragraphs) or len(set(paragraphs)) != len(paragraphs):
        return None
    # A page shows its title once as a title: a body line repeating it is not a paragraph.
    if any(p == title for p in paragraphs):
        return None
    return Source(title, paragraphs)


def load_sources(tar: str, source: str) -> list[Source]:
    found = []
    wanted = source.replace(" ", "").lower()
    for doc in iter_ant_tar(tar):
        if doc.source.replace(" ", "").lower() == wanted:  # v1.1 names it "Jawhara FM"
            usable = _usable(doc.title, doc.text)
            if usable is not None:
                found.append(usable)
    return found


def _first_sentence(paragraph: str) -> str:
    match = re.search(r"^(.{20,240}?[.!؟])(\s|$)", paragraph)
    return match.group(1) if match else " ".join(paragraph.split()[:18]) + "."


def _with_teasers(rng: random.Random, body: list[str], pool: list[Source]) -> tuple[list[str], list[str], list[str]]:
    slots: list[list[str]] = [[] for _ in body]  # teaser lines to put after each paragraph
    teasers: list[str] = []
    unlisted: list[str] = []
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        headline = rng.choice(pool).title
        if rng.random() < 0.15:
            opener = rng.choice(UNLISTED_OPENERS)
            unlisted.append(headline)
        else:
            opener = rng.choice(LISTED_OPENERS)
        slot = slots[rng.randint(0, len(body) - 1)]
        if rng.random() < 0.1:  # the opener on a line of its own, the headline on the next
            slot += [f"{opener}:", headline]
        else:
            slot.append(f"{opener}{rng.choice(SEPARATORS)}{headline}")
        teasers.append(headline)
    return [line for paragraph, slot in zip(body, slots) for line in (paragraph, *slot)], teasers, unlisted


def _caption(rng: random.Random, pool: list[Source]) -> str:
    words = rng.choice(pool).paragraphs[0].split()[:7]
    return " ".join(words).rstrip("،,.:") + " " + rng.choice(CREDITS)


def _asharq(rng: random.Random, articles: list[Source], pool: list[Source]) -> Page:
    lines: list[str] = []
    expected = []
    for article in articles:
        caption = _caption(rng, pool)
        body, teasers, extra = _with_teasers(rng, article.paragraphs, pool)
        lines += [article.title, "", caption, caption, "TT", "", article.title, "", caption, caption, ""]
        lines += [line for paragraph in body for line in (paragraph, "")]
        lines += ["", "مقالات ذات صلة", ""]
        for other in rng.sample(pool, 3):
            lines += [_caption(rng, pool), "", other.title, "", _first_sentence(other.paragraphs[0]), "",
                      f"«الشرق الأوسط» ({rng.choice(CITIES)})"]
        lines.append("")
        expected.append(Expected(article.title, article.paragraphs[0], article.paragraphs[-1], teasers, extra))
    return Page("asharq", "\n".join(lines), expected)


def _aggregator(rng: random.Random, articles: list[Source], pool: list[Source]) -> Page:
    lines: list[str] = []
    expected = []
    # After the first "إقرأ أيضاً:", a later article sometimes follows the previous one unmarked.
    unmarked_after = rng.random() < 0.3
    for number, article in enumerate(articles):
        body, teasers, extra = _with_teasers(rng, article.paragraphs, pool)
        if number == 1 or (number > 1 and not unmarked_after):
            lines.append("إقرأ أيضاً:")
        lines.append(article.title)
        if number == 0:
            lines.append(f"تاريخ النشر: {rng.choice(DATES)}")
        lines += body
        if number == 0:
            lines += [f"المصدر: {rng.choice(OUTLETS)}", "كلمات دلالية: " + " ".join(article.title.split()[:4])]
        expected.append(Expected(article.title, article.paragraphs[0], article.paragraphs[-1], teasers, extra))
    return Page("aggregator", "\n".join(lines), expected)


def build_pages(sources: list[Source], count: int, seed: int = 15) -> list[Page]:
    rng = random.Random(seed)
    pages = []
    for index in range(count):
        articles = rng.sample(sources, rng.choice([2, 2, 3]))
        builder = _asharq if index % 2 == 0 else _aggregator
        pages.append(builder(rng, articles, sources))
    return pages


def check_page(page: Page) -> Counter[str]:
    """Passed/total counts per check kind for one page ("<kind>" and "<kind>_total" keys)."""
    tally: Counter[str] = Counter()

    def check(kind: str, ok: bool) -> None:
        tally[kind + "_total"] += 1
        tally[kind] += int(ok)

    got = split_page(page.text)
    check("split", len(got) == len(page.articles))
    related = {item.headline for article in got for item in article.related}
    for index, want in enumerate(page.articles):
        article = got[index] if index < len(got) else None
        check("title", article is not None and article.title == want.title)
        check("body_start", article is not None and bool(article.paragraphs) and article.paragraphs[0] == want.first)
        check("body_end", article is not None and bool(article.paragraphs) and article.paragraphs[-1] == want.last)
        for headline in want.teasers:
            if headline in want.unlisted:
                check("unlisted_related", headline in related)
                continue
            check("no_teaser_in_body", all(headline not in a.paragraphs and not any(
                p.endswith(headline) for p in a.paragraphs) for a in got))
            check("related", headline in related)
    return tally


def evaluate(pages: list[Page]) -> dict[str, object]:
    """Check shares over all pages, and over the pages whose teaser openers are all listed."""
    tally: Counter[str] = Counter()
    listed: Counter[str] = Counter()
    failed_pages = 0
    for page in pages:
        page_tally = check_page(page)
        tally.update(page_tally)
        if not any(a.unlisted for a in page.articles):
            listed.update(page_tally)
        if any(page_tally[k] != page_tally[k + "_total"] for k in ("split", "title", "body_start", "body_end")):
            failed_pages += 1
    kinds = ["split", "title", "body_start", "body_end", "no_teaser_in_body", "related"]

    def share(counts: Counter[str]) -> float:
        total = sum(counts[k + "_total"] for k in kinds)
        return round(sum(counts[k] for k in kinds) / total, 4) if total else 0.0

    return {
        "pages": len(pages),
        "articles": sum(len(p.articles) for p in pages),
        "teaser_lines": sum(len(a.teasers) for p in pages for a in p.articles),
        "checks": sum(tally[k + "_total"] for k in kinds),
        "check_share": share(tally),
        "pages_with_listed_openers_only": sum(1 for p in pages if not any(a.unlisted for a in p.articles)),
        "check_share_listed_openers_only": share(listed),
        "pages_fully_right": len(pages) - failed_pages,
        **{k: f"{tally[k]}/{tally[k + '_total']}" for k in kinds + ["unlisted_related"]},
    }


def read_sample(folder: pathlib.Path) -> list[Page]:
    """Pages written by `write_sample`, in name order."""
    pages = []
    for path in sorted(folder.glob("*.txt")):
        spec = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        articles = [Expected(a["title"], a["first"], a["last"], a["teasers"], a.get("unlisted", [])) for a in spec["articles"]]
        pages.append(Page(spec["layout"], path.read_text(encoding="utf-8").rstrip("\n"), articles))
    return pages


def write_sample(pages: list[Page], folder: pathlib.Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, page in enumerate(pages):
        stem = folder / f"{page.layout}_{index:02d}"
        stem.with_suffix(".txt").write_text(page.text + "\n", encoding="utf-8")
        expected = [
            {"title": a.title, "first": a.first, "last": a.last, "teasers": a.teasers, "unlisted": a.unlisted}
            for a in page.articles
        ]
        stem.with_suffix(".json").write_text(
            json.dumps({"layout": page.layout, "articles": expected}, ensure_ascii=False, indent=1) + "\n",
            encoding="utf-8",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ant", required=True, help="ANT .tar.xz holding the source")
    parser.add_argument("--source", default="SkyNews", help="ANT source (outlet) to build pages from")
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--write-sample", type=pathlib.Path, help="write the first --sample pages here")
    parser.add_argument("--sample", type=int, default=6)
    args = parser.parse_args(argv)
    pages = build_pages(load_sources(args.ant, args.source), args.pages, args.seed)
    if args.write_sample:
        write_sample(pages[: args.sample], args.write_sample)
    print(json.dumps({"source": args.source, **evaluate(pages)}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
