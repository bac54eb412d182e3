"""The runtime image on AWS: built from images/runtime/Dockerfile during `pulumi up`
(Docker buildx, linux/amd64 like the node groups) and pushed to the stack's ECR repository
under a tag named by its sources, so an immutable repository takes every new build."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from mlops_iac import versions
from mlops_iac.local.image import DOCKERFILE
from mlops_iac.spec import SpecError

SOURCES = ("images/runtime", "pyproject.toml", "README.md", "mlops_iac")
"""What the Dockerfile copies from the context (its tag changes when any of it does)."""


def image_context(configured: str | None) -> Path:
    """The folder to build from: `configured` (relative to the program's folder), or the
    checkout this package runs from; a spec error when it holds no Dockerfile."""
    folder = Path(configured) if configured else Path(__file__).resolve().parents[3]
    if not (folder / DOCKERFILE).is_file():
        raise SpecError.single(
            "mlops:target.image_context",
            f"no {DOCKERFILE} under {folder.resolve()}: point it at the mlops-iac source "
            "folder, or set target.build_runtime_image: false and runtime_image to an image "
            "you pushed",
            configured,
        )
    return folder


def source_tag(context: Path) -> str:
    """`<runtime version>-<12 hex>`: a digest of the files the image is built from."""
    digest = hashlib.sha256()
    for source in SOURCES:
        path = context / source
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(context)).encode() + b"\0")
                digest.update(file.read_bytes())
    return f"{versions.RUNTIME_VERSION}-{digest.hexdigest()[:12]}"


def build_and_push(
    name: str,
    repository: aws.ecr.Repository,
    context: Path,
    opts: pulumi.ResourceOptions,
) -> docker_build.Image:
    """Build the runtime image and push it to `repository`; its `ref` names it by digest.
    A preview does not build it (no Docker needed to preview)."""
    token = aws.ecr.get_authorization_token_output(
        registry_id=repository.registry_id,
        opts=pulumi.InvokeOptions(parent=opts.parent, provider=opts.provider),
    )
    location = os.path.relpath(context)
    return docker_build.Image(
        name,
        context={"location": location},
        dockerfile={"location": os.path.join(location, str(DOCKERFILE))},
        platforms=["linux/amd64"],
        push=True,
        build_on_preview=False,
        tags=[pulumi.Output.concat(repository.repository_url, ":", source_tag(context))],
        registries=[
            {
                "address": repository.repository_url,
                "username": token.user_name,
                "password": pulumi.Output.secret(token.password),
            }
        ],
        opts=opts,
    )
