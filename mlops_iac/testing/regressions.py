"""A model version that fails on part of its input, to rehearse an automatic rollback: it
answers as a good model does, except for rows a regression broke."""

from __future__ import annotations

from typing import Any


def raising_model(inner: Any, feature: str, *, below: float | None = None,
                  above: float | None = None) -> Any:  # fmt: skip
    """A pyfunc that answers as `inner` (a fitted estimator) but raises ValueError for any
    input with a row whose `feature` is below `below` or above `above` (a new version's
    regression on inputs the old one served). Log it with `mlflow.pyfunc.log_model`; its
    class is local, so cloudpickle stores it by value in the model and a server needs no
    test module to load it."""
    import mlflow.pyfunc
    import pandas as pd

    class RaisesOnSomeRows(mlflow.pyfunc.PythonModel):
        def __init__(self, inner: Any, feature: str) -> None:
            self.inner = inner
            self.feature = feature

        # pd.DataFrame: a hint MLflow accepts without inferring a schema (the model's is set)
        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            values = model_input[self.feature]
            broken = pd.Series(False, index=values.index)
            if below is not None:
                broken |= values < below
            if above is not None:
                broken |= values > above
            if broken.any():
                raise ValueError(f"{int(broken.sum())} rows with {self.feature!r} out of range")
            return self.inner.predict(model_input)

    return RaisesOnSomeRows(inner, feature)
