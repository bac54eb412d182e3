"""Policy checks on synthesized manifests: Pod Security `restricted`, resources, probes,
pinned images, secrets kept out of plain values and off command lines, a default-deny
NetworkPolicy per namespace.

`mlops-iac check DIR` runs them on what `mlops-iac synth` wrote; the tests run them on every
reference stack; the CrossGuard policy pack (mlops_iac.crossguard) runs the same rules in
`pulumi preview --policy-pack`. Exceptions live in `EXCEPTIONS`, each with its reason, and are
reported. Rules read manifests through `Mapping`/`Sequence` only, so the policy pack can hand
them its preview proxies (a rule that touches an unknown value is then not applicable).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
SERVERS = {"Deployment", "StatefulSet", "DaemonSet"}
"""Long-running workloads: these need probes (Jobs run to completion and need none)."""
SECRET_ENV = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY$|ACCESS_KEY|PRIVATE)", re.IGNORECASE)
"""Env var names whose value must come from a Secret, never as a plain `value`."""
ALLOWED_SECRET_ENV_VALUES = {"AWS_ACCESS_KEY_ID"}
"""Names that match SECRET_ENV but are identifiers, not secrets (still never plain here)."""
VARIABLE_REFERENCE = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
"""A `$(NAME)` reference the kubelet expands in `command` and `args` (`$$` escapes `$`)."""
SECRET_OPTION = re.compile(
    r"^--?(?:[a-z0-9.]+[-_])*(password|passwd|pass|pwd|requirepass|secret|token|api[-_]?key|"
    r"access[-_]?key|secret[-_]?key|private[-_]?key|auth)(?:=(?P<value>.*))?$",
    re.IGNORECASE,
)
"""A command-line option whose value is a secret (`--password=...`, `--requirepass x`);
options that name a file holding it (`--token-file`) end in another word and pass."""
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<password>[^@\s/]+)@", re.IGNORECASE)
"""A URL with a password in its user info (`postgresql://user:secret@host/db`)."""


@dataclass(frozen=True)
class Finding:
    """One manifest that breaks one rule."""

    rule: str
    kind: str
    namespace: str
    name: str
    message: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"[{self.rule}] {self.kind} {where}{self.name}: {self.message}"


@dataclass(frozen=True)
class PolicyException:
    """A rule that does not apply to some objects, and why."""

    rule: str
    kind: str
    name: str
    """fnmatch pattern on `<namespace>/<name>`."""
    reason: str


EXCEPTIONS = [
    PolicyException(
        "default-deny",
        "Namespace",
        "*-monitoring",
        "kube-prometheus-stack's pods (operator, Prometheus, Grafana) call the API server and "
        "scrape every namespace; the charts do not ship NetworkPolicies for that. The "
        "namespace is guarded by Pod Security (baseline enforced, restricted warned) and the "
        "stack's namespaces admit it only on metrics ports.",
    ),
]


def excepted(
    rule: str,
    kind: str,
    namespace: str,
    name: str,
    exceptions: Iterable[PolicyException] = EXCEPTIONS,
) -> PolicyException | None:
    """The exception that covers `rule` on this object, or None."""
    target = f"{namespace}/{name}" if namespace else name
    for exception in exceptions:
        matches = fnmatch.fnmatch(target, exception.name) or fnmatch.fnmatch(name, exception.name)
        if exception.rule == rule and exception.kind == kind and matches:
            return exception
    return None


def pod_template(manifest: Mapping[str, Any]) -> Any:
    """The pod spec of a workload manifest, or None."""
    kind, spec = manifest.get("kind"), manifest.get("spec") or {}
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    if kind in WORKLOADS:
        return spec.get("template", {}).get("spec", {})
    return None


def _containers(pod: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("initContainers", "containers"):
        for container in pod.get(key) or []:
            yield key, container


def _pod_security(pod: dict[str, Any]) -> Iterator[str]:
    """Pod Security Standard `restricted`."""
    context = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            yield f"{flag} is set"
    for volume in pod.get("volumes") or []:
        if "hostPath" in volume:
            yield f"volume {volume.get('name')} is a hostPath"
    for _, container in _containers(pod):
        name = container.get("name")
        own = container.get("securityContext") or {}
        if not (own.get("runAsNonRoot", context.get("runAsNonRoot"))):
            yield f"container {name} may run as root (runAsNonRoot is not true)"
        seccomp = (own.get("seccompProfile") or context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"container {name} has no RuntimeDefault seccomp profile"
        if own.get("allowPrivilegeEscalation") is not False:
            yield f"container {name} does not set allowPrivilegeEscalation: false"
        if "ALL" not in ((own.get("capabilities") or {}).get("drop") or []):
            yield f"container {name} does not drop ALL capabilities"
        if own.get("privileged"):
            yield f"container {name} is privileged"


def _resources(pod: dict[str, Any]) -> Iterator[str]:
    for _, container in _containers(pod):
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(kind) or {}):
                    yield f"container {container.get('name')} has no {resource} {kind[:-1]}"


def _probes(pod: dict[str, Any]) -> Iterator[str]:
    for key, container in _containers(pod):
        if key != "containers":
            continue
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container:
                yield f"container {container.get('name')} has no {probe}"


def _images(pod: dict[str, Any]) -> Iterator[str]:
    for _, container in _containers(pod):
        image = str(container.get("image", ""))
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" in image:
            continue
        if ":" not in last:
            yield f"container {container.get('name')} image {image!r} has no tag"
        elif last.endswith(":latest"):
            yield f"container {container.get('name')} image {image!r} uses `latest`"


def _secret_values(pod: dict[str, Any]) -> Iterator[str]:
    for _, container in _containers(pod):
        for variable in container.get("env") or []:
            name = str(variable.get("name", ""))
            if "value" in variable and SECRET_ENV.search(name):
                yield f"container {container.get('name')} sets {name} as a plain value"


def variable_references(text: str) -> list[str]:
    """Names that `$(NAME)` references in `text` expand (escaped `$$(NAME)` ones do not)."""
    return [m.group(1) for m in VARIABLE_REFERENCE.finditer(text) if m.group(1)]


def _secret_env_names(container: dict[str, Any]) -> dict[str, str]:
    """The container's env vars whose value comes from a Secret, with that Secret's name."""
    names = {}
    for variable in container.get("env") or []:
        ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
        if ref is not None:
            names[str(variable.get("name"))] = str(ref.get("name"))
    return names


def _literal_secrets(parts: list[str]) -> Iterator[str]:
    """Secrets written into a command line: a secret option with a value, a URL with a
    password. A password that is only a `$(NAME)` reference is reported by the caller."""
    tokens = [t.strip("'\"") for part in parts for t in part.split()]
    for index, token in enumerate(tokens):
        option = SECRET_OPTION.match(token)
        if option:
            value = option.group("value")
            if value is None and index + 1 < len(tokens) and not tokens[index + 1].startswith("-"):
                value = tokens[index + 1]
            if value and not VARIABLE_REFERENCE.fullmatch(value):
                yield f"option {token.split('=', 1)[0]} with a value"
        url = URL_PASSWORD.search(token)
        if url and not VARIABLE_REFERENCE.fullmatch(url.group("password")):
            yield "a URL with a password"


def _exec_commands(container: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        command = ((container.get(probe) or {}).get("exec") or {}).get("command")
        if command:
            yield probe, [str(part) for part in command]
    for hook, handler in (container.get("lifecycle") or {}).items():
        command = ((handler or {}).get("exec") or {}).get("command")
        if command:
            yield f"lifecycle.{hook}", [str(part) for part in command]


def _secret_argv(pod: dict[str, Any]) -> Iterator[str]:
    """No secret on a command line: every process on the node can read another's argv
    (/proc/<pid>/cmdline, `ps`), and the runtime records it. A `$(NAME)` in `command` or
    `args` is expanded by the kubelet into the process's argv, so it must not name a
    variable from a Secret or one whose name says it is secret; nor may a command, a
    probe's or a hook's, hold a secret option's value or a URL with a password. Shell
    scripts (`sh -c`) are checked as text: a shell variable they pass to a program is not
    seen here (the workload tests run those commands and look at their argv)."""
    for _, container in _containers(pod):
        name = container.get("name")
        from_secrets = _secret_env_names(container)
        parts = [str(p) for key in ("command", "args") for p in container.get(key) or []]
        for variable in dict.fromkeys(v for part in parts for v in variable_references(part)):
            if variable in from_secrets:
                source = f"from Secret {from_secrets[variable]}"
            elif SECRET_ENV.search(variable) and variable not in ALLOWED_SECRET_ENV_VALUES:
                source = "a secret's name"
            else:
                continue
            yield (
                f"container {name} puts $({variable}) ({source}) on its command line: "
                "pass it in the environment or a file"
            )
        for where, command in [("command", parts), *_exec_commands(container)]:
            for what in dict.fromkeys(_literal_secrets(command)):
                yield f"container {name} has {what} in its {where}"


@dataclass(frozen=True)
class PodRule:
    """One rule over a workload's pod template."""

    name: str
    description: str
    run: Callable[[Any], Iterator[str]]
    """Yields one message per breach in the pod spec."""
    servers_only: bool = False
    """Applies to long-running workloads (Deployment, StatefulSet, DaemonSet) only."""

    def applies_to(self, kind: str) -> bool:
        """Whether the rule checks manifests of `kind`."""
        return kind in (SERVERS if self.servers_only else WORKLOADS)


POD_RULES = (
    PodRule("pod-security", "Pod Security Standard `restricted`", _pod_security),
    PodRule("resources", "CPU and memory requests and limits on every container", _resources),
    PodRule(
        "probes",
        "readiness and liveness probes on every long-running container",
        _probes,
        servers_only=True,
    ),
    PodRule("images", "images pinned to a tag (not `latest`) or a digest", _images),
    PodRule("secret-values", "no secret-named env var with a plain value", _secret_values),
    PodRule("secret-argv", "no secret on a command line", _secret_argv),
)
"""The pod rules, in report order."""
DEFAULT_DENY = "default-deny"
DEFAULT_DENY_DESCRIPTION = "a default-deny NetworkPolicy in every namespace the stack creates"


def rule_findings(rule: PodRule, manifest: Mapping[str, Any]) -> Iterator[Finding]:
    """`rule`'s findings on one manifest (none for a kind the rule does not check)."""
    pod = pod_template(manifest)
    if pod is None or not rule.applies_to(str(manifest.get("kind"))):
        return
    yield from (finding_on(manifest, rule.name, message) for message in rule.run(pod))


def pod_findings(manifest: Mapping[str, Any]) -> Iterator[Finding]:
    """Every pod rule's findings on one manifest (none for a kind without a pod)."""
    for rule in POD_RULES:
        yield from rule_findings(rule, manifest)


def check(
    manifests: Iterable[dict[str, Any]],
) -> tuple[list[Finding], list[tuple[Finding, PolicyException]]]:
    """(findings, excepted findings each with the exception that covers it) over every
    manifest."""
    manifests = list(manifests)
    findings = [f for manifest in manifests for f in pod_findings(manifest)]
    findings += default_deny_findings(manifests)
    kept: list[Finding] = []
    covered: list[tuple[Finding, PolicyException]] = []
    for finding in findings:
        exception = excepted(finding.rule, finding.kind, finding.namespace, finding.name)
        if exception is None:
            kept.append(finding)
        else:
            covered.append((finding, exception))
    return kept, covered


def finding_on(manifest: Mapping[str, Any], rule: str, message: str) -> Finding:
    """`rule`'s finding `message` on `manifest`."""
    meta = manifest.get("metadata") or {}
    return Finding(
        rule,
        str(manifest.get("kind")),
        str(meta.get("namespace", "")),
        str(meta.get("name")),
        message,
    )


def default_deny_findings(manifests: Sequence[Mapping[str, Any]]) -> Iterator[Finding]:
    """Every namespace the stack creates has a NetworkPolicy denying all traffic."""
    denied = {
        (m.get("metadata") or {}).get("namespace")
        for m in manifests
        if m.get("kind") == "NetworkPolicy"
        and (m.get("spec") or {}).get("podSelector") == {}
        and set((m.get("spec") or {}).get("policyTypes") or []) == {"Ingress", "Egress"}
        and not (m.get("spec") or {}).get("ingress")
        and not (m.get("spec") or {}).get("egress")
    }
    for manifest in manifests:
        if manifest.get("kind") == "Namespace":
            name = (manifest.get("metadata") or {}).get("name")
            if name not in denied:
                yield Finding(
                    DEFAULT_DENY, "Namespace", "", str(name), "no default-deny NetworkPolicy"
                )
