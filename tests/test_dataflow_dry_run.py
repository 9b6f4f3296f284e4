"""The real batch graph stays valid for Google Cloud Dataflow: DataflowRunner translates it with --dry_run.

Offline and without credentials: --no_auth, --sdk_location=container (nothing staged), a container image
name, dummy project/region/temp_location; with --dry_run Beam builds the Dataflow job (portable pipeline
proto + job description) and returns before any client to the service is made. Needs apache-beam[gcp]
(in the dev extra).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import apache_beam as beam
import pytest

ROOT = Path(__file__).resolve().parents[1]
IMAGE = f"apache/beam_python3.11_sdk:{beam.__version__}"
DRY_RUN = [
    "--runner=DataflowRunner", "--dry_run=True", "--no_auth",
    "--project=newspipe-dry-run", "--region=europe-west1", "--temp_location=gs://newspipe-dry-run/tmp",
    "--sdk_location=container", f"--sdk_container_image={IMAGE}",
]


def test_batch_graph_translates_for_dataflow(tmp_path: Path) -> None:
    pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient",
                        reason="apache-beam[gcp] is not installed (pip install -e '.[dev]')")
    from apache_beam.portability import common_urns
    from apache_beam.runners.runner import PipelineState

    from pipeline.config import Config
    from pipeline.graph import RunContext, build
    from pipeline.io.sources import ReadFiles, expand_inputs
    from pipeline.lib.ids import new_run_id
    from pipeline.run import pipeline_options

    cfg = Config()
    started = datetime.now(timezone.utc)
    ctx = RunContext(run_id=new_run_id(started), output=str(tmp_path / "out"), started_at=started, settings=None)
    files = expand_inputs([str(ROOT / "seeds" / "*")], None)
    p = beam.Pipeline(options=pipeline_options(cfg, DRY_RUN))
    build(p, cfg, ReadFiles(files, cfg, None), ctx)
    result = p.run()

    assert result.state == PipelineState.DONE
    job = result.job  # the job Dataflow would have been sent
    proto = job.proto_pipeline
    labels = {t.unique_name for t in proto.components.transforms.values()}
    for stage in ("Read/SpreadFiles", "Read/ReadFile", "Enrich/DetectLanguage", "Enrich/TagEntities",
                  "Enrich/ClassifyTopics", "WriteArticles/GroupByPartition", "WriteDeadLetters", "AllDeadLetters"):
        assert any(name == stage or name.startswith(stage + "/") for name in labels), f"{stage} missing from the job"
    # Every environment is the Docker image named (nothing staged, nothing to download), and every
    # primitive is one the Dataflow service knows: ParDo, GroupByKey, Flatten, Impulse, Reshuffle.
    envs = list(proto.components.environments.values())
    assert envs and all(e.urn == common_urns.environments.DOCKER.urn for e in envs)
    assert all(IMAGE.encode() in e.payload for e in envs)
    known = {common_urns.primitives.PAR_DO.urn, common_urns.primitives.GROUP_BY_KEY.urn,
             common_urns.primitives.FLATTEN.urn, common_urns.primitives.IMPULSE.urn,
             common_urns.composites.RESHUFFLE.urn, common_urns.primitives.ASSIGN_WINDOWS.urn}
    leaves = [t for t in proto.components.transforms.values() if not t.subtransforms]
    unknown = sorted({t.spec.urn for t in leaves} - known)
    assert not unknown, f"primitives Dataflow would not know: {unknown}"
    assert sum(t.spec.urn == common_urns.primitives.GROUP_BY_KEY.urn for t in leaves) >= 4
    # The job description the service would get: a batch job (nothing here needs streaming).
    assert '"JOB_TYPE_BATCH"' in job.json()
