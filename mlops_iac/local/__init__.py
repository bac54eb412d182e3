"""`mlops-iac up local` / `down local`: from a laptop with Docker to the stack on kind.

Each step is a small function that runs external commands through a `Runner`, so tests
replace the process boundary with a recorder and assert on the exact command lines.
"""
