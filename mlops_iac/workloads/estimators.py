"""Checks that an estimator import path and a metric name mean something to scikit-learn.

Importing this module is cheap: scikit-learn is imported only by the checks that need it,
and what they learn about scikit-learn's own names is cached per installed version
(`~/.cache/mlops-iac/sklearn-<version>.json`), so validating a spec does not pay the ~2 s
import of scikit-learn every time.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any

CACHE_DIR = Path(os.environ.get("MLOPS_IAC_CACHE", Path.home() / ".cache" / "mlops-iac"))


def _cache_path() -> Path | None:
    try:
        version = importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:
        return None
    return CACHE_DIR / f"sklearn-{version}.json"


def _read_cache() -> dict[str, Any]:
    path = _cache_path()
    if path is None or not path.is_file():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def _write_cache(data: dict[str, Any]) -> None:
    path = _cache_path()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, sort_keys=True))
        temporary.replace(path)
    except OSError:
        pass  # a read-only home only costs the next run the import


def check_estimator(path: str) -> str:
    """`path` unchanged if it names a scikit-learn compatible estimator class, else
    ValueError; scikit-learn's own classes are remembered per scikit-learn version."""
    cacheable = path.startswith("sklearn.")
    cache = _read_cache() if cacheable else {}
    if path in cache.get("estimators", []):
        return path
    resolve_estimator(path)
    if cacheable:
        cache.setdefault("estimators", []).append(path)
        _write_cache(cache)
    return path


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


def scorer_names() -> set[str]:
    """scikit-learn's scorer names (cached per scikit-learn version)."""
    cache = _read_cache()
    if "scorers" not in cache:
        from sklearn.metrics import get_scorer_names

        cache["scorers"] = sorted(get_scorer_names())
        _write_cache(cache)
    return set(cache["scorers"])


def check_metric(name: str) -> str:
    """`name` unchanged if it is a scikit-learn scorer, else ValueError naming some."""
    if name not in scorer_names():
        raise ValueError(
            f"unknown metric {name!r}; allowed: scikit-learn scorer names, e.g. "
            "roc_auc, accuracy, f1, r2, neg_root_mean_squared_error"
        )
    return name
