"""Dates on real text: every "day word year" span in ANT bodies, parse_published against dateparser.

    python -m pipeline.evaluate.dates --ant /work/shared/data/ant/ant_v2.1_train_sources.tar.xz \\
        --ant /work/shared/data/ant/ant_v1.1_jawharafm.tar.xz

Prints one JSON object: how many distinct spans both read the same day, read differently, only one
of them reads, or neither (law numbers "53 لسنة 1966", Hijri dates, misspelt months), with examples.
"""

from __future__ import annotations

import argparse
import json
import re

from pipeline.lib.ant import iter_ant_tar
from pipeline.lib.dates import parse_published

SPAN = re.compile(r"(?<![\d\w])([0-9٠-٩]{1,2})\s+(\w+(?:\s+(?:الثاني|الأول|الاول))?)\s+([0-9٠-٩]{4})(?![\d])")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ant", action="append", required=True)
    args = parser.parse_args(argv)
    from dateparser.date import DateDataParser

    reference = DateDataParser(
        languages=["ar", "en"],
        settings={"PREFER_DAY_OF_MONTH": "first", "DATE_ORDER": "DMY", "REQUIRE_PARTS": ["day", "month", "year"]},
    )
    spans = sorted({m.group(0) for tar in args.ant for doc in iter_ant_tar(tar) for m in SPAN.finditer(doc.text)})
    tally = {"agree": 0, "differ": 0, "ours_only": 0, "dateparser_only": 0, "neither": 0}
    examples: dict[str, list[str]] = {key: [] for key in tally}
    for span in spans:
        ours = parse_published(span)
        theirs = reference.get_date_data(span).date_obj
        if ours and theirs:
            key = "agree" if ours.date() == theirs.date() else "differ"
        else:
            key = "ours_only" if ours else "dateparser_only" if theirs else "neither"
        tally[key] += 1
        if len(examples[key]) < 8:
            examples[key].append(span)
    print(json.dumps({"distinct_spans": len(spans), **tally, "examples": examples}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
