"""The code in README.md and docs/ runs as written.

- every ```python block is executed in a fresh namespace, from the repository root. A block
  that runs `synth`/`synth_project` itself runs as plain Python (and any `test_*` function
  it defines is called); every other block is the program of a `mlops_iac.testing.synth`
  run, so what it declares goes through Pulumi's mock engine;
- every ```yaml block parses; one that is a stack config (`config:` with `mlops:` keys) is
  synthesized with `synth_project` as the `Pulumi.<stack>.yaml` of a project like the
  repo's own (`Pulumi.yaml`, `stacks/__main__.py`; `examples/` beside it, so feature repo
  paths resolve as they do here); a `mlops:` fragment without `config:` is refused;
- a block can opt out only with `<!-- not-run: reason -->` on the line before it, and the
  reason must be there.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from _docs_markdown import NOT_RUN, REPO_ROOT, Block, code_blocks, doc_files

from mlops_iac.testing import synth, synth_project

RUNS_SYNTH_ITSELF = re.compile(r"\bsynth(_project)?\(")


def _blocks(lang: str) -> list[Block]:
    return [b for path in doc_files() for b in code_blocks(path) if b.lang == lang]


def _params(lang: str) -> Any:
    blocks = _blocks(lang)
    return pytest.mark.parametrize("block", blocks, ids=[b.where for b in blocks])


def _skip_if_marked(block: Block) -> None:
    if block.not_run is not None:
        pytest.skip(f"{block.where}: not run:{block.not_run}")


def test_snippets_are_found() -> None:
    assert len(_blocks("python")) >= 5
    assert len([b for b in _blocks("yaml") if _is_stack_config(yaml.safe_load(b.code))]) >= 6


def test_every_not_run_marker_says_why_and_precedes_a_block() -> None:
    marked = {(b.path, b.line) for path in doc_files() for b in code_blocks(path) if b.not_run}
    markers = 0
    for path in doc_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if "not-run" not in line:
                continue
            match = NOT_RUN.match(line.strip())
            assert match, f"{path.name}:{number}: write the marker as <!-- not-run: reason -->"
            reason = match["rest"].strip()
            assert reason.startswith(":") and reason[1:].strip(), (
                f"{path.name}:{number}: a not-run marker needs a reason: <!-- not-run: why -->"
            )
            following = next((n for n in range(number, len(lines)) if lines[n].strip()), len(lines))
            assert (path, following + 1) in marked, f"{path.name}:{number}: no code block after it"
            markers += 1
    assert markers == len(marked)


PRINTED = re.compile(r"^\s*print\(.*\)\s+#\s*(?P<said>.+)$", re.M)
"""`print(...)  # what it prints`: the comment is checked against what the block printed."""
EXPORTED = re.compile(r"\.export\(\)\s+#\s*(?P<names>.+)$", re.M)
"""`.export()  # out_a, out_b, ...`: each name must be an output the block exported."""


@_params("python")
def test_python_snippet_runs(
    block: Block, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _skip_if_marked(block)
    monkeypatch.chdir(REPO_ROOT)
    code = compile(block.code, block.where, "exec")
    namespace: dict[str, Any] = {"__name__": "__docs_snippet__"}
    outputs: dict[str, Any] = {}
    if RUNS_SYNTH_ITSELF.search(block.code):
        exec(code, namespace)
    else:
        result = synth(lambda: exec(code, namespace))
        assert result.resources or "MLOpsStack" not in block.code
        outputs = result.outputs
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
    printed = capsys.readouterr().out
    for said in PRINTED.finditer(block.code):
        assert said["said"].strip() in printed, f"{block.where}: the comment says {said[0]!r}"
    for exported in EXPORTED.finditer(block.code):
        names = [n.strip() for n in exported["names"].split(",") if n.strip() not in ("...", "")]
        missing = [name for name in names if name not in outputs]
        assert not missing, f"{block.where}: exports no {missing} (it exports {sorted(outputs)})"


def _is_stack_config(data: Any) -> bool:
    config = data.get("config") if isinstance(data, dict) else None
    return isinstance(config, dict) and any(str(k).startswith("mlops:") for k in config)


@_params("yaml")
def test_yaml_snippet(block: Block, tmp_path: Path) -> None:
    _skip_if_marked(block)
    data = yaml.safe_load(block.code)
    if not _is_stack_config(data):
        fragment = isinstance(data, dict) and any(str(k).startswith("mlops:") for k in data)
        assert not fragment, (
            f"{block.where}: a stack-config fragment; write it as a whole Pulumi.<stack>.yaml "
            "(`config:` with `mlops:target` ...), so that it is synthesized here"
        )
        return
    (tmp_path / "Pulumi.yaml").write_text(
        "name: docs-snippet\nruntime:\n  name: python\nmain: stacks/\n"
    )
    (tmp_path / "stacks").mkdir()
    shutil.copy(REPO_ROOT / "stacks" / "__main__.py", tmp_path / "stacks" / "__main__.py")
    (tmp_path / "examples").symlink_to(REPO_ROOT / "examples", target_is_directory=True)
    (tmp_path / "Pulumi.snippet.yaml").write_text(block.code)
    platform = data["config"].get("mlops:platform")
    if platform is None:
        result = synth_project(tmp_path, "snippet")
        assert result.manifests_of("Namespace"), f"{block.where}: synthesized no namespace"
        return
    # A team's stack: its platform is the teams example's (docs/teams.md shows both).
    made = synth_project(REPO_ROOT / "examples" / "teams" / "platform", "dev")
    result = synth_project(tmp_path, "snippet", stack_outputs={platform["stack"]: made.outputs})
    assert result.manifests_of("Deployment"), f"{block.where}: synthesized no endpoint"
