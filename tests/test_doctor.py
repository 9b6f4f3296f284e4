"""`newspipe doctor` and the start-up checks (pipeline/doctor.py), and `inspect --format csv` output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline import doctor
from pipeline.training import checksums

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_every_shipped_resource_lists_current_checksums() -> None:
    assert checksums.main(["--check"]) == 0, "a resource changed: python -m pipeline.training.checksums"
    for folder in doctor.resource_folders():
        listed = doctor.expected_checksums(folder / "PROVENANCE.md")
        assert set(listed) == {p.relative_to(folder).as_posix() for p in doctor.resource_files(folder)}


def test_doctor_says_every_core_component_is_ok() -> None:
    result = _cli("doctor", "--json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    checks = json.loads(result.stdout)["checks"]
    components = {c["component"]: c for c in checks}
    assert {"HTML extraction", "language ID", "NER model", "topic model", "resource ner", "resource topics",
            "resource gazetteer", "Prism runner", "Flink runner", "Dask runner", "object store (S3/MinIO)"} <= set(components)
    assert [c["component"] for c in checks if c["core"] and c["status"] != "OK"] == []


def test_a_corrupt_model_is_broken_with_the_fix(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    model = tmp_path / "pipeline" / "resources" / "topics" / "model.npz"
    model.write_bytes(model.read_bytes()[:-100])  # truncated
    result = _cli("doctor", "--json", cwd=tmp_path)
    assert result.returncode == 1
    broken = {c["component"]: c for c in json.loads(result.stdout)["checks"] if c["status"] == "BROKEN"}
    assert "resource topics" in broken and "topic model" in broken
    assert "model.npz does not match its checksum" in broken["resource topics"]["detail"]
    assert "reinstall newspipe" in broken["resource topics"]["fix"]
    run = _cli("run", "-i", str(ROOT / "seeds"), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert run.returncode == 3 and "resource topics" in run.stderr and not (tmp_path / "out" / "articles").exists()


def test_a_missing_module_names_what_to_install() -> None:
    check = doctor.module_check("HTML extraction", ("no_such_module_for_newspipe",))
    assert not check.ok and "pip install no_such_module_for_newspipe" in check.fix


def test_inspect_csv_ends_with_its_last_row(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _cli("run", "-q", "-i", str(ROOT / "seeds" / "000_748f4bdf56961c0a.txt"), "-o", str(out)).returncode == 0
    result = _cli("inspect", str(out), "--sql", "select id from articles order by id", "--format", "csv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "id" and len(lines) == 4 and lines[-1] == "" and lines[-2]  # `| tail -1` is the last row
