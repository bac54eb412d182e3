"""The components for every Pulumi language: TypedDict args (the schema Pulumi infers from
them has a description on every property) converted at this boundary into the same
pydantic StackSpec the Python API uses, so validation and defaults have one source.

Hosted by `components/__main__.py` (`pulumi package add ./components`).
"""
