"""Write the sha256 of every shipped resource file into its folder's PROVENANCE.md (a ```sha256 block),
which `newspipe doctor` and every run's start-up check compare against.

    python -m pipeline.training.checksums          # rewrite the blocks after rebuilding a resource
    python -m pipeline.training.checksums --check  # exit 1 if a block is stale (tests/test_doctor.py)
"""

from __future__ import annotations

import argparse
import sys

from pipeline.doctor import RESOURCES, _SHA_BLOCK, expected_checksums, resource_files, resource_folders, sha256

HEADING = "## Checksums\n\nChecked by `newspipe doctor` and at the start of every run; rewrite with " \
          "`python -m pipeline.training.checksums` after rebuilding a file.\n\n"


def block_for(folder) -> str:  # type: ignore[no-untyped-def]
    lines = "".join(f"{sha256(p)}  {p.relative_to(folder).as_posix()}\n" for p in resource_files(folder))
    return f"```sha256\n{lines}```"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale or missing blocks")
    args = parser.parse_args(argv)
    stale = []
    for folder in resource_folders(RESOURCES):
        provenance = folder / "PROVENANCE.md"
        if not provenance.is_file():
            stale.append(f"{provenance}: missing")
            continue
        text = provenance.read_text(encoding="utf-8")
        block = block_for(folder)
        current = {n: d for n, d in expected_checksums(provenance).items()}
        wanted = dict(line.split(None, 1)[::-1] for line in block.splitlines()[1:-1])
        if current == wanted:
            continue
        stale.append(f"{provenance}: checksums out of date")
        if not args.check:
            new = _SHA_BLOCK.sub(lambda _: block, text) if _SHA_BLOCK.search(text) else \
                text.rstrip("\n") + "\n\n" + HEADING + block + "\n"
            provenance.write_text(new, encoding="utf-8")
    for line in stale:
        print(line)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
