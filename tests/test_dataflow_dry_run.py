"""The real batch graph stays valid for Google Cloud Dataflow: DataflowRunner translates it with --dry_run.

Offline and without credentials: --no_auth, --sdk_location=container (nothing staged), a container image
name, dummy project/region/temp_location; with --dry_run Beam builds the Dataflow job (portable pipeline
proto + job description) and returns before any client to the service is made. Needs apache-beam[gcp]
(the `dataflow` extra), which lives in a venv of its own (tests/run.sh: config/requirements-dataflow.lock,
NEWSPIPE_TEST_DATAFLOW_PYTHON): this file, run as a script there, translates the graph and prints what the
job holds; the test asserts on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import apache_beam as beam

ROOT = Path(__file__).resolve().parents[1]
IMAGE = f"apache/beam_python3.11_sdk:{beam.__version__}"
DRY_RUN = [
    "--runner=DataflowRunner", "--dry_run=True", "--no_auth",
    "--project=newspipe-dry-run", "--region=europe-west1", "--temp_location=gs://newspipe-dry-run/tmp",
    "--sdk_location=container", f"--sdk_container_image={IMAGE}",
]


def dry_run(out: Path) -> dict:
    """Translate the real batch graph with DataflowRunner --dry_run; what the job holds, as JSON-able facts."""
    from apache_beam.portability import common_urns
    from apache_beam.runners.runner import PipelineState

    from pipeline.config import Config
    from pipeline.graph import RunContext, build
    from pipeline.io.sources import ReadFiles, expand_inputs
    from pipeline.lib.ids import new_run_id
    from pipeline.run import pipeline_options

    cfg = Config()
    started = datetime.now(timezone.utc)
    ctx = RunContext(run_id=new_run_id(started), output=str(out), started_at=started, settings=None)
    files = expand_inputs([str(ROOT / "seeds" / "*")], None)
    p = beam.Pipeline(options=pipeline_options(cfg, DRY_RUN))
    build(p, cfg, ReadFiles(files, cfg, None), ctx)
    result = p.run()
    job = result.job  # the job Dataflow would have been sent
    proto = job.proto_pipeline
    leaves = [t for t in proto.components.transforms.values() if not t.subtransforms]
    envs = list(proto.components.environments.values())
    return {
        "state": str(result.state), "done": str(PipelineState.DONE),
        "labels": sorted(t.unique_name for t in proto.components.transforms.values()),
        "env_urns": sorted({e.urn for e in envs}), "docker_urn": common_urns.environments.DOCKER.urn,
        "envs_with_image": sum(IMAGE.encode() in e.payload for e in envs), "envs": len(envs),
        "leaf_urns": [t.spec.urn for t in leaves],
        "known_urns": sorted({common_urns.primitives.PAR_DO.urn, common_urns.primitives.GROUP_BY_KEY.urn,
                              common_urns.primitives.FLATTEN.urn, common_urns.primitives.IMPULSE.urn,
                              common_urns.composites.RESHUFFLE.urn, common_urns.primitives.ASSIGN_WINDOWS.urn}),
        "gbk_urn": common_urns.primitives.GROUP_BY_KEY.urn,
        "batch_job": '"JOB_TYPE_BATCH"' in job.json(),
    }


def _dataflow_python() -> str:
    import pytest  # here, not at the top: the dataflow venv runs this file without pytest

    python = os.environ.get("NEWSPIPE_TEST_DATAFLOW_PYTHON", "")
    if python and Path(python).exists():
        return python
    reason = "no venv with apache-beam[gcp] (NEWSPIPE_TEST_DATAFLOW_PYTHON; `bash tests/run.sh` makes it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " (CI=true: the Dataflow check must run)")
    pytest.skip(reason)


def test_batch_graph_translates_for_dataflow(tmp_path: Path) -> None:
    proc = subprocess.run([_dataflow_python(), __file__, str(tmp_path / "out")], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])

    assert facts["state"] == facts["done"]
    for stage in ("Read/SpreadFiles", "Read/ReadFile", "Enrich/DetectLanguage", "Enrich/TagEntities",
                  "Enrich/ClassifyTopics", "WriteArticles/GroupByPartition", "WriteDeadLetters", "AllDeadLetters"):
        assert any(name == stage or name.startswith(stage + "/") for name in facts["labels"]), f"{stage} missing"
    # Every environment is the Docker image named (nothing staged, nothing to download), and every
    # primitive is one the Dataflow service knows: ParDo, GroupByKey, Flatten, Impulse, Reshuffle.
    assert facts["envs"] and facts["env_urns"] == [facts["docker_urn"]]
    assert facts["envs_with_image"] == facts["envs"]
    unknown = sorted(set(facts["leaf_urns"]) - set(facts["known_urns"]))
    assert not unknown, f"primitives Dataflow would not know: {unknown}"
    assert facts["leaf_urns"].count(facts["gbk_urn"]) >= 4
    # The job description the service would get: a batch job (nothing here needs streaming).
    assert facts["batch_job"]


if __name__ == "__main__":  # run in the dataflow venv, from the checkout (newspipe is not installed there)
    sys.path.insert(0, str(ROOT))
    print(json.dumps(dry_run(Path(sys.argv[1]))))
