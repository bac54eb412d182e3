"""Pinned command-line tools (kind, the Pulumi CLI): found on PATH, or downloaded once into a
per-user cache and verified against a pinned SHA-256 before first use."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlops_iac import versions

CACHE = Path.home() / ".cache" / "mlops-iac" / "tools"


class ToolError(RuntimeError):
    """A tool is missing, cannot be downloaded, or its download does not match its pin."""


@dataclass(frozen=True)
class PinnedTool:
    """A tool at one version: where to get it for each platform and its SHA-256 there."""

    name: str
    version: str
    urls: dict[str, str]
    """`<os>-<arch>` (e.g. `linux-amd64`) -> download URL."""
    sha256: dict[str, str]
    """`<os>-<arch>` -> SHA-256 of the download."""
    archive_dir: str | None = None
    """For a .tar.gz download: the folder inside it whose files all go into `bin/` (the
    Pulumi CLI ships its language hosts beside the binary)."""

    def root(self, cache: Path = CACHE) -> Path:
        """The tool's folder in the cache; its binaries are in `bin/`."""
        return cache / f"{self.name}-{self.version}"

    def cached(self, cache: Path = CACHE) -> Path:
        """Where the verified binary is kept."""
        return self.root(cache) / "bin" / self.name


def platform_key(system: str | None = None, machine: str | None = None) -> str:
    """`linux-amd64`, `darwin-arm64`, ... for this machine."""
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{arch}"


Downloader = Callable[[str, Path], None]


def http_download(url: str, destination: Path) -> None:
    """Fetch `url` into `destination`."""
    with urllib.request.urlopen(url, timeout=300) as response, destination.open("wb") as out:
        shutil.copyfileobj(response, out)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_tool(
    tool: PinnedTool,
    *,
    install: bool,
    which: Callable[[str], str | None] = shutil.which,
    download: Downloader = http_download,
    cache: Path = CACHE,
    key: str | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Path:
    """The tool's binary: on PATH, else the cached download, else downloaded now (when
    `install`) and verified; ToolError says what to do otherwise."""
    found = which(tool.name)
    if found:
        return Path(found)
    target = tool.cached(cache)
    if target.exists():
        return target
    key = key or platform_key()
    if not install:
        raise ToolError(
            f"{tool.name} is not on PATH and --no-install forbids downloading it; install "
            f"{tool.name} {tool.version} ({tool.urls.get(key, 'see its docs')})"
        )
    if key not in tool.urls:
        raise ToolError(
            f"no pinned {tool.name} {tool.version} download for {key}; install it yourself "
            f"(allowed platforms: {', '.join(sorted(tool.urls))})"
        )
    say(f"downloading {tool.name} {tool.version} for {key} into {target.parent}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tool.root(cache)) as scratch:
        archive = Path(scratch) / "download"
        try:
            download(tool.urls[key], archive)
        except OSError as error:
            raise ToolError(f"cannot download {tool.name} from {tool.urls[key]}: {error}") from None
        actual = sha256_of(archive)
        if actual != tool.sha256[key]:
            raise ToolError(
                f"{tool.name} {tool.version} download does not match its pinned SHA-256 "
                f"(expected {tool.sha256[key]}, got {actual}); nothing was installed"
            )
        if tool.archive_dir:
            for binary in _extract(archive, tool.archive_dir, Path(scratch) / "bin"):
                _executable(binary)
                os.replace(binary, target.parent / binary.name)
        else:
            _executable(archive)
            os.replace(archive, target)
    say(f"{tool.name} {tool.version} verified (sha256 {tool.sha256[key][:12]}…)")
    return target


def _executable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _extract(archive: Path, folder: str, into: Path) -> list[Path]:
    """The regular files directly under `folder/` in a .tar.gz, written into `into`."""
    into.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            parent, _, name = member.name.rstrip("/").rpartition("/")
            if not member.isfile() or parent.strip("./") != folder or not name:
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            binary = into / name
            with binary.open("wb") as out:
                shutil.copyfileobj(source, out)
            written.append(binary)
    if not written:
        raise ToolError(f"the downloaded archive has no files under {folder}/")
    return written


KIND = PinnedTool(
    name="kind",
    version=versions.KIND_VERSION,
    urls={
        key: f"https://kind.sigs.k8s.io/dl/{versions.KIND_VERSION}/kind-{key}"
        for key in versions.KIND_SHA256
    },
    sha256=dict(versions.KIND_SHA256),
)
"""kind, a single binary."""

PULUMI = PinnedTool(
    name="pulumi",
    version=versions.PULUMI_CLI_VERSION,
    urls={
        "linux-amd64": "https://get.pulumi.com/releases/sdk/"
        f"pulumi-v{versions.PULUMI_CLI_VERSION}-linux-x64.tar.gz"
    },
    sha256=dict(versions.PULUMI_CLI_SHA256),
    archive_dir="pulumi",
)
"""The Pulumi CLI and its language hosts, from the release tarball."""
