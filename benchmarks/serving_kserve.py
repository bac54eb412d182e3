"""KServe 0.21's Python model server serving the benchmark's model; benchmarks/serving.py runs
it with the kserve venv's Python (benchmarks/serving-venvs/kserve-requirements.txt).

    python serving_kserve.py --flavor sklearn|mlflow --model_dir DIR --model_name NAME \
        --http_port P --grpc_port G [--workers N] [any other kserve.model_server flag]

`sklearn` is KServe's own scikit-learn path: the SKLearnModel of kserve's
python/sklearnserver (v0.20.0, unchanged since; Apache-2.0), which is not on PyPI (KServe ships
it only in its kserve-sklearnserver image), so its ~20 lines are repeated here: joblib-load the
one .joblib/.pkl/.pickle file of DIR, `get_predict_input` -> `predict` ->
`get_predict_response`. `mlflow` is a `kserve.Model` loading DIR as an MLflow pyfunc (KServe
has no MLflow server of its own: its MLflow ServingRuntime is MLServer). Both answer V1
(`/v1/models/NAME:predict`) and V2 (`/v2/models/NAME/infer`) on the same port, and Prometheus
metrics at `/metrics`; KServe's Python server has no batcher (an InferenceService's `batcher`
is the Go agent sidecar), so every request is one predict call.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import kserve
from kserve import Model, ModelServer
from kserve.errors import InferenceError
from kserve.utils.utils import get_predict_input, get_predict_response

MODEL_EXTENSIONS = (".joblib", ".pkl", ".pickle")


class SKLearnModel(Model):
    """kserve python/sklearnserver/sklearnserver/model.py, without kserve_storage (DIR is
    local) and PREDICT_PROBA (off by default)."""

    def __init__(self, name: str, model_dir: str) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.ready = False

    def load(self) -> bool:
        import joblib

        files = [p for p in Path(self.model_dir).iterdir() if p.suffix in MODEL_EXTENSIONS]
        if len(files) != 1:
            raise RuntimeError(f"want exactly one model file in {self.model_dir}: {files}")
        self._model = joblib.load(files[0])
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        try:
            instances = get_predict_input(payload)
            return get_predict_response(payload, self._model.predict(instances), self.name)
        except Exception as error:
            raise InferenceError(str(error)) from error


class MLflowModel(Model):
    """The MLflow pyfunc in DIR. V2 with `content_type: pd` arrives as a DataFrame; V1's
    `instances` (lists of values) as an array, given the signature's column names."""

    def __init__(self, name: str, model_dir: str) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.ready = False

    def load(self) -> bool:
        import mlflow.pyfunc

        self._model = mlflow.pyfunc.load_model(self.model_dir)
        self._columns = self._model.metadata.get_input_schema().input_names()
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        try:
            instances = get_predict_input(payload)
            if isinstance(instances, np.ndarray):
                instances = pd.DataFrame(instances, columns=self._columns)
            result = np.asarray(self._model.predict(instances))
            return get_predict_response(payload, result, self.name)
        except Exception as error:
            raise InferenceError(str(error)) from error


parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
parser.add_argument("--model_dir", required=True)
parser.add_argument("--flavor", choices=["sklearn", "mlflow"], required=True)

if __name__ == "__main__":
    args, _ = parser.parse_known_args()
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    kind = SKLearnModel if args.flavor == "sklearn" else MLflowModel
    model = kind(args.model_name, args.model_dir)
    model.load()
    ModelServer().start([model])
