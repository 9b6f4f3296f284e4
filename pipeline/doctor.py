"""`newspipe doctor`: is every component of this installation there and working, and if not, how to fix it.

Core checks (modules, shipped resources and their checksums) are fast and also run when `run`, `replay`
and `feeds` start, so a broken install fails at once with one line instead of after reading the input.
The full report adds the slower checks: models actually loading and answering, the object store, and
the engines (Prism, Flink, Dask).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import re
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.errors import RunFailed

RESOURCES = Path(__file__).resolve().parent / "resources"
_SHA_BLOCK = re.compile(r"```sha256\n(.*?)```", re.S)


@dataclass(frozen=True)
class Check:
    component: str
    ok: bool
    detail: str
    fix: str = ""
    core: bool = True  # a broken core component fails `doctor` (exit 1) and every run at start-up

    @property
    def status(self) -> str:
        return "OK" if self.ok else ("BROKEN" if self.core else "not available")


# Modules newspipe imports at run time, by the component a user would recognise.
CORE_MODULES: dict[str, tuple[str, ...]] = {
    "Beam": ("apache_beam", "google.protobuf"),
    "HTML extraction": ("trafilatura", "justext", "lxml.html.clean", "htmldate"),
    "text decoding, dates, feeds": ("charset_normalizer", "dateparser", "feedparser"),
    "language ID": ("lingua",),
    "NER and gazetteer": ("pycrfsuite", "ahocorasick", "numpy"),
    "stories": ("datasketch",),
    "Parquet, DuckDB, S3": ("pyarrow", "pyarrow.parquet", "duckdb", "minio", "yaml"),
}
# What to install when a module is missing (distribution names differ from module names).
DISTRIBUTION = {"lxml.html.clean": "lxml_html_clean", "pycrfsuite": "python-crfsuite", "ahocorasick": "pyahocorasick",
                "lingua": "lingua-language-detector", "yaml": "pyyaml", "google.protobuf": "protobuf",
                "apache_beam": "apache-beam", "pyarrow.parquet": "pyarrow"}


def module_check(component: str, modules: tuple[str, ...]) -> Check:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing = exc.name or name  # the module that is really missing, e.g. under trafilatura
            dist = DISTRIBUTION.get(missing, missing.split(".")[0])
            needed = f" (needed by {name})" if missing != name else ""
            return Check(component, False, f"cannot import {missing}{needed}",
                         f"pip install {dist} (or the whole lock: pip install -r config/requirements.lock)")
    return Check(component, True, f"{len(modules)} module(s) import")


def expected_checksums(provenance: Path) -> dict[str, str]:
    """The ```sha256 block of a resource's PROVENANCE.md: file name → sha256 (written by
    `python -m pipeline.training.checksums`)."""
    match = _SHA_BLOCK.search(provenance.read_text(encoding="utf-8"))
    sums: dict[str, str] = {}
    for line in (match.group(1) if match else "").splitlines():
        if line.strip():
            digest, name = line.split(None, 1)
            sums[name.strip()] = digest
    return sums


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resource_files(folder: Path) -> list[Path]:
    """The files of a resource folder that the pipeline reads (not its PROVENANCE.md or build scripts)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"
                  and p.suffix not in (".py", ".pyc") and not any(part.startswith(("_", ".")) for part in
                                                                  p.relative_to(folder).parts))


def resource_folders(root: Path = RESOURCES) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def resource_checks(root: Path = RESOURCES) -> list[Check]:
    """Every shipped resource folder: each file its PROVENANCE.md lists exists and has that checksum."""
    checks = []
    for folder in resource_folders(root):
        provenance = folder / "PROVENANCE.md"
        component = f"resource {folder.name}"
        if not provenance.is_file():
            checks.append(Check(component, False, f"{provenance} is missing",
                                "reinstall newspipe; a resource without provenance is not shipped"))
            continue
        sums = expected_checksums(provenance)
        if not sums:
            checks.append(Check(component, False, f"{provenance} lists no checksums",
                                "python -m pipeline.training.checksums"))
            continue
        problems = []
        for name, digest in sums.items():
            path = folder / name
            if not path.is_file():
                problems.append(f"{path} is missing")
            elif sha256(path) != digest:
                problems.append(f"{path} does not match its checksum (corrupt or replaced)")
        if problems:
            checks.append(Check(component, False, "; ".join(problems),
                                "reinstall newspipe (pip install --force-reinstall --no-deps .); after rebuilding "
                                "a resource on purpose: python -m pipeline.training.checksums"))
        else:
            checks.append(Check(component, True, f"{len(sums)} file(s), checksums match"))
    return checks


def core_checks() -> list[Check]:
    checks = [Check("Python", sys.version_info >= (3, 10), sys.version.split()[0], "newspipe needs Python 3.10+")]
    checks += [module_check(component, modules) for component, modules in CORE_MODULES.items()]
    return checks + resource_checks()


@functools.lru_cache(maxsize=1)
def _core_failures() -> tuple[Check, ...]:
    return tuple(c for c in core_checks() if c.core and not c.ok)


def ensure_core() -> None:
    """Start-up check of run/replay/feeds: raise RunFailed with doctor's line for the first broken core part."""
    broken = _core_failures()
    if broken:
        first = broken[0]
        raise RunFailed(f"{first.component}: {first.detail}; fix: {first.fix} (details: newspipe doctor)")


def _probe(component: str, fn: Callable[[], str], fix: str, core: bool = True) -> Check:
    try:
        return Check(component, True, fn(), core=core)
    except Exception as exc:  # noqa: BLE001 - a doctor reports every failure, whatever it is
        return Check(component, False, f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}", fix, core)


def model_checks() -> list[Check]:
    """Load each model and ask it something small (seconds, so only in `newspipe doctor`)."""

    def html() -> str:
        from pipeline.lib.pages import extract_html

        page = ("<html><head><title>t</title></head><body><article><h1>عنوان الخبر</h1><p>"
                + "قال المتحدث باسم الوزارة إن الاجتماع سيعقد غدا في العاصمة. " * 4 + "</p></article></body></html>")
        found = extract_html(page)
        if not found or not found[0].body:
            raise RuntimeError("no article extracted from a test page")
        return "trafilatura extracts a test page"

    def language() -> str:
        from pipeline.lib.language import LanguageDetector

        guess = LanguageDetector.load().detect("قال المتحدث باسم الوزارة إن الاجتماع سيعقد غدا في العاصمة")
        if guess.code != "ar":
            raise RuntimeError(f"an Arabic sentence was detected as {guess.code!r}")
        return "lingua + Arabic-script model answer"

    def ner() -> str:
        from pipeline.lib.gazetteer import Gazetteer
        from pipeline.lib.ner import NerTagger

        NerTagger.load()
        Gazetteer.load()
        return "CRF model and gazetteer load"

    def topics() -> str:
        from pipeline.lib.topics import TopicClassifier

        TopicClassifier.load()
        return "topic model loads"

    fix = "reinstall newspipe (pip install -r config/requirements.lock && pip install .)"
    return [_probe("HTML extraction (test page)", html, fix), _probe("language ID (test sentence)", language, fix),
            _probe("NER model", ner, fix), _probe("topic model", topics, fix)]


def store_check(output: str | None, config_path: str | None) -> Check:
    """The S3 endpoint and credentials, when configured (environment, --config or an s3:// --output)."""
    from pipeline.config import load_config, s3_settings

    cfg = load_config(config_path)
    settings = s3_settings(cfg)
    wanted = bool(settings.endpoint) or bool(output and output.startswith("s3://"))
    if not wanted:
        return Check("object store (S3/MinIO)", True, "not configured: local folders only", core=False)

    def probe() -> str:
        from pipeline.io.storage import S3Storage, Storage

        storage = Storage.for_uri("s3://probe", settings)
        assert isinstance(storage, S3Storage)
        if output and output.startswith("s3://"):
            storage.ensure_bucket(output)
            return f"{settings.endpoint or 'AWS'}: bucket of {output} reachable with these credentials"
        names = storage._call("list buckets", settings.endpoint, lambda: storage.client.list_buckets())
        return f"{settings.endpoint}: credentials accepted ({len(names)} bucket(s))"

    return _probe("object store (S3/MinIO)", probe,
                  "check AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", core=False)


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def engine_checks(dask_address: str | None) -> list[Check]:
    """Prism, Flink and Dask: optional engines; each says what it needs when it is not there."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newspipe"
    checks = []
    import apache_beam

    prism = cache / f"prism-v{apache_beam.__version__}" / "prism"
    checks.append(Check("Prism runner", prism.is_file(), str(prism) if prism.is_file() else f"no {prism}",
                        "bash tests/scale/setup_runners.sh (builds Prism from its Go module)", core=False))
    jar = os.environ.get("NEWSPIPE_FLINK_JOB_SERVER_JAR") or next(
        (str(p) for p in sorted(cache.glob("beam-runners-flink-*-job-server-*.jar"))), "")
    java = shutil.which("java")
    flink_ok = bool(jar) and java is not None
    checks.append(Check("Flink runner", flink_ok,
                        f"job server {jar}, java {java}" if flink_ok else
                        f"job-server jar: {jar or 'none'}; java: {java or 'none'}",
                        "set NEWSPIPE_FLINK_JOB_SERVER_JAR to Beam's Flink job-server jar (docs/runners.md)",
                        core=False))

    def dask() -> str:
        import distributed  # noqa: F401 - the dask extra

        if not dask_address:
            return f"distributed {distributed.__version__} installed (give --dask-address to check a cluster)"
        if not _reachable(dask_address):
            raise ConnectionError(f"no scheduler at {dask_address}")
        with distributed.Client(dask_address, timeout=5) as client:
            workers = len(client.scheduler_info().get("workers", {}))
        return f"scheduler {dask_address}: {workers} worker(s)"

    checks.append(_probe("Dask runner", dask, "pip install 'newspipe[dask]'; start `dask scheduler` and `dask worker`",
                         core=False))
    return checks


def full_report(output: str | None = None, config_path: str | None = None,
                dask_address: str | None = None) -> list[Check]:
    return [*core_checks(), *model_checks(), store_check(output, config_path), *engine_checks(dask_address)]
