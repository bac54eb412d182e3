"""The control-plane tier: a real kube-apiserver (+ etcd, controllers, scheduler, kwok) and
the real Pulumi engine, built by tools/controlplane/build.sh. `.ci/run` builds them first;
elsewhere the tier is skipped when they are not built (and fails under CI=true)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_iac.dev.controlplane import ControlPlane, ControlPlaneError, find_binaries, stop


@pytest.fixture(scope="session")
def controlplane_bin() -> Path:
    """The folder with the pinned control-plane binaries."""
    try:
        return find_binaries(build=False)
    except ControlPlaneError as error:
        if os.environ.get("CI"):
            pytest.fail(f"control-plane binaries missing under CI: {error}")
        pytest.skip(
            f"control-plane binaries are not built ({error}); run tools/controlplane/build.sh"
        )


@pytest.fixture(scope="session")
def control_plane(
    controlplane_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A running control plane, shared by the session and stopped at its end."""
    root = tmp_path_factory.mktemp("controlplane")
    plane = ControlPlane(root, controlplane_bin)
    plane.start()
    try:
        yield plane
    finally:
        stop(root)


@pytest.fixture(scope="module")
def empty_plane(
    controlplane_bin: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A control plane of the test module's own with no CRDs: what a stack uses, it must
    install itself."""
    root = tmp_path_factory.mktemp("empty-plane")
    plane = ControlPlane(root, controlplane_bin)
    plane.start(crds=False)
    try:
        yield plane
    finally:
        stop(root)
