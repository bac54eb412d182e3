"""Fuzzing the spec loader: whatever data arrives (from YAML, Pulumi config or another
language), it either validates or raises SpecError — never another exception."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_iac.spec import SpecError, StackSpec

FIELDS = [
    "name", "target", "kind", "cluster", "profile", "namespace", "registry", "replicas",
    "serving", "model", "runtime", "canary", "weight", "autoscaling", "min", "max",
    "training", "jobs", "schedule", "quota", "cpu", "memory", "gpu", "dataset", "estimator",
    "metric", "feature_store", "repo", "monitoring", "drift", "endpoint", "retrain_job",
    "threshold", "routing", "mode", "resources", "ingress", "host", "enabled", "image",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["kind", "mlops", "models:/a@b", "0 3 * * *", "2Gi", "-1", "", "latest"]),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4),
    ),
    max_leaves=12,
)
BASE: dict[str, Any] = {"name": "fuzz", "target": {"kind": "kind"}}


def load(data: Any) -> None:
    """Validate `data`; SpecError is a fine answer, anything else fails the test."""
    with contextlib.suppress(SpecError):
        StackSpec.load(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_any_data_validates_or_raises_the_spec_error(data):
    load(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5))
def test_any_fields_on_a_valid_base_validate_or_raise_the_spec_error(fields):
    load({**BASE, **fields})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["serving", "training", "monitoring", "feature_store", "registry"]),
    VALUES,
)
def test_any_section_content_validates_or_raises_the_spec_error(section, value):
    load({**BASE, section: value})
