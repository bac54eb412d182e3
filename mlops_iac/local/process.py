"""The process boundary of the local flow: every external command goes through a Runner."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

LineSink = Callable[[str], None]
"""Takes each line of a command's output as it comes (stdout and stderr merged)."""


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
    """Runs one command and returns what it did (it never raises for a non-zero exit). With
    `on_line`, each output line goes there as it comes, and `stdout` holds both streams."""

    def __call__(
        self,
        args: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 900,
        on_line: LineSink | None = None,
    ) -> Completed: ...


def subprocess_runner(
    args: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = 900,
    on_line: LineSink | None = None,
) -> Completed:
    """The real Runner: `subprocess.run`, output captured as text (streamed with `on_line`)."""
    if on_line is not None:
        return _streamed(args, input, timeout, on_line)
    try:
        done = subprocess.run(
            list(args), input=input, capture_output=True, text=True, timeout=timeout
        )
    except FileNotFoundError as error:
        return Completed(127, "", str(error))
    return Completed(done.returncode, done.stdout, done.stderr)


def _streamed(
    args: Sequence[str], input: str | None, timeout: float, on_line: LineSink
) -> Completed:
    try:
        process = subprocess.Popen(
            list(args),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    except FileNotFoundError as error:
        return Completed(127, "", str(error))
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        process.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    lines = []
    try:
        if input is not None and process.stdin is not None:
            process.stdin.write(input)
            process.stdin.close()
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            on_line(line.rstrip("\n"))
        code = process.wait()
    finally:
        timer.cancel()
    if killed.is_set():
        lines.append(f"(killed after {timeout:g} s)\n")
    return Completed(code, "".join(lines), "")


def run_checked(
    runner: Runner,
    args: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = 900,
    on_line: LineSink | None = None,
) -> Completed:
    """Run and raise CommandFailed on a non-zero exit."""
    result = runner(args, input=input, timeout=timeout, on_line=on_line)
    if result.returncode != 0:
        raise CommandFailed(args, result)
    return result
