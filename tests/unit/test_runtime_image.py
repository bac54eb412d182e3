"""The runtime image builds from the installed package alone, and its pins agree with each
other and with the code that uses them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_iac import runtime_image, versions

IMAGE = runtime_image.HERE


def pins(name: str) -> dict[str, str]:
    result = {}
    for line in (IMAGE / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, _, version = line.partition("==")
            assert version, f"{name}: {line!r} is not pinned with =="
            result[package.lower()] = version
    return result


def test_every_runtime_dependency_is_pinned_and_the_mlflow_pin_matches_the_server():
    runtime = pins("requirements.txt")

    assert runtime["mlflow"] == versions.MLFLOW_VERSION
    assert {"scikit-learn", "pandas", "pyarrow", "boto3", "psycopg2-binary", "kubernetes"} <= set(
        runtime
    )


def test_training_and_serving_venvs_agree_on_mlflow_and_scikit_learn():
    runtime, serving = pins("requirements.txt"), pins("mlserver-requirements.txt")

    for package in ("mlflow", "scikit-learn"):
        assert runtime[package] == serving[package], package


def test_the_image_runs_as_the_uid_the_pods_declare():
    dockerfile = (IMAGE / "Dockerfile").read_text()

    assert f"USER {versions.RUNTIME_UID}:{versions.RUNTIME_UID}" in dockerfile
    assert "FROM docker.io/library/python:3.11.14-slim-bookworm" in dockerfile


def _copy_sources(dockerfile: str) -> list[str]:
    """The context paths of every `COPY` without `--from` (continuation lines joined)."""
    sources = []
    for line in dockerfile.replace("\\\n", " ").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_a_written_context_holds_everything_the_dockerfile_copies(tmp_path):
    context = runtime_image.write_context(tmp_path / "ctx")

    sources = _copy_sources((context / "Dockerfile").read_text())
    assert "mlops_iac" in sources
    for source in sources:
        assert (context / source).exists(), f"the Dockerfile copies {source}, the context lacks it"
    assert not list(context.rglob("__pycache__"))


def test_the_context_s_package_imports_the_workloads_without_this_checkout(tmp_path):
    context = runtime_image.write_context(tmp_path / "ctx")
    program = (
        "import mlops_iac, mlops_iac.workloads.train, mlops_iac.workloads.drift; "
        "print(mlops_iac.__file__)"
    )

    done = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, "PYTHONPATH": str(context)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(done.stdout.strip()).is_relative_to(context)


def test_the_tag_names_the_context_s_files_and_changes_with_them(tmp_path):
    context = runtime_image.write_context(tmp_path / "ctx")
    tag = runtime_image.context_tag(context)

    assert tag == runtime_image.source_tag()
    assert re.fullmatch(rf"{re.escape(versions.RUNTIME_VERSION)}-[0-9a-f]{{12}}", tag)
    (context / "Dockerfile").write_text("FROM scratch\n")
    assert runtime_image.context_tag(context) != tag


def test_rewriting_a_context_replaces_it_and_ensure_keeps_an_unchanged_one(tmp_path):
    context = runtime_image.write_context(tmp_path / "ctx")
    stale = context / "mlops_iac" / "removed_module.py"
    stale.write_text("")

    assert runtime_image.ensure_context(context) == context
    assert stale.exists()  # same package: nothing rewritten
    (context / runtime_image.MARKER).write_text("0.0.0-000000000000\n")
    runtime_image.ensure_context(context)
    assert not stale.exists()


def test_a_folder_of_the_user_s_is_never_overwritten(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")

    with pytest.raises(runtime_image.ContextError, match="not empty and was not written"):
        runtime_image.write_context(tmp_path)
    with pytest.raises(runtime_image.ContextError, match="is a file"):
        runtime_image.write_context(tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"
