"""Issue 19, a new user's first hour, in the library: readable `model_validate` errors,
numbers as quantities, the CPU limit's default said where it matters, one `mlops:<path>:`
form for every spec error with "did you mean", config keys outside the `mlops` namespace,
how a project folder is found and read, and doctor's checks by target."""

from __future__ import annotations

import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

import mlops_iac.spec as spec_package
from mlops_iac import doctor
from mlops_iac.program import ProjectError, PulumiProject, program_frame
from mlops_iac.spec import ResourceRequirements, SpecError, StackSpec
from mlops_iac.spec.errors import SpecValidationError
from mlops_iac.spec.stack import misplaced_config_keys

MINIMAL = {"name": "demo", "target": {"kind": "kind", "cluster": "mlops"}}


def error_of(data: dict[str, Any], prefix: str = "mlops:") -> SpecError:
    with pytest.raises(SpecError) as caught:
        StackSpec.load(data, path_prefix=prefix)
    return caught.value


# --- item 4: model_validate, the README's way, reads like load --------------------------


def test_model_validate_fails_with_one_line_per_problem_and_stays_a_validation_error() -> None:
    data = {**MINIMAL, "registry": {"replicas": -1}, "servng": []}

    with pytest.raises(ValidationError) as caught:
        StackSpec.model_validate(data)

    error = caught.value
    assert isinstance(error, SpecError) and isinstance(error, SpecValidationError)
    assert error.paths == ["registry.replicas", "servng"]
    assert str(error).splitlines()[0] == (
        "registry.replicas: Input should be greater than or equal to 1 (got -1)"
    )
    assert "did you mean 'serving'?" in str(error).splitlines()[1]
    assert "errors.pydantic.dev" not in str(error)
    # Still pydantic's error underneath: the same structured errors.
    assert [e["loc"] for e in error.errors()] == [("registry", "replicas"), ("servng",)]
    assert error.error_count() == 2


def test_model_validate_of_a_valid_spec_is_unchanged() -> None:
    assert StackSpec.model_validate(MINIMAL) == StackSpec.load(MINIMAL)


def test_a_script_failing_in_model_validate_ends_in_one_short_traceback(tmp_path: Path) -> None:
    script = tmp_path / "stack.py"
    script.write_text(
        "from mlops_iac import StackSpec\n"
        "StackSpec.model_validate({'name': 'demo', 'target': {'kind': 'kind'}, "
        "'registry': {'replicas': -1}})\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "mlops_iac.spec.errors.SpecValidationError: registry.replicas: Input should be greater "
        "than or equal to 1 (got -1)"
    )
    assert len(done.stderr.strip().splitlines()) < 10, done.stderr


# --- item 8: numbers are quantities, wherever a Quantity is ---------------------------------


def quantity_fields() -> Iterator[tuple[str, Any]]:
    """(`Model.field`, a TypeAdapter of the field) for every Quantity field of the spec."""
    models = {
        model
        for module in vars(spec_package).values()
        if inspect.ismodule(module) and module.__name__.startswith("mlops_iac.spec.")
        for model in vars(module).values()
        if inspect.isclass(model) and issubclass(model, BaseModel)
    }
    for model in sorted(models, key=lambda m: m.__name__):
        for name, field in model.model_fields.items():
            annotation = (
                Annotated[(field.annotation, *field.metadata)]
                if field.metadata
                else (field.annotation)
            )
            if "_quantity" in repr(field.metadata) + repr(field.annotation):
                yield f"{model.__name__}.{name}", TypeAdapter(annotation)


QUANTITY_FIELDS = list(quantity_fields())


def test_the_quantity_fields_are_found() -> None:
    names = {name for name, _ in QUANTITY_FIELDS}
    assert {
        "ResourceRequirements.cpu",
        "ResourceRequirements.memory_limit",
        "TrainingQuota.cpu",
        "TrainingQuota.memory",
        "PostgresSpec.storage",
    } <= names


@pytest.mark.parametrize(("name", "adapter"), QUANTITY_FIELDS, ids=[n for n, _ in QUANTITY_FIELDS])
def test_every_quantity_field_takes_numbers_as_kubernetes_does(name: str, adapter: Any) -> None:
    assert adapter.validate_python(4) == "4"
    assert adapter.validate_python(2048) == "2048"
    assert adapter.validate_python(0.5) == "0.5"
    assert adapter.validate_python(2.0) == "2"
    assert adapter.validate_python("500m") == "500m"
    for bad in (True, -1, float("inf"), [1]):
        with pytest.raises(ValidationError, match=r"quantity|negative"):
            adapter.validate_python(bad)


def test_the_issues_quota_and_memory_load_as_strings() -> None:
    spec = StackSpec.load(
        {
            **MINIMAL,
            "training": {
                "quota": {"cpu": 4, "memory": "8Gi"},
                "jobs": [
                    {
                        "name": "j",
                        "dataset": "sklearn://iris",
                        "resources": {"cpu": 1, "memory": 2048, "cpu_limit": 1.5},
                    }
                ],
            },
        }
    )
    assert spec.training is not None
    assert spec.training.quota.cpu == "4"
    resources = spec.training.jobs[0].resources
    assert resources is not None
    assert resources.to_kubernetes() == {
        "requests": {"cpu": "1", "memory": "2048"},
        "limits": {"cpu": "1.5", "memory": "2048"},
    }


# --- item 9: the CPU limit's default, said in the docstring and in the quota error ----------


def test_the_docstring_says_what_the_limits_default_to() -> None:
    doc = " ".join((ResourceRequirements.__doc__ or "").split())
    assert "memory limit is the memory request" in doc
    assert "CPU limit twice the CPU request" in doc
    limits = ResourceRequirements(cpu="500m", memory="1Gi").to_kubernetes()["limits"]
    assert limits == {"cpu": "1", "memory": "1Gi"}


def training(job_resources: dict[str, Any] | None, quota: dict[str, Any]) -> dict[str, Any]:
    job: dict[str, Any] = {"name": "churn", "dataset": "sklearn://iris"}
    if job_resources is not None:
        job["resources"] = job_resources
    return {**MINIMAL, "training": {"quota": quota, "jobs": [job]}}


def test_the_quota_error_says_the_cpu_limit_is_twice_the_request_and_names_cpu_limit() -> None:
    error = error_of(training({"cpu": "1.5", "memory": "1Gi"}, {"cpu": 2, "memory": "8Gi"}))
    (issue,) = error.issues
    assert issue.path == "mlops:training.jobs[0]"
    assert str(issue).endswith(
        "has a cpu limit of 3, above training.quota.cpu 2: it could never start. The limit is "
        "twice its cpu request 1.5, the default without resources.cpu_limit: raise "
        "training.quota.cpu or set resources.cpu_limit"
    )


def test_the_quota_error_names_the_profile_default_and_an_explicit_limit() -> None:
    profile = error_of(training(None, {"cpu": 1, "memory": "8Gi"}))
    assert "The limit is the profile's default for training jobs" in str(profile)
    assert "(cpu, memory and cpu_limit)" in str(profile)
    explicit = error_of(
        training({"cpu": 1, "memory": "1Gi", "cpu_limit": 4}, {"cpu": 2, "memory": "8Gi"})
    )
    assert "has a cpu limit of 4, above training.quota.cpu 2" in str(explicit)
    assert str(explicit).endswith(
        "The limit is resources.cpu_limit: raise training.quota.cpu or lower resources.cpu_limit"
    )
    memory = error_of(training({"cpu": 1, "memory": "2Gi"}, {"cpu": 4, "memory": 2048}))
    assert "has a memory limit of 2Gi, above training.quota.memory 2048" in str(memory)
    assert "its memory request, the default without resources.memory_limit" in str(memory)


# --- item 16: every error `mlops:<path>: message`, unknown keys with a suggestion -----------


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        (
            {
                **MINIMAL,
                "registry": {"enabled": False},
                "serving": [{"name": "a", "model": "models:/a@x"}],
            },
            "mlops:serving",
            "serving loads models from the registry: enable `registry`",
        ),
        (
            {**MINIMAL, "serving": [{"name": "a", "model": "models:/a@x", "feature_server": True}]},
            "mlops:serving",
            "endpoints a set feature_server, which needs `feature_store`",
        ),
        (
            {
                **MINIMAL,
                "serving": [{"name": "churn", "model": "models:/churn@champion"}],
                "training": {},
                "monitoring": {"drift": [{"endpoint": "fraud"}]},
            },
            "mlops:monitoring.drift[0].endpoint",
            "monitoring.drift[0].endpoint 'fraud' is not an endpoint; endpoints: churn",
        ),
        (
            {
                **MINIMAL,
                "serving": [{"name": "churn", "model": "models:/churn@champion"}],
                "monitoring": {"drift": [{"endpoint": "churn"}]},
            },
            "mlops:monitoring.drift[0]",
            "drift monitors run in the training namespace: add `training`",
        ),
        (
            {**MINIMAL, "training": {"namespace": "mlops"}},
            "mlops:training.namespace",
            "training.namespace 'mlops' is the stack's namespace",
        ),
    ],
    ids=["first-word", "endpoints", "leading-path", "path-and-colon", "dotted"],
)  # fmt: skip
def test_a_rule_across_fields_names_the_field_it_is_about(
    data: dict[str, Any], path: str, message: str
) -> None:
    (issue,) = error_of(data).issues
    assert issue.path == path
    assert str(issue).startswith(f"{path}: {message}")


def test_every_issue_of_the_bad_input_corpus_reads_mlops_path_colon_message() -> None:
    corpus = sorted((Path(__file__).parents[1] / "corpus").glob("*.yaml"))
    assert corpus
    for case in corpus:
        config = yaml.safe_load(case.read_text())["config"]
        try:
            StackSpec.from_config(config, stack="corpus", project="c")
        except SpecError as error:
            for issue in error.issues:
                assert issue.path.startswith("mlops:") and issue.path != "mlops:", (case, issue)
                assert str(issue).startswith(f"{issue.path}: "), (case, issue)
        # Cases refused only when the stack is built (the feature repo, AWS image) load here.


def test_an_unknown_key_suggests_the_closest_allowed_one() -> None:
    (issue,) = error_of({**MINIMAL, "registry": {"replcas": 2}}).issues
    assert issue.path == "mlops:registry.replcas"
    assert issue.message.startswith("unknown key; did you mean 'replicas'? allowed keys: ")
    (far,) = error_of({**MINIMAL, "registry": {"zzz": 2}}).issues
    assert far.message.startswith("unknown key; allowed keys: ")


def test_a_bare_spec_path_from_a_later_check_is_put_in_the_namespace() -> None:
    error = SpecError.single("feature_store.repo", "no feature repo folder")
    named = error.in_namespace("mlops", StackSpec.model_fields)
    assert named.paths == ["mlops:feature_store.repo"]
    kept = SpecError.single("/x/Pulumi.yaml:main", "the program does not exist")
    assert kept.in_namespace("mlops", StackSpec.model_fields).paths == ["/x/Pulumi.yaml:main"]


# --- item 7: config keys outside the `mlops` namespace ----------------------------------------


def test_spec_fields_outside_the_mlops_namespace_are_errors_naming_the_key_to_use() -> None:
    config = {
        "mlops:target": '{"kind": "kind"}',
        "shop:registry": "{}",  # `registry:` in Pulumi.<stack>.yaml of project `shop`
        "mlps:training": "{}",
        "mlps:registy": "{}",
        # The program's own keys, as far as the program can tell (`synth` checks them
        # against Pulumi.yaml's declarations): no spec field by name.
        "shop:greeting": "hello",
        "shop:servng": "[]",
        "aws:region": "eu-west-1",
        "kubernetes:context": "kind-mlops",
    }
    issues = misplaced_config_keys(config, "shop")
    assert [(i.path, i.message.rsplit("; ", 1)[-1]) for i in issues] == [
        ("mlps:registy", "did you mean `mlops:registry`?"),
        ("mlps:training", "did you mean `mlops:training`?"),
        ("shop:registry", "did you mean `mlops:registry`?"),
    ]
    with pytest.raises(SpecError) as caught:
        StackSpec.from_config(config, stack="dev", project="shop")
    assert caught.value.paths == ["mlps:registy", "mlps:training", "shop:registry"]


def test_a_project_named_like_a_provider_keeps_its_providers_keys() -> None:
    assert misplaced_config_keys({"aws:region": "eu-west-1", "aws:profile": "x"}, "aws") == []


def test_from_config_defaults_the_name_to_the_stack() -> None:
    spec = StackSpec.from_config({"mlops:target": '{"kind": "kind"}'}, stack="dev", project="p")
    assert spec.name == "dev"


# --- item 10 and 7: finding and reading the project ----------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: shop\nruntime: python\nconfig:\n  greeting:\n    default: hello\n"
    )
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  mlops:target: {kind: kind}\n")
    (tmp_path / "Pulumi.staging.yaml").write_text("config: {}\n")
    return tmp_path


def project_error(path: Path, stack: str | None = None) -> str:
    with pytest.raises(ProjectError) as caught:
        loaded = PulumiProject.load(path)
        if stack is not None:
            loaded.config(stack)
    (issue,) = caught.value.issues
    return str(issue)


def test_a_missing_folder_a_file_and_a_folder_without_a_project_each_say_so(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert project_error(project / "nope").endswith("nope: no such folder")
    assert "is a stack's config file, not the project folder" in project_error(
        project / "Pulumi.dev.yaml"
    )
    assert "--stack dev" in project_error(project / "Pulumi.dev.yaml")
    assert "is the project file, not its folder" in project_error(project / "Pulumi.yaml")
    assert "is a file, not a folder" in project_error(project / "__main__.py")
    empty = tmp_path_factory.mktemp("empty")
    assert "no Pulumi.yaml or Pulumi.yml here or in any folder above it" in project_error(empty)
    assert "mlops-iac new" in project_error(empty)


def test_the_project_is_found_in_a_folder_above_as_pulumi_finds_it(project: Path) -> None:
    deep = project / "src" / "deeper"
    deep.mkdir(parents=True)
    found = PulumiProject.load(deep)
    assert found.directory == project.resolve()
    assert found.config("dev")[0]["mlops:target"] == {"kind": "kind"}


def test_an_unknown_stack_lists_the_stacks_there_with_a_suggestion(project: Path) -> None:
    message = project_error(project, "stagin")
    assert "no stack 'stagin' (no Pulumi.stagin.yaml); stacks here: dev, staging" in message
    assert message.endswith("did you mean 'staging'?")


def test_stack_files_in_stack_config_dir_are_found(project: Path) -> None:
    (project / "Pulumi.yaml").write_text("name: shop\nruntime: python\nstackConfigDir: stacks\n")
    (project / "stacks").mkdir()
    (project / "stacks" / "Pulumi.prod.yaml").write_text("config: {mlops:profile: production}\n")
    loaded = PulumiProject.load(project)
    assert loaded.stack_names == ["prod"]
    assert loaded.config("prod")[0]["mlops:profile"] == "production"


def test_an_unknown_top_level_key_of_a_stack_file_suggests_config(project: Path) -> None:
    (project / "Pulumi.dev.yaml").write_text("configs:\n  mlops:target: {kind: kind}\n")
    message = project_error(project, "dev")
    assert message.endswith(
        "Pulumi.dev.yaml:configs: unknown top-level key; did you mean 'config'? Pulumi reads "
        "config, environment, secretsprovider, encryptedkey, encryptionsalt"
    )
    (project / "Pulumi.dev.yaml").write_text(
        "secretsprovider: passphrase\nencryptionsalt: v1:x\nconfig: {}\n"
    )
    assert PulumiProject.load(project).config("dev") == ({"shop:greeting": "hello"}, [])


def test_project_namespace_keys_nothing_declares_are_errors(project: Path) -> None:
    (project / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  mlops:target: {kind: kind}\n"
        "  registry: {replicas: 2}\n"  # meant mlops:registry
        "  greting: hi\n"  # a typo of the declared `greeting`
        "  greeting: hi\n"  # declared in Pulumi.yaml: fine
        "  other: 1\n"
    )
    with pytest.raises(SpecError) as caught:
        PulumiProject.load(project).config("dev")
    issues = {issue.path: issue.message for issue in caught.value.issues}
    assert set(issues) == {"shop:registry", "shop:greting", "shop:other"}
    assert issues["shop:registry"].endswith("did you mean `mlops:registry`?")
    assert issues["shop:greting"].endswith("did you mean `greeting`?")
    assert "must be declared in Pulumi.yaml's `config:`" in issues["shop:other"]


# --- item 11: the program's own frame --------------------------------------------------------


def test_program_frame_is_the_users_line_not_the_librarys(project: Path) -> None:
    (project / "helpers.py").write_text("def build():\n    return undefined_name\n")
    (project / "__main__.py").write_text("import helpers\n\nhelpers.build()\n")
    with pytest.raises(NameError) as caught:
        PulumiProject.load(project).run()
    frame = program_frame(caught.value, project)
    assert frame is not None
    assert (Path(frame.filename).name, frame.lineno, frame.line) == (
        "helpers.py",
        2,
        "return undefined_name",
    )


def test_program_frame_of_a_syntax_error_is_its_line(project: Path) -> None:
    (project / "__main__.py").write_text("x = 1\ndef (:\n")
    with pytest.raises(SyntaxError) as caught:
        PulumiProject.load(project).run()
    frame = program_frame(caught.value, project)
    assert frame is not None and frame.lineno == 2


def test_no_program_frame_when_only_the_library_is_on_the_traceback(project: Path) -> None:
    try:
        StackSpec.from_yaml(project / "missing.yaml")
    except SpecError as error:
        assert program_frame(error, project) is None


# --- item 13: doctor by target -----------------------------------------------------------------


def fake_checks(missing: set[str]) -> Any:
    def run(names: Any) -> list[doctor.Check]:
        checks = []
        for name in names:
            checks.append(doctor.Check(name, name not in missing, "detail", f"hint {name}"))
            if name == "docker":
                checks.append(doctor.Check("docker engine", True, "server", ""))
        return checks

    return run


def test_checks_are_grouped_by_target_each_run_once() -> None:
    calls: list[list[str]] = []

    def run(names: Any) -> list[doctor.Check]:
        calls.append(list(names))
        return fake_checks(set())(names)

    grouped = doctor.checks_by_target(run=run)
    assert calls == [["pulumi", "docker", "kind", "kubectl", "aws-credentials", "aws extra"]]
    assert {t: [c.name for c in cs] for t, cs in grouped.items()} == {
        "kind": ["pulumi", "docker", "docker engine", "kind", "kubectl"],
        "kubernetes": ["pulumi", "kubectl"],
        "aws": ["pulumi", "kubectl", "aws-credentials", "aws extra"],
    }
    only_kind = doctor.checks_by_target(["kind"], run=fake_checks(set()))
    assert list(only_kind) == ["kind"]
    assert "aws-credentials" not in [c.name for c in only_kind["kind"]]


def test_what_up_downloads_does_not_block_a_kind_deployment() -> None:
    missing_pulumi = doctor.Check("pulumi", False, "not found on PATH", "install it")
    assert not doctor.blocks("kind", missing_pulumi)
    assert doctor.blocks("kubernetes", missing_pulumi)
    assert doctor.blocks("kind", doctor.Check("docker engine", False, "down", "start it"))


def test_an_aws_target_needs_the_aws_extra_and_doctor_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlops_iac import extras

    monkeypatch.setattr(extras, "missing_modules", lambda extra: ["pulumi_aws"])
    missing = doctor.check_extra("aws")
    monkeypatch.setattr(extras, "missing_modules", lambda extra: [])
    present = doctor.check_extra("aws")

    assert (missing.ok, missing.detail, missing.hint) == (
        False,
        "not installed: pulumi_aws",
        "pip install 'mlops-iac[aws]'",
    )
    assert present.ok
    assert doctor.blocks("aws", missing)
