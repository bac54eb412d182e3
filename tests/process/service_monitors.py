"""The Prometheus `scrape_configs` prometheus-operator generates for ServiceMonitors.

A port of `generateServiceMonitorConfig` and its helpers in `pkg/prometheus/promcfg.go` of
prometheus-operator v0.93.1 (read at tag v0.93.0: the mirror has no v0.93.1 tag, and
`pkg/prometheus` is unchanged from v0.93.0 to the newest commit it holds), for the Prometheus
resource kube-prometheus-stack creates: no `serviceDiscoveryRole` (so the `endpoints` role),
one shard, no scrape classes, enforced limits, enforced namespace label or global
`podTargetLabels`, and the operator's default feature gates (PrometheusShardRetentionPolicy
on, topology sharding inactive without `shardingStrategy`).

Only the ServiceMonitor fields this repository's stacks emit are ported; any other field is
a `ValueError` naming it, not silently ignored. The result is the configuration as Prometheus
loads it: the config-reloader's `$(VAR)` substitution is applied, for shard 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SPEC_FIELDS = {
    "selector",
    "namespaceSelector",
    "podTargetLabels",
    "targetLabels",
    "jobLabel",
    "endpoints",
}
_ENDPOINT_FIELDS = {
    "port",
    "path",
    "interval",
    "scrapeTimeout",
    "scheme",
    "relabelings",
    "metricRelabelings",
}
_RELABEL_FIELDS = {
    "sourceLabels",
    "separator",
    "targetLabel",
    "regex",
    "modulus",
    "replacement",
    "action",
}
# The CRD's enum for RelabelConfig.action (pkg/apis/monitoring/v1/prometheus_types.go), lowered.
_ACTIONS = {
    "replace",
    "keep",
    "drop",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
    "keepequal",
    "dropequal",
}
_SCHEMES = {"http", "https", "HTTP", "HTTPS"}

_SHARDS = 1
"""kube-prometheus-stack's `prometheus.prometheusSpec.shards`."""
_RELOADER_ENV = {"SHARD": "0"}
"""What the config-reloader of the only shard's pod substitutes for `$(NAME)`."""

_INVALID_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_ENV_REFERENCE = re.compile(r"\$\(([a-zA-Z_0-9]+)\)")  # thanos pkg/reloader's envRe


@dataclass(frozen=True)
class ApiAccess:
    """How Prometheus reaches the API server (the Prometheus resource's `apiserverConfig`:
    `host` and `tlsConfig`'s `caFile`, `certFile` and `keyFile`)."""

    server: str
    """The API server's URL, e.g. `https://127.0.0.1:6443`."""
    ca_file: str
    cert_file: str
    key_file: str


def sanitize_label_name(name: str) -> str:
    """The operator's `sanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`."""
    return _INVALID_LABEL_CHAR.sub("_", name)


def scrape_configs(
    service_monitors: list[dict[str, Any]],
    api: ApiAccess | None,
    *,
    shard_retention_policy: bool = True,
) -> list[dict[str, Any]]:
    """One scrape config per endpoint of each ServiceMonitor (ordered by `<namespace>/<name>`,
    then endpoint), as prometheus-operator v0.93.1 generates it: job name
    `serviceMonitor/<namespace>/<name>/<index>`, `kubernetes_sd_configs` pointed at `api`
    (`None`: Prometheus's in-cluster configuration, as without `apiserverConfig`).

    `shard_retention_policy` is the operator's PrometheusShardRetentionPolicy feature gate
    (on by default since v0.92; the operator's golden test files are generated without it).
    """
    monitors: dict[str, dict[str, Any]] = {}
    for monitor in service_monitors:
        key = "/".join(_identity(monitor))
        if key in monitors:
            raise ValueError(f"ServiceMonitor {key} is given twice")
        monitors[key] = monitor
    configs = []
    for key in sorted(monitors):  # appendServiceMonitorConfigs: sortutil.SortedKeys
        spec = monitors[key]["spec"]
        for i, endpoint in enumerate(spec["endpoints"]):
            config = _endpoint_config(monitors[key], endpoint, i, api, shard_retention_policy)
            configs.append(_expand_env(config, f"ServiceMonitor {key}"))
    return configs


def _identity(monitor: dict[str, Any]) -> tuple[str, str]:
    """The ServiceMonitor's namespace and name, after checking it uses only supported fields."""
    if (monitor.get("apiVersion"), monitor.get("kind")) != (
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
    ):
        raise ValueError(
            f"not a monitoring.coreos.com/v1 ServiceMonitor: apiVersion "
            f"{monitor.get('apiVersion')!r}, kind {monitor.get('kind')!r}"
        )
    metadata = monitor.get("metadata") or {}
    namespace, name = metadata.get("namespace"), metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("ServiceMonitor without metadata.name")
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"ServiceMonitor {name}: metadata.namespace is required")
    where = f"ServiceMonitor {namespace}/{name}"
    spec = monitor.get("spec")
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: spec is required")
    _check_fields(spec, _SPEC_FIELDS, "spec", where)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        raise ValueError(f"{where}: spec.selector is required")
    _check_fields(selector, {"matchLabels"}, "spec.selector", where)
    _string_map(selector.get("matchLabels", {}), "spec.selector.matchLabels", where)
    # Absent and {} are the same NamespaceSelector (no matchNames, any: false).
    _check_fields(spec.get("namespaceSelector", {}), set(), "spec.namespaceSelector", where)
    for field in ("podTargetLabels", "targetLabels"):
        _string_list(spec.get(field, []), f"spec.{field}", where)
    if not isinstance(spec.get("jobLabel", ""), str):
        raise ValueError(f"{where}: spec.jobLabel must be a string")
    endpoints = spec.get("endpoints")
    if not isinstance(endpoints, list):
        raise ValueError(f"{where}: spec.endpoints must be a list")
    for i, endpoint in enumerate(endpoints):
        _check_endpoint(endpoint, f"spec.endpoints[{i}]", where)
    return namespace, name


def _check_endpoint(endpoint: Any, path: str, where: str) -> None:
    if not isinstance(endpoint, dict):
        raise ValueError(f"{where}: {path} must be a mapping")
    _check_fields(endpoint, _ENDPOINT_FIELDS, path, where)
    for field in ("port", "path", "interval", "scrapeTimeout"):
        if not isinstance(endpoint.get(field, ""), str):
            raise ValueError(f"{where}: {path}.{field} must be a string")
    if "scheme" in endpoint and endpoint["scheme"] not in _SCHEMES:
        raise ValueError(f"{where}: {path}.scheme must be one of {sorted(_SCHEMES)}")
    for field in ("relabelings", "metricRelabelings"):
        relabelings = endpoint.get(field, [])
        if not isinstance(relabelings, list):
            raise ValueError(f"{where}: {path}.{field} must be a list")
        for j, relabeling in enumerate(relabelings):
            _check_relabeling(relabeling, f"{path}.{field}[{j}]", where)


def _check_relabeling(relabeling: Any, path: str, where: str) -> None:
    if not isinstance(relabeling, dict):
        raise ValueError(f"{where}: {path} must be a mapping")
    _check_fields(relabeling, _RELABEL_FIELDS, path, where)
    _string_list(relabeling.get("sourceLabels", []), f"{path}.sourceLabels", where)
    for field in ("separator", "targetLabel", "regex", "replacement", "action"):
        if not isinstance(relabeling.get(field, ""), str):
            raise ValueError(f"{where}: {path}.{field} must be a string")
    modulus = relabeling.get("modulus", 0)
    if not isinstance(modulus, int) or isinstance(modulus, bool) or modulus < 0:
        raise ValueError(f"{where}: {path}.modulus must be a non-negative integer")
    if relabeling.get("action", "replace").lower() not in _ACTIONS:
        raise ValueError(f"{where}: {path}.action {relabeling['action']!r} is not a CRD action")


def _check_fields(value: Any, supported: set[str], path: str, where: str) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {path} must be a mapping")
    unsupported = sorted(set(value) - supported)
    if unsupported:
        fields = ", ".join(f"{path}.{field}" for field in unsupported)
        raise ValueError(f"{where}: unsupported field {fields}")


def _string_list(value: Any, path: str, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{where}: {path} must be a list of strings")


def _string_map(value: Any, path: str, where: str) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"{where}: {path} must map strings to strings")


def _endpoint_config(
    monitor: dict[str, Any],
    endpoint: dict[str, Any],
    i: int,
    api: ApiAccess | None,
    shard_retention_policy: bool,
) -> dict[str, Any]:
    """generateServiceMonitorConfig (promcfg.go L1949-2240) for the supported fields."""
    namespace = monitor["metadata"]["namespace"]
    spec = monitor["spec"]
    config: dict[str, Any] = {
        "job_name": f"serviceMonitor/{namespace}/{monitor['metadata']['name']}/{i}",
        "honor_labels": False,  # AddHonorLabels: always written
        "kubernetes_sd_configs": [_k8s_sd_config(namespace, api)],
    }
    if endpoint.get("interval"):
        config["scrape_interval"] = endpoint["interval"]
    if endpoint.get("scrapeTimeout"):
        config["scrape_timeout"] = endpoint["scrapeTimeout"]
    if endpoint.get("path"):
        config["metrics_path"] = endpoint["path"]
    if "scheme" in endpoint:
        config["scheme"] = endpoint["scheme"].lower()  # Scheme.String()

    # initRelabelings: the job name into a meta label.
    relabelings: list[dict[str, Any]] = [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}
    ]
    # The Service selector (selectorMechanism RelabelConfig, the default), keys sorted.
    match_labels = spec["selector"].get("matchLabels", {})
    for key in sorted(match_labels):
        label = sanitize_label_name(key)
        relabelings.append(
            {
                "action": "keep",
                "source_labels": [
                    f"__meta_kubernetes_service_label_{label}",
                    f"__meta_kubernetes_service_labelpresent_{label}",
                ],
                "regex": f"({match_labels[key]});true",
            }
        )
    port = endpoint.get("port", "")
    if port:
        relabelings.append(
            {
                "action": "keep",
                "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                "regex": port,
            }
        )
    target = [
        "__meta_kubernetes_endpoint_address_target_kind",
        "__meta_kubernetes_endpoint_address_target_name",
    ]
    relabelings += [
        {
            "source_labels": target,
            "separator": ";",
            "regex": "Node;(.*)",
            "replacement": "${1}",
            "target_label": "node",
        },
        {
            "source_labels": target,
            "separator": ";",
            "regex": "Pod;(.*)",
            "replacement": "${1}",
            "target_label": "pod",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        # generateRunningFilter (filterRunning defaults to true)
        {
            "action": "drop",
            "source_labels": ["__meta_kubernetes_pod_phase"],
            "regex": "(Failed|Succeeded)",
        },
    ]
    for prefix, labels in (
        ("__meta_kubernetes_service_label_", spec.get("targetLabels", [])),
        ("__meta_kubernetes_pod_label_", spec.get("podTargetLabels", [])),
    ):
        for name in labels:
            label = sanitize_label_name(name)
            relabelings.append(
                {
                    "source_labels": [prefix + label],
                    "target_label": label,
                    "regex": "(.+)",
                    "replacement": "${1}",
                }
            )
    relabelings.append(
        {
            "source_labels": ["__meta_kubernetes_service_name"],
            "target_label": "job",
            "replacement": "${1}",
        }
    )
    if spec.get("jobLabel"):
        relabelings.append(
            {
                "source_labels": [
                    "__meta_kubernetes_service_label_" + sanitize_label_name(spec["jobLabel"])
                ],
                "target_label": "job",
                "regex": "(.+)",
                "replacement": "${1}",
            }
        )
    if port:
        relabelings.append({"target_label": "endpoint", "replacement": port})
    relabelings += [_relabel_config(r) for r in endpoint.get("relabelings", [])]
    relabelings += _sharding_relabelings(_SHARDS, shard_retention_policy)
    config["relabel_configs"] = relabelings
    metric_relabelings = endpoint.get("metricRelabelings", [])
    if metric_relabelings:
        config["metric_relabel_configs"] = [_relabel_config(r) for r in metric_relabelings]
    return config


def _k8s_sd_config(namespace: str, api: ApiAccess | None) -> dict[str, Any]:
    """generateK8SSDConfig (promcfg.go L2473-2563): the `endpoints` role (no
    `serviceDiscoveryRole`), the ServiceMonitor's own namespace (no namespaceSelector)."""
    config: dict[str, Any] = {"role": "endpoints", "namespaces": {"names": [namespace]}}
    if api is not None:
        config["api_server"] = api.server
        config["tls_config"] = {
            "ca_file": api.ca_file,
            "cert_file": api.cert_file,
            "key_file": api.key_file,
        }
    return config


def _relabel_config(relabeling: dict[str, Any]) -> dict[str, Any]:
    """generateRelabelConfig (promcfg.go L2396-2434) for one RelabelConfig, after the CRD's
    defaulting (`action: replace`, which the API server fills in when absent)."""
    out: dict[str, Any] = {}
    if relabeling.get("sourceLabels"):
        out["source_labels"] = list(relabeling["sourceLabels"])
    if "separator" in relabeling:
        out["separator"] = relabeling["separator"]
    if relabeling.get("targetLabel"):
        out["target_label"] = relabeling["targetLabel"]
    if relabeling.get("regex"):
        out["regex"] = relabeling["regex"]
    if relabeling.get("modulus"):
        out["modulus"] = relabeling["modulus"]
    if "replacement" in relabeling:
        out["replacement"] = relabeling["replacement"]
    out["action"] = relabeling.get("action", "replace").lower()
    return out


def _sharding_relabelings(shards: int, retention_policy: bool) -> list[dict[str, Any]]:
    """appendShardingRelabelingWithLabel (promcfg.go L2304-2394) on `__address__`, without
    topology sharding (needs the Prometheus resource's `shardingStrategy`)."""
    relabelings: list[dict[str, Any]] = []
    if retention_policy:
        relabelings += [
            {"target_label": "__tmp_current_shard", "replacement": "$(SHARD)", "action": "replace"},
            {
                "source_labels": ["__tmp_current_shard"],
                "regex": "|".join(str(shard) for shard in range(shards)),
                "action": "keep",
            },
        ]
    return [
        *relabelings,
        {
            "source_labels": ["__address__", "__tmp_hash"],
            "target_label": "__tmp_hash",
            "regex": "(.+);",
            "replacement": "$1",
            "action": "replace",
        },
        {
            "source_labels": ["__tmp_hash"],
            "target_label": "__tmp_hash",
            "modulus": shards,
            "action": "hashmod",
        },
        {
            "source_labels": ["__tmp_hash", "__tmp_disable_sharding"],
            "regex": "$(SHARD);|.+;.+",
            "action": "keep",
        },
    ]


def _expand_env(value: Any, where: str) -> Any:
    """What the config-reloader (thanos pkg/reloader expandEnv) does to the configuration
    file: every `$(NAME)` replaced by that environment variable, an unset one an error."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            if match[1] not in _RELOADER_ENV:
                raise ValueError(f"{where}: $({match[1]}) is not set in the config-reloader")
            return _RELOADER_ENV[match[1]]

        return _ENV_REFERENCE.sub(substitute, value)
    if isinstance(value, list):
        return [_expand_env(item, where) for item in value]
    if isinstance(value, dict):
        return {key: _expand_env(item, where) for key, item in value.items()}
    return value
