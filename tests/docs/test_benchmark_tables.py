"""The serving table in docs/benchmarks.md is the stored report of the run it describes,
rendered by the benchmark itself: a table edited by hand, or a report replaced without the
docs, fails here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "benchmarks" / "results" / "serving.json"


def test_the_docs_serving_table_is_the_stored_report():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from serving_report import markdown_table
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    report = json.loads(REPORT.read_text())

    assert markdown_table(report) in (REPO / "docs" / "benchmarks.md").read_text()


def test_the_stored_report_chose_the_default_runtime():
    from mlops_iac.spec.serving import EndpointSpec

    report = json.loads(REPORT.read_text())
    default = EndpointSpec.model_fields["runtime"].default

    # `builtin` or `builtin_workers<N>`: the same runtime, the worker count is the endpoint's
    assert report["winner"]["name"].split("_")[0] == default
    assert report["own_runtime"]["build"] is True  # no maintained third-party one came close
    assert all(row["failed_all_loads"] == 0 for row in report["at_c8_rows1"]["candidates"].values())
