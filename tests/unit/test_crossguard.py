"""The policy pack's adapter: Pulumi resources to the manifests `check` sees, the documented
exceptions as config, and the pack folder `mlops-iac policy-pack` writes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from mlops_iac import crossguard, policy, policy_pack

PRIVILEGED = {
    "metadata": {"name": "rogue", "namespace": "apps"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "shell",
                        "image": "busybox:1.37",
                        "securityContext": {"privileged": True},
                    }
                ]
            }
        }
    },
}


@pytest.mark.parametrize(
    ("resource_type", "expected"),
    [
        ("kubernetes:apps/v1:Deployment", ("apps/v1", "Deployment")),
        ("kubernetes:core/v1:Namespace", ("v1", "Namespace")),
        (
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            ("networking.k8s.io/v1", "NetworkPolicy"),
        ),
        ("kubernetes:helm.sh/v3:Release", None),
        ("kubernetes:core/v1:ConfigMapList", None),
        ("random:index/randomString:RandomString", None),
        ("mlops:index:ServingEndpoint", None),
    ],
)
def test_only_kubernetes_objects_are_manifests(resource_type, expected):
    assert crossguard.kind_of(resource_type) == expected


def test_a_users_privileged_deployment_breaks_pod_security():
    manifest = crossguard.manifest_of("kubernetes:apps/v1:Deployment", PRIVILEGED)
    rule = next(r for r in policy.POD_RULES if r.name == "pod-security")

    messages = list(crossguard.pod_rule_messages(rule, manifest, []))

    assert "[pod-security] Deployment apps/rogue: container shell is privileged" in messages


def test_every_pod_rule_of_check_is_a_policy_with_the_same_findings():
    manifest = crossguard.manifest_of("kubernetes:apps/v1:Deployment", PRIVILEGED)
    from_pack = sorted(
        m for rule in policy.POD_RULES for m in crossguard.pod_rule_messages(rule, manifest, [])
    )

    findings, _ = policy.check([manifest])

    assert from_pack == sorted(str(f) for f in findings)
    assert {r.name for r in policy.POD_RULES} >= {"probes", "images", "secret-argv"}


def test_exceptions_come_from_the_documented_ones_and_config_can_add_more():
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo-monitoring"}}
    plain = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
    defaults = crossguard.exception_patterns(policy.DEFAULT_DENY)

    reported = list(crossguard.default_deny_findings([namespace, plain], defaults))
    assert [f.name for f in reported] == ["apps"]
    assert defaults == ["Namespace:*-monitoring"]
    assert list(crossguard.default_deny_findings([plain], ["Namespace:apps"])) == []
    rule = next(r for r in policy.POD_RULES if r.name == "pod-security")
    manifest = crossguard.manifest_of("kubernetes:apps/v1:Deployment", PRIVILEGED)
    assert list(crossguard.pod_rule_messages(rule, manifest, ["Deployment:apps/*"])) == []
    assert list(crossguard.pod_rule_messages(rule, manifest, ["StatefulSet:apps/*"])) != []


class Unknown(Exception):
    """Stands in for pulumi_policy's UnknownValueError."""


class Preview(Mapping[str, Any]):
    """A preview's props: reading a key whose value is not known yet raises, as
    pulumi_policy's proxy does; everything else reads through."""

    def __init__(self, data: dict[str, Any], unknown: set[str]) -> None:
        self.data, self.unknown = data, unknown

    def __getitem__(self, key: str) -> Any:
        if key in self.unknown:
            raise Unknown(key)
        value = self.data[key]
        return Preview(value, self.unknown) if isinstance(value, dict) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_a_rule_reading_an_unknown_value_raises_instead_of_passing():
    props = {
        "metadata": {"name": "built", "namespace": "apps"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "?"}]}}},
    }
    container = props["spec"]["template"]["spec"]["containers"][0]
    props["spec"]["template"]["spec"]["containers"] = [Preview(container, {"image"})]
    manifest = crossguard.manifest_of("kubernetes:apps/v1:Deployment", Preview(props, set()))
    images = next(r for r in policy.POD_RULES if r.name == "images")

    # pulumi_policy then marks the policy not applicable to this resource in the preview.
    with pytest.raises(Unknown):
        list(crossguard.pod_rule_messages(images, manifest, []))


def test_the_pack_folder_runs_the_rules_from_its_own_copy(tmp_path):
    pack = policy_pack.write_pack(tmp_path / "pack")

    assert "virtualenv: venv" in (pack / "PulumiPolicy.yaml").read_text()
    assert "from mlops_iac.crossguard import serve" in (pack / "__main__.py").read_text()
    assert (pack / "mlops_iac" / "policy.py").read_text() == policy.__loader__.get_source(
        policy.__name__
    )
    assert "pulumi-policy==1.21.0" in (pack / "requirements.txt").read_text()
    (pack / "venv").mkdir()
    (pack / "venv" / "kept").write_text("")
    policy_pack.write_pack(pack)
    assert (pack / "venv" / "kept").is_file()  # rewriting keeps the venv
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("")
    with pytest.raises(policy_pack.FolderError, match="not written by mlops-iac"):
        policy_pack.write_pack(tmp_path / "mine")
