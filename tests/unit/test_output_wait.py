"""synth's linear-time wait for outstanding work ends programs exactly as the SDK's does."""

from __future__ import annotations

import contextlib
import gc
import importlib
import warnings

import pulumi
import pytest
from pulumi.runtime import stack as sdk_stack

from mlops_iac.testing import synth
from mlops_iac.testing.output_wait import linear_output_wait


def test_it_replaces_the_sdk_wait_only_inside_the_block():
    original = sdk_stack.wait_for_rpcs

    with linear_output_wait():
        assert sdk_stack.wait_for_rpcs is not original

    assert sdk_stack.wait_for_rpcs is original


def test_outputs_made_while_waiting_are_waited_for_too():
    def program() -> None:
        first = pulumi.Output.from_input("a").apply(lambda a: a + "b")
        nested = first.apply(lambda ab: pulumi.Output.from_input(ab).apply(lambda x: x + "c"))
        pulumi.export("value", nested)

    assert synth(program).outputs["value"] == "abc"


def test_a_failing_apply_still_fails_the_synth():
    def boom(_: str) -> str:
        raise ValueError("the apply failed")

    def program() -> None:
        pulumi.Output.from_input("x").apply(boom)
        pulumi.export("fine", "yes")

    with pytest.raises(ValueError, match="the apply failed"):
        synth(program)


def test_a_stack_synthesizes_the_same_with_the_sdk_wait(make_spec, monkeypatch):
    from mlops_iac.components.stack import MLOpsStack

    spec = make_spec(serving=[{"name": "churn", "model": "models:/churn@champion"}])
    ours = synth(lambda: MLOpsStack("test", spec).export(), stack="test")
    monkeypatch.setattr(
        importlib.import_module("mlops_iac.testing.synth"), "linear_output_wait", _sdk_wait
    )
    sdks = synth(lambda: MLOpsStack("test", spec).export(), stack="test")

    assert ours.resources_json() == sdks.resources_json()
    assert ours.manifests == sdks.manifests
    assert ours.outputs == sdks.outputs


def _sdk_wait() -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "fails"])
def test_synth_closes_the_event_loop_it_ran_the_program_on(fails: bool) -> None:
    # An unclosed loop is closed by the garbage collector at some later point, and at
    # interpreter exit its self-pipe may already be gone: the CLI then printed a traceback.
    def program() -> None:
        if fails:
            raise ValueError("the program failed")
        pulumi.export("fine", "yes")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with contextlib.suppress(ValueError):
            synth(program)
        gc.collect()

    assert not [w for w in caught if "unclosed event loop" in str(w.message)]
