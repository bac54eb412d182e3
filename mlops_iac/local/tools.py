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
from dataclasses import dataclass, field
from pathlib import Path

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
    member: str | None = None
    """For an archive: the path of the binary inside it."""
    version_args: list[str] = field(default_factory=lambda: ["version"])

    def cached(self, cache: Path = CACHE) -> Path:
        """Where the verified binary is kept."""
        return cache / f"{self.name}-{self.version}" / self.name


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
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
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
        binary = _extract(archive, tool.member, Path(scratch)) if tool.member else archive
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(binary, target)
    say(f"{tool.name} {tool.version} verified (sha256 {tool.sha256[key][:12]}…)")
    return target


def _extract(archive: Path, member: str, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        try:
            source = tar.extractfile(member)
        except KeyError:
            source = None
        if source is None:
            raise ToolError(f"{member} is not in the downloaded archive")
        binary = into / Path(member).name
        with binary.open("wb") as out:
            shutil.copyfileobj(source, out)
    return binary
