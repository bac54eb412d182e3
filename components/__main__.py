"""Host the mlops-iac components for other Pulumi languages (tokens `mlops:index:<Name>`)."""

from pulumi.provider.experimental import component_provider_host

from mlops_iac import __version__
from mlops_iac.multilang.components import COMPONENTS

if __name__ == "__main__":
    component_provider_host(COMPONENTS, name="mlops", version=__version__)
