"""The tier's memory sampler counts a container's session only while that container's own
process leads it: this machine's pid_max is 32768, so a pid (and with it a session id) comes
back during one test run, and a later process must not be measured as an earlier one."""

from __future__ import annotations

import os
import subprocess
import sys

from kubelet import ContainerRecord, Sampler, start_time


def record(session: int, started: int | None) -> ContainerRecord:
    return ContainerRecord(
        workload="Deployment ns/w", pod="ns/pod", name="c", init=False, image="i",
        memory_limit=None, stand_in="s",
        session=session, session_start=started,
    )  # fmt: skip


def test_a_session_is_measured_only_while_its_own_leader_runs_it() -> None:
    leader = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    sampler = Sampler(interval=3600)
    try:
        ours = record(leader.pid, start_time(leader.pid))
        reused = record(leader.pid, (start_time(leader.pid) or 0) - 1)  # an earlier process
        sampler.containers += [ours, reused]

        sampler.sample_memory()

        assert ours.peak_bytes > 1024 * 1024  # a Python interpreter's VmHWM
        assert reused.peak_bytes == 0
    finally:
        sampler.stop()
        leader.kill()
        leader.wait()


def test_start_time_is_none_for_a_process_that_does_not_exist() -> None:
    assert start_time(os.getpid()) is not None
    assert start_time(2**22 + 1) is None  # above any pid_max
