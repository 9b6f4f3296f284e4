"""Example Airflow DAG: newspipe as a scheduled incremental batch job (not executed by the tests).

Every 15 minutes, process whatever landed in the inbox since the last successful run. `--incremental`
keeps a ledger in the output (`_state/runs/`), so a retried or overlapping task never processes an
input twice; concurrent runs claim inputs with a conditional write.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="newspipe_incremental",
    start_date=datetime(2026, 1, 1),
    schedule=timedelta(minutes=15),
    catchup=False,
    max_active_runs=2,  # safe: the ledger stops two runs from taking the same input
    default_args={"retries": 3, "retry_delay": timedelta(minutes=2)},
) as dag:
    BashOperator(
        task_id="newspipe_run",
        bash_command=(
            "newspipe run --incremental --quiet --json "
            "--input 's3://news-inbox/pages/**' --output s3://news-archive/newspipe "
            "--config /etc/newspipe/minio.yaml"
        ),
        # Credentials come from the environment (an Airflow connection exported as env vars).
        env={"AWS_ENDPOINT_URL": "{{ var.value.newspipe_s3_endpoint }}",
             "AWS_ACCESS_KEY_ID": "{{ conn.newspipe_s3.login }}",
             "AWS_SECRET_ACCESS_KEY": "{{ conn.newspipe_s3.password }}"},
        append_env=True,
    )
