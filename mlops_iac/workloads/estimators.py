"""Checks that an estimator import path and a metric name mean something to scikit-learn.

Importing this module is cheap: scikit-learn is imported only by the checks that need it.
"""

from __future__ import annotations

import importlib


def resolve_estimator(path: str) -> type:
    """The class at import path `path`, or ValueError saying why it cannot be used."""
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ValueError(f"estimator {path!r} is not an import path like sklearn.svm.SVC")
    try:
        estimator = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"estimator {path!r} cannot be imported: {error}") from error
    if not isinstance(estimator, type) or not all(
        hasattr(estimator, method) for method in ("fit", "predict", "get_params")
    ):
        raise ValueError(f"estimator {path!r} is not a scikit-learn estimator class")
    return estimator


def check_metric(name: str) -> str:
    """`name` unchanged if it is a scikit-learn scorer, else ValueError naming some."""
    from sklearn.metrics import get_scorer_names

    if name not in get_scorer_names():
        raise ValueError(
            f"unknown metric {name!r}; allowed: scikit-learn scorer names, e.g. "
            "roc_auc, accuracy, f1, r2, neg_root_mean_squared_error"
        )
    return name
