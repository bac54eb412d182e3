"""Every image the stack runs, pinned by tag, with where the tag was checked (2026-11).

Change a version here and nowhere else; tests read these constants.
"""

from __future__ import annotations

MLFLOW_VERSION = "3.17.2"
MLFLOW_IMAGE = f"ghcr.io/mlflow/mlflow:v{MLFLOW_VERSION}-full"
"""MLflow server with Postgres (psycopg2) and S3 (boto3) clients: `docker/Dockerfile.full` in
mlflow/mlflow installs `mlflow[extras,db,auth,...]`; `-full` tags exist since v3.9.0
(docker/README.md). The plain `v<ver>` image has neither driver (mlflow#9513). Same version as
the Python client the trainer uses."""
MLFLOW_UID = 1000
"""The MLflow image has no USER (it would run as root); pods run it as this uid."""

POSTGRES_VERSION = "17.11"
POSTGRES_IMAGE = f"docker.io/library/postgres:{POSTGRES_VERSION}-bookworm"
"""Official postgres image (docker-library/postgres, 17/bookworm). Debian based: user
`postgres` is uid 999. Bitnami images were frozen into `bitnamilegacy` in 2025-08."""
POSTGRES_UID = 999

SEAWEEDFS_VERSION = "4.48"
SEAWEEDFS_IMAGE = f"docker.io/chrislusf/seaweedfs:{SEAWEEDFS_VERSION}"
"""SeaweedFS (Apache-2.0, released monthly): an S3 API on 8333 with /healthz. Its image runs
as `seaweed` (uid 1000) since seaweedfs#8819. MinIO's community edition is in maintenance
mode since 2025-12 with no new images."""
SEAWEEDFS_UID = 1000

RUNTIME_VERSION = "0.1.0"
RUNTIME_IMAGE = f"mlops-iac/runtime:{RUNTIME_VERSION}"
"""The stack's own workload image, built from the Dockerfile in mlops_iac/runtime_image (MLflow,
scikit-learn, the trainer, MLServer, Feast). It is not published to a registry: `up local`
builds and loads it into kind, AWS targets push it to ECR, and `mlops-iac image context
<folder>` writes its build context for `docker build` and a registry of your own."""
RUNTIME_UID = 10001
"""The non-root user the runtime image declares."""

KUEUE_VERSION = "0.19.2"
KUEUE_CHART = "oci://registry.k8s.io/kueue/charts/kueue"
"""Kueue's Helm chart (kubernetes-sigs/kueue charts/kueue; installs its CRDs as templates).
Version from ../shared/FACTS.md (checked 2026-11); values keys `controllerManager.manager.
resources` from the chart's values.yaml and README. Optional: only with `training.kueue`."""

REDIS_VERSION = "8.10.2"
REDIS_IMAGE = f"docker.io/library/redis:{REDIS_VERSION}-trixie"
"""Official redis image (docker-library/official-images `library/redis`, checked 2026-11:
8.10.2 is the newest; `-trixie` is the Debian variant). Its `redis` user is uid 999.
The feature store's online store on kind and existing clusters."""
REDIS_UID = 999

FEAST_VERSION = "0.67.0"
"""Feast in the runtime image's /opt/feast venv (runtime_image/feast-requirements.txt); its CLI
runs `feast apply`, materialization and `feast serve`. Feast's own feature-server image
(`quay.io/feastdev/feature-server:0.67.0`, Python 3.12) lacks s3fs, which the file offline
store needs to read Parquet from an S3 API."""
FEAST_BIN = "/opt/feast/bin/feast"

KUBE_PROMETHEUS_STACK_VERSION = "88.5.3"
KUBE_PROMETHEUS_STACK_CHART = "kube-prometheus-stack"
PROMETHEUS_COMMUNITY_REPO = "https://prometheus-community.github.io/helm-charts"
"""kube-prometheus-stack 88.5.3 (prometheus-operator v0.93.1; Grafana subchart from
grafana-community), from ../shared/FACTS.md, checked 2026-11; values keys from the chart's
values.yaml. Optional: only with `monitoring`."""
PUSHGATEWAY_CHART = "prometheus-pushgateway"
PUSHGATEWAY_VERSION = "3.8.0"
"""prometheus-community/prometheus-pushgateway 3.8.0 (../shared/FACTS.md): where batch jobs
(drift monitor, trainer) push their metrics."""

KIND_VERSION = "v0.33.0"
KIND_NODE_IMAGE = (
    "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
)
"""kind v0.33.0 (2026-08) and its default node image, pinned by digest; binary SHA-256s from
the release's `.sha256sum` assets as pinned in public repos (checked 2026-11 through the
search tool: linux only; other platforms install kind themselves)."""
KIND_SHA256 = {
    "linux-amd64": "aee6151561422756b764a4ae28e7f44cda5af5a9eead3cc9985112b1de8d8e0d",
    "linux-arm64": "20022bee6cfcd5086cb7234d218e3454e6090022f2a8f55d1fa7fcf42c3867a2",
}
PULUMI_CLI_VERSION = "3.255.0"
PULUMI_CLI_SHA256 = {
    "linux-amd64": "cf559568e2c32f7fae56ea3de8ae5fa48973ba8c5aa9dd2b3dc0c8898fe50dba",
}
"""The newest Pulumi CLI whose release checksum could be confirmed (pulumi-3.255.0-checksums.txt
as quoted in public repos, 2026-11); the Automation API of the pinned SDK drives it."""
ENVOY_GATEWAY_VERSION = "v1.9.0"
ENVOY_GATEWAY_CHART = "oci://docker.io/envoyproxy/gateway-helm"
"""Envoy Gateway's Helm chart: the Gateway API implementation (with the Gateway API CRDs) that
the stack installs on kind, on an existing cluster with `target.install_gateway`, and on EKS
(ingress-nginx is retired since March 2026). Tags checked 2026-12-01 through the Go module
proxy (`go list -m -versions github.com/envoyproxy/gateway`: newest v1.9.1; v1.9.2 does not
exist there). v1.9.0 is pinned because it is the release the control-plane tier installs
(from ../shared/vendor/charts/gateway-helm-v1.9.0); v1.9.1 is a patch release to move to once
the tier has its chart."""

NVIDIA_DEVICE_PLUGIN_VERSION = "0.20.0"
NVIDIA_DEVICE_PLUGIN_CHART = "nvidia-device-plugin"
NVIDIA_DEVICE_PLUGIN_REPO = "https://nvidia.github.io/k8s-device-plugin"
"""NVIDIA's device plugin chart, installed on EKS when a node group has GPUs (the
AL2023 NVIDIA AMI has the driver, not the plugin). 0.20.0: newest release seen 2026-11
(bump PRs from 0.19.3 in NVIDIA/deepops and K2s pointing at the v0.20.0 release)."""

RDS_POSTGRES_VERSION = "17.7"
RDS_POSTGRES_FAMILY = "postgres17"
"""RDS for PostgreSQL: 17.7 is the auto-upgrade target AWS names for 17.1-17.4 (2026);
the same major as the in-cluster Postgres image."""

ELASTICACHE_ENGINES = {
    "valkey": ("8.2", "default.valkey8"),
    "redis": ("7.1", "default.redis7"),
}
"""ElastiCache engine version and default parameter group per engine (valkey 8.x share the
`valkey8` family; Redis OSS 7.1 is the last Redis OSS line)."""

CLUSTER_AUTOSCALER_CHART = "cluster-autoscaler"
CLUSTER_AUTOSCALER_CHART_VERSION = "9.59.0"
CLUSTER_AUTOSCALER_REPO = "https://kubernetes.github.io/autoscaler"
CLUSTER_AUTOSCALER_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
CLUSTER_AUTOSCALER_VERSIONS = {
    "1.33": "v1.33.6",
    "1.34": "v1.34.5",
    "1.35": "v1.35.2",
    "1.36": "v1.36.1",
}
"""cluster-autoscaler, the EKS node autoscaler (one release per Kubernetes minor: its minor
must match the cluster's). Checked 2026-12 in a mirror of github.com/kubernetes/autoscaler
(snapshot of 2026-08-22) through the `fetch` tool: the tag `cluster-autoscaler-chart-9.59.0`
(2026-07-21, the newest chart tag; the chart-releaser tag of the chart published at
https://kubernetes.github.io/autoscaler) holds `cluster-autoscaler/charts/cluster-autoscaler/
Chart.yaml` version 9.59.0, appVersion 1.35.0, image tag v1.35.0 in its values.yaml. The
image tags per minor are the newest `cluster-autoscaler-<ver>` release tags there:
1.33.6, 1.34.5, 1.35.2 (2026-07-22), 1.36.1; no 1.37 release existed. v1.35.2 and v1.36.1
are also seen pinned by digest in public repositories (search tool). The chart's values set
the image tag, so one chart version serves every minor."""

PULUMI_POLICY_VERSION = "1.21.0"
"""pulumi-policy, the CrossGuard SDK the policy pack runs on (PyPI, released 2026-05-20; the
newest there on 2026-12-02). It pins protobuf ~5.29, while MLflow's and Pulumi's own
OpenTelemetry dependencies take protobuf 6, so the pack gets a venv of its own (its protobuf 6
support, pulumi/pulumi-policy#454, is merged but not released)."""

ARGO_ROLLOUTS_VERSION = "v1.10.2"
ARGO_ROLLOUTS_CHART = "argo-rollouts"
ARGO_ROLLOUTS_CHART_VERSION = "2.41.0"
ARGO_HELM_REPO = "https://argoproj.github.io/argo-helm"
"""Argo Rollouts, the progressive-delivery controller that runs endpoints with a `rollout`.
The controller is v1.10.2 (released 2026-11-03; the Go module proxy serves the tag), the
version the control-plane tier builds and runs. The chart is argo-helm's newest release
seen (tag `argo-rollouts-2.41.0` in a mirror of github.com/argoproj/argo-helm, 2026-07-02,
appVersion v1.9.0): no chart for v1.10.2 was found, so the stack sets the chart's
`controller.image.tag` to v1.10.2. Values keys from that tag's values.yaml."""
ROLLOUTS_GATEWAY_PLUGIN_VERSION = "v0.15.0"
ROLLOUTS_GATEWAY_PLUGIN_URL = (
    "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/releases/"
    f"download/{ROLLOUTS_GATEWAY_PLUGIN_VERSION}/gatewayapi-plugin-linux-{{arch}}"
)
"""Argo Rollouts' Gateway API traffic-router plugin, which the controller downloads at start
(`trafficRouterPlugins` in its config). Asset names from the v0.15.0 release workflow
(.github/workflows/release.yaml: linux-amd64, linux-arm64). Upstream publishes no checksum
file and none could be confirmed here, so no `sha256` is pinned (the controller then does
not check one); the control-plane tier builds v0.15.0 from source."""
