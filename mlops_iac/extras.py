"""The optional extras (`[project.optional-dependencies]` in pyproject.toml) a path needs
beyond the core install, and the one-line message when one is not installed.

The core install is enough for `new`, `synth`, `validate`, `check`, `image context`,
`doctor`, `up`/`down`/`preview` on kind and Kubernetes targets, and for testing a stack with
`mlops_iac.testing`; `workloads` runs the trainer (`mlops-iac train JOB --local`), `aws`
the AWS target, `dev` (with pytest and the test tools) this repository's tests and
`mlops-iac dev controlplane`.
"""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, tuple[str, ...]] = {
    "workloads": (
        "mlflow",
        "sklearn",
        "pandas",
        "pyarrow",
        "skops",
        "boto3",
        "prometheus_client",
        "starlette",
        "uvicorn",
    ),
    "aws": ("pulumi_aws", "pulumi_docker_build"),
    "dev": ("cryptography",),
}
"""The top-level modules each extra installs that the package imports (checked without
importing them)."""


class ExtraNotInstalled(ModuleNotFoundError):
    """A path needs an extra that is not installed; the message names it and how to install
    it."""


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that are not installed, in EXTRAS' order."""
    return [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]


def message(extra: str, what: str, missing: list[str]) -> str:
    """`what` needs the `extra` extra, as one line: the pip command and what is missing."""
    return (
        f"{what} needs the {extra} extra: pip install 'mlops-iac[{extra}]' "
        f"(not installed: {', '.join(missing)})"
    )


def require(extra: str, what: str) -> None:
    """Raise ExtraNotInstalled, with `message`, when a module of `extra` is missing."""
    missing = missing_modules(extra)
    if missing:
        raise ExtraNotInstalled(message(extra, what, missing), name=missing[0])
