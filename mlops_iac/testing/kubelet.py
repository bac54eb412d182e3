"""What the kubelet does to a container's manifest before it starts the process, for tests
that run a synthesized container's command on the machine they run on."""

from __future__ import annotations

import re

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """`$(VAR)` replaced by VAR's value when the container defines it (else kept), `$$`
    by `$`: what the kubelet does to `command`, `args` and env values."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, text)
