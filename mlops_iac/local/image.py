"""The runtime image: built from the installed package's build context (mlops_iac.runtime_image)
and loaded into the kind nodes."""

from __future__ import annotations

from pathlib import Path

from mlops_iac.local.process import Runner, run_checked


def build_image(docker: str, tag: str, context: Path, runner: Runner) -> None:
    """`docker build` of the runtime image from a context `runtime_image.write_context` wrote."""
    run_checked(runner, [docker, "build", "-t", tag, str(context)], timeout=3600)


def load_image(kind: Path, tag: str, cluster: str, runner: Runner) -> None:
    """`kind load docker-image`: the nodes get the image without a registry."""
    run_checked(runner, [str(kind), "load", "docker-image", tag, "--name", cluster], timeout=1200)
