"""The model-fetch init container's waiting logic against a fake registry and a fake clock
(the real registry: tests/workloads/test_model_fetch_local.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ErrorCode

from mlops_iac.workloads.model_fetch import (
    FetchError,
    Waiting,
    parse_model_uri,
    wait_for_model,
)


@dataclass
class Version:
    status: str = "READY"
    status_message: str = ""


@dataclass
class Model:
    aliases: dict[str, str] = field(default_factory=dict)


class FakeRegistry:
    """Answers each call with the next entry of `answers` (the last one repeats): an
    exception is raised, anything else returned."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls = 0

    def _answer(self) -> Any:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    def get_registered_model(self, name: str) -> Model:
        answer: Model = self._answer()
        return answer

    def get_model_version(self, name: str, version: str) -> Version:
        answer: Version = self._answer()
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def missing(code: str = "RESOURCE_DOES_NOT_EXIST") -> MlflowException:
    return MlflowException("nope", error_code=ErrorCode.Value(code))


WAITING = Waiting(poll_seconds=10, log_seconds=60, unreachable_seconds=100, hint="train it")


def run(registry: FakeRegistry, uri: str = "models:/churn@champion") -> tuple[str, Clock]:
    clock = Clock()
    version = wait_for_model(
        registry, parse_model_uri(uri), WAITING, clock=clock, sleep=clock.sleep
    )
    return version, clock


def test_it_waits_for_the_model_then_the_alias_logging_once_a_minute(caplog):
    registry = FakeRegistry([missing()] * 3 + [Model()] * 5 + [Model({"champion": "4"}), Version()])
    caplog.set_level(logging.WARNING, "mlops_iac.model_fetch")

    version, clock = run(registry)

    assert version == "4"
    assert clock.now == 80
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # at 0 s and at 60 s
    assert lines[0].startswith(
        "waiting for models:/churn@champion: registered model 'churn' does not exist yet "
        "(for 0 s); to serve it, train it."
    )
    assert "registered model 'churn' has no alias 'champion' yet (for 1 min)" in lines[1]


def test_a_version_uri_waits_for_that_version_and_for_its_registration():
    pending = Version("PENDING_REGISTRATION")
    registry = FakeRegistry([missing(), pending, pending, Version()])

    version, clock = run(registry, "models:/churn/7")

    assert version == "7"
    assert clock.now == 30


def test_a_failed_registration_fails():
    registry = FakeRegistry([Model({"champion": "2"}), Version("FAILED_REGISTRATION", "no S3")])

    with pytest.raises(FetchError, match="version 2 of 'churn' is FAILED_REGISTRATION: no S3"):
        run(registry)


@pytest.mark.parametrize("code", ["PERMISSION_DENIED", "UNAUTHENTICATED", "ENDPOINT_NOT_FOUND"])
def test_a_refusal_fails_at_once(code):
    registry = FakeRegistry([missing(code)])

    with pytest.raises(FetchError, match=rf"the registry refused \({code}\): nope"):
        run(registry)
    assert registry.calls == 1


def test_an_unreachable_registry_is_retried_for_a_bounded_time():
    registry = FakeRegistry([missing("INTERNAL_ERROR")])

    with pytest.raises(FetchError, match="unreachable for 100s"):
        run(registry)
    assert registry.calls == 11


def test_each_answer_restarts_the_unreachable_bound():
    down = missing("TEMPORARILY_UNAVAILABLE")
    registry = FakeRegistry(
        [down] * 9 + [Model()] + [down] * 9 + [Model({"champion": "1"}), Version()]
    )

    version, clock = run(registry)

    assert version == "1"
    assert clock.now == 190


@pytest.mark.parametrize(
    "uri", ["models:/churn", "runs:/abc/model", "models:/churn@", "models:/churn/v1", ""]
)
def test_malformed_uris_are_refused(uri):
    with pytest.raises(ValueError, match="is not a registry model URI"):
        parse_model_uri(uri)


@pytest.mark.parametrize("uri", ["models:/churn@champion", "models:/a.b-c_d/12"])
def test_the_spec_and_the_init_container_accept_the_same_uris(uri):
    from mlops_iac.spec.serving import registered_model_of

    assert parse_model_uri(uri).name == registered_model_of(uri)
