"""The runtime image: built from images/runtime/Dockerfile and loaded into the kind nodes."""

from __future__ import annotations

from pathlib import Path

from mlops_iac.local.process import Runner, run_checked

DOCKERFILE = Path("images") / "runtime" / "Dockerfile"


def build_image(docker: str, tag: str, context: Path, runner: Runner) -> None:
    """`docker build` of the runtime image from the repository root `context`."""
    run_checked(
        runner,
        [docker, "build", "-t", tag, "-f", str(context / DOCKERFILE), str(context)],
        timeout=3600,
    )


def load_image(kind: Path, tag: str, cluster: str, runner: Runner) -> None:
    """`kind load docker-image`: the nodes get the image without a registry."""
    run_checked(runner, [str(kind), "load", "docker-image", tag, "--name", cluster], timeout=1200)
