"""Storage against the local filesystem and a real MinIO server (started by tests/run.sh)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import Config, s3_settings
from pipeline.io.storage import LocalStorage, S3Storage, Storage, StorageError


def _roundtrip(storage: Storage, base: str) -> None:
    storage.write_bytes(f"{base}/a/one.txt", b"1")
    storage.write_bytes(f"{base}/a/b/two.jsonl", b"22")
    storage.write_bytes(f"{base}/three.txt", b"333")
    names = sorted(i.uri.rsplit("/", 1)[1] for i in storage.list(f"{base}/a"))
    assert names == ["one.txt", "two.jsonl"]
    assert [i.size for i in storage.list(f"{base}/*.txt")] == [3]
    assert storage.read_bytes(f"{base}/three.txt") == b"333"
    assert storage.read_bytes(f"{base}/three.txt", limit=1) == b"33"  # limit + 1: caller sees "too large"
    assert storage.stat(f"{base}/missing") is None
    assert storage.create_exclusive(f"{base}/lock", b"me") is True
    assert storage.create_exclusive(f"{base}/lock", b"you") is False
    assert storage.read_bytes(f"{base}/lock") == b"me"
    storage.delete(f"{base}/lock")
    assert storage.stat(f"{base}/lock") is None


def test_local_storage(tmp_path: Path) -> None:
    _roundtrip(LocalStorage(), str(tmp_path))


def test_local_write_leaves_no_temp_files(tmp_path: Path) -> None:
    LocalStorage().write_bytes(str(tmp_path / "x" / "f.parquet"), b"data")
    assert os.listdir(tmp_path / "x") == ["f.parquet"]


@pytest.mark.minio
def test_s3_storage_on_minio(s3_bucket: str) -> None:
    storage = Storage.for_uri(f"s3://{s3_bucket}", s3_settings(Config()))
    assert isinstance(storage, S3Storage)
    _roundtrip(storage, f"s3://{s3_bucket}/prefix")


@pytest.mark.minio
def test_s3_wrong_credentials_are_a_clear_error_without_the_secret(s3_bucket: str, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "definitely-wrong-secret-123")
    storage = Storage.for_uri(f"s3://{s3_bucket}", s3_settings(Config()))
    with pytest.raises(StorageError) as exc:
        storage.list(f"s3://{s3_bucket}/x/*")
    message = str(exc.value)
    assert "access denied" in message or "SignatureDoesNotMatch" in message
    assert "definitely-wrong-secret-123" not in message


def test_s3_unreachable_endpoint_is_a_clear_error() -> None:
    cfg = Config().replace(storage=Config().storage.__class__(endpoint="http://127.0.0.1:9", retries=2, backoff_seconds=0.01))
    env = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    storage = S3Storage(s3_settings(cfg, env))
    with pytest.raises(StorageError, match="cannot reach http://127.0.0.1:9"):
        storage.list("s3://bucket/x/*")
