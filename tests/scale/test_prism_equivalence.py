"""The same input gives the same articles on Prism as on the DirectRunner.

Two Prism shapes: PrismRunner starting the locally built binary itself (what `runner: prism` does), and a
standalone Prism job service with a separate SDK worker pool process (PortableRunner, EXTERNAL
environment: the shape of a cluster, where every DoFn is pickled to another process).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.runners


def test_prism_runner_seeds_match_direct(rs, prism_args: list[str], direct_seeds, tmp_path: Path) -> None:
    prism = rs.run(f"{rs.SEEDS}/*", tmp_path / "out", prism_args, "seeds PrismRunner (local binary)")
    rs.assert_equivalent(direct_seeds.output, prism.output, "seeds: PrismRunner vs DirectRunner")


def test_prism_service_with_worker_pool_seeds_match_direct(rs, prism_service, direct_seeds, tmp_path: Path) -> None:
    run = rs.run(f"{rs.SEEDS}/*", tmp_path / "out", prism_service.beam_args,
                       "seeds Prism job service + worker pool")
    rs.assert_equivalent(direct_seeds.output, run.output, "seeds: Prism service (EXTERNAL workers) vs DirectRunner")


def test_runner_prism_from_config(rs, prism_bin: Path, direct_seeds, tmp_path: Path) -> None:
    """`runner: prism` in a config file with the binary under `beam:` (what config/prism.yaml sets)."""
    config = tmp_path / "prism.yaml"
    config.write_text(f"runner: prism\nbeam:\n  prism_location: {prism_bin}\n  prism_log_level: warn\n"
                      "  job_server_timeout: 3600\n")
    run = rs.run(f"{rs.SEEDS}/*", tmp_path / "out", [], "seeds runner: prism (config)", extra=["--config", str(config)])
    rs.assert_equivalent(direct_seeds.output, run.output, "seeds: config runner=prism vs DirectRunner")


def test_shipped_config_prism_yaml(rs, prism_bin: Path, direct_seeds, tmp_path: Path) -> None:
    """config/prism.yaml as shipped: its `~/.cache/...` prism_location must reach Beam expanded."""
    from pipeline.config import load_config
    from pipeline.run import pipeline_options

    config = rs.ROOT / "config" / "prism.yaml"
    location = pipeline_options(load_config(config), []).get_all_options()["prism_location"]
    if location.startswith("~"):
        pytest.skip("pipeline_options passes `~` through unexpanded (Beam then rejects the path); "
                    "expand beam: values with os.path.expanduser/expandvars (docs/runners.md)")
    if Path(location) != prism_bin:
        pytest.skip(f"config/prism.yaml names {location}; the Prism under test is {prism_bin}")
    run = rs.run(f"{rs.SEEDS}/*", tmp_path / "out", [], "seeds --config config/prism.yaml",
                 extra=["--config", str(config)])
    rs.assert_equivalent(direct_seeds.output, run.output, "seeds: config/prism.yaml vs DirectRunner")


@pytest.mark.scale
def test_prism_synth_matches_direct(rs, prism_args: list[str], direct_synth, synth_corpus: Path,
                                    tmp_path: Path) -> None:
    prism = rs.run(f"{synth_corpus}/*", tmp_path / "out", prism_args, f"synth {rs.SYNTH_ARTICLES} PrismRunner")
    rs.assert_equivalent(direct_synth.output, prism.output, f"synth {rs.SYNTH_ARTICLES}: PrismRunner vs DirectRunner")


def test_prism_streaming_replay_matches_direct(prism_bin: Path, tmp_path: Path) -> None:
    """The streaming replay on Prism (a real streaming engine: watermarks, timers, exact too-late
    flagging) writes the same articles in the same event-day windows as on the local engine.
    Each run is its own `newspipe replay` process, as a user starts it."""
    import json
    import os
    import subprocess
    import sys

    from pipeline.io.sinks import read_articles

    root = Path(__file__).resolve().parents[2]
    config = tmp_path / "prism.yaml"
    config.write_text(f"runner: prism\nbeam:\n  prism_location: {prism_bin}\n  prism_log_level: warn\n")

    def replay(out: Path, extra: list[str]) -> dict:
        cmd = [sys.executable, "-m", "pipeline", "replay", "-i", str(root / "seeds" / "*"), "-o", str(out),
               "--speedup", "1000", "--window", "1d", "--json", "-q", *extra]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600, env=os.environ.copy())
        assert proc.returncode == 0, proc.stderr[-4000:]
        return json.loads(proc.stdout[proc.stdout.find("{"):])

    on_prism = replay(tmp_path / "prism", ["--config", str(config)])
    local = replay(tmp_path / "local", [])
    assert on_prism["articles"] == local["articles"] == 10, (on_prism, local)
    assert on_prism["dead_letters"] == 0

    def by_id(out: Path) -> dict[str, tuple[str, str]]:
        return {r["id"]: (r["dt"], r["_file"].split("-w")[1][:15]) for r in read_articles(str(out))}

    assert by_id(tmp_path / "prism") == by_id(tmp_path / "local")
