"""BentoML 1.4's service serving the benchmark's model; benchmarks/serving.py runs it with the
bentoml venv (benchmarks/serving-venvs/bentoml-requirements.txt):

    BENCH_MODEL_DIR=DIR BENCH_WORKERS=1 bentoml serve serving_bentoml:Bench --port P

One batchable API, `POST /predict` with `{"rows": [[30 floats], ...]}`: BentoML's adaptive
batcher (CORK dispatcher: it waits while its fitted latency model says a bigger batch pays)
joins concurrent requests along rows into one pyfunc predict. BentoML speaks its own JSON, not
the Open Inference Protocol v2. Prometheus metrics at `/metrics` on the same port.
"""

from __future__ import annotations

import os

import bentoml
import numpy as np

MAX_BATCH_ROWS = 3200
"""BentoML counts a batch in rows (it splits a bigger request): 32 requests of 100 rows."""
MAX_LATENCY_MS = 10_000
"""The batcher drops (503) a request it expects to answer later than this."""


@bentoml.service(
    workers=int(os.environ.get("BENCH_WORKERS", "1")),
    traffic={"timeout": 60},
    metrics={"enabled": True},
)
class Bench:
    def __init__(self) -> None:
        import mlflow.pyfunc

        self.model = mlflow.pyfunc.load_model(os.environ["BENCH_MODEL_DIR"])
        self.columns = self.model.metadata.get_input_schema().input_names()

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH_ROWS, max_latency_ms=MAX_LATENCY_MS)
    def predict(self, rows: np.ndarray) -> np.ndarray:
        import pandas as pd

        return np.asarray(self.model.predict(pd.DataFrame(rows, columns=self.columns)))
