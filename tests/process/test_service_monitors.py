"""service_monitors against prometheus-operator's own expected output, the churn example's
ServiceMonitors, and (when installed) Debian's promtool 2.42."""

from __future__ import annotations

import copy
import functools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_iac.testing.synth import synth_project

from service_monitors import ApiAccess, sanitize_label_name, scrape_configs

PROMTOOL = "/usr/bin/promtool"
API = ApiAccess(
    server="https://127.0.0.1:6443",
    ca_file="/pki/ca.crt",
    cert_file="/pki/prometheus.crt",
    key_file="/pki/prometheus.key",
)

# TestGenerateRelabelConfig's ServiceMonitor (pkg/prometheus/promcfg_test.go, tag v0.93.0).
GENERATE_RELABEL_CONFIG_MONITOR: dict[str, Any] = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "test", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"foo": "bar"}},
        "endpoints": [
            {
                "port": "https-metrics",
                "interval": "30s",
                "metricRelabelings": [
                    {"action": "Drop", "regex": "container_fs*", "sourceLabels": ["__name__"]},
                    {"action": "Replace", "replacement": "", "targetLabel": "job"},
                ],
                "relabelings": [
                    {
                        "action": "Uppercase",
                        "sourceLabels": ["instance"],
                        "targetLabel": "instance",
                    },
                    {
                        "action": "Replace",
                        "regex": "(.+)(?::d+)",
                        "replacement": "$1:9537",
                        "sourceLabels": ["__address__"],
                        "targetLabel": "__address__",
                    },
                    {"action": "Replace", "replacement": "crio", "targetLabel": "job"},
                    {"action": "Replace", "replacement": "", "targetLabel": "job"},
                ],
            }
        ],
    },
}

_TARGET = [
    "__meta_kubernetes_endpoint_address_target_kind",
    "__meta_kubernetes_endpoint_address_target_name",
]
# scrape_configs[0] of pkg/prometheus/testdata/GenerateRelabelConfig.golden, tag v0.93.0
# (the operator's tests run without the PrometheusShardRetentionPolicy gate and without
# apiserverConfig; `$(SHARD)` is left for the config-reloader).
GENERATE_RELABEL_CONFIG_GOLDEN: dict[str, Any] = {
    "job_name": "serviceMonitor/default/test/0",
    "honor_labels": False,
    "kubernetes_sd_configs": [{"role": "endpoints", "namespaces": {"names": ["default"]}}],
    "scrape_interval": "30s",
    "relabel_configs": [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
        {
            "action": "keep",
            "source_labels": [
                "__meta_kubernetes_service_label_foo",
                "__meta_kubernetes_service_labelpresent_foo",
            ],
            "regex": "(bar);true",
        },
        {
            "action": "keep",
            "source_labels": ["__meta_kubernetes_endpoint_port_name"],
            "regex": "https-metrics",
        },
        {
            "source_labels": _TARGET,
            "separator": ";",
            "regex": "Node;(.*)",
            "replacement": "${1}",
            "target_label": "node",
        },
        {
            "source_labels": _TARGET,
            "separator": ";",
            "regex": "Pod;(.*)",
            "replacement": "${1}",
            "target_label": "pod",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {
            "action": "drop",
            "source_labels": ["__meta_kubernetes_pod_phase"],
            "regex": "(Failed|Succeeded)",
        },
        {
            "source_labels": ["__meta_kubernetes_service_name"],
            "target_label": "job",
            "replacement": "${1}",
        },
        {"target_label": "endpoint", "replacement": "https-metrics"},
        {"source_labels": ["instance"], "target_label": "instance", "action": "uppercase"},
        {
            "source_labels": ["__address__"],
            "target_label": "__address__",
            "regex": "(.+)(?::d+)",
            "replacement": "$1:9537",
            "action": "replace",
        },
        {"target_label": "job", "replacement": "crio", "action": "replace"},
        {"target_label": "job", "replacement": "", "action": "replace"},
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
            "modulus": 1,
            "action": "hashmod",
        },
        {
            "source_labels": ["__tmp_hash", "__tmp_disable_sharding"],
            "regex": "$(SHARD);|.+;.+",
            "action": "keep",
        },
    ],
    "metric_relabel_configs": [
        {"source_labels": ["__name__"], "regex": "container_fs*", "action": "drop"},
        {"target_label": "job", "replacement": "", "action": "replace"},
    ],
}

# The two rules the PrometheusShardRetentionPolicy gate puts before the hashmod ones, as in
# pkg/prometheus/testdata/ShardingRelabelConfigs_with_retention_2_shards.golden (tag
# v0.93.0), whose `regex: 0|1` is `0` with one shard.
RETENTION_RULES = [
    {"target_label": "__tmp_current_shard", "replacement": "$(SHARD)", "action": "replace"},
    {"source_labels": ["__tmp_current_shard"], "regex": "0", "action": "keep"},
]


def reloaded(config: Any) -> Any:
    """`config` after the config-reloader of shard 0 substitutes `$(SHARD)`."""
    return json.loads(json.dumps(config).replace("$(SHARD)", "0"))


@functools.cache
def _churn_service_monitors() -> list[dict[str, Any]]:
    return synth_project("examples/churn", "dev").manifests_of("ServiceMonitor")


def churn_service_monitors() -> list[dict[str, Any]]:
    """The ServiceMonitors examples/churn's dev stack declares (synthesized once)."""
    return copy.deepcopy(_churn_service_monitors())


def test_equals_the_operators_golden_config() -> None:
    [config] = scrape_configs([GENERATE_RELABEL_CONFIG_MONITOR], None, shard_retention_policy=False)
    assert config == reloaded(GENERATE_RELABEL_CONFIG_GOLDEN)
    # Same order of keys as the operator's yaml.MapSlice, not just the same mapping.
    assert json.dumps(config) == json.dumps(reloaded(GENERATE_RELABEL_CONFIG_GOLDEN))


def test_the_default_gates_add_the_shard_retention_rules() -> None:
    [config] = scrape_configs([GENERATE_RELABEL_CONFIG_MONITOR], None)
    expected = copy.deepcopy(GENERATE_RELABEL_CONFIG_GOLDEN)
    expected["relabel_configs"][-3:-3] = RETENTION_RULES
    assert config == reloaded(expected)


def test_kubernetes_sd_points_at_the_api_server() -> None:
    [config] = scrape_configs([GENERATE_RELABEL_CONFIG_MONITOR], API)
    # The layout of pkg/prometheus/testdata/K8SSDConfigGenerationTLSConfig.golden (v0.93.0).
    assert json.dumps(config["kubernetes_sd_configs"]) == json.dumps(
        [
            {
                "role": "endpoints",
                "namespaces": {"names": ["default"]},
                "api_server": "https://127.0.0.1:6443",
                "tls_config": {
                    "ca_file": "/pki/ca.crt",
                    "cert_file": "/pki/prometheus.crt",
                    "key_file": "/pki/prometheus.key",
                },
            }
        ]
    )


def test_churn_pod_template_hash_and_service_relabeling() -> None:
    configs = {c["job_name"]: c for c in scrape_configs(churn_service_monitors(), API)}
    relabelings = configs["serviceMonitor/mlops/churn-metrics/0"]["relabel_configs"]

    assert {
        "source_labels": ["__meta_kubernetes_pod_label_rollouts_pod_template_hash"],
        "target_label": "rollouts_pod_template_hash",
        "regex": "(.+)",
        "replacement": "${1}",
    } in relabelings
    operators_service = relabelings.index(
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"}
    )
    users_service = relabelings.index(
        {
            "source_labels": ["__meta_kubernetes_service_label_mlops_iac_dev_endpoint"],
            "target_label": "service",
            "action": "replace",
        }
    )
    assert operators_service < users_service
    # Only the sharding rules come after the ServiceMonitor's own relabelings.
    assert all("__tmp" in json.dumps(rule) for rule in relabelings[users_service + 1 :])


def test_label_names_are_sanitized_like_the_operator() -> None:
    assert sanitize_label_name("rollouts-pod-template-hash") == "rollouts_pod_template_hash"
    assert sanitize_label_name("app.kubernetes.io/name") == "app_kubernetes_io_name"
    assert sanitize_label_name("mlops-iac.dev/metrics") == "mlops_iac_dev_metrics"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["spec"], {"attachMetadata": {"node": True}}, "spec.attachMetadata"),
        (["spec", "selector"], {"matchExpressions": []}, "spec.selector.matchExpressions"),
        (["spec"], {"namespaceSelector": {"any": True}}, "spec.namespaceSelector.any"),
        (["spec", "endpoints", 0], {"honorLabels": True}, "spec.endpoints[0].honorLabels"),
        (["spec", "endpoints", 0], {"targetPort": 8080}, "spec.endpoints[0].targetPort"),
        (
            ["spec", "endpoints", 0, "relabelings", 0],
            {"sourcelabels": ["a"]},
            "spec.endpoints[0].relabelings[0].sourcelabels",
        ),
    ],
)
def test_unsupported_fields_are_refused(path: list[Any], value: dict[str, Any], field: str) -> None:
    monitor = copy.deepcopy(GENERATE_RELABEL_CONFIG_MONITOR)
    target = monitor
    for key in path:
        target = target[key]
    target.update(value)
    with pytest.raises(ValueError, match="unsupported field " + re.escape(field)):
        scrape_configs([monitor], API)


def promtool_check(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(
        [PROMTOOL, "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def churn_api(tmp_path: Path) -> ApiAccess:
    """An ApiAccess whose files exist (empty: promtool checks only that they exist)."""
    files = [tmp_path / name for name in ("ca.crt", "prometheus.crt", "prometheus.key")]
    for file in files:
        file.write_text("")
    return ApiAccess("https://127.0.0.1:6443", *(str(file) for file in files))


needs_promtool = pytest.mark.skipif(not Path(PROMTOOL).exists(), reason=f"no {PROMTOOL}")


@needs_promtool
def test_promtool_accepts_the_churn_config_but_its_service_discovery(tmp_path: Path) -> None:
    """Everything but the discovery block (relabelings, intervals, paths) through the real
    2.42 parser, `kubernetes_sd_configs` replaced by a file SD any build has (the golden
    case's ServiceMonitor too, for its metric relabelings and `uppercase`)."""
    targets = tmp_path / "targets.json"
    targets.write_text("[]")
    monitors = [*churn_service_monitors(), GENERATE_RELABEL_CONFIG_MONITOR]
    configs = scrape_configs(monitors, churn_api(tmp_path))
    for config in configs:
        assert config.pop("kubernetes_sd_configs")
        config["file_sd_configs"] = [{"files": [str(targets)]}]
    result = promtool_check({"scrape_configs": configs}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
