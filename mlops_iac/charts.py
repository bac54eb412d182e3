"""Where each Helm release takes its chart from: its repository by default, or a local folder.

Every Helm-managed part of a stack (kube-prometheus-stack, the Pushgateway, Envoy Gateway,
Kueue, NVIDIA's device plugin) names its chart here once, with its pinned version and
repository. With `MLOPS_IAC_CHARTS` set to a folder laid out as `<chart>-<version>/`
(what `helm pull --untar` of each chart gives, renamed; the chart's dependencies in its
`charts/`), every release installs from that folder instead: for air-gapped clusters, for
mirrors, and for the control-plane test tier, which installs the same releases a laptop
downloads. A folder that lacks a pinned chart is an error naming the path it looked for:
never a silent download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_iac import versions

CHARTS_ENV = "MLOPS_IAC_CHARTS"
"""Environment variable naming a folder of local chart copies (`<chart>-<version>/`)."""


class ChartNotFound(RuntimeError):
    """`MLOPS_IAC_CHARTS` is set but lacks a pinned chart."""


@dataclass(frozen=True)
class PinnedChart:
    """One chart at one version, and where its repository is."""

    name: str
    """The chart's name (its `Chart.yaml` `name`)."""
    version: str
    """The pinned chart version, as the repository lists it."""
    repository: str
    """An `https://` chart repository, or an `oci://` reference to the chart itself."""

    @property
    def folder_name(self) -> str:
        """The folder this chart has in a `MLOPS_IAC_CHARTS` folder."""
        return f"{self.name}-{self.version}"

    def release_args(self, environ: dict[str, str] | None = None) -> dict[str, Any]:
        """`chart`, `version` and `repository_opts` for a `helm.v3.Release`: the local copy
        under `$MLOPS_IAC_CHARTS`, else the repository."""
        env = os.environ if environ is None else environ
        local_root = env.get(CHARTS_ENV)
        if local_root:
            folder = Path(local_root).expanduser().resolve() / self.folder_name
            if not (folder / "Chart.yaml").is_file():
                raise ChartNotFound(
                    f"{CHARTS_ENV}={local_root} has no chart {self.name} {self.version}: "
                    f"expected {folder}/Chart.yaml (unset {CHARTS_ENV} to download it from "
                    f"{self.repository})"
                )
            return {"chart": str(folder)}
        if self.repository.startswith("oci://"):
            return {"chart": self.repository, "version": self.version}
        return {
            "chart": self.name,
            "version": self.version,
            "repository_opts": {"repo": self.repository},
        }


KUBE_PROMETHEUS_STACK = PinnedChart(
    "kube-prometheus-stack",
    versions.KUBE_PROMETHEUS_STACK_VERSION,
    versions.PROMETHEUS_COMMUNITY_REPO,
)
PUSHGATEWAY = PinnedChart(
    "prometheus-pushgateway", versions.PUSHGATEWAY_VERSION, versions.PROMETHEUS_COMMUNITY_REPO
)
ENVOY_GATEWAY = PinnedChart(
    "gateway-helm", versions.ENVOY_GATEWAY_VERSION, versions.ENVOY_GATEWAY_CHART
)
KUEUE = PinnedChart("kueue", versions.KUEUE_VERSION, versions.KUEUE_CHART)
NVIDIA_DEVICE_PLUGIN = PinnedChart(
    "nvidia-device-plugin",
    versions.NVIDIA_DEVICE_PLUGIN_VERSION,
    versions.NVIDIA_DEVICE_PLUGIN_REPO,
)
CLUSTER_AUTOSCALER = PinnedChart(
    versions.CLUSTER_AUTOSCALER_CHART,
    versions.CLUSTER_AUTOSCALER_CHART_VERSION,
    versions.CLUSTER_AUTOSCALER_REPO,
)
ARGO_ROLLOUTS = PinnedChart(
    versions.ARGO_ROLLOUTS_CHART, versions.ARGO_ROLLOUTS_CHART_VERSION, versions.ARGO_HELM_REPO
)
ALL = (
    KUBE_PROMETHEUS_STACK,
    PUSHGATEWAY,
    ENVOY_GATEWAY,
    KUEUE,
    NVIDIA_DEVICE_PLUGIN,
    CLUSTER_AUTOSCALER,
    ARGO_ROLLOUTS,
)
"""Every chart a stack can install."""
