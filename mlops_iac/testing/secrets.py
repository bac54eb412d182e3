"""Where a synthesized stack's generated secrets appear: they must be nowhere but in
Secret objects."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .synth import SynthResult


def generated_secrets(result: SynthResult, min_length: int = 16) -> set[str]:
    """The values of every Secret's `stringData` (revealed from the mocks) that look
    generated: at least `min_length` characters and not a document (no `{`)."""
    return {
        value
        for manifest in result.revealed_manifests()
        if manifest["kind"] == "Secret"
        for value in (manifest.get("stringData") or {}).values()
        if len(value) >= min_length and "{" not in value
    }


def secret_leaks(result: SynthResult, secrets: set[str]) -> list[str]:
    """Where any of `secrets` appears outside a Secret object: another manifest, the files
    `synth` writes (resources.json, outputs.json, manifests/), or the stack outputs. Each
    finding names the place and the secret's first four characters."""
    others = json.dumps([m for m in result.revealed_manifests() if m["kind"] != "Secret"])
    with tempfile.TemporaryDirectory() as out:
        result.write(Path(out))
        written = "".join(p.read_text() for p in Path(out).rglob("*") if p.is_file())
    outputs = json.dumps(result.outputs)
    places = {"a non-Secret manifest": others, "synth's files": written, "stack outputs": outputs}
    return [
        f"{secret[:4]}... in {place}"
        for secret in sorted(secrets)
        for place, text in places.items()
        if secret in text
    ]
