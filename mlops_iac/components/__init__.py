"""Pulumi ComponentResources, one module each. Type tokens are `mlops:index:<Name>`."""
