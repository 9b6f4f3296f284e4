"""Reader for the ANT (Arabic News Texts) corpus: TREC-like article files inside .tar.xz archives.

Shared by topic training (pipeline/training/train_topics.py) and `newspipe eval topics`
(pipeline/evaluate/topics.py), so both see the same fields, labels and duplicate groups.
"""

from __future__ import annotations

import csv
import hashlib
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

# ANT classes that name a topic, mapped to top-level IPTC Media Topics (ANT SOURCE.md suggestion).
ANT_TO_IPTC: dict[str, str] = {
    "culture": "01000000",
    "economy": "04000000",
    "sport": "15000000",
    "technology": "13000000",
    "politic": "11000000",
    "society": "14000000",
}
# Regional/editorial desks: they say where a story ran, not what it is about.
DESK_CLASSES: frozenset[str] = frozenset({"internationalNews", "middleEast", "localNews", "diverse"})

_TAGS = ("DOCNO", "URL", "SRC", "CAT", "TITLE", "TIME", "AUTHOR", "ABSTRACT", "TEXT")
# The files are not well-formed XML (bare '&' and '<' occur in text), so fields are cut by regex.
_TAG_RE = {tag: re.compile(rf"<{tag}>(.*?)</{tag}>", re.DOTALL) for tag in _TAGS}


@dataclass(frozen=True)
class AntDoc:
    """One ANT article. `category` is the folder name (the label); `cat_tag` is the <CAT> text."""

    path: str  # inside the archive, without a leading "./"
    docno: str
    url: str
    source: str
    category: str
    cat_tag: str
    title: str
    time: str
    author: str
    abstract: str
    text: str

    @property
    def iptc(self) -> str | None:
        """Top-level IPTC code for a topic class; None for desks and unknown classes."""
        return ANT_TO_IPTC.get(self.category)


@dataclass(frozen=True)
class ManifestRow:
    path: str
    source: str
    category: str
    docno: str
    text_sha1: str
    dup_text_count: int
    dup_text_cats: tuple[str, ...] = field(default_factory=tuple)


def text_sha1(text: str) -> str:
    """SHA-1 of whitespace-normalised text, exactly as the manifests' `text_sha1` column."""
    return hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()


def parse_ant_doc(raw: str, path: str = "") -> AntDoc:
    """Parse one TREC-like ANT file. Missing tags become ""; the label is the folder when known."""
    fields = {}
    for tag, rx in _TAG_RE.items():
        m = rx.search(raw)
        fields[tag] = m.group(1).strip() if m else ""
    path = path.removeprefix("./")
    parts = path.split("/")
    # Inner paths are <Source>/<category>/<file> (v2.1) or <category>/<file> (v1.1).
    folder = parts[-2] if len(parts) >= 2 else ""
    return AntDoc(
        path=path,
        docno=fields["DOCNO"],
        url=fields["URL"],
        source=parts[-3] if len(parts) >= 3 else fields["SRC"],
        category=folder or fields["CAT"],
        cat_tag=fields["CAT"],
        title=fields["TITLE"],
        time=fields["TIME"],
        author=fields["AUTHOR"],
        abstract=fields["ABSTRACT"],
        text=fields["TEXT"],
    )


def iter_ant_tar(tar_path: str) -> Iterator[AntDoc]:
    """Stream every article of an ANT archive (any tarfile compression) without unpacking it."""
    with tarfile.open(tar_path, mode="r|*") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".txt"):
                continue
            fh = tar.extractfile(member)
            if fh is None:
                continue
            raw = fh.read().decode("utf-8", errors="replace")
            yield parse_ant_doc(raw, member.name)


def read_manifest(manifest_path: str) -> dict[str, ManifestRow]:
    """Manifest TSV keyed by archive path (without "./")."""
    rows: dict[str, ManifestRow] = {}
    with open(manifest_path, encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            cats = tuple(c for c in (rec.get("dup_text_cats") or "").split("|") if c)
            rows[rec["path"]] = ManifestRow(
                path=rec["path"],
                source=rec["source"],
                category=rec["category"],
                docno=rec["docno"],
                text_sha1=rec["text_sha1"],
                dup_text_count=int(rec.get("dup_text_count") or 1),
                dup_text_cats=cats,
            )
    return rows


def iter_ant(tar_path: str, manifest_path: str | None = None) -> Iterator[tuple[AntDoc, ManifestRow]]:
    """Articles paired with their manifest row; without a manifest the row is computed from the file.

    Source and category come from the manifest when it has the path (it is the curated record).
    """
    manifest = read_manifest(manifest_path) if manifest_path else {}
    for doc in iter_ant_tar(tar_path):
        row = manifest.get(doc.path)
        if row is None:
            row = ManifestRow(doc.path, doc.source, doc.category, doc.docno, text_sha1(doc.text), 1, ())
        elif row.category != doc.category or row.source != doc.source:
            doc = replace(doc, category=row.category, source=row.source)
        yield doc, row
