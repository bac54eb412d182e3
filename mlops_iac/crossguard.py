"""`mlops-iac check`'s rules as a Pulumi CrossGuard policy pack (`pulumi preview
--policy-pack`), from the same source (mlops_iac.policy): one ResourceValidationPolicy per pod
rule, named `mlops-<rule>`, and a StackValidationPolicy for the default-deny NetworkPolicies.

They check every Kubernetes workload of the stack, the user's own next to ours. Objects inside
a Helm release are not resources of the stack and are not checked (as with `check`). During
a preview, a rule that reads a value not known yet (an image built in the same update) is not
applicable to that resource; the update checks it again with the value.

Each policy takes `exceptions` in the pack's config: patterns `<Kind>:<namespace>/<name>`
(fnmatch) that the rule does not apply to. The default is `policy.EXCEPTIONS`, each with its
reason in the policy's description; a `--policy-pack-config` file replaces them. Enforcement:
mandatory by default, configurable per policy (`{"mlops-images": "advisory"}`) or for all.

This module imports `pulumi_policy` (on PyPI; it pins protobuf 5, so it runs in the pack's
own venv, which `mlops-iac policy-pack` creates).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from mlops_iac import policy

PACK_NAME = "mlops-iac"
PREFIX = "mlops-"
KUBERNETES = "kubernetes:"


def kind_of(resource_type: str) -> tuple[str, str] | None:
    """(apiVersion, kind) of a Kubernetes resource type such as
    `kubernetes:apps/v1:Deployment`, or None for anything else (Helm releases included)."""
    if not resource_type.startswith(KUBERNETES):
        return None
    group_version, _, kind = resource_type[len(KUBERNETES) :].rpartition(":")
    if not kind or group_version.startswith("helm.sh/") or kind.endswith("List"):
        return None
    return ("v1" if group_version == "core/v1" else group_version), kind


def manifest_of(resource_type: str, props: Mapping[str, Any]) -> dict[str, Any] | None:
    """The object a resource's inputs describe, as `check` sees it in `synth`'s output."""
    kind = kind_of(resource_type)
    if kind is None:
        return None
    manifest: dict[str, Any] = {"apiVersion": kind[0], "kind": kind[1]}
    for key in ("metadata", "spec"):
        if key in props:
            manifest[key] = props[key]
    return manifest


def exception_patterns(rule: str) -> list[str]:
    """The documented exceptions of `rule` as `<Kind>:<pattern>` strings."""
    return [f"{e.kind}:{e.name}" for e in policy.EXCEPTIONS if e.rule == rule]


def covered(finding: policy.Finding, patterns: Iterable[str]) -> bool:
    """Whether one of `patterns` (`<Kind>:<namespace>/<name>`, fnmatch) covers `finding`."""
    target = f"{finding.namespace}/{finding.name}" if finding.namespace else finding.name
    for pattern in patterns:
        kind, _, name = pattern.partition(":")
        if fnmatch.fnmatch(finding.kind, kind) and (
            fnmatch.fnmatch(target, name) or fnmatch.fnmatch(finding.name, name)
        ):
            return True
    return False


def pod_rule_messages(
    rule: policy.PodRule, manifest: Mapping[str, Any], exceptions: Iterable[str]
) -> Iterator[str]:
    """What `rule` reports on one manifest, minus what `exceptions` cover."""
    patterns = list(exceptions)
    for finding in policy.rule_findings(rule, manifest):
        if not covered(finding, patterns):
            yield str(finding)


def default_deny_findings(
    manifests: Sequence[Mapping[str, Any]], exceptions: Iterable[str]
) -> Iterator[policy.Finding]:
    """Namespaces of the stack without a default-deny NetworkPolicy, minus `exceptions`."""
    patterns = list(exceptions)
    for finding in policy.default_deny_findings(manifests):
        if not covered(finding, patterns):
            yield finding


def _exceptions_schema(rule: str) -> Any:
    from pulumi_policy import PolicyConfigSchema

    return PolicyConfigSchema(
        properties={
            "exceptions": {
                "type": "array",
                "items": {"type": "string"},
                "default": exception_patterns(rule),
                "description": "Objects the rule does not apply to: `<Kind>:<namespace>/<name>` "
                "patterns (fnmatch).",
            }
        }
    )


def _described(rule: str, description: str) -> str:
    reasons = [f"{e.kind} {e.name}: {e.reason}" for e in policy.EXCEPTIONS if e.rule == rule]
    return description + ("" if not reasons else " Excepted by default: " + " ".join(reasons))


def _resource_policy(rule: policy.PodRule) -> Any:
    from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        manifest = manifest_of(args.resource_type, args.props)
        if manifest is None:
            return
        exceptions = (args.get_config() or {}).get("exceptions", exception_patterns(rule.name))
        for message in pod_rule_messages(rule, manifest, exceptions):
            report(message, args.urn)

    return ResourceValidationPolicy(
        name=PREFIX + rule.name,
        description=_described(rule.name, rule.description),
        validate=validate,
        config_schema=_exceptions_schema(rule.name),
    )


def _default_deny_policy() -> Any:
    from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        manifests, urns = [], {}
        for resource in args.resources:
            manifest = manifest_of(resource.resource_type, resource.props)
            if manifest is not None and manifest["kind"] in ("Namespace", "NetworkPolicy"):
                manifests.append(manifest)
                if manifest["kind"] == "Namespace":
                    urns[str((manifest.get("metadata") or {}).get("name"))] = resource.urn
        exceptions = (args.get_config() or {}).get(
            "exceptions", exception_patterns(policy.DEFAULT_DENY)
        )
        for finding in default_deny_findings(manifests, exceptions):
            report(str(finding), urns.get(finding.name))

    return StackValidationPolicy(
        name=PREFIX + policy.DEFAULT_DENY,
        description=_described(policy.DEFAULT_DENY, policy.DEFAULT_DENY_DESCRIPTION),
        validate=validate,
        config_schema=_exceptions_schema(policy.DEFAULT_DENY),
    )


def policies() -> list[Any]:
    """Every policy of the pack, pod rules first."""
    return [*(_resource_policy(rule) for rule in policy.POD_RULES), _default_deny_policy()]


def serve() -> None:
    """Run the pack: the CLI starts the pack's `__main__.py`, which calls this."""
    from pulumi_policy import EnforcementLevel, PolicyPack

    PolicyPack(
        name=PACK_NAME,
        policies=policies(),
        enforcement_level=EnforcementLevel.MANDATORY,
        description="mlops-iac's safety rules: Pod Security restricted, requests and limits, "
        "probes, pinned images, no plain or command-line secrets, default-deny per namespace.",
    )
