"""The process boundary of the local flow: every external command goes through a Runner."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Completed:
    """What a command did."""

    returncode: int
    stdout: str = ""
    stderr: str = ""


class CommandFailed(RuntimeError):
    """A command exited non-zero; the message has the command line and its error output."""

    def __init__(self, args: Sequence[str], result: Completed) -> None:
        self.args_run = list(args)
        self.result = result
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        super().__init__(f"`{' '.join(args)}` exited {result.returncode}: {' '.join(detail)}")


class Runner(Protocol):
    """Runs one command and returns what it did (it never raises for a non-zero exit)."""

    def __call__(
        self, args: Sequence[str], *, input: str | None = None, timeout: float = 900
    ) -> Completed: ...


def subprocess_runner(
    args: Sequence[str], *, input: str | None = None, timeout: float = 900
) -> Completed:
    """The real Runner: `subprocess.run`, output captured as text."""
    try:
        done = subprocess.run(
            list(args), input=input, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError as error:
        return Completed(127, "", str(error))
    return Completed(done.returncode, done.stdout, done.stderr)


def run_checked(
    runner: Runner, args: Sequence[str], *, input: str | None = None, timeout: float = 900
) -> Completed:
    """Run and raise CommandFailed on a non-zero exit."""
    result = runner(args, input=input, timeout=timeout)
    if result.returncode != 0:
        raise CommandFailed(args, result)
    return result
