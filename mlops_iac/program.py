"""A Pulumi project on disk: Pulumi.yaml, its stack config files, and its Python program."""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_iac.spec import SpecError

SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class PulumiProject:
    """The parts of a Pulumi project that synth needs."""

    directory: Path
    name: str
    runtime: str
    main: Path

    @classmethod
    def load(cls, directory: Path) -> PulumiProject:
        """Read `Pulumi.yaml` in `directory`."""
        directory = directory.resolve()
        project_file = directory / "Pulumi.yaml"
        if not project_file.is_file():
            raise SpecError.single(str(directory), "no Pulumi.yaml in this folder")
        data = _read_yaml(project_file)
        runtime = data.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        if runtime_name != "python":
            raise SpecError.single(
                f"{project_file}:runtime", "only Python programs can be synthesized", runtime_name
            )
        main = directory / str(data.get("main") or ".")
        if main.is_dir():
            main = main / "__main__.py"
        if not main.is_file():
            raise SpecError.single(f"{project_file}:main", "the program does not exist", str(main))
        return cls(directory, str(data.get("name") or directory.name), "python", main)

    def config(self, stack: str) -> tuple[dict[str, Any], list[str]]:
        """Flat config of `stack` (`Pulumi.<stack>.yaml` over project defaults) and its secret keys.

        Encrypted (`secure:`) values cannot be read offline: they become "[secret]" and are
        marked secret, so they never print.
        """
        stack_file = self.directory / f"Pulumi.{stack}.yaml"
        if not stack_file.is_file():
            raise SpecError.single(str(stack_file), "no such stack config file")
        config: dict[str, Any] = {}
        secret_keys: list[str] = []
        project_config = _read_yaml(self.directory / "Pulumi.yaml").get("config") or {}
        for key, value in project_config.items():
            if isinstance(value, dict) and "default" in value:
                config[self._qualify(key)] = value["default"]
            elif isinstance(value, dict) and "value" in value:
                config[self._qualify(key)] = value["value"]
        for key, value in (_read_yaml(stack_file).get("config") or {}).items():
            qualified = self._qualify(key)
            if isinstance(value, dict) and set(value) == {"secure"}:
                config[qualified] = SECRET_PLACEHOLDER
                secret_keys.append(qualified)
            else:
                config[qualified] = value
        return config, secret_keys

    def _qualify(self, key: str) -> str:
        return key if ":" in key else f"{self.name}:{key}"

    def run(self) -> None:
        """Run the program as the Python language host would (`__main__`, cwd = its folder)."""
        with _program_context(self.main.parent):
            runpy.run_path(str(self.main), run_name="__main__")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SpecError.single(str(path), f"cannot read: {error}") from None
    if not isinstance(data, dict):
        raise SpecError.single(str(path), "must be a YAML mapping", data)
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
