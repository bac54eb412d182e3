"""Issue 19, a new user's first hour, at the command line: `mlops-iac new` (also a
`pulumi new` template), synth's messages for a failing program, a bad --out, a stack that
does not exist or a misplaced key, validate's Kubernetes versions, and doctor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from mlops_iac.cli import app
from mlops_iac.templates import TARGETS, TEMPLATE_DIR, render
from mlops_iac.validate import SUPPORTED_KUBERNETES_VERSIONS

runner = CliRunner()
SYNTH = [sys.executable, "-m", "mlops_iac.cli", "synth"]
PROGRAM = "from mlops_iac import MLOpsStack, StackSpec\n\nspec = StackSpec.from_pulumi_config()\n"
NEW_FILES = [
    ".github/workflows/stack.yml",
    ".gitignore",
    "Pulumi.dev.yaml",
    "Pulumi.yaml",
    "__main__.py",
    "requirements.txt",
    "tests/test_stack.py",
]


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --- item 2: mlops-iac new ----------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_a_new_project_synthesizes_and_its_own_tests_pass(target: str, tmp_path: Path) -> None:
    folder = tmp_path / "churn-stack"
    created = runner.invoke(app, ["new", str(folder), "--target", target])
    assert created.exit_code == 0, created.output
    assert files_under(folder) == NEW_FILES
    assert "mlops-iac synth . --stack dev" in created.output

    project = yaml.safe_load((folder / "Pulumi.yaml").read_text())
    assert project == {
        "name": "churn-stack",
        "description": f"An MLOps stack on {target} (mlops-iac)",
        "runtime": {"name": "python", "options": {"toolchain": "pip"}},
    }
    stack = yaml.safe_load((folder / "Pulumi.dev.yaml").read_text())["config"]
    assert set(stack) >= {"mlops:target", "mlops:profile", "mlops:training"}
    assert stack["mlops:target"]["kind"] == target
    assert "StackSpec.from_pulumi_config()" in (folder / "__main__.py").read_text()
    requirement = "mlops-iac[aws]" if target == "aws" else "mlops-iac>="
    assert requirement in (folder / "requirements.txt").read_text()

    out = tmp_path / "out"
    synthesized = subprocess.run(
        [*SYNTH, str(folder), "--stack", "dev", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert synthesized.returncode == 0, synthesized.stderr
    assert (out / "manifests" / "mlops.Deployment.mlflow.yaml").is_file()
    assert (out / "manifests" / "mlops-training.CronJob.demo.yaml").is_file()

    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "5 passed" in tested.stdout


def test_new_overwrites_nothing(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: mine\n")

    result = runner.invoke(app, ["new", str(tmp_path)])

    assert result.exit_code == 2
    assert "already has Pulumi.yaml; choose a new or empty folder" in result.output
    assert files_under(tmp_path) == ["Pulumi.yaml"]
    assert (tmp_path / "Pulumi.yaml").read_text() == "name: mine\n"


def test_the_template_folder_is_a_pulumi_project_template() -> None:
    """The format `pulumi new <folder>` reads (pulumi/sdk go/common/apitype/templates.go,
    ProjectTemplate and ProjectTemplateConfigValue; pkg/cmd/pulumi/templates)."""
    project = yaml.safe_load((TEMPLATE_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == "${PROJECT}"
    assert project["description"] == "${DESCRIPTION}"
    assert project["runtime"]["name"] == "python"
    template = project["template"]
    assert set(template) <= {"displayName", "description", "quickstart", "config", "metadata"}
    assert isinstance(template["description"], str) and template["description"]
    for key, value in template["config"].items():
        assert key.startswith("mlops:")
        assert set(value) <= {"description", "default", "secret"}
        assert isinstance(value["description"], str)
        assert isinstance(value["default"], str)  # Pulumi's default is a string
    assert files_under(TEMPLATE_DIR) == NEW_FILES


def test_a_project_made_as_pulumi_new_makes_it_synthesizes(tmp_path: Path) -> None:
    """What `pulumi new` does with the folder: copy every file, replace ${PROJECT} and
    ${DESCRIPTION}, drop `template:`, and save the template's config defaults (strings) into
    the chosen stack's file."""
    for relative in files_under(TEMPLATE_DIR):
        text = (TEMPLATE_DIR / relative).read_text()
        text = text.replace("${PROJECT}", "churn").replace("${DESCRIPTION}", "Churn models")
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    project = yaml.safe_load((tmp_path / "Pulumi.yaml").read_text())
    defaults = {key: value["default"] for key, value in project.pop("template")["config"].items()}
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump({"config": defaults}))

    for stack in ("dev", "staging"):
        out = tmp_path / f"out-{stack}"
        result = runner.invoke(app, ["synth", str(tmp_path), "--stack", stack, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert (out / "manifests" / "mlops.Deployment.mlflow.yaml").is_file()


def find_pulumi() -> str | None:
    found = shutil.which("pulumi")
    if found:
        return found
    cached = sorted(Path.home().glob(".cache/mlops-iac/controlplane/pulumi-*/pulumi"))
    return str(cached[-1]) if cached else None


@pytest.mark.skipif(find_pulumi() is None, reason="no Pulumi CLI here")
def test_pulumi_new_accepts_the_template(tmp_path: Path) -> None:
    """The real `pulumi new --generate-only` (it writes the files, then may stop for want of
    the Python language host, which is not always installed)."""
    env = {
        **os.environ,
        "PULUMI_HOME": str(tmp_path / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
    }
    folder = tmp_path / "project"
    pulumi_new = [str(find_pulumi()), "new", str(TEMPLATE_DIR), "--generate-only", "--yes"]
    done = subprocess.run(
        [*pulumi_new, "--name", "churn", "--dir", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 or "pulumi-language-python" in done.stderr, done.stderr
    project = yaml.safe_load((folder / "Pulumi.yaml").read_text())
    assert project["name"] == "churn"
    assert "template" not in project
    assert files_under(folder) == NEW_FILES
    result = runner.invoke(app, ["synth", str(folder), "--stack", "dev", "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output


def test_the_templates_are_package_data() -> None:
    """pyproject.toml's package-data patterns cover every template file (`.gitignore` too),
    so a wheel install can run `mlops-iac new`."""
    import glob
    import tomllib

    import mlops_iac

    package = Path(mlops_iac.__file__).parent
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["mlops_iac"]
    shipped = {
        match
        for pattern in patterns
        for match in glob.glob(pattern, root_dir=package, recursive=True)
    }
    templates = package / "templates"
    wanted = {
        path.relative_to(package).as_posix()
        for path in templates.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert wanted - shipped == set()
    assert "templates/mlops-stack/.gitignore" in wanted


def test_new_and_the_template_write_the_same_program_and_tests(tmp_path: Path) -> None:
    files = render(tmp_path, target="kubernetes")
    for same in ("__main__.py", "tests/test_stack.py", ".gitignore"):
        assert files[same] == (TEMPLATE_DIR / same).read_text()
    assert "kind: kubernetes" in files["Pulumi.dev.yaml"]


# --- item 11: a failing program, a bad --out, validate's versions --------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (folder / "Pulumi.dev.yaml").write_text("config:\n  mlops:target: {kind: kind}\n")
    (folder / "Pulumi.local.yaml").write_text("config:\n  mlops:target: {kind: kind}\n")
    (folder / "__main__.py").write_text(PROGRAM + "MLOpsStack(spec.name, spec).export()\n")
    return folder


@pytest.mark.parametrize(
    ("program", "line", "cause"),
    [
        (
            PROGRAM + "MLOpsStack(spec.name, spce).export()\n",
            "MLOpsStack(spec.name, spce).export()",
            "NameError: name 'spce' is not defined",
        ),
        (
            PROGRAM.replace("MLOpsStack,", "MLOpsStak,"),
            "from mlops_iac import MLOpsStak, StackSpec",
            "ImportError: cannot import name 'MLOpsStak' from 'mlops_iac'",
        ),
        (PROGRAM + "import no_such_module\n", "import no_such_module", "ModuleNotFoundError"),
        (PROGRAM + "def (:\n", "def (:", "SyntaxError: invalid syntax"),
    ],
    ids=["name", "import-name", "module", "syntax"],
)
def test_a_failing_program_shows_its_own_line_and_one_line_of_cause(
    project: Path, program: str, line: str, cause: str
) -> None:
    (project / "__main__.py").write_text(program)
    number = program.splitlines().index(line) + 1
    out = project / "out"

    done = subprocess.run(
        [*SYNTH, str(project), "--stack", "dev", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("the program failed at ")
    assert lines[0].endswith(f"project/__main__.py:{number}")
    assert lines[1].strip() == line
    assert lines[2].startswith(cause)
    assert len(lines) == 4, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not out.exists()


def test_traceback_shows_the_whole_traceback(project: Path) -> None:
    (project / "__main__.py").write_text(PROGRAM + "MLOpsStack(spec.name, spce).export()\n")
    done = subprocess.run(
        [*SYNTH, str(project), "--stack", "dev", "--out", str(project / "out"), "--traceback"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("NameError: name 'spce' is not")


@pytest.mark.parametrize("out", ["Pulumi.dev.yaml", "Pulumi.dev.yaml/out"])
def test_synth_to_a_file_is_refused_before_anything_runs(project: Path, out: str) -> None:
    (project / "__main__.py").write_text("raise SystemExit('must not run')\n")
    target = project / out

    result = runner.invoke(app, ["synth", str(project), "--stack", "dev", "-o", str(target)])

    assert result.exit_code == 2
    assert f"--out {target}" in result.output
    assert "synth writes a folder" in result.output
    assert "NotADirectoryError" not in result.output


def test_synth_into_a_folder_with_a_manifests_folder_of_the_user_s_changes_nothing(
    project: Path,
) -> None:
    (project / "manifests").mkdir()
    (project / "manifests" / "app.yaml").write_text("kind: ConfigMap\n")

    result = runner.invoke(app, ["synth", str(project), "--stack", "dev", "-o", str(project)])

    assert result.exit_code == 2
    assert "was not written by synth" in result.output
    assert files_under(project / "manifests") == ["app.yaml"]
    assert not (project / "resources.json").exists()


def test_synth_replaces_its_own_manifests_and_prints_the_outputs_it_wrote(project: Path) -> None:
    out = project / "out"
    first = runner.invoke(app, ["synth", str(project), "--stack", "dev", "-o", str(out)])
    stale = out / "manifests" / "stale.yaml"
    stale.write_text("kind: ConfigMap\n")

    again = runner.invoke(app, ["synth", str(project), "--stack", "dev", "-o", str(out)])

    assert first.exit_code == again.exit_code == 0, first.output
    assert not stale.exists()
    outputs = json.loads((out / "outputs.json").read_text())
    assert "outputs.json" in again.output
    for key, value in outputs.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        assert f"{key}" in again.output and shown in again.output, key


@pytest.mark.parametrize("version", ["1.40", "1.40.1", "1.2", "latest", "one.two"])
def test_validate_refuses_a_version_it_has_no_schemas_for(tmp_path: Path, version: str) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path), "--kubernetes-version", version])
    assert result.exit_code == 2
    assert ", ".join(SUPPORTED_KUBERNETES_VERSIONS) in result.output
    assert "VersionNotSupportedError" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_takes_a_patch_version_and_notes_an_untested_minor(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {}\n"
    )
    patch = runner.invoke(app, ["validate", str(tmp_path), "--kubernetes-version", "v1.35.2"])
    assert patch.exit_code == 0, patch.output
    assert "1 manifests, 0 failures" in patch.output
    older = runner.invoke(app, ["validate", str(tmp_path), "--kubernetes-version", "1.30"])
    assert older.exit_code == 0, older.output
    assert "1.30 has schemas but no stack is tested on it" in older.output


# --- item 10 and 7: which project, which stack, which keys --------------------------------------


def test_an_unknown_stack_lists_the_stacks_there(project: Path) -> None:
    result = runner.invoke(app, ["synth", str(project), "--stack", "prod"])
    assert result.exit_code == 2
    assert "cannot read the project" in result.output
    assert "no stack 'prod' (no Pulumi.prod.yaml); stacks here: dev, local" in result.output


def test_synth_finds_the_project_in_a_folder_above(project: Path) -> None:
    (project / "__main__.py").write_text(PROGRAM + "MLOpsStack(spec.name, spec).export()\n")
    (project / "src").mkdir()
    out = project / "out"
    result = runner.invoke(app, ["synth", str(project / "src"), "--stack", "dev", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "resources.json").is_file()


@pytest.mark.parametrize(
    ("stack_file", "expected"),
    [
        (
            "configs:\n  mlops:target: {kind: kind}\n",
            "Pulumi.dev.yaml:configs: unknown top-level key; did you mean 'config'?",
        ),
        (
            "config:\n  mlops:target: {kind: kind}\n  registry: {replicas: 2}\n",
            "p:registry: `registry` is in the project's namespace (p), where nothing reads it: "
            "did you mean `mlops:registry`?",
        ),
        (
            "config:\n  mlops:target: {kind: kind}\n  p:servng: []\n",
            "did you mean `mlops:serving`?",
        ),
        (
            "config:\n  mlops:target: {kind: kind}\n  mlops:servng: []\n",
            "mlops:servng: unknown key; did you mean 'serving'? allowed keys: ",
        ),
    ],
    ids=["configs", "registry", "project-servng", "mlops-servng"],
)
def test_a_misplaced_key_is_named_with_the_key_meant(
    project: Path, stack_file: str, expected: str
) -> None:
    (project / "__main__.py").write_text(PROGRAM)
    (project / "Pulumi.dev.yaml").write_text(stack_file)
    result = runner.invoke(app, ["synth", str(project), "--stack", "dev", "-o", "unused"])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Field required" not in result.output


def test_a_bare_path_from_a_check_while_building_gets_the_mlops_prefix(project: Path) -> None:
    (project / "__main__.py").write_text(PROGRAM + "MLOpsStack(spec.name, spec).export()\n")
    (project / "Pulumi.dev.yaml").write_text(
        "config:\n  mlops:target: {kind: kind}\n  mlops:feature_store: {repo: no-such-repo}\n"
    )
    result = runner.invoke(app, ["synth", str(project), "--stack", "dev", "-o", "unused"])
    assert result.exit_code == 2
    assert "  mlops:feature_store.repo: no feature repo folder at " in result.output


# --- item 13: doctor ------------------------------------------------------------------------------


@pytest.fixture
def bare_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No tools on PATH, no AWS credentials; tools put into the returned folder are found."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return bin_dir


def add_tool(bin_dir: Path, name: str) -> None:
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\necho '{name} v1.0.0'\n")
    tool.chmod(0o755)


def test_doctor_exits_1_when_no_target_is_ready_and_keeps_links_whole(bare_machine: Path) -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    docker = next(line for line in lines if "missing" in line and " docker " in line)
    assert docker.rstrip().endswith("https://docs.docker.com/get-started/get-docker/")
    assert len(docker) > 80  # printed whole, not cut at the terminal's width
    aws = next(line for line in lines if "aws-credentials" in line)
    assert "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html" in aws
    assert [line for line in lines if line.startswith("target ")] == [
        "target kind",
        "target kubernetes",
        "target aws",
    ]
    assert lines[-1].startswith("ready: no target; not ready: kind (missing docker")


def test_doctor_exits_0_when_some_target_is_ready(bare_machine: Path) -> None:
    add_tool(bare_machine, "pulumi")
    add_tool(bare_machine, "kubectl")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "ready: kubernetes; not ready: kind (missing docker, docker engine); aws" in (
        result.output
    )


def test_doctor_for_a_kind_stack_checks_only_what_kind_needs(
    bare_machine: Path, project: Path
) -> None:
    add_tool(bare_machine, "kubectl")
    result = runner.invoke(app, ["doctor", "--stack", "dev", "--dir", str(project)])
    assert result.exit_code == 1
    assert "aws-credentials" not in result.output
    assert "stack 'dev': target kind" in result.output
    assert "`mlops-iac up` downloads a pinned one" in result.output  # pulumi and kind
    assert result.output.splitlines()[-1] == (
        "stack 'dev' is not ready: kind (missing docker, docker engine)"
    )


# --- item 1: the runtime image from the installed package ------------------------------------


def test_image_context_writes_a_buildable_context_and_says_how_to_push_it(tmp_path: Path) -> None:
    from mlops_iac import runtime_image

    done = runner.invoke(app, ["image", "context", str(tmp_path / "ctx")])

    assert done.exit_code == 0, done.output
    assert (tmp_path / "ctx" / "Dockerfile").is_file()
    assert (tmp_path / "ctx" / "mlops_iac" / "workloads" / "train.py").is_file()
    assert f"docker build -t <registry>/mlops-iac-runtime:{runtime_image.source_tag()}" in (
        " ".join(done.output.split())
    )


def test_image_context_never_writes_into_a_folder_of_the_user_s(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep")

    done = runner.invoke(app, ["image", "context", str(tmp_path)])

    assert done.exit_code == 2
    assert "not written by mlops-iac" in done.output
    assert files_under(tmp_path) == ["mine.txt"]


# --- item 16: help a person can read --------------------------------------------------------


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in getattr(group, "commands", {}).items():
        found += _commands(command, (*path, name))
    return found


def test_every_help_is_plain_text_without_type_labels_on_flags_or_cut_summaries() -> None:
    import typer.main

    for path in _commands(typer.main.get_command(app)):
        shown = runner.invoke(app, [*path, "-h"], terminal_width=80)

        assert shown.exit_code == 0, (path, shown.output)
        assert "<bool>" not in shown.output, path
        assert "│" not in shown.output, path  # no boxes that wrap sentences
        commands = shown.output.partition("\nCommands:\n")[2]
        assert "..." not in commands, (path, commands)


def test_text_in_square_brackets_reaches_the_terminal_as_written(project: Path) -> None:
    """Rich reads `[...]` as markup: an error naming `mlops-iac[aws]` or a list index must
    not lose it."""
    (project / "__main__.py").write_text("raise RuntimeError(\"pip install 'mlops-iac[aws]'\")\n")

    done = subprocess.run(
        [*SYNTH, str(project), "--stack", "dev", "--out", str(project / "out")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert "RuntimeError: pip install 'mlops-iac[aws]'" in done.stderr
