"""Recording Pulumi mocks that answer with realistic outputs.

`RecordingMonitor` sees every registration as the engine would (parent, protect,
retainOnDelete, dependencies); `RealisticMocks` fills in what a provider would return:
cluster IPs for Services, deterministic names where Pulumi would autoname, stable
passwords for `random` resources.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _sync_await

SECRET_SIG = rpc._special_sig_key
SECRET_MARKER = rpc._special_secret_sig


def digest(*parts: str, length: int = 8) -> str:
    """A short stable hex digest of the parts."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


def is_secret(value: Any) -> bool:
    """Whether a deserialized property value is a wrapped secret."""
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_MARKER


@dataclass
class Registration:
    """One resource as the engine received it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    depends_on: list[str]
    provider: str | None
    aliases: list[str] = field(default_factory=list)


STACK_REFERENCE = "pulumi:pulumi:StackReference"


class RealisticMocks(pulumi.runtime.Mocks):
    """Provider-like outputs, deterministic for the same program. A `StackReference` reads
    `stack_outputs[<stack name>]`, what `pulumi stack output --json` shows of that stack."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.stack_outputs = dict(stack_outputs or {})

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        resource_id = f"{args.name}-{digest(args.typ, args.name)}"
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(outputs["name"])
        if args.typ.startswith("kubernetes:") and "metadata" in outputs:
            outputs = _kubernetes_outputs(args.typ, args.name, outputs)
            meta = outputs["metadata"]
            resource_id = f"{meta.get('namespace', '')}/{meta['name']}".lstrip("/")
        elif args.typ == "random:index/randomPassword:RandomPassword":
            length = int(outputs.get("length", 16))
            outputs["result"] = _password(args.name, length)
            outputs["bcryptHash"] = "$2a$10$" + digest(args.name, length=53)
        elif args.typ == "random:index/randomString:RandomString":
            length = int(outputs.get("length", 16))
            outputs["result"] = _password(args.name, length).lower()
        elif args.typ == "random:index/randomId:RandomId":
            outputs["hex"] = digest(args.name, length=2 * int(outputs.get("byteLength", 8)))
        elif args.typ.startswith("aws:"):
            from . import aws_mocks

            resource_id, outputs = aws_mocks.new_resource(args.typ, args.name, outputs)
        elif args.typ == "docker-build:index:Image":
            from . import aws_mocks

            resource_id, outputs = aws_mocks.built_image(args.name, outputs)
        return resource_id, outputs

    def _stack_reference(self, stack: str) -> tuple[str, dict[str, Any]]:
        if stack not in self.stack_outputs:
            given = ", ".join(sorted(self.stack_outputs)) or "none"
            raise LookupError(
                f"the program reads stack {stack!r} through a StackReference, and its outputs "
                f"were not given (given: {given}); pass them as `pulumi stack output --json` "
                f"shows them (synth's stack_outputs, or --stack-outputs {stack}=FILE)"
            )
        outputs = dict(self.stack_outputs[stack])
        return stack, {"name": stack, "outputs": outputs, "secretOutputNames": []}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token.startswith("aws:"):
            from . import aws_mocks

            answer = aws_mocks.call(args.token, dict(args.args))
            if answer is None:
                raise NotImplementedError(f"the mocks do not answer {args.token}")
            return answer, []
        return {}, []


def _password(name: str, length: int) -> str:
    seed = hashlib.sha256(f"password:{name}".encode()).hexdigest()
    text = "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(seed * 4))
    return text[:length]


def _kubernetes_outputs(typ: str, name: str, outputs: dict[str, Any]) -> dict[str, Any]:
    meta = dict(outputs.get("metadata") or {})
    if not meta.get("name"):
        meta["name"] = autoname(name)
    meta.setdefault("uid", digest(typ, name, length=32))
    meta.setdefault("resourceVersion", "1")
    outputs["metadata"] = meta
    if typ == "kubernetes:core/v1:Service":
        spec = dict(outputs.get("spec") or {})
        if spec.get("clusterIP") != "None":
            spec.setdefault("clusterIP", cluster_ip(meta.get("namespace", "default"), meta["name"]))
        outputs["spec"] = spec
    return outputs


def autoname(name: str) -> str:
    """The deterministic stand-in for Pulumi's random suffix: `<name>-<8 hex>`."""
    return f"{name}-{digest('autoname', name)}"


def cluster_ip(namespace: str, name: str) -> str:
    """A stable address in the default Service CIDR 10.96.0.0/12."""
    offset = int(digest(namespace, name, length=6), 16) % (2**20 - 2) + 1
    return str(ipaddress.IPv4Address("10.96.0.0") + offset)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps every registration, with its resource options."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.outputs: dict[str, dict[str, Any]] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine would give: the parent's whole type chain, minus the Stack."""
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join(
            [pulumi.get_stack(), pulumi.get_project(), qualified, name]
        )

    def Invoke(self, request: Any) -> Any:
        with _call_loop():
            return super().Invoke(request)

    def ReadResource(self, request: Any) -> Any:
        with _call_loop():
            return super().ReadResource(request)

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        with _call_loop():
            return self._register(urn, request)

    def _register(self, urn: str, request: Any) -> Any:
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        resource_id, state = self.mocks.new_resource(
            pulumi.runtime.MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=inputs,
                provider=request.provider,
                resource_id=request.importId,
                custom=request.custom or False,
            )
        )
        # The engine, not the SDK, marks `additional_secret_outputs`: do it here too.
        for key in request.additionalSecretOutputs:
            if key in state and not is_secret(state[key]):
                state[key] = {SECRET_SIG: SECRET_MARKER, "value": state[key]}
        resource_id = resource_id or ""
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, resource_id, state)
        self.registrations.append(
            Registration(
                urn=urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent or None,
                inputs=inputs,
                outputs=dict(state),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                depends_on=sorted(set(request.dependencies)),
                provider=request.provider or None,
                aliases=[alias.urn for alias in request.aliases if alias.urn],
            )
        )
        state_proto = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state_proto)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.outputs[request.urn] = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        return super().RegisterResourceOutputs(request)


@contextlib.contextmanager
def _call_loop() -> Iterator[None]:
    """An event loop for one monitor call, closed when it returns.

    The SDK calls the monitor from its executor's threads, which have no loop; the SDK's
    mocks give each thread one that is never closed, and the collector closes it later,
    at interpreter exit after its self-pipe is gone (a traceback on stderr)."""
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        pass
    else:
        yield
        return
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()
