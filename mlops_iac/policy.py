"""Policy checks on synthesized manifests: Pod Security `restricted`, resources, probes,
pinned images, secrets kept out of plain values and off command lines, a default-deny
NetworkPolicy per namespace.

`mlops-iac check DIR` runs them on what `mlops-iac synth` wrote; the tests run them on every
reference stack. Exceptions live in `EXCEPTIONS`, each with its reason, and are reported.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
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


def _excepted(rule: str, kind: str, namespace: str, name: str) -> PolicyException | None:
    target = f"{namespace}/{name}" if namespace else name
    for exception in EXCEPTIONS:
        matches = fnmatch.fnmatch(target, exception.name) or fnmatch.fnmatch(name, exception.name)
        if exception.rule == rule and exception.kind == kind and matches:
            return exception
    return None


def pod_template(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload manifest, or None."""
    kind, spec = manifest.get("kind"), manifest.get("spec") or {}
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    if kind in WORKLOADS:
        pod: dict[str, Any] = spec.get("template", {}).get("spec", {})
        return pod
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


POD_RULES = {
    "pod-security": _pod_security,
    "resources": _resources,
    "images": _images,
    "secret-values": _secret_values,
    "secret-argv": _secret_argv,
}


def check(
    manifests: Iterable[dict[str, Any]],
) -> tuple[list[Finding], list[tuple[Finding, PolicyException]]]:
    """(findings, excepted findings each with the exception that covers it) over every
    manifest."""
    manifests = list(manifests)
    findings: list[Finding] = []
    for manifest in manifests:
        pod = pod_template(manifest)
        if pod is None:
            continue
        rules = dict(POD_RULES)
        if manifest.get("kind") in SERVERS:
            rules["probes"] = _probes
        for rule, run in rules.items():
            findings += [_finding(rule, manifest, message) for message in run(pod)]
    findings += _default_deny(manifests)
    kept: list[Finding] = []
    excepted: list[tuple[Finding, PolicyException]] = []
    for finding in findings:
        exception = _excepted(finding.rule, finding.kind, finding.namespace, finding.name)
        if exception is None:
            kept.append(finding)
        else:
            excepted.append((finding, exception))
    return kept, excepted


def _finding(rule: str, manifest: dict[str, Any], message: str) -> Finding:
    meta = manifest.get("metadata") or {}
    return Finding(
        rule,
        str(manifest.get("kind")),
        str(meta.get("namespace", "")),
        str(meta.get("name")),
        message,
    )


def _default_deny(manifests: list[dict[str, Any]]) -> Iterator[Finding]:
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
                    "default-deny", "Namespace", "", str(name), "no default-deny NetworkPolicy"
                )
