"""The story state under `_state/stories/`: key-filtered partition reads, merges, staged commits
(pipeline/io/story_state.py), on the local file system and on MinIO."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.io.storage import LocalStorage, Storage, join
from pipeline.io.story_state import (
    MERGE_SCHEMA, STAGING, STATE_DIR, _to_bytes, commit_story_state, day_partition, discard_story_state,
    read_all, read_partition, state_table, wanted_partitions,
)
from pipeline.lib.stories import StoryClusterer, StoryRules, key_hash, lookup_keys, make_record, story_id_for

RULES = StoryRules()
DAY = datetime(2024, 3, 1, 8, tzinfo=timezone.utc)
TEXTS = [
    "انفجار في ميناء المدينة يوقع عشرات الجرحى ويدمر مستودعات الحبوب قرب الرصيف الرئيسي",
    "فاز المنتخب على نظيره في نهائي بطولة الشطرنج التي أقيمت في العاصمة وسط حضور جماهيري",
    "ارتفعت أسعار القمح في الأسواق بعد تراجع المحصول وارتفاع كلفة الشحن البحري هذا الموسم",
]


def _records(tag: str) -> list:
    signer = StoryClusterer()
    return [
        replace(make_record(f"{tag}{i}", signer.signature(text), {f"Q{i}", "Q99"}, DAY, DAY, DAY, f"h{tag}{i}"),
                story_id=story_id_for(f"{tag}{i}"), canonical=f"{tag}{i}")
        for i, text in enumerate(TEXTS)
    ]


def _stage(storage: Storage, out: str, tag: str, records: list) -> None:
    staged = join(out, STATE_DIR, STAGING, tag, day_partition(records[0].day), f"seg-{tag}.parquet")
    storage.write_bytes(staged, _to_bytes(state_table(records, RULES)))


def test_a_partition_read_keeps_only_rows_sharing_a_key(tmp_path: Path) -> None:
    storage, out = LocalStorage(), str(tmp_path)
    records = _records("a")
    _stage(storage, out, "run1", records)
    assert read_all(storage, out) == []  # staged is not committed
    assert commit_story_state(storage, out, "run1") == 1
    part = day_partition(records[0].day)
    wanted = {key_hash(k) for k in lookup_keys(records[1], RULES) if k.startswith("b")}
    got = read_partition(storage, out, part, wanted)
    assert [r.article_id for r in got] == ["a1"]
    assert got[0] == records[1]  # every field round-trips
    assert {r.article_id for r in read_partition(storage, out, part, {key_hash("h:ha2")})} == {"a2"}
    assert read_partition(storage, out, part, {key_hash("nothing")}) == []
    assert part in wanted_partitions(records[0], RULES)
    later = replace(records[0], day=records[0].day + RULES.window_days + 1)
    assert part not in wanted_partitions(later, RULES)


def test_merges_recorded_in_a_partition_apply_to_its_rows(tmp_path: Path) -> None:
    import pyarrow as pa

    storage, out = LocalStorage(), str(tmp_path)
    records = _records("a")
    _stage(storage, out, "run1", records)
    commit_story_state(storage, out, "run1")
    merges = pa.table({"story_id": [records[1].story_id, records[2].story_id],
                       "merged_into": [records[2].story_id, records[0].story_id]}, schema=MERGE_SCHEMA)
    storage.write_bytes(join(out, STATE_DIR, day_partition(records[0].day), "merges-run2.parquet"), _to_bytes(merges))
    stories = {r.article_id: r.story_id for r in read_partition(storage, out, day_partition(records[0].day), None)}
    assert stories == {"a0": records[0].story_id, "a1": records[0].story_id, "a2": records[0].story_id}


def test_concurrent_commits_keep_every_segment_and_a_discarded_run_leaves_nothing(tmp_path: Path) -> None:
    storage, out = LocalStorage(), str(tmp_path)
    tags = [f"run{i}" for i in range(6)]
    for tag in tags:
        _stage(storage, out, tag, _records(tag))
    threads = [threading.Thread(target=commit_story_state, args=(storage, out, tag)) for tag in tags[:5]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    discard_story_state(storage, out, tags[5])
    ids = [r.article_id for r in read_all(storage, out)]  # compactions ran at once too: each row once
    assert sorted(ids) == sorted(f"{tag}{i}" for tag in tags[:5] for i in range(3))
    assert not [f for f in storage.list(join(out, STATE_DIR, STAGING)) if f.uri.endswith(".parquet")]


@pytest.mark.minio
def test_story_state_segments_on_minio(s3_bucket: str) -> None:
    from pipeline.config import Config, s3_settings

    out = f"s3://{s3_bucket}/out"
    storage = Storage.for_uri(out, s3_settings(Config()))
    for tag in ("r1", "r2", "r3", "r4", "r5"):  # the fourth commit compacts the partition's four segments
        _stage(storage, out, tag, _records(tag))
        commit_story_state(storage, out, tag)
    rows = read_all(storage, out)
    assert sorted(r.article_id for r in rows) == sorted(f"r{k}{i}" for k in range(1, 6) for i in range(3))
    names = sorted(f.uri.rsplit("/", 1)[1] for f in storage.list(join(out, STATE_DIR, "day=*", "*.parquet")))
    assert len(names) == 2 and names[0].startswith("seg-merged-t1-r4-"), names
    assert not storage.list(join(out, STATE_DIR, STAGING, "**"))


def test_compaction_bounds_the_segments_of_a_partition_and_keeps_each_row_once(tmp_path: Path) -> None:
    from pipeline.io.story_state import COMPACT_FANIN

    storage, out = LocalStorage(), str(tmp_path)
    tags = [f"run{i:02d}" for i in range(21)]
    for tag in tags:
        _stage(storage, out, tag, _records(tag))
        commit_story_state(storage, out, tag)
    part = day_partition(_records("x")[0].day)
    names = [f.uri.rsplit("/", 1)[1] for f in storage.list(join(out, STATE_DIR, part, "*.parquet"))]
    # 21 segments in base 4 = 111: one of tier 2 (16 runs), one of tier 1 (4), one as written
    assert sorted(n.split("-")[2] if n.startswith("seg-merged") else "t0" for n in names) == ["t0", "t1", "t2"]
    assert COMPACT_FANIN == 4
    rows = read_partition(storage, out, part, None)
    assert sorted(r.article_id for r in rows) == sorted(f"{tag}{i}" for tag in tags for i in range(3))


def test_a_read_while_a_compaction_deletes_its_segments_still_gets_every_row_once(tmp_path: Path) -> None:
    """The reader lists four segments; a compaction merges and deletes them before it reads them: it
    finds their rows in the merged segment of a new listing."""
    from pipeline.io.story_state import compact_partition

    class CompactAfterFirstList(LocalStorage):
        compacted = False

        def list(self, pattern: str):  # type: ignore[no-untyped-def]
            listed = super().list(pattern)
            if not self.compacted and pattern.endswith("*.parquet") and "seg-" not in pattern:
                self.compacted = True
                assert compact_partition(LocalStorage(), out, part, "other") == 1
            return listed

    out = str(tmp_path)
    part = day_partition(_records("x")[0].day)
    for tag in ("r1", "r2", "r3", "r4"):
        _stage(LocalStorage(), out, tag, _records(tag))
        target = join(out, STATE_DIR, part, f"seg-{tag}.parquet")  # committed without compacting
        LocalStorage().move(join(out, STATE_DIR, STAGING, tag, part, f"seg-{tag}.parquet"), target)
    storage = CompactAfterFirstList()
    rows = read_partition(storage, out, part, None)
    assert storage.compacted
    assert sorted(r.article_id for r in rows) == sorted(f"r{k}{i}" for k in range(1, 5) for i in range(3))


def test_window_of_ingest_days_is_bounded() -> None:
    undated = make_record("u", b"\0" * 512, set(), None, DAY, DAY + timedelta(days=30))
    parts = wanted_partitions(undated, RULES)
    assert all(p.startswith("ingested=") for p in parts) and len(parts) == 2 * (RULES.window_days + 2)


def test_state_rows_are_decided_where_they_are_read(tmp_path: Path) -> None:
    """ReadStoryState gives the edges between the run's records and the state rows (story and sort
    time of the state side), decided as their shared candidate groups would; it hands on only the rows
    with a run article's content hash, and shuffles no state row or key."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from pipeline.io.story_state import COPIES, ReadStoryState
    from pipeline.lib.stories import edges_in_group, group_keys

    storage, out = LocalStorage(), str(tmp_path)
    signer = StoryClusterer()
    entities = {"Q1", "Q2", "Q3"}
    old = [replace(make_record(f"a{i}", signer.signature(TEXTS[i % 2]), entities, DAY, DAY, DAY, f"h{i % 2}"),
                   story_id=story_id_for(f"a{i}"), canonical=f"a{i}") for i in range(3)]
    far = replace(make_record("far", signer.signature(TEXTS[0]), entities, DAY + timedelta(days=40), DAY, DAY, "h0"),
                  story_id=story_id_for("far"), canonical="far")
    for tag, rows in (("run1", old), ("run2", [far])):  # far: a partition 40 days later, not read
        _stage(storage, out, tag, rows)
        commit_story_state(storage, out, tag)
    new = make_record("n1", signer.signature(TEXTS[0]), entities, DAY + timedelta(hours=5), DAY, DAY, "h0")
    # the reference: each shared group, evaluated on its members
    expected = set()
    for key in set(group_keys(new, RULES)):
        members = [new] + [r for r in old + [far] if key in group_keys(r, RULES)]
        expected |= set(edges_in_group(key, members, RULES))
    expected = {tuple(sorted(e)) for e in expected}
    assert expected and ("far" not in {x for e in expected for x in e})
    with TestPipeline() as p:
        read = p | beam.Create([new]) | ReadStoryState(out, None, RULES)
        assert_that(read.edges | beam.Map(lambda e: tuple(sorted(e[:2]))), equal_to(sorted(expected)), label="edges")
        assert_that(read.edges | beam.Map(lambda e: e[2]),
                    equal_to([((b, story_id_for(b), DAY.timestamp(), old[0].day),)
                              for b in sorted({x for e in expected for x in e} - {"n1"})]), label="info")
        assert_that(read[COPIES] | beam.Map(lambda r: r.article_id), equal_to(["a0", "a2"]), label="copies")
