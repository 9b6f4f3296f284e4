"""The lock files satisfy pyproject.toml (refresh with `bash config/lock.sh`).

config/requirements.lock pins the runtime dependencies (README command 1), config/requirements-dev.lock the
runtime ones plus every extra but `dataflow` (the test command), config/requirements-dataflow.lock the runtime
ones plus `dataflow` (the Dataflow dry-run test's own venv: the Google Cloud SDK stays out of the venv the rest
of the suite runs newspipe in). Every pin has hashes; every requirement of pyproject has a pin that satisfies
it in the lock that installs it; the locks agree on every package they share; and nothing is locked as a
direct dependency that pyproject no longer asks for.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
LOCKS = {"runtime": ROOT / "config" / "requirements.lock", "dev": ROOT / "config" / "requirements-dev.lock",
         "dataflow": ROOT / "config" / "requirements-dataflow.lock"}
OWN_LOCK = {"dataflow": "dataflow"}  # extras with a lock of their own; the others are in the dev lock


def parse_lock(path: Path) -> list[dict]:
    """Entries of a `uv pip compile --generate-hashes` file: name, version, marker, hashes, via."""
    entries: list[dict] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#") and not entries:
            continue
        if not line.startswith((" ", "\t")):
            req = Requirement(line.rstrip(" \\"))
            (spec,) = req.specifier
            entries.append({"name": canonicalize_name(req.name), "version": Version(spec.version),
                            "marker": req.marker, "hashes": 0, "via": []})
        elif "--hash=sha256:" in line:
            entries[-1]["hashes"] += 1
        elif line.strip().startswith("#"):
            entries[-1]["via"].append(re.sub(r"^#\s*(via)?\s*", "", line.strip()))
    return entries


def pins_here(entries: list[dict]) -> dict[str, Version]:
    """The pin of each package that applies on this interpreter and platform."""
    env = default_environment()
    return {e["name"]: e["version"] for e in entries if e["marker"] is None or e["marker"].evaluate(env)}


def requirements(extra: str | None = None) -> list[Requirement]:
    texts = PYPROJECT["dependencies"] if extra is None else PYPROJECT["optional-dependencies"][extra]
    return [Requirement(t) for t in texts]


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_has_hashes(lock: str) -> None:
    entries = parse_lock(LOCKS[lock])
    assert len(entries) > 30
    assert [e["name"] for e in entries if e["hashes"] == 0] == []


def test_runtime_lock_satisfies_the_runtime_requirements() -> None:
    pins = pins_here(parse_lock(LOCKS["runtime"]))
    for req in requirements():
        if req.marker is None or req.marker.evaluate(default_environment()):
            name = canonicalize_name(req.name)
            assert name in pins, f"{req} is in pyproject but not in {LOCKS['runtime'].name}: bash config/lock.sh"
            assert pins[name] in req.specifier, f"{name}=={pins[name]} does not satisfy {req}: bash config/lock.sh"


@pytest.mark.parametrize("extra", sorted(PYPROJECT["optional-dependencies"]))
def test_dev_lock_satisfies_every_extra(extra: str) -> None:
    pins = pins_here(parse_lock(LOCKS[OWN_LOCK.get(extra, "dev")]))
    for req in [*requirements(), *requirements(extra)]:
        if req.marker is None or req.marker.evaluate(default_environment()):
            name = canonicalize_name(req.name)
            assert name in pins and pins[name] in req.specifier, f"{req} ({extra}): bash config/lock.sh"


@pytest.mark.parametrize("lock", ["dev", "dataflow"])
def test_locks_agree_on_shared_packages(lock: str) -> None:
    runtime, other = pins_here(parse_lock(LOCKS["runtime"])), pins_here(parse_lock(LOCKS[lock]))
    assert {n: (v, other.get(n)) for n, v in runtime.items() if other.get(n) != v} == {}


def test_the_google_cloud_sdk_stays_out_of_the_dev_lock() -> None:
    """With it installed, `import apache_beam` imports ~40 GCP packages (its GCS, BigQuery and Pub/Sub modules
    are try-imports), so tests in the dev venv would run newspipe with imports a plain install never has."""
    names = {e["name"] for e in parse_lock(LOCKS["dev"])}
    assert sorted(n for n in names if n.startswith(("google-", "googleapis-", "grpc-google-"))) == []
    assert "google-cloud-storage" in {e["name"] for e in parse_lock(LOCKS["dataflow"])}


def test_nothing_locked_that_pyproject_dropped() -> None:
    declared = {canonicalize_name(r.name) for r in requirements()}
    declared_any = declared | {canonicalize_name(r.name) for x in PYPROJECT["optional-dependencies"]
                               for r in requirements(x)}
    for lock, allowed in (("runtime", declared), ("dev", declared_any), ("dataflow", declared_any)):
        for entry in parse_lock(LOCKS[lock]):
            direct = any(v.startswith("newspipe") for v in entry["via"])
            only_direct = all(v.startswith("newspipe") for v in entry["via"])
            assert not (only_direct and entry["name"] not in allowed), \
                f"{entry['name']} is locked as a direct dependency that pyproject no longer has: bash config/lock.sh"
            assert direct or entry["via"], f"{entry['name']} has no 'via' in {lock}"
