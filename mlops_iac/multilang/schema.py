"""The Pulumi package schema of the multi-language components, as Pulumi infers it from
their type annotations (`components/schema.json` is this, committed).

    python -m mlops_iac.multilang.schema > components/schema.json
"""

from __future__ import annotations

import json
from typing import Any

from mlops_iac import __version__

PACKAGE = "mlops"


def provider() -> Any:
    """The component provider that `components/__main__.py` hosts."""
    from pulumi.provider.experimental.component import ComponentProvider

    from mlops_iac.multilang.components import COMPONENTS

    return ComponentProvider(COMPONENTS, PACKAGE, version=__version__)


def package_schema() -> dict[str, Any]:
    """The inferred schema as a dict."""
    schema: dict[str, Any] = json.loads(provider().schema)
    return schema


if __name__ == "__main__":
    print(json.dumps(package_schema(), indent=2, sort_keys=True))
