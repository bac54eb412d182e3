"""Trainer configuration errors name the field and what is allowed, before anything runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops_iac.workloads.train import EXIT_INVALID_CONFIG, TrainConfig, main

pytestmark = pytest.mark.workload


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"estimator": "sklearn.ensemble.NoSuchForest"}, "estimator", "cannot be imported"),
        ({"estimator": "RandomForestClassifier"}, "estimator", "not an import path"),
        ({"estimator": "os.path.join"}, "estimator", "not a scikit-learn estimator class"),
        ({"metric": "auc_of_my_dreams"}, "metric", "allowed: scikit-learn scorer names"),
        ({"holdout_fraction": 1.5}, "holdout_fraction", "less than 1"),
        ({"model_name": ""}, "model_name", "at least 1 character"),
        ({"learning_rate": 0.1}, "learning_rate", "Extra inputs are not permitted"),
    ],
)
def test_invalid_config_names_the_field(fields, field, message):
    with pytest.raises(ValidationError) as caught:
        TrainConfig.model_validate({"model_name": "m", **fields})

    (error,) = caught.value.errors()
    assert error["loc"] == (field,)
    assert message in error["msg"]


def test_cli_exit_code_2_and_message_on_invalid_config(capsys):
    assert main(["--model-name", "m", "--metric", "nope"]) == EXIT_INVALID_CONFIG
    assert "invalid metric: Value error, unknown metric 'nope'" in capsys.readouterr().err


def test_dataset_uri_errors_say_what_is_allowed(tmp_path):
    from mlops_iac.workloads.datasets import DatasetError, load_dataset

    with pytest.raises(DatasetError, match="allowed: breast_cancer, diabetes, iris, wine"):
        load_dataset("sklearn://mnist")
    with pytest.raises(DatasetError, match="unsupported scheme 'gs'"):
        load_dataset("gs://bucket/file.csv")
    (tmp_path / "data.json").write_text("{}")
    with pytest.raises(DatasetError, match=r"unknown file type '.json'; allowed: .csv, .parquet"):
        load_dataset(str(tmp_path / "data.json"))
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(str(tmp_path / "missing.csv"))
