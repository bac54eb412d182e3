"""A kubelet for one machine with no container runtime: it runs a pod template's containers
as local processes, each in its own mount namespace laid out as the pod sees it.

What it does as a kubelet does: init containers one by one, then the containers together;
env from `value` (with `$(VAR)` expansion), Secrets, ConfigMaps, the downward API and
service links; emptyDir, Secret, ConfigMap, projected and claim volumes at their mount
paths (read-only where Kubernetes mounts them so); `runAsUser`, `runAsGroup`, `fsGroup`;
`readOnlyRootFilesystem`; probes (exec, httpGet, tcpSocket); restarts by `restartPolicy`.

Where it differs, because every pod shares this machine's network: each pod gets its own
loopback address (127.77.x.y) as its IP; `0.0.0.0` (where a process binds) in the
manifest's command, args and env, and `127.0.0.1` (where a process reaches its own pod) in
env values and probes, become that address (a `127.0.0.1` in args stays: MLflow's
`--allowed-hosts` names it as a Host header, not an address to reach); the pod's /etc/hosts maps
`localhost`, its host name and every Service name to pod IPs (a Service's port must equal
its target's container port: there is no kube-proxy). Crash-loop backoff is 1 s doubling to
8 s instead of 10 s to 5 min, and probe periods are capped at 1 s, so the tier is quick.

While containers run, a sampler reads each one's peak memory (the sum of VmHWM over the
processes of its session) and the bytes in each of its pod's emptyDirs."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_iac.spec.types import quantity_value
from mlops_iac.testing.kubelet import kubelet_expand
from mlops_iac.testing.local_servers import kill_process_group

from images import StandIn, stand_in

LAUNCHER = Path(__file__).resolve().parent / "launcher.py"
_KEYED_FIELD = re.compile(r"metadata\.(?P<map>labels|annotations)\['(?P<key>[^']+)'\]")
"""A downward-API field path naming one label or annotation."""
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_ANY_ADDRESS = re.compile(r"(?<![\d.])0\.0\.0\.0(?![\d.])")
_LOOPBACK = re.compile(r"(?<![\d.])(?:0\.0\.0\.0|127\.0\.0\.1)(?![\d.])")
BACKOFF_START, BACKOFF_CAP, PROBE_PERIOD_CAP = 1.0, 8.0, 1.0


def quantity_bytes(quantity: str | None) -> int | None:
    return None if quantity is None else int(quantity_value(str(quantity)))


@dataclass
class Cluster:
    """What every pod on this node can see: the objects of the stack, Service addresses,
    the API server, and the node's folders."""

    root: Path
    objects: list[dict[str, Any]]
    """The stack's manifests with real secret values."""
    service_ips: dict[tuple[str, str], str] = field(default_factory=dict)
    """(namespace, Service name) -> the IP of the pod it selects."""
    api_server: tuple[str, int] | None = None
    """Host and port of the Kubernetes API the pods' service-account tokens reach."""
    api_ca: Path | None = None
    api_token: Callable[[str, str], str] | None = None
    """(namespace, service account) -> a token for it."""
    port_users: dict[int, set[str]] = field(default_factory=dict)
    """Container port -> the workloads (`<Kind> <namespace>/<name>`) that declare it."""
    created_mountpoints: list[Path] = field(default_factory=list)
    _mountpoint_lock: threading.Lock = field(default_factory=threading.Lock)

    def object(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        for item in self.objects:
            meta = item.get("metadata", {})
            if (item.get("kind"), meta.get("name"), meta.get("namespace")) == (
                kind,
                name,
                namespace,
            ):
                return item
        raise KeyError(f"no {kind} {namespace}/{name} in the stack")

    def data(self, kind: str, namespace: str, name: str) -> dict[str, bytes]:
        """A Secret's or ConfigMap's keys and values."""
        item = self.object(kind, namespace, name)
        values = {k: v.encode() for k, v in (item.get("stringData") or {}).items()}
        for key, value in (item.get("data") or {}).items():
            values[key] = base64.b64decode(value) if kind == "Secret" else value.encode()
        for key, value in (item.get("binaryData") or {}).items():
            values[key] = base64.b64decode(value)
        return values

    def hosts_file(self, pod_ip: str, hostname: str, namespace: str) -> str:
        lines = [f"{pod_ip}\tlocalhost {hostname}"]
        for (ns, name), ip in sorted(self.service_ips.items()):
            names = [f"{name}.{ns}.svc.cluster.local", f"{name}.{ns}.svc", f"{name}.{ns}"]
            if ns == namespace:
                names.append(name)
            lines.append(f"{ip}\t{' '.join(names)}")
        return "\n".join(lines) + "\n"

    def mountpoint(self, target: str, is_file: bool) -> None:
        """Create `target` on this machine if it is missing (a bind mount needs one);
        remembered so `remove_mountpoints` takes it away again."""
        with self._mountpoint_lock:
            self._create_mountpoint(Path(target), is_file)

    def _create_mountpoint(self, path: Path, is_file: bool) -> None:
        missing = []
        probe = path
        while not probe.exists() and not probe.is_symlink():
            missing.append(probe)
            probe = probe.parent
        if not missing:
            return
        for place in reversed(missing):
            if place == path and is_file:
                place.touch()
            else:
                place.mkdir()
            self.created_mountpoints.append(place)

    def remove_mountpoints(self) -> None:
        for place in reversed(self.created_mountpoints):
            with contextlib.suppress(OSError):
                place.unlink() if place.is_file() else place.rmdir()
        self.created_mountpoints.clear()


@dataclass
class ContainerRecord:
    """One container's life on this node, and what the sampler measured."""

    workload: str
    """`<Kind> <namespace>/<name>` of the object whose pod template declares it."""
    pod: str
    name: str
    init: bool
    image: str
    memory_limit: int | None
    stand_in: str
    peak_bytes: int = 0
    restarts: int = 0
    ready_after: float | None = None
    exit_codes: list[int] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    session: int | None = None
    session_start: int | None = None
    """When the session's leader started (/proc/<pid>/stat starttime): with pid_max at 32768
    here, a later process can get the same pid, and its session must not count as ours."""

    def log_tail(self, lines: int = 30) -> str:
        if not self.logs:
            return "(never started)"
        text = self.logs[-1].read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class EmptyDirRecord:
    """One emptyDir of one pod, and the most bytes it held."""

    workload: str
    pod: str
    name: str
    folder: Path
    size_limit: int | None
    peak_bytes: int = 0


class Sampler:
    """One thread that reads /proc and the emptyDirs a few times a second."""

    def __init__(self, interval: float = 0.2) -> None:
        self.containers: list[ContainerRecord] = []
        self.empty_dirs: list[EmptyDirRecord] = []
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-tier-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(self._interval):
            self.sample_memory()
            ticks += 1
            if ticks % 5 == 0:
                self.sample_disk()

    def sample_memory(self) -> None:
        by_session: dict[int, int] = {}
        for process, session in processes_by_session():
            try:
                status = (process / "status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
            if match:
                by_session[session] = by_session.get(session, 0) + int(match.group(1)) * 1024
        for record in list(self.containers):
            if record.session not in by_session:
                continue
            if start_time(record.session) != record.session_start:
                continue  # the container is gone and its pid taken by another process
            record.peak_bytes = max(record.peak_bytes, by_session[record.session])

    def sample_disk(self) -> None:
        for record in list(self.empty_dirs):
            record.peak_bytes = max(record.peak_bytes, disk_usage(record.folder))


def start_time(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot; None when there is none."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def processes_by_session() -> Iterator[tuple[Path, int]]:
    """Each live process's /proc folder and the session it belongs to (a container's
    session is its first process's pid: the kubelet here starts each in a new one)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield stat.parent, int(stat.read_text().rsplit(")", 1)[1].split()[3])
        except (OSError, IndexError, ValueError):
            continue


def wildcard_listeners(session: int) -> list[int]:
    """Ports that processes of `session` listen on at 0.0.0.0 or [::]."""
    inodes: set[str] = set()
    for process, owner in processes_by_session():
        if owner != session:
            continue
        try:
            for fd in (process / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and fields[9] in inodes and set(address) == {"0"}:
                ports.add(int(port, 16))
    return sorted(ports)


def disk_usage(folder: Path) -> int:
    """Bytes of the blocks the files under `folder` take (what `du` and the kubelet count)."""
    total = 0
    for path, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(path, name)).st_blocks * 512
    return total


class PodFailed(RuntimeError):
    """A pod that cannot succeed (a Job past its backoff limit, a container that never
    became ready before the deadline)."""


class Pod:
    """One pod from a pod template, run by a thread of its own."""

    def __init__(
        self,
        cluster: Cluster,
        sampler: Sampler,
        namespace: str,
        name: str,
        template: dict[str, Any],
        ip: str,
        claims: dict[str, Path] | None = None,
        job: bool = False,
        workload: str = "",
    ) -> None:
        self.cluster, self.sampler = cluster, sampler
        self.namespace, self.name, self.ip = namespace, name, ip
        self.spec: dict[str, Any] = template["spec"]
        self.labels = template.get("metadata", {}).get("labels", {})
        self.annotations = template.get("metadata", {}).get("annotations") or {}
        self.job = job
        self.workload = workload or f"Pod {namespace}/{name}"
        self.folder = cluster.root / "pods" / f"{namespace}.{name}"
        self.claims = claims or {}
        self.records: dict[str, ContainerRecord] = {}
        self.ready = threading.Event()
        self.done = threading.Event()
        self.failure: str | None = None
        self.started = time.monotonic()
        self._stopping = threading.Event()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._thread: threading.Thread | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._volumes = self._make_volumes()
        for container in self.spec.get("initContainers", []):
            self._record(container, init=True)
        for container in self.spec["containers"]:
            self._record(container, init=False)
        self._thread = threading.Thread(target=self._run, name=f"pod-{self.key}", daemon=True)
        self._thread.start()

    def stop(self, grace: float = 10) -> None:
        """SIGTERM every container at once, SIGKILL what still runs after `grace` s (the
        pod's terminationGracePeriodSeconds, for a pod the API server deletes)."""
        self._stopping.set()
        stoppers = [
            threading.Thread(target=kill_process_group, args=(process.pid, grace), daemon=True)
            for process in list(self._processes.values())
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        if self._thread:
            self._thread.join(timeout=30)

    def wait(self, timeout: float) -> None:
        """Until ready (a long-running pod) or done (a Job's pod); PodFailed otherwise."""
        event = self.done if self.job else self.ready
        deadline = time.monotonic() + timeout
        while not event.wait(0.5):
            if self.failure:
                break
            if time.monotonic() > deadline:
                self.failure = f"not {'complete' if self.job else 'ready'} after {timeout:.0f} s"
                break
        if self.failure:
            raise PodFailed(f"{self.key}: {self.failure}\n{self.diagnosis()}")

    def diagnosis(self) -> str:
        parts = []
        for record in self.records.values():
            parts.append(
                f"--- {record.name} (exit codes {record.exit_codes}, {record.restarts} "
                f"restarts, ready {record.ready_after}):\n{record.log_tail()}"
            )
        return "\n".join(parts)

    def _run(self) -> None:
        policy = self.spec.get("restartPolicy", "Always")
        try:
            for container in self.spec.get("initContainers", []):
                if not self._run_to_completion(container, retry=policy != "Never"):
                    self.failure = f"init container {container['name']} failed"
                    self.done.set()
                    return
            if self.job:
                self._run_job_containers(policy)
            else:
                self._run_long_running()
        except Exception as error:
            self.failure = f"harness error: {error!r}"
            self.done.set()

    def _run_to_completion(self, container: dict[str, Any], retry: bool) -> bool:
        backoff = BACKOFF_START
        while not self._stopping.is_set():
            code = self._spawn(container).wait()
            self.records[container["name"]].exit_codes.append(code)
            if code == 0:
                return True
            if not retry:
                return False
            self.records[container["name"]].restarts += 1
            if self._stopping.wait(backoff):
                return False
            backoff = min(backoff * 2, BACKOFF_CAP)
        return False

    def _run_job_containers(self, policy: str) -> None:
        results: dict[str, bool] = {}
        threads = [
            threading.Thread(
                target=lambda c=c: results.__setitem__(
                    c["name"], self._run_to_completion(c, retry=policy == "OnFailure")
                ),
                daemon=True,
            )
            for c in self.spec["containers"]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not all(results.values()):
            self.failure = "a container failed: " + ", ".join(
                n for n, ok in results.items() if not ok
            )
        self.done.set()

    def _run_long_running(self) -> None:
        for container in self.spec["containers"]:
            threading.Thread(target=self._keep_running, args=(container,), daemon=True).start()
        while not self._stopping.wait(PROBE_PERIOD_CAP):
            if all(self._probe_ok(c, "readinessProbe") for c in self.spec["containers"]):
                for container in self.spec["containers"]:
                    record = self.records[container["name"]]
                    if record.ready_after is None:
                        record.ready_after = round(time.monotonic() - self.started, 1)
                        self._check_wildcards(container, record)
                self.ready.set()

    def _check_wildcards(self, container: dict[str, Any], record: ContainerRecord) -> None:
        """A process that listens on every address answers for every pod that declares its
        port too: the tier could not tell them apart, so that fails the pod."""
        for port in wildcard_listeners(record.session or 0):
            others = self.cluster.port_users.get(port, set()) - {self.workload}
            if others:
                self.failure = (
                    f"{container['name']} listens on every address at port {port}, which "
                    f"{sorted(others)} also use: this node's pods share one network, so bind "
                    "to an address from the manifest (0.0.0.0 there becomes the pod IP)"
                )

    def _keep_running(self, container: dict[str, Any]) -> None:
        backoff = BACKOFF_START
        while not self._stopping.is_set():
            started = time.monotonic()
            code = self._spawn(container).wait()
            if self._stopping.is_set():
                return
            record = self.records[container["name"]]
            record.exit_codes.append(code)
            record.restarts += 1
            if time.monotonic() - started > 60:
                backoff = BACKOFF_START
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, BACKOFF_CAP)

    # -- one container ----------------------------------------------------------------------

    def _record(self, container: dict[str, Any], init: bool) -> None:
        limit = (container.get("resources") or {}).get("limits", {}).get("memory")
        self.records[container["name"]] = ContainerRecord(
            workload=self.workload,
            pod=self.key,
            name=container["name"],
            init=init,
            image=container["image"],
            memory_limit=quantity_bytes(limit),
            stand_in=stand_in(container["image"]).what,
        )

    def _spawn(self, container: dict[str, Any]) -> subprocess.Popen[bytes]:
        image = stand_in(container["image"])
        record = self.records[container["name"]]
        env = self.container_env(container, image)
        argv = self._argv(container, image, env)
        plan = {
            "reachable": self._reachable(image),
            "mounts": self._mounts(container, image),
            "read_only_root": bool(self._security(container).get("readOnlyRootFilesystem")),
            "cwd": container.get("workingDir") or image.workdir,
            "uid": self._uid(container, image),
            "gid": self._gid(container, image),
            "groups": self._groups(),
            "user": image.user_name,
            "argv": argv,
            "env": env,
        }
        attempt = len(record.logs)
        plan_file = self.folder / f"{container['name']}.{attempt}.plan.json"
        plan_file.write_text(json.dumps(plan))
        plan_file.chmod(0o600)
        log = self.folder / f"{container['name']}.{attempt}.log"
        record.logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    sys.executable,
                    str(LAUNCHER),
                    str(plan_file),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        record.session, record.session_start = process.pid, start_time(process.pid)
        self._processes[container["name"]] = process
        if record not in self.sampler.containers:
            self.sampler.containers.append(record)
        return process

    def _security(self, container: dict[str, Any]) -> dict[str, Any]:
        return {
            **(self.spec.get("securityContext") or {}),
            **(container.get("securityContext") or {}),
        }

    def _uid(self, container: dict[str, Any], image: StandIn) -> int:
        return int(self._security(container).get("runAsUser", image.user))

    def _gid(self, container: dict[str, Any], image: StandIn) -> int:
        return int(self._security(container).get("runAsGroup", self._uid(container, image)))

    def _groups(self) -> list[int]:
        pod = self.spec.get("securityContext") or {}
        groups = list(pod.get("supplementalGroups", []))
        if "fsGroup" in pod:
            groups.append(int(pod["fsGroup"]))
        return groups

    def _argv(self, container: dict[str, Any], image: StandIn, env: dict[str, str]) -> list[str]:
        command = container.get("command")
        args = container.get("args")
        if command is None:
            command = list(image.entrypoint[:1])
            args = args if args is not None else list(image.entrypoint[1:])
        parts = [kubelet_expand(part, env) for part in [*command, *(args or [])]]
        return [_ANY_ADDRESS.sub(self.ip, part) for part in parts]

    def localize(self, text: str) -> str:
        """`0.0.0.0` and `127.0.0.1` as this pod's IP (every pod shares this machine's)."""
        return _LOOPBACK.sub(self.ip, text)

    def container_env(self, container: dict[str, Any], image: StandIn) -> dict[str, str]:
        """The env as the container runtime and the kubelet build it: the image's, service
        links, the API server's address, then the manifest's `envFrom` and `env`."""
        env = dict(image.env)
        env["HOSTNAME"] = self.name
        if self.spec.get("enableServiceLinks", True):
            env.update(self._service_links())
        if self.cluster.api_server:
            host, port = self.cluster.api_server
            env.update(KUBERNETES_SERVICE_HOST=host, KUBERNETES_SERVICE_PORT=str(port))
        if image.listen_env:
            env[image.listen_env] = self.ip
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            kind, ref = (
                ("Secret", source["secretRef"])
                if "secretRef" in source
                else ("ConfigMap", source["configMapRef"])
            )
            for key, value in self.cluster.data(kind, self.namespace, ref["name"]).items():
                env[prefix + key] = value.decode()
        for variable in container.get("env") or []:
            env[variable["name"]] = self._env_value(variable, env)
        return env

    def _env_value(self, variable: dict[str, Any], env: dict[str, str]) -> str:
        if "valueFrom" not in variable:
            return self.localize(kubelet_expand(variable.get("value", ""), env))
        source = variable["valueFrom"]
        if "secretKeyRef" in source or "configMapKeyRef" in source:
            kind = "Secret" if "secretKeyRef" in source else "ConfigMap"
            ref = source["secretKeyRef" if kind == "Secret" else "configMapKeyRef"]
            return self.cluster.data(kind, self.namespace, ref["name"])[ref["key"]].decode()
        if "fieldRef" in source:
            return self._field(source["fieldRef"]["fieldPath"])
        raise ValueError(f"env {variable['name']}: unsupported source {sorted(source)}")

    def _field(self, path: str) -> str:
        fields = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "status.podIP": self.ip,
            "status.hostIP": self.ip,
            "spec.nodeName": "process-tier",
            "spec.serviceAccountName": self.spec.get("serviceAccountName", "default"),
        }
        keyed = _KEYED_FIELD.fullmatch(path)
        if keyed:  # a missing label or annotation is an empty value, as the kubelet gives it
            found = self.labels if keyed["map"] == "labels" else self.annotations
            return str(found.get(keyed["key"], ""))
        return fields[path]

    def _service_links(self) -> dict[str, str]:
        """`<NAME>_SERVICE_HOST`, `<NAME>_PORT_...` for each Service of the namespace."""
        env = {}
        for item in self.cluster.objects:
            meta = item.get("metadata", {})
            if item.get("kind") != "Service" or meta.get("namespace") != self.namespace:
                continue
            ip = self.cluster.service_ips.get((self.namespace, meta["name"]))
            if not ip:
                continue
            prefix = meta["name"].upper().replace("-", "_")
            ports = item["spec"]["ports"]
            env[f"{prefix}_SERVICE_HOST"] = ip
            env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
            env[f"{prefix}_PORT"] = f"tcp://{ip}:{ports[0]['port']}"
            for port in ports:
                proto = port.get("protocol", "TCP")
                base = f"{prefix}_PORT_{port['port']}_{proto}"
                if "name" in port:
                    env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(
                        port["port"]
                    )
                env.update(
                    {
                        base: f"{proto.lower()}://{ip}:{port['port']}",
                        f"{base}_PROTO": proto.lower(),
                        f"{base}_PORT": str(port["port"]),
                        f"{base}_ADDR": ip,
                    }
                )
        return env

    # -- volumes ----------------------------------------------------------------------------

    def _make_volumes(self) -> dict[str, tuple[Path, bool]]:
        """Volume name -> (local folder, read-only as Kubernetes mounts it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fs_group = (self.spec.get("securityContext") or {}).get("fsGroup")
        volumes: dict[str, tuple[Path, bool]] = {}
        for volume in self.spec.get("volumes", []):
            name = volume["name"]
            folder = self.folder / "volumes" / name
            if "emptyDir" in volume:
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o777)
                limit = quantity_bytes(volume["emptyDir"].get("sizeLimit"))
                self.sampler.empty_dirs.append(
                    EmptyDirRecord(self.workload, self.key, name, folder, limit)
                )
                volumes[name] = (folder, False)
            elif "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                volumes[name] = (self._claim_folder(claim, fs_group), False)
            else:
                self._write_projection(volume, folder, fs_group)
                volumes[name] = (folder, True)
        for claim, folder in self.claims.items():
            volumes[claim] = (self._claim_folder(claim, fs_group, folder), False)
        if self.spec.get("automountServiceAccountToken", True) and self.cluster.api_token:
            folder = self.folder / "volumes" / "kube-api-access"
            self._write_files(folder, self._service_account_files(), fs_group, 0o644)
            volumes["kube-api-access"] = (folder, True)
        return volumes

    def _claim_folder(self, claim: str, fs_group: int | None, folder: Path | None = None) -> Path:
        folder = folder or self.cluster.root / "claims" / f"{self.namespace}.{claim}"
        folder.mkdir(parents=True, exist_ok=True)
        if fs_group is not None:
            os.chown(folder, 0, int(fs_group))
            folder.chmod(0o2775)
        return folder

    def _service_account_files(self) -> dict[str, bytes]:
        assert self.cluster.api_token and self.cluster.api_ca
        account = self.spec.get("serviceAccountName", "default")
        return {
            "token": self.cluster.api_token(self.namespace, account).encode(),
            "ca.crt": self.cluster.api_ca.read_bytes(),
            "namespace": self.namespace.encode(),
        }

    def _write_projection(self, volume: dict[str, Any], folder: Path, fs_group: int | None) -> None:
        files: dict[str, bytes] = {}
        mode = 0o644
        sources = volume["projected"]["sources"] if "projected" in volume else [volume]
        for source in sources:
            for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                if key not in source:
                    continue
                ref = source[key]
                name = ref.get("secretName") or ref.get("name")
                values = self.cluster.data(kind, self.namespace, name)
                items = ref.get("items") or [{"key": k, "path": k} for k in values]
                files.update({item["path"]: values[item["key"]] for item in items})
                mode = ref.get("defaultMode", mode)
            if "serviceAccountToken" in source:
                files[source["serviceAccountToken"]["path"]] = self._service_account_files()[
                    "token"
                ]
            if "downwardAPI" in source or "downwardAPI" in volume:
                for item in (source.get("downwardAPI") or volume["downwardAPI"])["items"]:
                    files[item["path"]] = self._field(item["fieldRef"]["fieldPath"]).encode()
        if not files and not any(k in volume for k in ("secret", "configMap", "projected")):
            raise ValueError(f"volume {volume['name']}: unsupported kind {sorted(volume)}")
        self._write_files(folder, files, fs_group, mode)

    @staticmethod
    def _write_files(
        folder: Path, files: dict[str, bytes], fs_group: int | None, mode: int
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for relative, content in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            path.chmod(mode)
            if fs_group is not None:
                os.chown(path, 0, int(fs_group))

    def _mounts(self, container: dict[str, Any], image: StandIn) -> list[tuple[str, str, bool]]:
        mounts: list[tuple[str, str, bool]] = []
        for target, source in image.paths.items():
            self.cluster.mountpoint(target, Path(source).is_file())
            mounts.append((source, target, True))
        hosts = self.folder / "hosts"
        hosts.write_text(self.cluster.hosts_file(self.ip, self.name, self.namespace))
        mounts.append((str(hosts), "/etc/hosts", True))
        for mount in container.get("volumeMounts") or []:
            folder, read_only = self._volumes[mount["name"]]
            if "subPath" in mount:
                folder = folder / mount["subPath"]
            self.cluster.mountpoint(mount["mountPath"], folder.is_file())
            mounts.append(
                (str(folder), mount["mountPath"], read_only or bool(mount.get("readOnly")))
            )
        if "kube-api-access" in self._volumes:
            folder, _ = self._volumes["kube-api-access"]
            self.cluster.mountpoint(SERVICE_ACCOUNT_DIR, False)
            mounts.append((str(folder), SERVICE_ACCOUNT_DIR, True))
        return mounts

    def _reachable(self, image: StandIn) -> dict[str, Any] | None:
        """Image paths' sources, and the interpreter their venvs link to, when they are
        under a home only root may enter."""
        home = Path.home()
        if home.stat().st_mode & 0o001:
            return None
        sources = [Path(s).resolve() for s in image.paths.values()] + [Path(sys.base_prefix)]
        keep = sorted(
            {str(home / s.relative_to(home).parts[0]) for s in sources if s.is_relative_to(home)}
        )
        if not keep:
            return None
        return {"parent": str(home), "keep": keep, "stage": str(self.cluster.root / "stage")}

    # -- probes -----------------------------------------------------------------------------

    def _probe_ok(self, container: dict[str, Any], kind: str) -> bool:
        probe = container.get(kind)
        process = self._processes.get(container["name"])
        if process is None or process.poll() is not None:
            return False
        if probe is None:
            return True
        timeout = float(probe.get("timeoutSeconds", 1))
        try:
            if "exec" in probe:
                return self._exec_probe(container, probe["exec"]["command"], timeout, process.pid)
            if "httpGet" in probe:
                get = probe["httpGet"]
                connection = http.client.HTTPConnection(
                    self.ip, self._port(container, get["port"]), timeout=timeout
                )
                try:
                    # The Host header a kind pod's IP would give (10.244.0.0/16), as the
                    # kubelet sends its own pod IP: servers that check Host see what they
                    # would see in a cluster, not this node's loopback address.
                    port = self._port(container, get["port"])
                    host = f"10.244.{self.ip.split('.')[2]}.{self.ip.split('.')[3]}:{port}"
                    connection.request("GET", get.get("path", "/"), headers={"Host": host})
                    return 200 <= connection.getresponse().status < 400
                finally:
                    connection.close()
            if "tcpSocket" in probe:
                port = self._port(container, probe["tcpSocket"]["port"])
                with socket.create_connection((self.ip, port), timeout=timeout):
                    return True
        except OSError:
            return False
        raise ValueError(f"{self.key} {container['name']}: unsupported probe {sorted(probe)}")

    def _exec_probe(
        self, container: dict[str, Any], command: list[str], timeout: float, pid: int
    ) -> bool:
        image = stand_in(container["image"])
        argv = [self.localize(part) for part in command]
        uid, gid = self._uid(container, image), self._gid(container, image)
        try:
            result = subprocess.run(
                [
                    "nsenter",
                    "--target",
                    str(pid),
                    "--mount",
                    f"--setuid={uid}",
                    f"--setgid={gid}",
                    "--",
                    *argv,
                ],
                env=self.container_env(container, image),
                capture_output=True,
                timeout=timeout,
                cwd="/",
            )
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0

    @staticmethod
    def _port(container: dict[str, Any], port: int | str) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for declared in container.get("ports", []):
            if declared.get("name") == port:
                return int(declared["containerPort"])
        raise ValueError(f"container {container['name']} declares no port {port!r}")
