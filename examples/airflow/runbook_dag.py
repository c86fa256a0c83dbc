"""An Airflow DAG running `runbook up` for every parameter file of a folder, one mapped task each.

Each environment runs through ``runbook_lib.runner`` (locks, redaction, manifests, the hash chain), in
the Airflow pool of its account and region, with no Airflow retries (re-run the DAG: the runbook resumes
itself). Every worker writes the same audit trail, on S3. Settings, from the environment:

- ``RUNBOOK_PARAMS_DIR``: the folder of parameter files [``params/`` next to this repository's root];
- ``RUNBOOK_AUDIT_DIR``: the shared audit trail, ``s3://bucket/prefix`` [the params' ``audit_dir``].

Create the pools first (docs/airflow.md): ``airflow pools set runbook-<account>-<region> 4 "..."``.
"""

from __future__ import annotations

import os
from pathlib import Path

from runbook_lib.airflow import make_dag

PARAMS_DIR = Path(os.environ.get("RUNBOOK_PARAMS_DIR") or Path(__file__).resolve().parents[2] / "params")

dag = make_dag(
    "runbook_up",
    sorted(PARAMS_DIR.glob("*.yaml")),
    action="up",
    audit_dir=os.environ.get("RUNBOOK_AUDIT_DIR") or None,
    tags=["runbook", "app-runner"],
)
