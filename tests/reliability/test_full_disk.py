"""A full disk under a local output (issue 7 part 1): the run stops with one line naming the file and
what to do, leaves no temp or partial file, and once there is space again a re-run ends with exactly
the rows of a clean run. Once on a real size-limited tmpfs (needs root and mount; skipped otherwise)
and once with ENOSPC injected in-process at fsync, which runs everywhere."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import pytest
from relkit import assert_same_rows, by_id, newspipe, one_line_error
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_config
from pipeline.io import storage as storage_module
from pipeline.io.sinks import read_articles
from pipeline.run import run_batch


def _leftovers(root: Path) -> list[Path]:
    """Temp files of atomic writes that were not cleaned up."""
    return [p for p in root.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


def _assert_whole_subset(out: Path, clean_rows: list[dict]) -> list[dict]:
    """Every file the failed run left is a whole, readable file of clean rows, none twice."""
    partial = read_articles(str(out)) if (out / "articles").exists() else []
    clean = by_id(clean_rows)
    for key, row in by_id(partial).items():
        assert key in clean
        assert {k: v for k, v in row.items() if k != "_file"} == {k: v for k, v in clean[key].items() if k != "_file"}
    assert not (out / "_runs").exists(), "a failed run wrote a manifest"
    return partial


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 512 KiB tmpfs (the corpus needs ~1.6 MB): real ENOSPC from the kernel."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root; test_enospc_injected covers the same path")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], capture_output=True, text=True,
                          check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()}); test_enospc_injected covers the same path")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def test_full_tmpfs(small_disk: Path, corpus: Path, corpus_config: Path, clean_rows) -> None:
    out = small_disk / "out"
    args = ["run", "-i", str(corpus), "-o", str(out), "-c", str(corpus_config), "--json"]
    line = one_line_error(newspipe(args))
    assert f"{out}/" in line and "no space left on device" in line and "free space and re-run" in line, line
    assert not _leftovers(out)
    partial = _assert_whole_subset(out, clean_rows)
    assert len(partial) < len(clean_rows)

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)  # space is back
    again = newspipe(args)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads(again.stdout)
    assert summary["already_present"] == len(partial) and summary["articles"] == len(clean_rows) - len(partial)
    assert_same_rows(read_articles(str(out)), clean_rows)
    assert not _leftovers(out)


def test_enospc_injected(tmp_path: Path, corpus: Path, corpus_config: Path, clean_rows, monkeypatch) -> None:
    """ENOSPC at fsync, after the temp file got its bytes (where delayed allocation reports it)."""
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 12:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(storage_module.os, "fsync", fsync)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "-i", str(corpus), "-o", str(out), "-c", str(corpus_config)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{out}/" in result.output and "no space left on device" in result.output, result.output
    assert "free space and re-run" in result.output
    with pytest.raises(storage_module.StorageError, match=r"no space left on device \(No space left on device\)"):
        run_batch([str(corpus)], str(tmp_path / "direct"), load_config(corpus_config))
    assert not _leftovers(out) and not _leftovers(tmp_path / "direct")
    partial = _assert_whole_subset(out, clean_rows)
    # A failed run commits nothing of the chunk in flight (rows are staged until it succeeds, decision 4);
    # only chunks committed before the failure can be there.
    assert len(partial) < len(clean_rows)
    assert not list(out.glob("_staging/**/part-*")), "a failed run left staged files"

    monkeypatch.undo()
    summary = run_batch([str(corpus)], str(out), load_config(corpus_config))
    assert summary.already_present == len(partial) and summary.articles == len(clean_rows) - len(partial)
    assert_same_rows(read_articles(str(out)), clean_rows)
    assert not _leftovers(out)


def test_full_disk_while_claiming_leaves_no_claim(tmp_path: Path, monkeypatch) -> None:
    """The incremental ledger's claim (an exclusive create) hits ENOSPC: one-line error, and no empty
    claim file is left to block the input for later runs."""
    real_fdopen = os.fdopen

    class FullFile:
        def __init__(self, fd: int, mode: str) -> None:
            self.fh = real_fdopen(fd, mode)

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
            self.fh.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage_module.os, "fdopen", FullFile)
    claim = tmp_path / "out" / "_state" / "runs" / "inputs" / "abc.json"
    with pytest.raises(storage_module.StorageError, match="no space left on device.*free space and re-run") as info:
        storage_module.LocalStorage().create_exclusive(str(claim), b"{}")
    assert str(claim) in str(info.value)
    assert not claim.exists()
