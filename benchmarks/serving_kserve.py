"""KServe 0.21's Python model server serving the benchmark's model; benchmarks/serving.py runs
it with the kserve venv's Python (benchmarks/serving-venvs/kserve-requirements.txt).

    python serving_kserve.py --flavor estimator|pyfunc --model_dir DIR --model_name NAME \
        --http_port P --grpc_port G [--workers N] [any other kserve.model_server flag]

Both flavors are a `kserve.Model` of ours around the registered version in DIR (as the
fetch-model init container downloads it). `estimator` predicts with the bare scikit-learn
estimator (`mlflow.sklearn.load_model`): what KServe's own sklearn server does, which is not on
PyPI (KServe ships it only in its kserve-sklearnserver image). `pyfunc` predicts through the
MLflow pyfunc, with its signature's column names (KServe has no MLflow server of its own: its
MLflow ServingRuntime is MLServer). Both answer V1 (`/v1/models/NAME:predict`) and V2
(`/v2/models/NAME/infer`) on the same port, with Prometheus metrics at `/metrics`. KServe's
Python server has no batcher (an InferenceService's `batcher` is the Go agent sidecar), so
every request is one predict call.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import kserve
from kserve import Model, ModelServer
from kserve.errors import InferenceError
from kserve.utils.utils import get_predict_input, get_predict_response


class RegisteredModel(Model):
    """The registered MLflow model in `model_dir`, predicting through `flavor`. Plain
    attributes only: with several workers KServe pickles the model into each."""

    def __init__(self, name: str, model_dir: str, flavor: str) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.flavor = flavor
        self._model: Any = None
        self._columns: list[str] = []

    def load(self) -> bool:
        import mlflow.pyfunc
        import mlflow.sklearn

        pyfunc = mlflow.pyfunc.load_model(self.model_dir)
        self._columns = pyfunc.metadata.get_input_schema().input_names()
        if self.flavor == "estimator":
            self._model = mlflow.sklearn.load_model(self.model_dir)
        else:
            self._model = pyfunc
        self.ready = True
        return self.ready

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        assert self._model is not None, "load() first"
        try:
            instances = get_predict_input(payload)
            if self.flavor == "pyfunc" and isinstance(instances, np.ndarray):
                # V1's `instances` arrive as an array; the pyfunc's schema wants its columns.
                instances = pd.DataFrame(instances, columns=self._columns)
            result = np.asarray(self._model.predict(instances))
        except Exception as error:
            raise InferenceError(str(error)) from error
        return get_predict_response(payload, result, self.name)


parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
parser.add_argument("--model_dir", required=True)
parser.add_argument("--flavor", choices=["estimator", "pyfunc"], required=True)

if __name__ == "__main__":
    args, _ = parser.parse_known_args()
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    model = RegisteredModel(args.model_name, args.model_dir, args.flavor)
    model.load()
    ModelServer().start([model])
