"""The promotion watcher: roll an endpoint onto the version its model alias names, whenever
the alias moves, and record on that version how the rollout went.

One process per stack watches every endpoint with an automatic rollout. Each poll, per
endpoint:

1. resolve the endpoint's `models:/NAME@ALIAS` in the registry (a model or alias that does
   not exist yet is nothing to do; an unreachable registry is retried next poll);
2. read the version the endpoint Deployment's pod template pins, its one annotation
   `mlops-iac.dev/model-version` (MODEL_VERSION_ANNOTATION);
3. when the two differ, write the resolved version into that annotation: a JSON merge
   patch of `spec.template.metadata.annotations["mlops-iac.dev/model-version"]` and nothing
   else, field manager `mlops-iac-promotion-watch`. That annotation is the one field of the
   Deployment this process owns (Pulumi ignores it). A new value is a new pod template: the
   Argo Rollouts `Rollout` whose `workloadRef` names the Deployment starts a revision (canary
   steps, analysis, automatic rollback) and the pods' init container fetches exactly that
   version;
4. read the Rollout's status and, once it describes the current template
   (`status.workloadObservedGeneration` is the Deployment's generation), record the outcome
   on the registry version, once: `serving since <time>` when the revision is stable
   (`phase` Healthy, `stableRS == currentPodHash`), `rolled back <time>: <message>` when it
   was aborted.

The record is the model version tag `mlops-iac.rollout.<namespace>.<endpoint>`, which is
`started <time>` from the patch on. After a rollback the alias still names the bad version and
the annotation already pins it, so nothing more happens until someone moves the alias (to a
new version, or back to the one the stable pods serve) or retries the rollout
(`mlops-iac rollout retry ENDPOINT`). What was patched and recorded is
kept in memory; a restarted watcher re-derives it from the annotation and the tag.

    MLFLOW_TRACKING_URI=http://mlflow.mlops:5000 \\
        python -m mlops_iac.workloads.promotion_watch --config /etc/promotion-watch/config.json

The config (`--config`, or PROMOTION_WATCH_CONFIG) is a JSON file:

    {"endpoints": [{"endpoint": "churn", "namespace": "mlops", "deployment": "churn",
                    "rollout": "churn", "model_uri": "models:/churn@champion"}],
     "poll_seconds": 30}

The tracking URI comes from MLFLOW_TRACKING_URI, never the command line. The Kubernetes API
is the in-cluster one unless `--kubeconfig` (or KUBECONFIG) names a kubeconfig file. The
state is served as Prometheus metrics on `--metrics-host` (every interface) and
`--metrics-port` (8082; 0 serves none):
`mlops_rollout_model_version`, `mlops_rollout_state` and `mlops_rollout_total`. `--once`
polls once and exits: 0 when every endpoint was handled, 1 when one failed, 2 on a bad
config. SIGTERM ends the loop after the current poll.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlparse

from mlops_iac.components.rollout_specs import MODEL_VERSION_ANNOTATION
from mlops_iac.workloads import model_fetch
from mlops_iac.workloads.exit_codes import EXIT_FAILED, EXIT_INVALID_CONFIG
from mlops_iac.workloads.model_fetch import (
    FetchError,
    ModelRef,
    NotYet,
    Unreachable,
    _one_attempt_per_poll,
    _registry_answers,
    _registry_host,
    parse_model_uri,
    resolve,
)

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger("mlops_iac.promotion_watch")

FIELD_MANAGER = "mlops-iac-promotion-watch"
"""The field manager of every patch: the owner of MODEL_VERSION_ANNOTATION."""
TAG_PREFIX = "mlops-iac.rollout"
"""Model version tags `mlops-iac.rollout.<namespace>.<endpoint>` record each rollout."""
ROLLOUT_GROUP = "argoproj.io"
ROLLOUT_VERSION = "v1alpha1"
ROLLOUT_PLURAL = "rollouts"
CONFIG_ENV = "PROMOTION_WATCH_CONFIG"
DEFAULT_POLL_SECONDS = 30.0
DEFAULT_METRICS_PORT = 8082
LOG_SECONDS = 60.0
"""How often a condition that lasts (no model yet, no Rollout) is logged again."""
KUBERNETES_TIMEOUT_SECONDS = 15
"""Per Kubernetes API request."""
MERGE_PATCH = "application/merge-patch+json"
ENDPOINT_KEYS = ("endpoint", "namespace", "deployment", "rollout", "model_uri")

Outcome = Literal["serving", "rolled_back"]
"""What is recorded on a version once its rollout ends."""
RolloutState = Literal["waiting", "progressing", "healthy", "aborted"]
STATES: tuple[RolloutState, ...] = ("progressing", "healthy", "aborted", "waiting")
OUTCOME_COUNTED = {"serving": "promoted", "rolled_back": "rolled_back"}
"""The `outcome` label of mlops_rollout_total for each recorded outcome."""


@dataclass(frozen=True)
class EndpointConfig:
    """One watched endpoint: its Deployment (the pod template), its Rollout, its model."""

    endpoint: str
    namespace: str
    deployment: str
    rollout: str
    model_uri: str

    @property
    def ref(self) -> ModelRef:
        """The parsed `model_uri`."""
        return parse_model_uri(self.model_uri)

    @property
    def tag_key(self) -> str:
        """The model version tag that records this endpoint's rollouts."""
        return f"{TAG_PREFIX}.{self.namespace}.{self.endpoint}"


@dataclass(frozen=True)
class WatchConfig:
    """The watcher's config file."""

    endpoints: tuple[EndpointConfig, ...]
    poll_seconds: float = DEFAULT_POLL_SECONDS


def parse_config(data: Any) -> WatchConfig:
    """The config from its JSON value; ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("the config must be a JSON object with an `endpoints` list")
    unknown = sorted(set(data) - {"endpoints", "poll_seconds"})
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; allowed: endpoints, poll_seconds")
    poll = data.get("poll_seconds", DEFAULT_POLL_SECONDS)
    if isinstance(poll, bool) or not isinstance(poll, int | float) or poll <= 0:
        raise ValueError(f"poll_seconds must be a positive number, not {poll!r}")
    entries = data.get("endpoints")
    if not isinstance(entries, list) or not entries:
        raise ValueError("`endpoints` must be a non-empty list")
    endpoints = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"endpoints[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object with keys {list(ENDPOINT_KEYS)}")
        missing = [key for key in ENDPOINT_KEYS if key not in entry]
        extra = sorted(set(entry) - set(ENDPOINT_KEYS))
        if missing or extra:
            raise ValueError(f"{where}: missing keys {missing}, unknown keys {extra}")
        for key in ENDPOINT_KEYS:
            if not isinstance(entry[key], str) or not entry[key]:
                raise ValueError(f"{where}.{key} must be a non-empty string")
        endpoint = EndpointConfig(**{key: entry[key] for key in ENDPOINT_KEYS})
        endpoint.ref  # noqa: B018 (ValueError for a malformed URI)
        if endpoint.tag_key in seen:
            raise ValueError(f"{where}: {endpoint.namespace}/{endpoint.endpoint} is listed twice")
        seen.add(endpoint.tag_key)
        endpoints.append(endpoint)
    return WatchConfig(tuple(endpoints), float(poll))


def load_config(path: Path) -> WatchConfig:
    """The config file at `path`; ValueError when it is unreadable or invalid."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the config {path}: {error}") from error
    return parse_config(data)


@dataclass(frozen=True)
class RolloutStatus:
    """What the watcher reads of a Rollout's status."""

    phase: str | None = None
    abort: bool = False
    message: str = ""
    stable_rs: str | None = None
    current_pod_hash: str | None = None
    observed: bool = True
    """The status describes the Deployment's current pod template: the controller has seen
    its generation (`workloadObservedGeneration`). Right after a patch it has not, and the
    phase is the previous revision's."""

    @classmethod
    def from_object(
        cls, rollout: Mapping[str, Any], deployment_generation: int | None
    ) -> RolloutStatus:
        """From a Rollout object, compared with its Deployment's `metadata.generation`."""
        status = rollout.get("status") or {}
        seen = status.get("workloadObservedGeneration")
        observed = seen in (None, "") or deployment_generation is None
        observed = observed or str(seen) == str(deployment_generation)
        return cls(
            phase=status.get("phase"),
            abort=bool(status.get("abort")),
            message=str(status.get("message") or ""),
            stable_rs=status.get("stableRS"),
            current_pod_hash=status.get("currentPodHash"),
            observed=observed,
        )

    @property
    def stable(self) -> bool:
        """The current revision is the stable one and healthy."""
        return (
            self.phase == "Healthy"
            and bool(self.stable_rs)
            and self.stable_rs == self.current_pod_hash
        )


@dataclass(frozen=True)
class Memory:
    """What the watcher knows of an endpoint between polls."""

    version: str | None = None
    """The version it last patched into the annotation (on restart: the annotation's)."""
    recorded: Outcome | None = None
    """The outcome already recorded on `version`."""


@dataclass(frozen=True)
class Decision:
    """What one poll does for an endpoint."""

    patch: str | None
    """Write this version into the annotation (and tag it `started`)."""
    record: Outcome | None
    """Record this outcome on `memory.version`."""
    pinned: str | None
    """The version the pod template pins after this poll."""
    state: RolloutState
    memory: Memory
    """The memory once the patch and the record are done."""


def decide(
    resolved: str | None, annotation: str | None, rollout: RolloutStatus | None, memory: Memory
) -> Decision:
    """What to do, from the version the alias names (`resolved`, None: no model yet), the
    version the pod template pins (`annotation`), the Rollout's status (None: no Rollout)
    and what the watcher patched and recorded (`memory`).

    A resolved version other than the pinned one is patched in, whatever the Rollout does
    (that is also how a rolled-back version is replaced, or the alias moved back). Otherwise
    the outcome of the pinned version's rollout is recorded once, when the watcher rolled it
    and the status describes it."""
    if resolved is not None and resolved != annotation:
        return Decision(resolved, None, resolved, "progressing", Memory(resolved))
    if annotation is None:
        return Decision(None, None, None, "waiting", Memory())
    state: RolloutState = "progressing"
    outcome: Outcome | None = None
    if rollout is not None and rollout.observed:
        if rollout.abort:
            state, outcome = "aborted", "rolled_back"
        elif rollout.stable:
            state, outcome = "healthy", "serving"
    ours = memory.version == annotation
    if not ours:
        memory = Memory(annotation)
    record = outcome if ours and outcome is not None and memory.recorded != outcome else None
    if record is not None:
        memory = replace(memory, recorded=record)
    return Decision(None, record, annotation, state, memory)


def utc_now() -> str:
    """The time as ISO 8601 UTC, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def started_tag(now: str) -> str:
    """The tag value from the patch on."""
    return f"started {now}"


def outcome_tag(outcome: Outcome, now: str, message: str = "") -> str:
    """The tag value recording `outcome`."""
    if outcome == "serving":
        return f"serving since {now}"
    return f"rolled back {now}: {message}".rstrip(": ")


def recorded_outcome(tag: str | None) -> Outcome | None:
    """The outcome a tag value records (None for `started ...` or no tag)."""
    if tag is None:
        return None
    if tag.startswith("serving since"):
        return "serving"
    if tag.startswith("rolled back"):
        return "rolled_back"
    return None


class WatchMetrics:
    """The watcher's state as Prometheus metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = registry if registry is not None else CollectorRegistry()
        labels = ["endpoint", "namespace"]
        self.model_version = Gauge(
            "mlops_rollout_model_version",
            "The registry version the endpoint's pod template pins",
            labels,
            registry=self.registry,
        )
        self.state = Gauge(
            "mlops_rollout_state",
            "1 for the endpoint's rollout state: progressing, healthy, aborted or waiting",
            [*labels, "state"],
            registry=self.registry,
        )
        self.total = Counter(
            "mlops_rollout",
            "Rollouts that ended, by outcome: promoted or rolled_back",
            [*labels, "outcome"],
            registry=self.registry,
        )

    def update(self, endpoint: EndpointConfig, decision: Decision) -> None:
        """Set the gauges from one poll's decision."""
        key = (endpoint.endpoint, endpoint.namespace)
        if decision.pinned is not None and decision.pinned.isdigit():
            self.model_version.labels(*key).set(int(decision.pinned))
        for state in STATES:
            self.state.labels(*key, state).set(int(state == decision.state))

    def count(self, endpoint: EndpointConfig, outcome: Outcome) -> None:
        """Count a recorded outcome."""
        self.total.labels(endpoint.endpoint, endpoint.namespace, OUTCOME_COUNTED[outcome]).inc()


class Registry(model_fetch.Registry, Protocol):
    """What this needs of `mlflow.MlflowClient`."""

    def set_model_version_tag(self, name: str, version: str, key: str, value: Any) -> None: ...


class WatchError(Exception):
    """An endpoint could not be handled this poll; the next poll tries again."""


@contextlib.contextmanager
def _kubernetes_answers(what: str) -> Iterator[None]:
    """Kubernetes API errors (refusals, no answer) as WatchError naming `what`."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as error:
        answer = f"{error.status} {error.reason}"
        raise WatchError(f"{what}: the Kubernetes API answered {answer}") from error
    except HTTPError as error:
        raise WatchError(f"{what}: the Kubernetes API does not answer ({error})") from error


@dataclass
class _Endpoint:
    config: EndpointConfig
    ref: ModelRef
    memory: Memory | None = None
    """None until the first poll derives it from the annotation and the tag."""
    logged: dict[str, float] = field(default_factory=dict)


class Watcher:
    """Polls every configured endpoint; keeps what it patched and recorded in memory."""

    def __init__(
        self,
        config: WatchConfig,
        registry: Registry,
        apps: Any,
        custom: Any,
        metrics: WatchMetrics | None = None,
        *,
        where: str = "the registry",
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], str] = utc_now,
    ) -> None:
        """`apps` and `custom` are the `kubernetes` client's AppsV1Api and CustomObjectsApi;
        `where` names the registry in log lines."""
        self.config = config
        self.registry = registry
        self.apps = apps
        self.custom = custom
        self.metrics = metrics if metrics is not None else WatchMetrics()
        self.where = where
        self.clock = clock
        self.now = now
        self.endpoints = [_Endpoint(endpoint, endpoint.ref) for endpoint in config.endpoints]

    def memory(self, endpoint: str) -> Memory | None:
        """What the watcher remembers of `endpoint` (None before its first poll)."""
        for watched in self.endpoints:
            if watched.config.endpoint == endpoint:
                return watched.memory
        raise KeyError(endpoint)

    def poll(self) -> bool:
        """One poll of every endpoint; True when each was handled (no error)."""
        handled = True
        for watched in self.endpoints:
            try:
                self._poll(watched)
            except WatchError as error:
                handled = False
                log.error(
                    "%s: %s; trying again in %gs",
                    watched.config.endpoint, error, self.config.poll_seconds,
                )  # fmt: skip
            except Exception:  # never let one endpoint's surprise end the watcher
                handled = False
                log.exception("%s: polling failed", watched.config.endpoint)
        return handled

    def run(self, stop: threading.Event) -> None:
        """Poll every `poll_seconds` until `stop` is set."""
        while True:
            self.poll()
            if stop.wait(self.config.poll_seconds):
                return

    def _log_now(self, watched: _Endpoint, what: str) -> bool:
        """True when `what` was not logged for this endpoint within LOG_SECONDS."""
        now = self.clock()
        last = watched.logged.get(what)
        if last is not None and now - last < LOG_SECONDS:
            return False
        watched.logged[what] = now
        return True

    def _resolve(self, watched: _Endpoint) -> str | None:
        config = watched.config
        try:
            version = resolve(self.registry, watched.ref)
        except NotYet as missing:
            if self._log_now(watched, "not yet"):
                log.info(
                    "%s: nothing to roll out yet: %s (%s)",
                    config.endpoint,
                    missing,
                    config.model_uri,
                )
            return None
        except Unreachable as error:
            raise WatchError(f"{self.where} does not answer ({error})") from error
        except FetchError as error:
            raise WatchError(f"resolving {config.model_uri}: {error}") from error
        watched.logged.pop("not yet", None)
        return version

    def _tag(self, watched: _Endpoint, version: str, value: str) -> None:
        try:
            with _registry_answers(f"version {version} of {watched.ref.name!r} does not exist"):
                self.registry.set_model_version_tag(
                    watched.ref.name, version, watched.config.tag_key, value
                )
        except (NotYet, Unreachable, FetchError) as error:
            raise WatchError(f"tagging version {version} with {value!r}: {error}") from error

    def _derive(self, watched: _Endpoint, annotation: str | None) -> Memory:
        """The memory of a (re)started watcher: the pinned version and its recorded tag."""
        if annotation is None:
            return Memory()
        try:
            with _registry_answers("no such version"):
                version = self.registry.get_model_version(watched.ref.name, annotation)
        except (NotYet, FetchError):  # no such version (any more), or no version number
            return Memory(annotation)
        except Unreachable as error:
            raise WatchError(f"reading version {annotation}'s tags: {error}") from error
        tags = dict(getattr(version, "tags", None) or {})
        return Memory(annotation, recorded_outcome(tags.get(watched.config.tag_key)))

    def _read_rollout(self, watched: _Endpoint, generation: int | None) -> RolloutStatus | None:
        from kubernetes.client.exceptions import ApiException

        config = watched.config
        what = f"reading rollout {config.namespace}/{config.rollout}"
        try:
            with _kubernetes_answers(what):
                rollout = self.custom.get_namespaced_custom_object(
                    ROLLOUT_GROUP, ROLLOUT_VERSION, config.namespace, ROLLOUT_PLURAL,
                    config.rollout, _request_timeout=KUBERNETES_TIMEOUT_SECONDS,
                )  # fmt: skip
        except WatchError as error:
            cause = error.__cause__
            if not (isinstance(cause, ApiException) and cause.status == 404):
                raise
            if self._log_now(watched, "no rollout"):
                log.warning(
                    "%s: rollout %s/%s not found: the version is pinned, but how its rollout "
                    "goes is not recorded",
                    config.endpoint, config.namespace, config.rollout,
                )  # fmt: skip
            return None
        watched.logged.pop("no rollout", None)
        return RolloutStatus.from_object(rollout, generation)

    def _poll(self, watched: _Endpoint) -> None:
        config = watched.config
        resolved = self._resolve(watched)
        with _kubernetes_answers(f"reading deployment {config.namespace}/{config.deployment}"):
            deployment = self.apps.read_namespaced_deployment(
                config.deployment, config.namespace, _request_timeout=KUBERNETES_TIMEOUT_SECONDS
            )
        template = deployment.spec.template.metadata
        annotation = ((template.annotations if template else None) or {}).get(
            MODEL_VERSION_ANNOTATION
        )
        rollout = self._read_rollout(watched, deployment.metadata.generation)
        if watched.memory is None or watched.memory.version != annotation:
            # Restarted, or someone else wrote the annotation. A version about to be replaced
            # needs no history (and one that is no version number has none).
            replaced = resolved is not None and resolved != annotation
            watched.memory = Memory(annotation) if replaced else self._derive(watched, annotation)
        decision = decide(resolved, annotation, rollout, watched.memory)
        if decision.patch is not None:
            self._patch(watched, decision.patch, annotation)
            watched.memory = decision.memory
            self.metrics.update(config, decision)
            self._tag(watched, decision.patch, started_tag(self.now()))
            return
        self.metrics.update(config, decision)
        if decision.record is not None and decision.memory.version is not None:
            version = decision.memory.version
            message = rollout.message if rollout else ""
            self._tag(watched, version, outcome_tag(decision.record, self.now(), message))
            self.metrics.count(config, decision.record)
            if decision.record == "serving":
                log.info(
                    "%s: version %s is serving (revision %s)",
                    config.endpoint, version, rollout.stable_rs if rollout else "?",
                )  # fmt: skip
            else:
                log.warning(
                    "%s: version %s was rolled back: %s. The stable pods keep serving; %s "
                    "still names it: move the alias to roll out another version, or retry "
                    "this one (mlops-iac rollout retry)",
                    config.endpoint, version, message or "aborted", config.model_uri,
                )  # fmt: skip
        watched.memory = decision.memory

    def _patch(self, watched: _Endpoint, version: str, was: str | None) -> None:
        config = watched.config
        body = {
            "spec": {"template": {"metadata": {"annotations": {MODEL_VERSION_ANNOTATION: version}}}}
        }
        with _kubernetes_answers(f"patching deployment {config.namespace}/{config.deployment}"):
            self.apps.patch_namespaced_deployment(
                config.deployment, config.namespace, body, field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH, _request_timeout=KUBERNETES_TIMEOUT_SECONDS,
            )  # fmt: skip
        log.info("%s: rolling out version %s (was %s)", config.endpoint, version, was or "none")


def kubernetes_apis(kubeconfig: str | None) -> tuple[Any, Any]:
    """(AppsV1Api, CustomObjectsApi): from the kubeconfig file, else the in-cluster config."""
    from kubernetes import client, config

    if kubeconfig:
        api_client = config.new_client_from_config(config_file=kubeconfig, persist_config=False)
    else:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        api_client = client.ApiClient(configuration)
    return client.AppsV1Api(api_client), client.CustomObjectsApi(api_client)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_iac.workloads.promotion_watch",
        description=(__doc__ or "").splitlines()[0],
    )
    parser.add_argument(
        "--config", default=os.environ.get(CONFIG_ENV), help=f"the JSON config; or {CONFIG_ENV}"
    )
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="a kubeconfig file, to run outside the cluster; or KUBECONFIG",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=DEFAULT_METRICS_PORT,
        help="port of the Prometheus metrics; 0 serves none",
    )
    parser.add_argument(
        "--metrics-host",
        default="0.0.0.0",
        help="address the metrics are served on (every interface by default)",
    )
    parser.add_argument("--once", action="store_true", help="poll once, then exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Watch (or poll once with `--once`); see the module docstring for the exit codes."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = _parser().parse_args(argv)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    try:
        if not args.config:
            raise ValueError(f"no config: pass --config or set {CONFIG_ENV}")
        config = load_config(Path(args.config))
        if urlparse(tracking_uri).scheme not in ("http", "https"):
            raise ValueError("MLFLOW_TRACKING_URI must be the registry's http(s) URL")
        apps, custom = kubernetes_apis(args.kubeconfig)
    except Exception as error:  # ValueError, or the kubernetes client's ConfigException
        print(f"promotion watch: {error}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    from mlflow import MlflowClient

    with _one_attempt_per_poll():
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        watcher = Watcher(config, client, apps, custom, where=_registry_host(tracking_uri))
        if args.once:
            return 0 if watcher.poll() else EXIT_FAILED
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if args.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(
                args.metrics_port, addr=args.metrics_host, registry=watcher.metrics.registry
            )
        log.info(
            "watching %d endpoint(s) in %s every %gs",
            len(config.endpoints), _registry_host(tracking_uri), config.poll_seconds,
        )  # fmt: skip
        watcher.run(stop)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
