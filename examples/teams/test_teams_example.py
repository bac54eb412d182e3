"""The two-stack layout offline, as docs/teams.md shows it: synth the platform stack, then
the team's stack with the platform's outputs.json standing in for its StackReference."""

import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).parent
PLATFORM = "organization/mlops-platform/dev"


def mlops_iac(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_iac.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def manifests(out: Path) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in sorted((out / "manifests").glob("*.yaml"))]


def test_the_team_stack_synthesizes_from_the_platform_stack_s_outputs(tmp_path: Path) -> None:
    platform, team = tmp_path / "platform", tmp_path / "team"
    made = mlops_iac("synth", str(HERE / "platform"), "-s", "dev", "-o", str(platform))
    assert made.returncode == 0, made.stderr

    done = mlops_iac(
        "synth",
        str(HERE / "churn-team"),
        "-s",
        "dev",
        "-o",
        str(team),
        "--stack-outputs",
        f"{PLATFORM}={platform / 'outputs.json'}",
    )

    assert done.returncode == 0, done.stderr
    written = manifests(team)
    assert {m["metadata"].get("namespace") for m in written} == {"mlops-churn"}
    assert {"Deployment", "Service", "HTTPRoute"} <= {m["kind"] for m in written}
    platform_kinds = {(m["kind"], m["metadata"].get("namespace")) for m in manifests(platform)}
    assert {("Role", "mlops-churn"), ("RoleBinding", "mlops-churn")} <= platform_kinds


def test_without_the_platform_s_outputs_the_team_synth_says_what_to_pass(tmp_path: Path) -> None:
    done = mlops_iac("synth", str(HERE / "churn-team"), "-s", "dev", "-o", str(tmp_path / "o"))

    assert done.returncode == 1
    assert f"--stack-outputs {PLATFORM}=FILE" in done.stderr
    assert "Traceback" not in done.stderr
