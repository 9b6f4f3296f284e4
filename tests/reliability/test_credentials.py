"""Wrong, expired and too-weak credentials (issue 7 part 5): one clear line, exit 2, no secret in it,
nothing half-done left behind, and a run with the right credentials afterwards gets every row.
(Wrong credentials on an S3 *output* are in tests/e2e/test_bad_inputs.py; these cover reads and the
incremental ledger.)"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from relkit import CORPUS_CONFIG, ROOT, MinioServer, newspipe, one_line_error

from pipeline.io.sinks import read_articles, read_dead_letters

SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
SEED_ARTICLES = 10


@pytest.fixture(scope="module")
def store(shared_minio: MinioServer, tmp_path_factory):
    """A bucket with the seed pages under in/, and users: `lister` may only list the bucket, `reader`
    may list and read but not write, `gone` was deleted (an expired or rotated key)."""
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    bucket = shared_minio.make_bucket()
    client = shared_minio.client()
    for path in SEEDS:
        client.fput_object(bucket, f"in/{path.name}", str(path))
    admin = MinioAdmin(endpoint=f"127.0.0.1:{shared_minio.port}",
                       credentials=StaticProvider(shared_minio.user, shared_minio.password), secure=False)
    users = {}
    grants = {
        "lister": ["s3:ListBucket", "s3:GetBucketLocation"],
        "reader": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"],
    }
    for name, actions in grants.items():
        policy = f"rel-{name}-{bucket}"
        admin.policy_add(policy, policy={"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})
        key, secret = f"{name}-{secrets.token_hex(3)}", f"{name.upper()}-SECRET-{secrets.token_hex(12)}"
        admin.user_add(key, secret)
        admin.attach_policy([policy], user=key)
        users[name] = (key, secret)
    key, secret = f"gone-{secrets.token_hex(3)}", f"GONE-SECRET-{secrets.token_hex(12)}"
    admin.user_add(key, secret)
    admin.user_remove(key)
    users["gone"] = (key, secret)
    config = tmp_path_factory.mktemp("cred-cfg") / "c.yaml"
    config.write_text(CORPUS_CONFIG + "storage:\n  retries: 2\n  backoff_seconds: 0.05\n")
    return {"bucket": bucket, "users": users, "config": config}


def _as(server: MinioServer, key: str, secret: str) -> dict[str, str]:
    return server.env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)


def _no_secret(proc, *secret_values: str) -> None:
    for value in secret_values:
        assert value not in proc.stdout and value not in proc.stderr


def test_wrong_secret_reading_s3_inputs(shared_minio: MinioServer, store, tmp_path: Path) -> None:
    wrong = "WRONG-" + secrets.token_hex(12)
    out = tmp_path / "out"
    run = newspipe(["run", "-i", f"s3://{store['bucket']}/in/*.txt", "-o", str(out), "-c", str(store["config"])],
                   env=_as(shared_minio, shared_minio.user, wrong))
    line = one_line_error(run)
    assert f"s3://{store['bucket']}/in/" in line and "access denied (SignatureDoesNotMatch)" in line, line
    assert "AWS_SECRET_ACCESS_KEY" in line  # says what to fix
    _no_secret(run, wrong, shared_minio.password)
    assert not (out / "articles").exists()


def test_expired_key_reading_s3_inputs(shared_minio: MinioServer, store, tmp_path: Path) -> None:
    key, secret = store["users"]["gone"]
    run = newspipe(["run", "-i", f"s3://{store['bucket']}/in/*.txt", "-o", str(tmp_path / "out"),
                    "-c", str(store["config"])], env=_as(shared_minio, key, secret))
    line = one_line_error(run)
    assert "access denied (InvalidAccessKeyId)" in line, line
    _no_secret(run, secret, shared_minio.password)


def test_read_only_key_cannot_claim_in_the_ledger(shared_minio: MinioServer, store) -> None:
    """The incremental ledger's first write (the run's heartbeat, before any claim) is refused: one
    line naming the ledger object, no claim or article left behind, and the right key then processes
    every input."""
    key, secret = store["users"]["reader"]
    output = f"s3://{store['bucket']}/inc-ro"
    args = ["run", "--incremental", "-i", str(ROOT / "seeds"), "-o", output, "-c", str(store["config"]), "--json"]
    run = newspipe(args, env=_as(shared_minio, key, secret))
    line = one_line_error(run)
    assert f"{output}/_state/runs/live/" in line and "access denied (AccessDenied)" in line, line
    _no_secret(run, secret, shared_minio.password)
    assert shared_minio.object_names(store["bucket"], "inc-ro/") == []

    good = newspipe(args, env=shared_minio.env())
    assert good.returncode == 0, good.stderr[-3000:]
    summary = json.loads(good.stdout)
    assert summary["inputs"] == len(SEEDS) and summary["articles"] == SEED_ARTICLES
    assert summary["inputs_skipped"] == {"already_committed": 0, "claimed_by_another_run": 0}


def test_expired_key_on_the_incremental_ledger(shared_minio: MinioServer, store) -> None:
    """Refused before any claim (the bucket check answers a bare 403 to an unknown key)."""
    key, secret = store["users"]["gone"]
    run = newspipe(["run", "--incremental", "-i", str(ROOT / "seeds"), "-o", f"s3://{store['bucket']}/inc-gone",
                    "-c", str(store["config"])], env=_as(shared_minio, key, secret))
    line = one_line_error(run)
    assert f"s3://{store['bucket']}/inc-gone: access denied" in line, line
    _no_secret(run, secret, shared_minio.password)
    assert shared_minio.object_names(store["bucket"], "inc-gone/") == []


def test_denied_object_reads_are_not_committed_as_done(shared_minio: MinioServer, store, tmp_path: Path) -> None:
    """A store failure while reading fails the run (one line) instead of becoming a dead letter, so the
    incremental ledger releases the claims and a later run reads the inputs."""
    key, secret = store["users"]["lister"]  # may list in/ (so inputs expand) but not read the objects
    out = tmp_path / "out"
    args = ["run", "--incremental", "-i", f"s3://{store['bucket']}/in/*.txt", "-o", str(out),
            "-c", str(store["config"]), "--json"]
    denied = newspipe(args, env=_as(shared_minio, key, secret))
    _no_secret(denied, secret, shared_minio.password)
    assert all(secret not in json.dumps(d) for d in read_dead_letters(str(out))) if out.exists() else True
    good = newspipe(args, env=shared_minio.env())
    assert good.returncode == 0, good.stderr[-3000:]
    # Every input is read with the right key: nothing was committed by the denied run.
    assert len(read_articles(str(out))) == SEED_ARTICLES
    assert denied.returncode == 2 and "access denied" in denied.stderr
