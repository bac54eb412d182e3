"""Wait for a registry model, then fetch it: the init container of a model-server pod.

A stack's endpoints are created by the same first `pulumi up` as its registry, so the model
they serve does not exist yet. This polls the registry until the `models:/` URI resolves (a
registered model, version or alias that does not exist means "not yet"), logging at once and
then every minute what it waits for and what to do, then downloads that version through the
registry's artifact proxy into `--dst` (files directly in it, as `mlflow artifacts download
--dst-path` writes them). Without `--dst` it only waits: the `mlflow` runtime's scoring
server downloads the model itself.

What waiting cannot fix still fails, with the reason on stderr: a malformed URI or no
MLFLOW_TRACKING_URI (exit 2); a request the registry refuses (authentication, permission, a
URL that is not an MLflow server), a version whose registration failed, or a registry that
stays unreachable (connection errors, timeouts, 5xx) for `--unreachable-seconds` (exit 1).
The registry starts in the same `up`, so unreachable is retried for a while first.

    python -m mlops_iac.workloads.model_fetch --model-uri models:/churn@champion \\
        --dst /models/model --hint "train and promote it: mlops-iac train churn --stack dev"

The tracking URI comes from MLFLOW_TRACKING_URI; the command line carries nothing secret.
`--poll-seconds` (MODEL_FETCH_POLL_SECONDS, default 10), `--log-seconds`
(MODEL_FETCH_LOG_SECONDS, 60) and `--unreachable-seconds` (MODEL_FETCH_UNREACHABLE_SECONDS,
300) can be set by flag or environment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from mlops_iac.workloads.exit_codes import EXIT_FAILED, EXIT_INVALID_CONFIG

log = logging.getLogger("mlops_iac.model_fetch")

MODEL_URI = re.compile(
    r"^models:/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>[0-9]+))$"
)
"""The same `models:/NAME@ALIAS` | `models:/NAME/VERSION` the stack spec accepts."""
NOT_YET_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST"})
TRANSIENT_CODES = frozenset({"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})
"""MLflow's codes for a connection error or timeout (its client reports them as
INTERNAL_ERROR) and for 5xx/429 answers: retried until `--unreachable-seconds`."""
REQUEST_TIMEOUT_SECONDS = 15
"""Per registry request while polling (MLflow's default is 120 s)."""
DEFAULT_HINT = "register a version of it in the registry"
PINNED_VERSION_ENV = "MODEL_VERSION"
"""A version number that overrides the URI's alias (set from the pod template's
`mlops-iac.dev/model-version` annotation; empty until the promotion watcher pins one)."""
REGISTERED_MODEL_FILE = "registered-model.json"
"""Written into the downloaded model's folder: its registered name, version and URI."""


@dataclass(frozen=True)
class ModelRef:
    """A parsed `models:/` URI."""

    uri: str
    name: str
    alias: str | None
    version: str | None


def parse_model_uri(uri: str) -> ModelRef:
    """ValueError unless `uri` is `models:/NAME@ALIAS` or `models:/NAME/VERSION`."""
    match = MODEL_URI.match(uri)
    if match is None:
        raise ValueError(
            f"{uri!r} is not a registry model URI; allowed: models:/NAME@ALIAS or "
            "models:/NAME/VERSION"
        )
    return ModelRef(uri, match["name"], match["alias"], match["version"])


def pinned(ref: ModelRef, version: str) -> ModelRef:
    """`ref` at `version` when one is given (an endpoint with a rollout: the promotion
    watcher pins the version its alias named on the pod template, so every pod of one
    revision serves the same version even after the alias moves again); else `ref`."""
    version = version.strip()
    if not version:
        return ref
    if not version.isdigit():
        raise ValueError(f"{PINNED_VERSION_ENV}={version!r} is not a registry version number")
    return ModelRef(f"models:/{ref.name}/{version}", ref.name, None, version)


class NotYet(Exception):
    """The model the URI names does not exist yet; the message says what is missing."""


class Unreachable(Exception):
    """No answer from the registry (or a 5xx): worth retrying for a while."""


class FetchError(Exception):
    """Waiting cannot fix this."""


class Registry(Protocol):
    """What this needs of `mlflow.MlflowClient`."""

    def get_registered_model(self, name: str) -> Any: ...

    def get_model_version(self, name: str, version: str) -> Any: ...


@contextlib.contextmanager
def _registry_answers(missing: str) -> Iterator[None]:
    """Translate MLflow's errors: a missing resource into NotYet(`missing`), connection
    errors and 5xx into Unreachable; anything else propagates."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as error:
        if error.error_code in NOT_YET_CODES:
            raise NotYet(missing) from error
        if error.error_code in TRANSIENT_CODES:
            raise Unreachable(str(error).splitlines()[0]) from error
        raise FetchError(f"the registry refused ({error.error_code}): {error}") from error


def resolve(registry: Registry, ref: ModelRef) -> str:
    """The version `ref` names now; NotYet if there is none (yet)."""
    version = ref.version
    if ref.alias is not None:
        with _registry_answers(f"registered model {ref.name!r} does not exist yet"):
            model = registry.get_registered_model(ref.name)
        aliases: dict[str, Any] = dict(model.aliases or {})
        if ref.alias not in aliases:
            raise NotYet(f"registered model {ref.name!r} has no alias {ref.alias!r} yet")
        version = str(aliases[ref.alias])
    assert version is not None
    with _registry_answers(f"registered model {ref.name!r} has no version {version} yet"):
        found = registry.get_model_version(ref.name, version)
    status = str(getattr(found, "status", "READY") or "READY")
    if status == "PENDING_REGISTRATION":
        raise NotYet(f"version {version} of {ref.name!r} is still being registered")
    if status != "READY":
        message = getattr(found, "status_message", "") or ""
        raise FetchError(f"version {version} of {ref.name!r} is {status}: {message}".rstrip(": "))
    return version


@dataclass(frozen=True)
class Waiting:
    """How to wait."""

    poll_seconds: float = 10.0
    log_seconds: float = 60.0
    unreachable_seconds: float = 300.0
    hint: str = DEFAULT_HINT


def wait_for_model(
    registry: Registry,
    ref: ModelRef,
    waiting: Waiting,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    where: str = "the registry",
) -> str:
    """Poll until `ref` resolves; its version. FetchError when the registry refuses or stays
    unreachable for `waiting.unreachable_seconds`."""
    started = clock()
    last_log: float | None = None
    down_since: float | None = None
    while True:
        now = clock()
        try:
            version = resolve(registry, ref)
        except NotYet as missing:
            down_since = None
            if last_log is None or now - last_log >= waiting.log_seconds:
                last_log = now
                log.warning(
                    "waiting for %s: %s (for %s); to serve it, %s. The pod goes on by itself "
                    "once it exists, no new `pulumi up` needed.",
                    ref.uri, missing, _elapsed(now - started), waiting.hint,
                )  # fmt: skip
        except Unreachable as error:
            down_since = now if down_since is None else down_since
            if now - down_since >= waiting.unreachable_seconds:
                raise FetchError(
                    f"{where} was unreachable for {waiting.unreachable_seconds:g}s: {error}"
                ) from error
            if last_log is None or now - last_log >= waiting.log_seconds:
                last_log = now
                log.warning(
                    "waiting for %s: %s does not answer (%s); giving up after %gs",
                    ref.uri, where, error, waiting.unreachable_seconds,
                )  # fmt: skip
        else:
            return version
        sleep(waiting.poll_seconds)


def _elapsed(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes else f"{int(seconds)} s"


@contextlib.contextmanager
def _one_attempt_per_poll() -> Iterator[None]:
    """While polling, each registry request is tried once with a short timeout (the loop
    retries): MLflow's own retries would take minutes to report an unreachable registry."""
    settings = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT_SECONDS),
    }
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def download(ref: ModelRef, version: str, dst: Path) -> None:
    """Version `version` of the model into `dst` (replaced): downloaded beside it first, so a
    restarted container never serves a partial download. `dst/registered-model.json` records
    which registered version it is (the builtin model server labels its metrics with it)."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", dir=dst.parent))
    try:
        try:
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{ref.name}/{version}", dst_path=str(partial)
            )
        except MlflowException as error:
            raise FetchError(f"downloading version {version}: {error}") from error
        record = {"name": ref.name, "version": version, "uri": ref.uri}
        (partial / REGISTERED_MODEL_FILE).write_text(json.dumps(record) + "\n")
        if dst.exists():
            shutil.rmtree(dst)
        partial.rename(dst)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model-uri", required=True, help="models:/NAME@ALIAS or NAME/VERSION")
    parser.add_argument("--dst", type=Path, help="folder for the model files; omit to only wait")
    parser.add_argument("--hint", default=DEFAULT_HINT, help="what to do, for the log line")
    parser.add_argument(
        "--poll-seconds", type=float, default=_seconds("MODEL_FETCH_POLL_SECONDS", 10)
    )
    parser.add_argument(
        "--log-seconds", type=float, default=_seconds("MODEL_FETCH_LOG_SECONDS", 60)
    )
    parser.add_argument(
        "--unreachable-seconds",
        type=float,
        default=_seconds("MODEL_FETCH_UNREACHABLE_SECONDS", 300),
    )
    return parser


def _registry_host(tracking_uri: str) -> str:
    """`tracking_uri` without any credentials in it, for log lines."""
    parsed = urlparse(tracking_uri)
    return f"the registry at {parsed.scheme}://{parsed.hostname}" + (
        f":{parsed.port}" if parsed.port else ""
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Wait, then fetch; 0 when the model is in `--dst`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    # An init container's process is PID 1, which ignores SIGTERM without a handler: stop
    # waiting at once when the pod is deleted instead of at the grace period's SIGKILL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    args = _parser().parse_args(argv)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    try:
        ref = pinned(parse_model_uri(args.model_uri), os.environ.get(PINNED_VERSION_ENV, ""))
        if urlparse(tracking_uri).scheme not in ("http", "https"):
            raise ValueError("MLFLOW_TRACKING_URI must be the registry's http(s) URL")
    except ValueError as error:
        print(f"model fetch: {error}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    from mlflow import MlflowClient

    waiting = Waiting(
        poll_seconds=args.poll_seconds,
        log_seconds=args.log_seconds,
        unreachable_seconds=args.unreachable_seconds,
        hint=args.hint,
    )
    try:
        with _one_attempt_per_poll():
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            version = wait_for_model(client, ref, waiting, where=_registry_host(tracking_uri))
        log.info("%s is version %s", ref.uri, version)
        if args.dst is not None:
            download(ref, version, args.dst)
            log.info("downloaded %s (version %s) to %s", ref.uri, version, args.dst)
    except FetchError as error:
        print(f"model fetch of {ref.uri} failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
