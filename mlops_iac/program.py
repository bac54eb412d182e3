"""A Pulumi project on disk: Pulumi.yaml, its stack config files, and its Python program."""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.spec import CONFIG_NAMESPACE, SpecError, SpecIssue, StackSpec
from mlops_iac.spec.errors import did_you_mean
from mlops_iac.spec.stack import PROVIDER_NAMESPACES

SECRET_PLACEHOLDER = "[secret]"
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml", "Pulumi.json")
"""The names Pulumi looks for, in its order (`workspace.findProjectInDir`)."""
STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")
"""The top-level keys of a `Pulumi.<stack>.yaml` (Pulumi's `workspace.ProjectStack`)."""


class ProjectError(SpecError):
    """The project cannot be read: no Pulumi.yaml, no such stack, a malformed stack file.
    A :class:`SpecError` (callers that catch those keep working) whose paths are files."""


@dataclass(frozen=True)
class PulumiProject:
    """The parts of a Pulumi project that synth needs."""

    directory: Path
    name: str
    runtime: str
    main: Path
    project_file: Path | None = None
    """`Pulumi.yaml` (or `.yml`, `.json`); `directory / "Pulumi.yaml"` when None."""
    stack_config_dir: Path | None = None
    """Where `Pulumi.<stack>.yaml` files are (`stackConfigDir`); `directory` when None."""
    declared_config: frozenset[str] = field(default_factory=frozenset)
    """Config keys that Pulumi.yaml's `config:` declares, qualified (`<project>:key`)."""

    @classmethod
    def load(cls, directory: Path) -> PulumiProject:
        """Read the project of `directory`: its `Pulumi.yaml`, or the first one in a folder
        above it, as Pulumi finds a project from the working directory."""
        given = Path(directory)
        if not given.exists():
            raise ProjectError.single(str(given), "no such folder")
        if not given.is_dir():
            raise ProjectError.single(str(given), _not_a_folder(given))
        project_file = find_project_file(given)
        if project_file is None:
            raise ProjectError.single(
                str(given.resolve()),
                f"no {' or '.join(PROJECT_FILES[:2])} here or in any folder above it; start a "
                "project with `mlops-iac new <folder>`",
            )
        data = _read_yaml(project_file)
        root = project_file.parent
        runtime = data.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        if runtime_name != "python":
            raise ProjectError.single(
                f"{project_file}:runtime", "only Python programs can be synthesized", runtime_name
            )
        main = root / str(data.get("main") or ".")
        if main.is_dir():
            main = main / "__main__.py"
        if not main.is_file():
            raise ProjectError.single(
                f"{project_file}:main", "the program does not exist", str(main)
            )
        name = str(data.get("name") or root.name)
        config_dir = root / str(data.get("stackConfigDir") or ".")
        declared = project_config(data)
        return cls(
            root,
            name,
            "python",
            main,
            project_file=project_file,
            stack_config_dir=config_dir.resolve(),
            declared_config=frozenset(_qualify(name, key) for key in declared),
        )

    @property
    def stack_names(self) -> list[str]:
        """The stacks with a config file here (`Pulumi.<stack>.yaml`), sorted."""
        folder = self.stack_config_dir or self.directory
        names = set()
        for path in folder.glob("Pulumi.*"):
            stem, _, suffix = path.name.removeprefix("Pulumi.").rpartition(".")
            if stem and suffix in ("yaml", "yml", "json") and path.is_file():
                names.add(stem)
        return sorted(names)

    def stack_file(self, stack: str) -> Path:
        """`Pulumi.<stack>.yaml` (the project file's extension), or ProjectError naming the
        stacks that exist."""
        folder = self.stack_config_dir or self.directory
        extension = (self.project_file or self.directory / "Pulumi.yaml").suffix
        path = folder / f"Pulumi.{stack.split('/')[-1]}{extension}"
        if path.is_file():
            return path
        known = self.stack_names
        guess = did_you_mean(stack, known)
        message = f"no stack {stack!r} (no {path.name}); "
        message += f"stacks here: {', '.join(known)}" if known else "no Pulumi.<stack>.yaml here"
        if guess:
            message += f"; did you mean {guess!r}?"
        raise ProjectError.single(str(folder), message)

    def config(self, stack: str) -> tuple[dict[str, Any], list[str]]:
        """Flat config of `stack` (`Pulumi.<stack>.yaml` over project defaults) and its secret keys.

        Encrypted (`secure:`) values cannot be read offline: they become "[secret]" and are
        marked secret, so they never print. A top-level key Pulumi does not know (`configs:`)
        and a key in the project's namespace that Pulumi.yaml does not declare (`registry:`
        for `mlops:registry`) are errors, with the closest known key.
        """
        stack_file = self.stack_file(stack)
        config: dict[str, Any] = {}
        secret_keys: list[str] = []
        project_data = _read_yaml(self.project_file or self.directory / "Pulumi.yaml")
        for key, value in project_config(project_data).items():
            if isinstance(value, dict) and "default" in value:
                config[self._qualify(key)] = value["default"]
            elif isinstance(value, dict) and "value" in value:
                config[self._qualify(key)] = value["value"]
            elif not isinstance(value, dict):
                config[self._qualify(key)] = value
        stack_data = _read_yaml(stack_file)
        _check_stack_keys(stack_file, stack_data)
        stack_config = stack_data.get("config") or {}
        if not isinstance(stack_config, dict):
            raise ProjectError.single(
                f"{stack_file}:config", "must be a mapping of keys to values", stack_config
            )
        issues = []
        for key, value in stack_config.items():
            qualified = self._qualify(str(key))
            issue = self._unknown_key(str(key), qualified)
            if issue is not None:
                issues.append(issue)
            if isinstance(value, dict) and set(value) == {"secure"}:
                config[qualified] = SECRET_PLACEHOLDER
                secret_keys.append(qualified)
            else:
                config[qualified] = value
        if issues:
            raise SpecError(issues)
        return config, secret_keys

    def _unknown_key(self, written: str, qualified: str) -> SpecIssue | None:
        """An issue for a key in the project's namespace that nothing declares or reads."""
        space, _, name = qualified.partition(":")
        if space != self.name or qualified in self.declared_config:
            return None
        if space == CONFIG_NAMESPACE or space in PROVIDER_NAMESPACES:
            return None
        fields = {field: f"{CONFIG_NAMESPACE}:{field}" for field in StackSpec.model_fields}
        own = [key.partition(":")[2] for key in self.declared_config if key.startswith(f"{space}:")]
        declared = {key: key for key in own}
        candidates = {**fields, **declared}
        guess = name if name in fields else did_you_mean(name, candidates)
        if guess is not None:
            hint = f"did you mean `{candidates[guess]}`?"
        else:
            hint = (
                f"the spec's keys are `{CONFIG_NAMESPACE}:<field>`; a key your program reads "
                "itself must be declared in Pulumi.yaml's `config:`"
            )
        return SpecIssue(
            qualified,
            f"`{written}` is in the project's namespace ({self.name}), where nothing reads it: "
            + hint,
        )

    def _qualify(self, key: str) -> str:
        return _qualify(self.name, key)

    def run(self) -> None:
        """Run the program as the Python language host would (`__main__`, cwd = its folder)."""
        with _program_context(self.main.parent):
            runpy.run_path(str(self.main), run_name="__main__")


def program_frame(error: BaseException, directory: Path) -> traceback.FrameSummary | None:
    """Where in the project's own files `error` was raised: the innermost traceback frame in
    `directory` that is neither an installed package nor mlops-iac itself (a SyntaxError: the
    line it names), or None when the program's code is not on the traceback."""
    package = Path(__file__).resolve().parent
    root = directory.resolve()

    def is_users(filename: str) -> bool:
        path = Path(filename).resolve()
        installed = {"site-packages", "dist-packages"} & set(path.parts)
        return path.is_relative_to(root) and not path.is_relative_to(package) and not installed

    if isinstance(error, SyntaxError) and error.filename and is_users(error.filename):
        return traceback.FrameSummary(
            error.filename, error.lineno or 0, "<module>", line=error.text or ""
        )
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if is_users(frame.filename):
            return frame
    return None


def find_project_file(directory: Path) -> Path | None:
    """The project file in `directory` or the nearest folder above it, or None."""
    for folder in [directory.resolve(), *directory.resolve().parents]:
        for name in PROJECT_FILES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def project_config(data: dict[str, Any]) -> dict[str, Any]:
    """Pulumi.yaml's `config:` (declarations and defaults), or {}."""
    config = data.get("config") or {}
    return config if isinstance(config, dict) else {}


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _not_a_folder(path: Path) -> str:
    name = path.name
    if name in PROJECT_FILES:
        return f"is the project file, not its folder: pass {path.parent or '.'}"
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml", ".json")):
        stack = name.removeprefix("Pulumi.").rsplit(".", 1)[0]
        return (
            f"is a stack's config file, not the project folder: pass {path.parent or '.'} "
            f"with --stack {stack}"
        )
    return "is a file, not a folder: pass the project folder (the one with Pulumi.yaml)"


def _check_stack_keys(stack_file: Path, data: dict[str, Any]) -> None:
    issues = []
    for key in data:
        if key in STACK_FILE_KEYS:
            continue
        guess = did_you_mean(str(key), STACK_FILE_KEYS)
        hint = f"did you mean {guess!r}? " if guess else ""
        issues.append(
            SpecIssue(
                f"{stack_file}:{key}",
                f"unknown top-level key; {hint}Pulumi reads {', '.join(STACK_FILE_KEYS)}",
            )
        )
    if issues:
        raise ProjectError(issues)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ProjectError.single(str(path), f"cannot read: {error}") from None
    if not isinstance(data, dict):
        raise ProjectError.single(str(path), "must be a YAML mapping", data)
    return data


@contextlib.contextmanager
def _program_context(folder: Path) -> Iterator[None]:
    previous_cwd = Path.cwd()
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))
