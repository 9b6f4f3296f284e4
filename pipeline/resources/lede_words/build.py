"""Build lede_words.tsv: words that open a news lede far more often than they occur in headlines.

pipeline/lib/pages.py uses the list to find where a teaser headline ends and its summary sentence
begins when both are glued onto one line. Run from the repository root:

    python pipeline/resources/lede_words/build.py DIR_WITH_UNPACKED_ANT_FILES > pipeline/resources/lede_words/lede_words.tsv
"""

from __future__ import annotations

import collections
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3]))
from pipeline.lib.arabic import match_key

MIN_LEDE = 5  # enough support to trust the ratio
MIN_RATIO = 2.0  # lede-initial count / headline count (per-token likelihood ratio about 16)
_WORD = re.compile(r"[^\W\d_]+")


def _tag(name: str, doc: str) -> str:
    found = re.search(rf"<{name}>(.*?)</{name}>", doc, re.DOTALL)
    return found.group(1).strip() if found else ""


def main(root: str) -> None:
    lede: collections.Counter[str] = collections.Counter()
    title: collections.Counter[str] = collections.Counter()
    docs = 0
    for path in sorted(pathlib.Path(root).rglob("*.txt")):
        doc = path.read_text(encoding="utf-8", errors="replace")
        head, text = _tag("TITLE", doc), _tag("TEXT", doc) or _tag("ABSTRACT", doc)
        if not head or not text:
            continue
        docs += 1
        title.update(_WORD.findall(match_key(head)))
        first = _WORD.findall(match_key(text.split("\n", 1)[0]))
        if first:
            lede[first[0]] += 1
    print(f"# documents\t{docs}")
    print("# word\tlede_initial\tin_headlines")
    for word, count in sorted(lede.items(), key=lambda kv: (-kv[1], kv[0])):
        if count >= MIN_LEDE and count >= MIN_RATIO * title[word]:
            print(f"{word}\t{count}\t{title[word]}")


if __name__ == "__main__":
    main(sys.argv[1])
