"""Data contract: output written by an earlier schema version stays readable.

tests/fixtures/schema/articles-v<N>.parquet is a real output file of each released schema version;
when SCHEMA_VERSION changes, add the new one and keep the old ones passing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.io import duck
from pipeline.io.schema import ARTICLE_SCHEMA, SCHEMA_VERSION
from pipeline.io.sinks import read_articles

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "schema"


def test_every_committed_version_reads_with_the_current_readers(tmp_path: Path) -> None:
    versions = sorted(FIXTURES.glob("articles-v*.parquet"))
    assert versions, "no schema fixtures"
    assert any(p.stem == f"articles-v{SCHEMA_VERSION}" for p in versions), "add a fixture for the current version"
    for path in versions:
        meta = pq.read_schema(path).metadata
        assert meta[b"newspipe.schema_version"].decode() == path.stem.split("-v")[1]
        out = tmp_path / path.stem
        target = out / "articles" / "dt=2023-09-24" / "lang=ar" / f"part-{path.stem}-00000000.parquet"
        target.parent.mkdir(parents=True)
        shutil.copy(path, target)
        rows = read_articles(str(out))
        assert rows and all(r["id"] and r["title"] and r["body"] for r in rows)
        # Every column the current schema has that the old file also has keeps its type.
        old = pq.read_schema(path)
        for field in ARTICLE_SCHEMA:
            if field.name in old.names:
                assert old.field(field.name).type == field.type, field.name
        con = duck.connect(str(out))
        assert duck.query(con, "select count(*) from articles")[1][0][0] == len(rows)
