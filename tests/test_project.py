"""Project promises: generated protos current, compose file shape, README commands, seeds intact."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_generated_protos_are_current(tmp_path: Path) -> None:
    from pipeline.protos.generate import generate

    for path in generate(tmp_path):
        committed = ROOT / "pipeline" / "protos" / path.name
        assert committed.read_text() == path.read_text(), f"{committed.name} is stale: run python -m pipeline.protos.generate"


def test_compose_file_has_minio_bucket_and_pipeline() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    minio = services["minio"]
    assert "9000" in " ".join(minio["ports"]) and "healthcheck" in minio
    assert minio["environment"]["MINIO_ROOT_USER"] and minio["environment"]["MINIO_ROOT_PASSWORD"]
    assert any(v.endswith(":/data") for v in minio["volumes"])
    bucket = services["create-bucket"]
    assert bucket["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb" in bucket["entrypoint"]
    pipe = services["pipeline"]
    assert pipe["depends_on"]["create-bucket"]["condition"] == "service_completed_successfully"
    env = pipe["environment"]
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= set(env)
    assert "newspipe run" in pipe["command"] and "s3://newspipe/" in pipe["command"]
    assert any(v.startswith("./:/app") for v in pipe["volumes"])


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    assert len(blocks) >= 2
    test_command = blocks[1].strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci


def test_seeds_match_the_gold_hashes() -> None:
    gold = json.loads((ROOT / "tests" / "fixtures" / "seeds.gold.json").read_text())
    for f in gold["files"]:
        data = (ROOT / "seeds" / f["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["file"]
