"""The same input gives the same articles, dead letters and manifest counts on a real dask.distributed
cluster (`runner: dask`, pipeline/runners/dask.py) as on the local runner.

The cluster is the one tests/run.sh starts (a `dask scheduler` and 2 `dask worker` processes on 127.0.0.1,
NEWSPIPE_TEST_DASK_ADDRESS); the runs are `newspipe run` exactly as a user types it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.runners


def test_seeds_match_local_runner(rs, dask_address: str, direct_seeds, tmp_path: Path) -> None:
    """The acceptance command: `newspipe run -i 'seeds/*' -o out --config config/dask.yaml
    --dask_client_address HOST:PORT`."""
    run = rs.run(f"{rs.SEEDS}/*", tmp_path / "out", ["--dask_client_address", dask_address],
                 "seeds runner: dask (2 workers)", extra=["--config", str(rs.DASK_CONFIG)])
    rs.assert_equivalent(direct_seeds.output, run.output, "seeds: runner dask vs local")
    assert run.summary["articles"] == direct_seeds.summary["articles"] > 0
    assert rs.manifest_counts(run) == rs.manifest_counts(direct_seeds)


@pytest.mark.scale  # two 5,000-article runs: minutes (NEWSPIPE_SCALE=1 or -m scale)
def test_synth_5k_matches_local_runner(rs, dask_address: str, direct_synth_5k, tmp_path: Path) -> None:
    corpus, direct = direct_synth_5k
    run = rs.run(f"{corpus}/*", tmp_path / "out", ["--dask_client_address", dask_address],
                 "synth 5000 runner: dask (2 workers)", extra=["--config", str(rs.DASK_CONFIG)])
    rs.assert_equivalent(direct.output, run.output, "synth 5000: runner dask vs local")
    assert run.summary["articles"] == direct.summary["articles"] >= 4000
    assert rs.manifest_counts(run) == rs.manifest_counts(direct)


@pytest.mark.minio
def test_s3_input_and_output_on_workers(rs, dask_address: str, direct_seeds, minio_client, s3_bucket: str) -> None:
    """Seeds uploaded to MinIO, read by the dask workers from s3:// and written back to s3://: the same rows
    as the local runner writes from the same s3:// input."""
    from pipeline.config import load_config, s3_settings
    from pipeline.io.sinks import read_articles, read_dead_letters

    for path in sorted(rs.SEEDS.iterdir()):
        minio_client.fput_object(s3_bucket, f"in/{path.name}", str(path))
    source = f"s3://{s3_bucket}/in/"
    on_dask = rs.run(source, f"s3://{s3_bucket}/dask", ["--dask_client_address", dask_address],
                     "seeds s3 -> s3 runner: dask", extra=["--config", str(rs.DASK_CONFIG)])
    local = rs.run(source, f"s3://{s3_bucket}/local", [], "seeds s3 -> s3 runner: direct")
    assert on_dask.summary["articles"] == local.summary["articles"] == direct_seeds.summary["articles"] > 0

    settings = s3_settings(load_config(rs.DASK_CONFIG))

    def rows(output: str) -> dict[str, dict]:
        return {r["id"]: {k: v for k, v in r.items() if k not in ("ingested_at", "_file")}
                for r in read_articles(output, settings)}

    a, b = rows(f"s3://{s3_bucket}/local"), rows(f"s3://{s3_bucket}/dask")
    assert a and a.keys() == b.keys()
    diffs = sorted({c for i in a for c in a[i] if a[i][c] != b[i].get(c)})
    assert not diffs, f"columns differ between runner dask and local on s3:// input: {diffs}"
    assert all(r["source_uri"].startswith(source) for r in b.values())
    assert read_dead_letters(f"s3://{s3_bucket}/dask", settings) == []
    objects = [o.object_name for o in minio_client.list_objects(s3_bucket, prefix="dask/", recursive=True)]
    assert any(o.startswith("dask/articles/") and o.endswith(".parquet") for o in objects)
    assert any(o.startswith("dask/_runs/") for o in objects)


def test_one_big_jsonl_in_byte_ranges_spreads_over_workers(rs, dask_address: str, tmp_path: Path) -> None:
    """One JSONL file read as byte ranges (input.range_bytes, pipeline/io/ranges.py): after Reshuffle the
    ranges run on both workers, and the rows are the local runner's. Parallelism is not capped by files."""
    import json

    from distributed import Client, get_task_stream

    from benchmarks.synth import make_corpus

    big = tmp_path / "in" / "big.jsonl"
    big.parent.mkdir()
    big.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in make_corpus(240)), encoding="utf-8")
    config = tmp_path / "ranges.yaml"
    config.write_text((rs.DASK_CONFIG.read_text() + "\ninput:\n  range_bytes: 65536\n"))
    local_config = tmp_path / "ranges-local.yaml"
    local_config.write_text("input:\n  range_bytes: 65536\n")
    local = rs.run(str(big), tmp_path / "local", [], "one big jsonl in ranges: direct",
                   extra=["--config", str(local_config)])
    with Client(dask_address, timeout=30, set_as_default=False) as client:
        with get_task_stream(client=client) as recorded:  # which worker ran which task (recorded by the scheduler)
            on_dask = rs.run(str(big), tmp_path / "dask", ["--dask_client_address", dask_address],
                             "one big jsonl in ranges: dask", extra=["--config", str(config)])
        stream = recorded.data
    rs.assert_equivalent(local.output, on_dask.output, "one big jsonl in byte ranges: dask vs local")
    assert big.stat().st_size > 4 * 65536
    readers = {t["worker"] for t in stream if str(t["key"]).startswith("Read-ReadFile")}
    assert len(readers) == 2, f"the ranges of one file were read on {len(readers)} worker(s)"
