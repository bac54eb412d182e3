"""Shared test setup: the mlops_iac pytest plugin and the repository root as cwd."""

from __future__ import annotations

import os
from pathlib import Path

pytest_plugins = ["mlops_iac.testing.pytest_plugin"]

REPO_ROOT = Path(__file__).resolve().parent.parent
os.chdir(REPO_ROOT)
