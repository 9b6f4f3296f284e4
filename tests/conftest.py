"""Shared fixtures: seeds, gold, a fresh MinIO bucket on the server tests/run.sh started."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def gold() -> dict:
    return json.loads((FIXTURES / "seeds.gold.json").read_text(encoding="utf-8"))


def _s3_endpoint() -> str:
    endpoint = os.environ.get("NEWSPIPE_TEST_S3_ENDPOINT", "")
    if not endpoint:
        if os.environ.get("CI"):
            pytest.fail("NEWSPIPE_TEST_S3_ENDPOINT is not set: run the suite with `bash tests/run.sh`")
        pytest.skip("no MinIO server: run the suite with `bash tests/run.sh`")
    return endpoint


@pytest.fixture(scope="session")
def minio_client():
    from minio import Minio

    endpoint = _s3_endpoint()
    return Minio(
        endpoint.split("://", 1)[1],
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        secure=endpoint.startswith("https"),
    )


@pytest.fixture
def s3_bucket(minio_client) -> str:
    """A fresh, empty bucket per test; its name."""
    name = "np-" + secrets.token_hex(6)
    minio_client.make_bucket(name)
    return name
