"""The runtime image on AWS: built during `pulumi up` (Docker buildx, linux/amd64 like the
node groups) from a context written from the installed package (mlops_iac.runtime_image), or
from a context of your own, and pushed to the stack's ECR repository under a tag named by the
context's files, so an immutable repository takes every new build."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from mlops_iac import runtime_image
from mlops_iac.spec import SpecError

WRITTEN_CONTEXT = Path(".mlops-iac") / "runtime-image"
"""Where the package's own context is written, relative to the program's folder."""


def image_context(configured: str | None) -> Path:
    """The folder to build from: `configured` (relative to the program's folder: a Docker
    build context with a Dockerfile at its root), or the package's own context, written into
    `.mlops-iac/runtime-image`; a spec error when a configured folder has no Dockerfile."""
    if configured is None:
        return runtime_image.ensure_context(WRITTEN_CONTEXT)
    folder = Path(configured)
    if not (folder / "Dockerfile").is_file():
        raise SpecError.single(
            "mlops:target.image_context",
            f"no Dockerfile in {folder.resolve()}: point it at a Docker build context (write "
            "the package's own with `mlops-iac image context <folder>`), or leave it unset",
            configured,
        )
    return folder


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
        dockerfile={"location": os.path.join(location, "Dockerfile")},
        platforms=["linux/amd64"],
        push=True,
        build_on_preview=False,
        tags=[
            pulumi.Output.concat(repository.repository_url, ":", runtime_image.context_tag(context))
        ],
        registries=[
            {
                "address": repository.repository_url,
                "username": token.user_name,
                "password": pulumi.Output.secret(token.password),
            }
        ],
        opts=opts,
    )
