"""Mine the openers of inline related-article lines ("للمزيد: <headline>") from the ANT corpus.

A teaser line inside a body is `<opener> <separator> <headline>`. An opener is a short line-initial
phrase that, across many articles, is followed by a headline-shaped tail (a few words, no full
stop, no quote), and that almost never opens a headline itself ("سوريا: ..." and "شاهد.. ..." open
titles, so they are not teaser openers). Speech verbs ("وأضاف: ...") fail the headline-shape test
because their tails are quoted sentences. A tail that equals another ANT title is counted as
strong evidence.

ANT keeps few outlets' teaser conventions (France24's "للمزيد"), so the shipped list also carries
the cue phrases named in issue 15 and the layout markers of pipeline/lib/pages.py, marked
`curated`; every row says where it came from. Openers that are speech verbs ("وتابع:", "وأضاف:")
are written as `speech` rows, so their words never count as teaser cues. Only counts are written,
no corpus text.

    python -m pipeline.training.mine_teaser_openers \\
        --ant /work/shared/data/ant/ant_v2.1_train_sources.tar.xz \\
        --manifest /work/shared/data/ant/manifest_v2.1_train_sources.tsv \\
        --sources Alarabia,France24 > pipeline/resources/teaser_openers/teaser_openers.tsv
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from dataclasses import dataclass, field

from pipeline.lib.ant import iter_ant
from pipeline.lib.arabic import match_key

# The separator after an opener: colon, two or more dots, ellipsis, or a dash/bar between spaces.
SEPARATOR = re.compile(r"\s*(?::|\.{2,}|…|\s[-–—|]\s|[–—|])\s*")
MAX_OPENER_TOKENS = 4
MIN_DOCS = 4
MIN_HEADLINE_SHARE = 0.7
MAX_TITLE_SHARE = 0.1
# Openers that are speech verbs ("وتابع: ...", "وأضاف: ..."): frequent, tails almost never headlines.
# They are shipped as `speech` rows so that pages.py never takes their words for teaser cues.
MIN_SPEECH_LINES = 10
MAX_SPEECH_HEADLINE_SHARE = 0.3

# Cue phrases that ANT does not hold (its outlets' teaser lines were mostly stripped by the
# crawler): the forms named in issue 15 and the usual "read/watch also" family. Spelling variants
# (hamza, alef, tanween) need no entry: lookups are in match_key form.
CURATED = [
    "اقرأ أيضا", "إقرأ أيضا", "اقرأ كذلك", "اقرأ المزيد", "إقرأ المزيد", "اقرأ", "إقرأ",
    "شاهد أيضا", "شاهد أيضاً", "طالع أيضا", "طالع", "اطلع أيضا", "انظر أيضا", "تابع أيضا",
    "قد يهمك", "قد يهمك أيضا", "يهمك أيضا", "ربما يهمك", "قد يعجبك", "قد يعجبك أيضا",
    "أيضا", "أيضاً", "كذلك", "المزيد", "لمزيد من الأخبار", "للمزيد من الأخبار",
    "اخترنا لك", "اخترنا لكم", "ننصحك بقراءة", "مواضيع ذات صلة", "مقالات ذات صلة", "أخبار ذات صلة",
    "موضوعات ذات صلة", "ذات صلة", "أخبار متعلقة", "مواضيع متعلقة", "موضوعات متعلقة", "مقالات متعلقة",
    "الأكثر قراءة", "روابط ذات صلة", "أخبار مرتبطة", "مواد ذات صلة",
]


@dataclass
class OpenerStats:
    body_lines: int = 0
    headline_tails: int = 0
    title_matches: int = 0
    title_openings: int = 0
    docs: set[str] = field(default_factory=set)


def split_opener(line: str) -> tuple[str, str] | None:
    """(opener in match_key form, tail) when the line starts with a short phrase and a separator."""
    found = SEPARATOR.search(line, 0, min(len(line), 60))
    if found is None or found.start() == 0:
        return None
    opener = match_key(line[: found.start()])
    if not opener or len(opener.split()) > MAX_OPENER_TOKENS or any(ch.isdigit() for ch in opener):
        return None
    return opener, line[found.end() :].strip()


def headline_shaped(tail: str) -> bool:
    words = tail.split()
    if not 3 <= len(words) <= 25 or len(tail) > 200:
        return False
    if tail[0] in "\"'«“(" or tail.rstrip("\"'»”)").endswith((".", "،", ",")):
        return False
    return re.search(r"[.!?؟]\s", tail) is None


def mine(docs: list[tuple[str, str, str]]) -> dict[str, OpenerStats]:
    """docs: (docno, title, text). Returns stats per opener."""
    titles = {match_key(title) for _, title, _ in docs if title}
    stats: dict[str, OpenerStats] = collections.defaultdict(OpenerStats)
    for docno, title, text in docs:
        head = split_opener(title.strip())
        if head is not None:
            stats[head[0]].title_openings += 1
        for line in text.split("\n"):
            line = line.strip()
            if not line or len(line) > 300:
                continue
            found = split_opener(line)
            if found is None:
                continue
            opener, tail = found
            entry = stats[opener]
            entry.body_lines += 1
            entry.docs.add(docno)
            if headline_shaped(tail):
                entry.headline_tails += 1
                if match_key(tail) in titles:
                    entry.title_matches += 1
    return stats


def selected(stats: dict[str, OpenerStats]) -> list[tuple[str, OpenerStats]]:
    keep = []
    for opener, entry in stats.items():
        if len(entry.docs) < MIN_DOCS or not entry.body_lines:
            continue
        if entry.headline_tails / entry.body_lines < MIN_HEADLINE_SHARE:
            continue
        if entry.title_openings / (entry.title_openings + entry.body_lines) > MAX_TITLE_SHARE:
            continue
        keep.append((opener, entry))
    return sorted(keep, key=lambda item: (-item[1].body_lines, item[0]))


def speech_openers(stats: dict[str, OpenerStats]) -> list[tuple[str, OpenerStats]]:
    keep = [
        (opener, entry)
        for opener, entry in stats.items()
        if entry.body_lines >= MIN_SPEECH_LINES and entry.headline_tails / entry.body_lines < MAX_SPEECH_HEADLINE_SHARE
    ]
    return sorted(keep, key=lambda item: (-item[1].body_lines, item[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ant", action="append", required=True, help="ANT .tar.xz (repeatable)")
    parser.add_argument("--manifest", action="append", default=[], help="manifest TSV, same order as --ant")
    parser.add_argument("--sources", default="", help="comma-separated ANT sources to mine (default: all)")
    args = parser.parse_args(argv)
    wanted = {s for s in args.sources.split(",") if s}
    docs = []
    for index, tar in enumerate(args.ant):
        manifest = args.manifest[index] if index < len(args.manifest) else None
        for doc, _row in iter_ant(tar, manifest):
            if not wanted or doc.source in wanted:
                docs.append((doc.docno, doc.title, doc.text))
    stats = mine(docs)
    rows = selected(stats)
    out = sys.stdout
    out.write("# opener (match_key form)\tsource\tbody_lines\theadline_tails\ttitle_matches\ttitle_openings\tdocs\n")
    mined = set()
    for opener, entry in rows:
        mined.add(opener)
        out.write(
            f"{opener}\tmined\t{entry.body_lines}\t{entry.headline_tails}\t{entry.title_matches}"
            f"\t{entry.title_openings}\t{len(entry.docs)}\n"
        )
    for phrase in dict.fromkeys(match_key(p) for p in CURATED):
        if phrase not in mined:
            out.write(f"{phrase}\tcurated\t0\t0\t0\t0\t0\n")
    speech = speech_openers(stats)
    for opener, entry in speech:
        out.write(
            f"{opener}\tspeech\t{entry.body_lines}\t{entry.headline_tails}\t{entry.title_matches}"
            f"\t{entry.title_openings}\t{len(entry.docs)}\n"
        )
    print(f"{len(docs)} articles, {len(rows)} mined openers, {len(speech)} speech openers", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
