"""What stands in on this machine for each image the stacks run: the same programs, from the
same sources where this machine can build them, laid out at the image's own paths.

Each stand-in says what it is and how it differs from the image, and that sentence goes into
the tier's report next to the container's measurements."""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlops_iac import runtime_image, versions
from mlops_iac.testing.local_servers import pinned_venv

HERE = Path(__file__).resolve().parent
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class MissingStandIn(RuntimeError):
    """This machine lacks a program an image needs (the message says how to get it)."""


@dataclass(frozen=True)
class StandIn:
    """An image as this machine runs it."""

    what: str
    """One sentence: where its programs come from and how they differ from the image's."""
    env: dict[str, str] = field(default_factory=dict)
    """The image's `ENV`, as the container runtime sets it before the manifest's env."""
    paths: dict[str, str] = field(default_factory=dict)
    """Image path -> local path bound there (venvs under /opt, a binary)."""
    entrypoint: tuple[str, ...] = ()
    """What runs when the manifest gives no `command` (the image's ENTRYPOINT + CMD)."""
    workdir: str = "/"
    """The image's `WORKDIR`."""
    user: int = 0
    """The image's `USER`, when the manifest sets no `runAsUser`."""
    user_name: str = "container"
    """The name the image's /etc/passwd gives its user (added to this machine's, in the
    container's mount namespace, when its uid has no entry)."""
    listen_env: str | None = None
    """An env var the stand-in's entrypoint reads the pod's IP from, where the image listens
    on every address (this node's pods share one network)."""


def _venv_root(requirements: Path, name: str) -> str:
    return str(pinned_venv(requirements, name).parent)


def _runtime() -> StandIn:
    requirements = runtime_image.REQUIREMENTS
    context = runtime_image.ensure_context(
        Path.home() / ".cache" / "mlops-iac" / "runtime-image-context"
    )
    return StandIn(
        what=(
            "the runtime image's three venvs, each from its pinned requirements file, and "
            "mlops_iac from the build context the package writes (`mlops-iac image context`) "
            "at /opt/mlops-iac; on PYTHONPATH where the image has a .pth file"
        ),
        env={
            "PATH": f"/opt/runtime/bin:{SYSTEM_PATH}",
            "HOME": "/tmp",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": "/opt/mlops-iac",
        },
        paths={
            "/opt/runtime": _venv_root(requirements["runtime"], "runtime"),
            "/opt/mlserver": _venv_root(requirements["mlserver"], "mlserver"),
            "/opt/feast": _venv_root(requirements["feast"], "feast"),
            "/opt/mlops-iac": str(context),
        },
        workdir="/tmp",
        user=10001,
        user_name="runtime",
    )


def _mlflow() -> StandIn:
    return StandIn(
        what=(
            f"the mlflow {versions.MLFLOW_VERSION} wheel with the extras the server's flags "
            "load (tests/process/mlflow-image-requirements.txt), not the image's own Python"
        ),
        env={"PATH": f"/opt/mlflow/bin:{SYSTEM_PATH}"},
        paths={"/opt/mlflow": _venv_root(HERE / "mlflow-image-requirements.txt", "mlflow-image")},
    )


def _postgres() -> StandIn:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise MissingStandIn("no Debian PostgreSQL: run tools/test-servers.sh")
    bin_dir = os.path.dirname(found[-1])
    major = Path(bin_dir).parent.name
    return StandIn(
        what=(
            f"Debian's PostgreSQL {major} (the image has {versions.POSTGRES_VERSION}); the "
            "image's entrypoint replaced by tests/process/postgres-entrypoint.sh, which does "
            "what its documentation says for POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB "
            "and PGDATA"
        ),
        env={"PATH": f"{bin_dir}:{SYSTEM_PATH}", "PGDATA": "/var/lib/postgresql/data"},
        paths={"/usr/local/bin/docker-entrypoint.sh": str(HERE / "postgres-entrypoint.sh")},
        entrypoint=("docker-entrypoint.sh", "postgres"),
        listen_env="POD_LISTEN_ADDRESS",
        user_name="postgres",
    )


def _redis() -> StandIn:
    binary = shutil.which("redis-server")
    if not binary:
        raise MissingStandIn("no redis-server: run tools/test-servers.sh")
    return StandIn(
        what=f"Debian's redis-server (the image has Redis {versions.REDIS_VERSION})",
        env={"PATH": SYSTEM_PATH},
        workdir="/data",
        user=999,
        user_name="redis",
    )


def _seaweedfs() -> StandIn:
    import subprocess

    from mlops_iac.dev.controlplane import ControlPlaneError, find_binaries

    try:
        binary = find_binaries() / "weed"
    except ControlPlaneError as error:
        raise MissingStandIn(f"weed is not built: {error}") from None
    if not binary.is_file():
        raise MissingStandIn(f"no {binary}: run tools/controlplane/build.sh seaweedfs")
    reported = subprocess.run(
        [str(binary), "version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"\b\d+\.\d\d\b", reported)
    version = found.group() if found else reported.strip()
    return StandIn(
        what=(
            f"weed built from the Go module proxy's github.com/seaweedfs/seaweedfs (it reports "
            f"{version}; the image is {versions.SEAWEEDFS_VERSION}: release tags are not "
            "semantic versions, so the proxy serves only a pseudo-version)"
        ),
        env={"PATH": SYSTEM_PATH},
        paths={"/usr/bin/weed": str(binary)},
    )


STAND_INS = {
    versions.RUNTIME_IMAGE: _runtime,
    versions.MLFLOW_IMAGE: _mlflow,
    versions.POSTGRES_IMAGE: _postgres,
    versions.REDIS_IMAGE: _redis,
    versions.SEAWEEDFS_IMAGE: _seaweedfs,
}
"""Every image a stack's own pod templates use (Helm releases' images are the charts')."""


@functools.cache
def stand_in(image: str) -> StandIn:
    """The stand-in for `image`; an image with none is an error naming it."""
    if image not in STAND_INS:
        raise MissingStandIn(f"no stand-in for image {image!r}: add one to tests/process/images.py")
    return STAND_INS[image]()


if __name__ == "__main__":
    # `.ci/run` prepares every stand-in before pytest (the venvs take minutes on a cold
    # machine, more than a test's timeout).
    for name in STAND_INS:
        print(f"{name}: {stand_in(name).what}")
