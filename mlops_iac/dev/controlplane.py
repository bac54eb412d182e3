"""A local Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (simulated nodes: pods become Running and Ready, Job pods complete)
on 127.0.0.1, all in one process group, from the binaries `tools/controlplane/build.sh`
builds from pinned Go modules.

`ControlPlane(root, bin_dir).start()` writes everything under `root` (PKI, kubeconfigs, etcd
data, logs, `state.json`); `stop(root)` ends the process group and removes `root`.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.testing.local_servers import (
    LOOPBACK,
    free_port,
    kill_process_group,
    stop_process_group,
    wait_for_http,
)

from .pki import Pki, create_pki, issue_client

BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-kubernetes",
    "pulumi-resource-random",
    "rollouts-controller",
    "gatewayapi-plugin",
)
PROVIDER_PLUGINS = {"kubernetes": "pulumi_kubernetes", "random": "pulumi_random"}
"""Resource plugins built here, by the Python SDK package whose `pulumi-plugin.json` names
the version the engine will ask for."""
NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"
PERSISTENT_VOLUMES = 8
"""Pre-made volumes that claims without a storage class bind to (there is no provisioner)."""
BIN_ENV = "MLOPS_IAC_CONTROLPLANE_BIN"


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or reached."""


def repo_build_script() -> Path | None:
    """`tools/controlplane/build.sh` of the checkout this package runs from, if any."""
    script = Path(__file__).resolve().parents[2] / "tools" / "controlplane" / "build.sh"
    return script if script.is_file() else None


def find_binaries(*, build: bool = False) -> Path:
    """The folder holding every binary in BINARIES.

    From `$MLOPS_IAC_CONTROLPLANE_BIN`, else from the build script (which only builds what
    its cache lacks, and only when `build` is true; otherwise a cache miss is an error).
    """
    if os.environ.get(BIN_ENV):
        bin_dir = Path(os.environ[BIN_ENV])
    else:
        script = repo_build_script()
        if script is None:
            raise ControlPlaneError(f"set {BIN_ENV}: no tools/controlplane/build.sh here")
        if shutil.which("go") is None:
            raise ControlPlaneError("Go is not installed: tools/controlplane/build.sh needs it")
        env = dict(os.environ, MLOPS_IAC_BUILD_DRY_RUN="" if build else "1")
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise ControlPlaneError(f"{script} failed:\n{done.stderr[-2000:]}")
        bin_dir = Path(done.stdout.strip().splitlines()[-1])
    missing = [name for name in BINARIES if not (bin_dir / name).is_file()]
    if missing:
        raise ControlPlaneError(
            f"missing in {bin_dir}: {', '.join(missing)}; run tools/controlplane/build.sh"
        )
    return bin_dir


@dataclass(frozen=True)
class Endpoints:
    """Where the running control plane listens."""

    etcd: int
    etcd_peer: int
    apiserver: int
    kwok: int

    @property
    def server(self) -> str:
        """The API server URL."""
        return f"https://{LOOPBACK}:{self.apiserver}"


class ControlPlane:
    """Start, reach and stop one local control plane rooted at a folder."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.root = root.resolve()
        self.bin_dir = bin_dir
        self.pki = Pki(self.root / "pki")
        self.endpoints: Endpoints | None = None
        self._leader: subprocess.Popen[bytes] | None = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (group system:masters)."""
        return self.root / "admin.kubeconfig"

    def user_kubeconfig(self, user: str, group: str) -> Path:
        """A kubeconfig for `user` in `group`, with no rights but what RBAC gives them
        (`<user>.kubeconfig`, its client certificate signed by this plane's CA)."""
        issue_client(self.pki, user, user, group)
        self._write_kubeconfig(user)
        return self.root / f"{user}.kubeconfig"

    def start(self, timeout: float = 120, *, crds: bool = True) -> None:
        """Start every component, wait until the API server is ready, then create the
        simulated node, the volumes and (with `crds`) the CRDs the stack uses; install the
        built provider plugins into this control plane's own PULUMI_HOME."""
        if (self.root / "state.json").exists():
            raise ControlPlaneError(f"a control plane already runs from {self.root}")
        self.root.mkdir(parents=True, exist_ok=True)
        create_pki(self.pki.root)
        self.endpoints = Endpoints(free_port(), free_port(), free_port(), free_port())
        for client in ("admin", "controller-manager", "scheduler", "kwok"):
            self._write_kubeconfig(client)
        try:
            self._spawn("etcd", self._etcd_args())
            self._wait_http(f"http://{LOOPBACK}:{self.endpoints.etcd}/health", timeout)
            self._spawn("kube-apiserver", self._apiserver_args())
            self._wait_http(f"{self.endpoints.server}/readyz", timeout)
            self._spawn("kube-controller-manager", self._controller_manager_args())
            self._spawn("kube-scheduler", self._scheduler_args())
            self._spawn("kwok", self._kwok_args())
            self._write_state()
            self.kubectl("apply", "--server-side", "-f", "-", stdin=self._bootstrap_objects())
            if crds:
                self.kubectl("apply", "--server-side", "-f", str(crd_manifests_dir()))
                self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
            install_plugins(self.bin_dir, self.env())
            self.kubectl("wait", "--for=condition=Ready", f"node/{NODE_NAME}", "--timeout=60s")
            # The controllers run once they have made the default ServiceAccount.
            self.kubectl(
                "wait", "--for=create", "serviceaccount/default", "-n", "default", "--timeout=60s"
            )
            self._check_alive()
        except BaseException:
            if self._leader is not None:
                stop_process_group(self._leader)
            raise

    def env(self) -> dict[str, str]:
        """What a test or a shell needs to use this control plane with Pulumi and kubectl."""
        state = self.root / "pulumi-state"
        state.mkdir(exist_ok=True)
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": os.pathsep.join([str(self.bin_dir), os.environ.get("PATH", "")]),
            "PULUMI_BACKEND_URL": f"file://{state}",
            "PULUMI_CONFIG_PASSPHRASE": "controlplane-test",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            # Only the plugins built here: none from PATH, no download attempt (the language
            # host reports every Pulumi package in the venv, aws included).
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
            "PULUMI_HOME": str(self.root / "pulumi-home"),
        }

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        """Run the pinned kubectl against this control plane; its stdout, or an error."""
        done = subprocess.run(
            [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def get(self, *args: str) -> Any:
        """`kubectl get ... -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def _spawn(self, name: str, args: Sequence[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it
        command = [str(self.bin_dir / name), *args]
        process: subprocess.Popen[bytes]
        if self._leader is None:
            # A new process group in this session: later components can join it (a group in
            # another session could not be joined) and `stop` ends them all with one signal.
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, process_group=0
            )
            self._leader = process
        else:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, process_group=self._leader.pid
            )
        self._processes[name] = process
        log.close()

    def _check_alive(self) -> None:
        for name, process in self._processes.items():
            if process.poll() is not None:
                log = (self.root / f"{name}.log").read_text(errors="replace")
                raise ControlPlaneError(f"{name} exited: {log[-1500:]}")

    def _wait_http(self, url: str, timeout: float) -> None:
        context = ssl.create_default_context(cafile=str(self.pki.cert("ca")))
        context.load_cert_chain(self.pki.cert("admin"), self.pki.key("admin"))
        try:
            wait_for_http(url, timeout, context=context, check=self._check_alive)
        except TimeoutError as error:
            raise ControlPlaneError(str(error)) from None

    def _etcd_args(self) -> list[str]:
        assert self.endpoints is not None
        client = f"http://{LOOPBACK}:{self.endpoints.etcd}"
        peer = f"http://{LOOPBACK}:{self.endpoints.etcd_peer}"
        return [
            "--name=controlplane",
            f"--data-dir={self.root / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=controlplane={peer}",
            "--unsafe-no-fsync",  # a throwaway test cluster: speed over durability
            "--log-level=warn",
        ]

    def _apiserver_args(self) -> list[str]:
        assert self.endpoints is not None
        pki = self.pki
        return [
            f"--etcd-servers=http://{LOOPBACK}:{self.endpoints.etcd}",
            f"--bind-address={LOOPBACK}",
            f"--advertise-address={LOOPBACK}",
            f"--secure-port={self.endpoints.apiserver}",
            f"--cert-dir={self.root / 'apiserver'}",
            f"--tls-cert-file={pki.cert('apiserver')}",
            f"--tls-private-key-file={pki.key('apiserver')}",
            f"--client-ca-file={pki.cert('ca')}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            # The `kubernetes` Service endpoint may not be a loopback address; nothing in
            # the cluster needs to reach the API server through it (kwok pods do not run).
            "--endpoint-reconciler-type=none",
            "--allow-privileged=false",
            "--profiling=false",
        ]

    def _controller_manager_args(self) -> list[str]:
        kubeconfig = self.root / "controller-manager.kubeconfig"
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--service-account-private-key-file={self.pki.service_account_key}",
            f"--root-ca-file={self.pki.cert('ca')}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            "--secure-port=0",
            # kwok assigns pod IPs itself. The node lifecycle controller stays: it lifts the
            # not-ready taint once kwok reports the node Ready.
            "--controllers=*,-node-ipam-controller",
        ]

    def _scheduler_args(self) -> list[str]:
        kubeconfig = self.root / "scheduler.kubeconfig"
        return [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--secure-port=0",
        ]

    def _kwok_args(self) -> list[str]:
        assert self.endpoints is not None
        return [
            f"--kubeconfig={self.root / 'kwok.kubeconfig'}",
            f"--config={self.bin_dir / 'kwok-stages.yaml'}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--cidr=10.244.0.1/24",
            "--node-ip=10.0.0.1",
            f"--server-address={LOOPBACK}:{self.endpoints.kwok}",
        ]

    def _write_kubeconfig(self, client: str) -> None:
        assert self.endpoints is not None
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "controlplane",
                    "cluster": {
                        "server": self.endpoints.server,
                        "certificate-authority": str(self.pki.cert("ca")),
                    },
                }
            ],
            "users": [
                {
                    "name": client,
                    "user": {
                        "client-certificate": str(self.pki.cert(client)),
                        "client-key": str(self.pki.key(client)),
                    },
                }
            ],
            "contexts": [
                {"name": "controlplane", "context": {"cluster": "controlplane", "user": client}}
            ],
            "current-context": "controlplane",
        }
        path = self.root / f"{client}.kubeconfig"
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    def _write_state(self) -> None:
        assert self.endpoints is not None and self._leader is not None
        state = {"pgid": self._leader.pid, "endpoints": self.endpoints.__dict__}
        (self.root / "state.json").write_text(json.dumps(state, indent=2))

    def _bootstrap_objects(self) -> str:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {"kubernetes.io/hostname": NODE_NAME, "type": "kwok"},
            },
            "status": {
                "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
            },
        }
        volumes = [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"kwok-volume-{index}"},
                "spec": {
                    "capacity": {"storage": "100Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": f"/tmp/kwok-volume-{index}"},
                },
            }
            for index in range(PERSISTENT_VOLUMES)
        ]
        return yaml.safe_dump_all([node, *volumes])


def plugin_version(package: str) -> str:
    """The provider plugin version an installed Pulumi Python SDK package asks for."""
    manifest = resources.files(package) / "pulumi-plugin.json"
    return str(json.loads(manifest.read_text())["version"])


def install_plugins(bin_dir: Path, env: dict[str, str]) -> None:
    """`pulumi plugin install resource <name> <version> --file <binary>` for each provider
    built here, at the version the Python SDK asks for, into `env`'s PULUMI_HOME; an error
    when the SDK asks for another version than the one built."""
    built = dict(
        line.split(maxsplit=1) for line in (bin_dir / "plugin-versions").read_text().splitlines()
    )
    for name, package in PROVIDER_PLUGINS.items():
        version = plugin_version(package)
        if built.get(name) != version:
            raise ControlPlaneError(
                f"the installed {package} asks for plugin {name} {version}, but "
                f"tools/controlplane/build.sh built {built.get(name)}: install the pinned SDKs "
                "(pip install -c tools/controlplane/constraints.txt -e '.[dev]') or move the "
                "build's pin"
            )
        binary = bin_dir / f"pulumi-resource-{name}"
        done = subprocess.run(
            [str(bin_dir / "pulumi"), "plugin", "install", "resource", name, version,
             "--file", str(binary)],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            raise ControlPlaneError(
                f"pulumi plugin install resource {name} {version}: {done.stderr.strip()}"
            )


def crd_manifests_dir() -> Path:
    """The CRD manifests shipped in `mlops_iac/schemas/crd-manifests/`."""
    return Path(str(resources.files("mlops_iac") / "schemas" / "crd-manifests"))


def stop(root: Path) -> bool:
    """Stop the control plane recorded in `root/state.json` and remove `root`.

    Returns whether one was running."""
    state_file = root / "state.json"
    running = state_file.is_file()
    if running:
        kill_process_group(int(json.loads(state_file.read_text())["pgid"]))
    shutil.rmtree(root, ignore_errors=True)
    return running


def attach(root: Path, bin_dir: Path) -> ControlPlane:
    """A handle on the control plane already running from `root`."""
    state_file = root / "state.json"
    if not state_file.is_file():
        raise ControlPlaneError(f"no control plane runs from {root}")
    plane = ControlPlane(root, bin_dir)
    plane.endpoints = Endpoints(**json.loads(state_file.read_text())["endpoints"])
    return plane
