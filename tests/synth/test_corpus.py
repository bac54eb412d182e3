"""Every spec in tests/corpus/ is refused by `mlops-iac synth` the same way: exit code 2, an
error naming the field, no traceback, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_iac.cli import app

CORPUS = sorted((Path(__file__).parents[1] / "corpus").glob("*.yaml"))
PROGRAM = """from mlops_iac import MLOpsStack, StackSpec

spec = StackSpec.from_pulumi_config()
MLOpsStack(spec.name, spec).export()
"""


def expected(case: Path) -> str:
    first = case.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{case.name} lacks its `# expect:` line"
    return first.removeprefix("# expect: ").strip()


def test_the_corpus_has_at_least_forty_cases():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("case", CORPUS, ids=[case.stem for case in CORPUS])
def test_synth_refuses_the_spec_and_names_the_field(case: Path, tmp_path: Path):
    (tmp_path / "Pulumi.yaml").write_text("name: corpus\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(PROGRAM)
    (tmp_path / "Pulumi.corpus.yaml").write_text(case.read_text())
    out = tmp_path / "out"

    result = CliRunner().invoke(
        app, ["synth", str(tmp_path), "--stack", "corpus", "--out", str(out)]
    )

    assert result.exit_code == 2, result.output
    assert expected(case) in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
