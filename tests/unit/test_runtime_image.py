"""The runtime image's pins agree with each other and with the code that uses them."""

from __future__ import annotations

from pathlib import Path

from mlops_iac import versions

IMAGE = Path(__file__).resolve().parents[2] / "images" / "runtime"


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
