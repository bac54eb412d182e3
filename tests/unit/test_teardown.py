"""`down` keeps the data: what it destroys and what it leaves under management."""

from __future__ import annotations

from typing import Any

from mlops_iac.deploy import kept_with_data, teardown_targets

STACK = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
PROVIDER = "urn:pulumi:s::p::pulumi:providers:kubernetes::k8s"


def resource(name: str, **fields: Any) -> dict[str, Any]:
    return {"urn": f"urn:pulumi:s::p::kubernetes:x::{name}", "type": "kubernetes:x", **fields}


def urn(name: str) -> str:
    return f"urn:pulumi:s::p::kubernetes:x::{name}"


STATE = [
    {"urn": STACK, "type": "pulumi:pulumi:Stack"},
    {"urn": PROVIDER, "type": "pulumi:providers:kubernetes", "parent": STACK},
    resource("namespace", retainOnDelete=True, provider=f"{PROVIDER}::id-1", parent=STACK),
    resource("password", parent=STACK),
    resource(
        "postgres",
        retainOnDelete=True,
        dependencies=[urn("namespace")],
        propertyDependencies={"env": [urn("password")]},
        provider=f"{PROVIDER}::id-1",
        parent=STACK,
    ),
    resource("mlflow", dependencies=[urn("postgres")], provider=f"{PROVIDER}::id-1"),
    resource("route", dependencies=[urn("mlflow")], provider=f"{PROVIDER}::id-1"),
]


def test_data_keeps_its_dependencies_parents_and_provider() -> None:
    assert kept_with_data(STATE) == {
        STACK,
        PROVIDER,
        urn("namespace"),
        urn("password"),
        urn("postgres"),
    }


def test_down_destroys_everything_else_and_never_the_stack_itself() -> None:
    assert teardown_targets(STATE) == [urn("mlflow"), urn("route")]


def test_without_data_everything_but_the_stack_goes() -> None:
    plain = [{**r, "retainOnDelete": False} for r in STATE]

    assert teardown_targets(plain) == [r["urn"] for r in STATE[1:]]
