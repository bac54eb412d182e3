"""Exit codes of the trainer, so that a Job (and a shell) can tell the outcomes apart."""

EXIT_PROMOTED = 0
"""A new version was registered and is now the champion."""
EXIT_FAILED = 1
"""Something went wrong at run time (MLflow unreachable, dataset unreadable, fit failed)."""
EXIT_INVALID_CONFIG = 2
"""The configuration is invalid; nothing was logged."""
EXIT_NOT_PROMOTED = 3
"""A new version was registered but the gate kept the current champion."""
