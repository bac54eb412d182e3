"""A linear-time wait for a program's outstanding work, used while `synth` runs.

The Pulumi SDK ends a program in `pulumi.runtime.stack.wait_for_rpcs`: once the resource
RPCs are done it waits for every still-pending Output with `asyncio.wait(...,
FIRST_COMPLETED)`, in a loop. Each round adds and removes a callback on every pending
Output, and under the mocks Outputs finish a few at a time, so the rounds cost
O(pending x finished): quadratic in the stack's size (a 200-endpoint stack spent more than
a third of its synth there). This wait takes each snapshot of pending Outputs whole, which
reaches the same end state — every RPC and every Output done, the first failure raised —
in linear time. It replaces the SDK's function only for the duration of a synth.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from pulumi.runtime import stack as sdk_stack
from pulumi.runtime.settings import SETTINGS, _get_rpc_manager


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """Wait until no RPC and (by default) no Output is outstanding; raise the first error."""
    rpc_manager = _get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            await rpc_manager.rpcs.pop()
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        while await_all_outstanding_tasks:
            with SETTINGS.lock:
                pending = list(SETTINGS.outputs)
                SETTINGS.outputs.clear()
            if not pending:
                break
            await asyncio.wait(pending)
            for task in pending:
                await task
        if not rpc_manager.rpcs:
            return


@contextlib.contextmanager
def linear_output_wait() -> Iterator[None]:
    """Use `wait_for_rpcs` above instead of the SDK's while the block runs."""
    original = sdk_stack.wait_for_rpcs
    sdk_stack.wait_for_rpcs = wait_for_rpcs
    try:
        yield
    finally:
        sdk_stack.wait_for_rpcs = original
