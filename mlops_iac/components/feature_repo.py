"""A user's Feast feature repo, read and checked before anything is created, and packed
into one ConfigMap (with the generated `feature_store.yaml`) that pods mount as a folder."""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from mlops_iac.spec import SpecError

CONFIGMAP_LIMIT = 1024 * 1024
"""Kubernetes refuses a ConfigMap whose data exceeds 1 MiB."""
FEAST_DEFINITIONS = frozenset(
    {
        "Entity",
        "FeatureView",
        "BatchFeatureView",
        "StreamFeatureView",
        "OnDemandFeatureView",
        "FeatureService",
        "on_demand_feature_view",
        "stream_feature_view",
        "batch_feature_view",
    }
)
"""Calls that define Feast objects; a repo must make at least one."""
CONFIG_FILE = "feature_store.yaml"
REPO_FILES = ("*.py", ".feastignore")
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_SKIPPED_DIRS = {"__pycache__", "data", ".venv", "venv"}


@dataclass(frozen=True)
class FeatureRepo:
    """The repo's Python files (and `.feastignore`), by path relative to the repo."""

    root: Path
    files: dict[str, str]

    @classmethod
    def load(cls, path: str | Path, field: str = "feature_store.repo") -> FeatureRepo:
        """Read and check the repo; every problem is a SpecError naming `field`."""
        root = Path(path)
        if not root.is_dir():
            raise SpecError.single(
                field,
                f"no feature repo folder at {root.resolve()} (paths are relative to the "
                "program's working directory)",
                str(path),
            )
        ignored = _feastignored(root)
        files = {}
        for pattern in REPO_FILES:
            for file in sorted(root.rglob(pattern)):
                relative = file.relative_to(root)
                skipped = set(relative.parts[:-1]) & _SKIPPED_DIRS or file in ignored
                if file.is_file() and not skipped:
                    files[relative.as_posix()] = _read_text(file, field)
        repo = cls(root, files)
        repo._check_definitions(field)
        return repo

    def _check_definitions(self, field: str) -> None:
        for name, text in self.files.items():
            if not name.endswith(".py"):
                continue
            try:
                tree = ast.parse(text, filename=name)
            except SyntaxError as error:
                raise SpecError.single(
                    field, f"{name} line {error.lineno}: invalid Python: {error.msg}"
                ) from None
            if any(_calls_feast(node) for node in ast.walk(tree)):
                return
        raise SpecError.single(
            field,
            f"no Feast objects in {self.root}: define at least one of "
            "Entity, FeatureView, FeatureService (in its *.py files)",
        )

    def configmap_data(self, config: str) -> dict[str, str]:
        """ConfigMap data: each file under a flat key (`sub/x.py` -> `sub__x.py`) and the
        generated `feature_store.yaml`; SpecError when it cannot be one ConfigMap."""
        data = {CONFIG_FILE: config}
        for name, text in self.files.items():
            key = name.replace("/", "__")
            if not _KEY.match(key) or key in data:
                raise SpecError.single(
                    "feature_store.repo",
                    f"file {name!r} cannot be a ConfigMap key: use letters, digits, '-', "
                    "'_' and '.' in file names, and no other file named like it",
                )
            data[key] = text
        size = sum(len(key.encode()) + len(value.encode()) for key, value in data.items())
        if size > CONFIGMAP_LIMIT:
            raise SpecError.single(
                "feature_store.repo",
                f"the repo's files take {size} bytes, more than a ConfigMap holds "
                f"({CONFIGMAP_LIMIT} bytes): keep data out of it (put Parquet files on the "
                "object store) or list what to leave out in .feastignore",
            )
        return data

    def volume_items(self) -> list[dict[str, str]]:
        """`configMap.items` that lay the keys out as the repo's folders again."""
        items = [{"key": CONFIG_FILE, "path": CONFIG_FILE}]
        items += [{"key": name.replace("/", "__"), "path": name} for name in self.files]
        return items

    def digest(self, config: str) -> str:
        """A short hash of the files and the generated config: it names the ConfigMap and
        the apply Job, so an unchanged repo changes nothing and a changed one re-applies."""
        hasher = hashlib.sha256(config.encode())
        for name, text in sorted(self.files.items()):
            hasher.update(b"\0" + name.encode() + b"\0" + text.encode())
        return hasher.hexdigest()[:10]


def _feastignored(root: Path) -> set[Path]:
    """Files that `.feastignore` leaves out (one glob per line, relative to the repo, a
    folder meaning everything under it), as Feast itself reads it."""
    ignore_file = root / ".feastignore"
    if not ignore_file.is_file():
        return set()
    ignored: set[Path] = set()
    for line in ignore_file.read_text().splitlines():
        pattern = line.split("#", 1)[0].strip().strip("/")
        if pattern:
            for match in root.glob(pattern):
                ignored.add(match)
                ignored.update(match.rglob("*") if match.is_dir() else ())
    return ignored


def _calls_feast(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name in FEAST_DEFINITIONS


def _read_text(file: Path, field: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError.single(field, f"cannot read {file}: {error}") from None
