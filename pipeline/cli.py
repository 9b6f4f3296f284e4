"""The `newspipe` command line (also `python -m pipeline`).

Errors a user can fix (missing input, bad config, unreachable or refusing object store) print one
line naming what and how to fix it, and exit with code 2; `-v` shows the traceback too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline import __version__

app = typer.Typer(
    name="newspipe",
    help="Arabic-first news pipeline on Apache Beam: read, split, clean, enrich and store articles.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="rich",
)
eval_app = typer.Typer(help="Measure extraction and enrichment quality; each prints one JSON object.")
app.add_typer(eval_app, name="eval")

err = Console(stderr=True)
out = Console()
_verbose = 0

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of the record (it may be swapped, e.g. in tests)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # type: ignore[no-untyped-def]
        pass


def _setup_logging(verbose: int, quiet: bool) -> None:
    global _verbose
    _verbose = verbose
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Beam warns at import time about optional GCP client libraries newspipe does not use.
    logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())
    if verbose < 2:
        for noisy in ("apache_beam", "urllib3", "trafilatura", "htmldate"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


@contextlib.contextmanager
def _live_progress(enabled: bool, every: float = 10.0) -> Iterator[None]:
    """A live line on a terminal (rich), or a plain log line every `every` s (CI, cron)."""
    if not enabled:
        yield
        return
    from rich.live import Live
    from rich.text import Text

    from pipeline import progress

    progress.reset()
    started = time.monotonic()
    done = threading.Event()

    def line() -> str:
        counts = progress.snapshot()
        elapsed = time.monotonic() - started
        parsed = counts.get("parse.out", 0)
        return (
            f"files read {counts.get('read.out', 0)} · articles {parsed} processed, "
            f"{counts.get('articles_written', 0)} written · dead letters {counts.get('dead_letters', 0)} · "
            f"{elapsed:.0f} s · {parsed / elapsed if elapsed > 0 else 0:.1f} articles/s"
        )

    def tick(show, every_s: float) -> None:  # type: ignore[no-untyped-def]
        while not done.wait(every_s):
            show(line())

    live = Live(Text(line()), console=err, refresh_per_second=4, transient=True) if err.is_terminal else None
    if live is not None:
        live.start()
        ticker = threading.Thread(target=tick, args=(lambda text: live.update(Text(text)), 0.25), daemon=True)
    else:
        ticker = threading.Thread(
            target=tick, args=(lambda text: err.print(f"progress: {text}", highlight=False, soft_wrap=True), every),
            daemon=True,
        )
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        if live is not None:
            live.stop()


def _fail(message: str) -> "typer.Exit":
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _user_errors():  # type: ignore[no-untyped-def]
    from pipeline.config import ConfigError
    from pipeline.io.sources import InputError
    from pipeline.io.storage import StorageError

    return (ConfigError, InputError, StorageError)


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    """Errors a user can fix: one line and exit code 2. A broken environment (pipeline/errors.py: a missing
    module or model, memory, the disk, a systematic failure): one line and exit code 3, nothing committed.
    `-v` adds the traceback."""
    from pipeline.errors import RunFailed

    try:
        yield
    except _user_errors() as exc:
        if _verbose:
            err.print_exception()
        raise _fail(str(exc)) from None
    except RunFailed as exc:
        if _verbose:
            err.print_exception()
        err.print(f"[bold red]run failed:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=3) from None


def _emit(summary, json_summary: bool, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    if json_summary:
        out.print_json(json.dumps(summary.as_dict(), default=str))
    elif not quiet:
        _print_summary(summary)


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        out.print(f"newspipe {__version__}")
        raise typer.Exit()


@app.command(context_settings=PASS_THROUGH)
def run(
    ctx: typer.Context,
    input: List[str] = typer.Option(..., "--input", "-i", help="File, folder, glob or s3:// URI (repeatable)."),
    output: str = typer.Option(..., "--output", "-o", help="Local folder or s3://bucket/prefix."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (see config/default.yaml)."),
    format: Optional[str] = typer.Option(None, "--format", help="parquet (default) or jsonl."),
    incremental: bool = typer.Option(
        False, "--incremental", help="Only inputs no earlier successful run committed (safe for cron/Airflow)."
    ),
    json_summary: bool = typer.Option(False, "--json", help="Print the run summary as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logging (-vv for Beam's)."),
) -> None:
    """Run the batch pipeline over files.

    Examples:

      newspipe run --input 'seeds/*' --output ./out

      newspipe run -i 'data/**/*.jsonl.gz' -o s3://news/archive --config config/minio.yaml

      newspipe run -i 'seeds/*' -o ./out --direct_num_workers=2 --direct_running_mode=multi_processing

    Unknown --flags pass through to Beam (--runner, --flink_master, ...).
    """
    _setup_logging(verbose, quiet)
    from pipeline.config import load_config
    from pipeline.run import run_batch

    with _one_line_errors():
        cfg = load_config(config)
        if format:
            if format not in ("parquet", "jsonl"):
                raise _fail(f"--format {format!r}: use parquet or jsonl")
            cfg = cfg.replace(output=dataclasses.replace(cfg.output, format=format))
        with _live_progress(not (quiet or json_summary)):
            summary = run_batch(input, output, cfg, ctx.args, incremental=incremental)
    _emit(summary, json_summary, quiet)


def _duration(text: str, flag: str) -> int:
    """'60s', '15m', '2h', '1d' or plain seconds → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(float(text))
    except ValueError:
        raise _fail(f"{flag} {text!r}: use a duration like 60s, 15m, 2h or 1d") from None


@app.command(context_settings=PASS_THROUGH)
def replay(
    ctx: typer.Context,
    input: List[str] = typer.Option(..., "--input", "-i", help="Files, folders or globs to replay."),
    output: str = typer.Option(..., "--output", "-o", help="Local folder or s3://bucket/prefix."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Pages per second (instead of --speedup)."),
    speedup: Optional[float] = typer.Option(None, "--speedup", help="Replay the real event-time gaps X times faster."),
    window: str = typer.Option("60s", "--window", help="Fixed event-time window, e.g. 60s, 1h, 1d."),
    allowed_lateness: str = typer.Option("10m", "--allowed-lateness", help="How late data may still join its window."),
    loop: bool = typer.Option(False, "--loop", help="Start over when the replay is exhausted (runs until stopped)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config."),
    json_summary: bool = typer.Option(False, "--json", help="Print the run summary as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logging."),
) -> None:
    """Replay files as a stream with event time (Beam streaming mode), writing windowed output.

    Each page's event time is its publication date, else a slot in an hourly synthetic schedule.
    The run ends by itself when the replay is exhausted (unless --loop).

    Example:

      newspipe replay --input 'seeds/*' --output /tmp/s --speedup 1000 --window 1d
    """
    _setup_logging(max(verbose, 0 if quiet else 1), quiet)
    from pipeline.config import load_config
    from pipeline.run import run_replay

    if rate is not None and speedup is not None:
        raise _fail("give --rate or --speedup, not both")
    if (rate is not None and rate <= 0) or (speedup is not None and speedup <= 0):
        raise _fail("--rate and --speedup must be positive")
    with _one_line_errors():
        with _live_progress(not (quiet or json_summary)):
            summary = run_replay(
                input, output, load_config(config), ctx.args, rate=rate, speedup=speedup,
                window_seconds=_duration(window, "--window"),
                lateness_seconds=_duration(allowed_lateness, "--allowed-lateness"), loop=loop,
            )
    _emit(summary, json_summary, quiet)


@app.command(context_settings=PASS_THROUGH)
def feeds(
    ctx: typer.Context,
    feed: List[str] = typer.Option(..., "--feed", "-f", help="Feed URL (http/https) or feed file (repeatable)."),
    output: str = typer.Option(..., "--output", "-o", help="Local folder or s3://bucket/prefix."),
    every: Optional[str] = typer.Option(None, "--every", help="Poll again every interval (e.g. 15m) until Ctrl-C."),
    once: bool = typer.Option(False, "--once", help="Poll once and exit (the default)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (feeds: section)."),
    json_summary: bool = typer.Option(False, "--json", help="Print each run summary as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logging."),
) -> None:
    """Poll RSS/Atom/RDF/JSON feeds and run the pipeline on entries not seen before.

    Seen entries, ETag and Last-Modified are kept per feed in <output>/_state/feeds/ (written after
    a successful run). Feeds that fail (HTTP error, timeout, too large, refused address, malformed)
    become dead letters; the run still exits 0. See docs/feeds.md for the security defaults.

    Examples:

      newspipe feeds --feed https://example.com/rss.xml --output ./out --once

      newspipe feeds -f https://a.example/atom -f feeds/local.xml -o s3://news/feeds --every 15m
    """
    _setup_logging(verbose, quiet)
    from pipeline.config import load_config
    from pipeline.run import run_feeds

    if every is not None and once:
        raise _fail("give --every or --once, not both")
    interval = _duration(every, "--every") if every is not None else 0
    if every is not None and interval <= 0:
        raise _fail("--every must be a positive duration, e.g. 15m")
    stop = _StopOnSignal()
    with _one_line_errors(), stop:
        try:
            cfg = load_config(config)
            while True:
                with _live_progress(not (quiet or json_summary)):
                    summary = run_feeds(feed, output, cfg, ctx.args)
                _emit(summary, json_summary, quiet)
                if not interval or stop.wait(interval):
                    break
        except KeyboardInterrupt:
            pass
        except Exception:  # noqa: BLE001 - Beam re-raises an interrupt inside a stage as RuntimeError
            if not stop.requested:
                raise
        if stop.requested:
            # Rows and feed state commit together (pipeline/io/commit.py): an interrupted run's entries
            # come again next time.
            err.print("stopped; entries of an interrupted run will be polled again next time")


class _StopOnSignal:
    """SIGINT/SIGTERM stop a polling loop within seconds, even mid-run, and never mid-commit.

    Between runs the wait just ends. During a run the signal interrupts it (KeyboardInterrupt: nothing of
    it is committed); inside a commit section it is held until the commit is whole. A watchdog then makes
    sure the process is gone within STOP_SECONDS even if a library's threads would delay the exit."""

    STOP_SECONDS = 4.0

    def __init__(self) -> None:
        self.requested = False
        self._event = threading.Event()
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "_StopOnSignal":
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def _handle(self, signum: int, frame: object) -> None:
        from pipeline.io.commit import defer_interrupt

        first = not self.requested
        self.requested = True
        self._event.set()
        if first:
            threading.Thread(target=self._watchdog, daemon=True).start()
        if not defer_interrupt():
            raise KeyboardInterrupt

    def _watchdog(self) -> None:
        import os

        from pipeline.io.commit import committing

        time.sleep(self.STOP_SECONDS)
        while committing():  # a commit is short: let it finish whole
            time.sleep(0.05)
        sys.stderr.write("stopped; entries of an interrupted run will be polled again next time\n")
        sys.stderr.flush()
        os._exit(0)


def _print_summary(summary) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"newspipe run {summary.run_id}", show_header=False)
    table.add_row("input files", str(summary.inputs))
    table.add_row("articles written", str(summary.articles))
    if summary.already_present:
        table.add_row("already in output", str(summary.already_present))
    for why, n in summary.inputs_skipped.items():
        if n:
            table.add_row(f"inputs skipped ({why.replace('_', ' ')})", str(n))
    table.add_row("dead letters", str(summary.dead_letters))
    for reason, n in sorted(summary.dead_letters_by_reason.items()):
        table.add_row(f"  {reason}", str(n))
    table.add_row("seconds", f"{summary.seconds:.1f}")
    table.add_row("output", summary.output)
    table.add_row("manifest", summary.manifest_uri)
    err.print(table)
    err.print(
        f"{summary.articles} articles written, {summary.dead_letters} dead letters "
        f"({summary.inputs} files) → {summary.output}",
        highlight=False,
    )


@app.command(context_settings=PASS_THROUGH)
def redrive(
    ctx: typer.Context,
    dead_letters: str = typer.Argument(..., help="A dead_letters folder, a day partition or one .jsonl file."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Default: the output the dead letters belong to."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (e.g. with the fix applied)."),
    json_summary: bool = typer.Option(False, "--json", help="Print the run summary as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logging."),
) -> None:
    """Re-drive dead letters after a fix: files are read again, records re-enter the stage that failed.

    Rows that are already in the output are not written twice.

    Example: newspipe redrive ./out/dead_letters --config bigger-limits.yaml
    """
    _setup_logging(verbose, quiet)
    from pipeline.config import load_config
    from pipeline.run import run_redrive

    with _one_line_errors():
        summary = run_redrive(dead_letters, output, load_config(config), ctx.args)
    _emit(summary, json_summary, quiet)


@app.command()
def inspect(
    uri: str = typer.Argument(..., help="An output folder or s3://bucket/prefix written by newspipe."),
    sql: Optional[str] = typer.Option(None, "--sql", help="SQL over the views articles, entities, topics, dead_letters, runs."),
    format: str = typer.Option("table", "--format", help="table, csv or json."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (S3 endpoint)."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True),
) -> None:
    """Open an output in DuckDB: a summary by default, or run --sql and print the result.

    Examples:

      newspipe inspect ./out

      newspipe inspect ./out --sql "select outlet, count(*) from articles group by 1"

      newspipe inspect s3://newspipe/seeds --sql "select canonical, count(*) n from entities group by 1 order by n desc limit 10" --format csv
    """
    _setup_logging(verbose, False)
    import duckdb

    from pipeline.config import load_config, s3_settings
    from pipeline.io.duck import connect, query, render, summary

    if format not in ("table", "csv", "json"):
        raise _fail(f"--format {format!r}: use table, csv or json")
    with _one_line_errors():
        try:
            cfg = load_config(config)
            con = connect(uri, s3_settings(cfg) if uri.startswith("s3://") else None)
            if sql:
                columns, rows = query(con, sql)
                text = render(columns, rows, format)
                sys.stdout.write(text if text.endswith("\n") else text + "\n")  # csv/table end in one newline
            else:
                _print_json(summary(con))
        except duckdb.Error as exc:
            raise _fail(f"SQL error: {str(exc).splitlines()[0]}") from None


@app.command()
def report(
    uri: str = typer.Argument(..., help="An output folder or s3://bucket/prefix written by newspipe."),
    out_file: Path = typer.Option(Path("report.html"), "--out", help="Where to write the HTML page."),
    run_id: Optional[str] = typer.Option(None, "--run", help="Only this run (default: the whole output)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (S3 endpoint)."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True),
) -> None:
    """Write a self-contained HTML report (plots, entities, stories, dead letters) for an output.

    Example: newspipe report ./out --out report.html
    """
    _setup_logging(verbose, False)
    from pipeline.config import load_config, s3_settings
    from pipeline.report import build_report

    with _one_line_errors():
        try:
            cfg = load_config(config)
            html = build_report(uri, s3_settings(cfg) if uri.startswith("s3://") else None, run_id)
        except ValueError as exc:  # e.g. an unknown --run id
            raise _fail(str(exc)) from None
    out_file.write_text(html, encoding="utf-8")
    err.print(f"report written to {out_file}")


@app.command()
def doctor(
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Also check this output (e.g. an s3:// bucket)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (S3 endpoint)."),
    dask_address: Optional[str] = typer.Option(None, "--dask-address", help="Also check a Dask scheduler HOST:PORT."),
    json_out: bool = typer.Option(False, "--json", help="Print the checks as JSON on stdout."),
) -> None:
    """Check every component: modules, shipped models and their checksums, the object store, the engines.

    Exits 1 when a core component is broken (the same checks run at the start of run, replay and feeds).

    Example: newspipe doctor --output s3://news/archive --dask-address 127.0.0.1:8786
    """
    _setup_logging(0, True)
    from pipeline.doctor import full_report

    with _one_line_errors():
        checks = full_report(output, str(config) if config else None, dask_address)
    if json_out:
        _print_json({"checks": [dict(c.__dict__, status=c.status) for c in checks]})
    else:
        table = Table(title=f"newspipe {__version__} doctor")
        for column in ("component", "status", "detail", "fix"):
            table.add_column(column, overflow="fold")
        style = {"OK": "green", "BROKEN": "bold red", "not available": "yellow"}
        for c in checks:
            table.add_row(c.component, f"[{style[c.status]}]{c.status}[/]", c.detail, "" if c.ok else c.fix)
        out.print(table)
    if any(c.core and not c.ok for c in checks):
        raise typer.Exit(code=1)


def _print_json(result: dict) -> None:
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


@eval_app.command("ner")
def eval_ner(
    conll: Path = typer.Option(..., "--conll", exists=True, dir_okay=False, help="token-per-line 'token TAG' BIO file."),
    crf_only: bool = typer.Option(False, "--crf-only", help="Score the trained tagger alone, without the gazetteer."),
    doc_size: int = typer.Option(
        1, "--doc-size", min=1, help="Tag N consecutive sentences as one text, as an article is (document consistency)."
    ),
) -> None:
    """Entity P/R/F1 per type (conlleval-style) of the same tagger the pipeline runs.

    Example: newspipe eval ner --conll ANERCorp_test.txt [--doc-size 10]
    """
    from pipeline.evaluate.ner import evaluate_conll
    from pipeline.lib.gazetteer import Gazetteer
    from pipeline.lib.ner import NerTagger

    err.print(f"scoring {conll} ...")
    gazetteer = None if crf_only else Gazetteer.load()
    _print_json(evaluate_conll(str(conll), NerTagger.load(), gazetteer, crf_only=crf_only, doc_size=doc_size))


@eval_app.command("topics")
def eval_topics(
    ant_tar: Path = typer.Option(..., "--ant-tar", exists=True, dir_okay=False, help="ANT corpus .tar.xz"),
    manifest: Path = typer.Option(..., "--manifest", exists=True, dir_okay=False, help="ANT manifest .tsv"),
) -> None:
    """Accuracy, macro-F1 and confusion of the IPTC topic classifier on an ANT-format corpus.

    Example: newspipe eval topics --ant-tar ant.tar.xz --manifest manifest.tsv
    """
    from pipeline.evaluate.topics import evaluate_ant
    from pipeline.lib.topics import TopicClassifier

    err.print(f"scoring {ant_tar} ...")
    _print_json(evaluate_ant(str(ant_tar), str(manifest), TopicClassifier.load()))


@eval_app.command("lang")
def eval_lang(
    dir: Optional[Path] = typer.Option(None, "--dir", exists=True, file_okay=False, help="One <iso-code>.txt per language, one sample per line."),
    lingua_testdata: Optional[Path] = typer.Option(
        None, "--lingua-testdata", exists=True, file_okay=False,
        help="lingua's language-testdata/ (single-words, word-pairs, sentences): ours side by side with lingua.",
    ),
    baseline_cache: Optional[Path] = typer.Option(None, "--baseline-cache", help="JSON file keeping lingua's answers between runs."),
) -> None:
    """Language-ID accuracy per language (and per text length against lingua with --lingua-testdata).

    Example: newspipe eval lang --dir tests/fixtures/lang
    """
    from pipeline.config import Config
    from pipeline.lib.language import LanguageDetector

    min_confidence = Config().language.min_confidence
    if lingua_testdata is not None:
        from pipeline.evaluate.lang import LinguaBaseline, evaluate_lingua_testdata

        err.print(f"scoring {lingua_testdata} (lingua too: minutes) ...")
        _print_json(
            evaluate_lingua_testdata(
                str(lingua_testdata), LanguageDetector.load(min_confidence=0.0), LinguaBaseline(),
                min_confidence=min_confidence, baseline_cache=str(baseline_cache) if baseline_cache else None,
            )
        )
        return
    if dir is None:
        raise _fail("give --dir or --lingua-testdata")
    from pipeline.evaluate.lang import evaluate_lang_dir

    _print_json(evaluate_lang_dir(str(dir), LanguageDetector.load(min_confidence=min_confidence)))


@eval_app.command("seeds")
def eval_seeds(
    seeds: Path = typer.Option(Path("seeds"), "--seeds", exists=True, file_okay=False, help="Folder of seed pages."),
    gold: Optional[Path] = typer.Option(None, "--gold", help="Gold JSON (default: tests/fixtures/seeds.gold.json)."),
) -> None:
    """Split/title/body/date/outlet/keyword checks, entity recall, QID accuracy and same-story pairs on the seeds.

    Example: newspipe eval seeds
    """
    from pipeline.evaluate.seeds import GOLD_PATH, evaluate_seed_files

    gold_data = json.loads((gold or GOLD_PATH).read_text(encoding="utf-8"))
    _print_json(evaluate_seed_files(sorted(str(p) for p in seeds.glob("*.txt")), gold_data))


def entrypoint() -> None:
    app()


if __name__ == "__main__":
    entrypoint()
