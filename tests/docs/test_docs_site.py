"""The documentation site builds with `mkdocs build --strict` (mkdocs.yml), its spec reference
covers every model of the spec, and nothing in it loads from the network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _docs_markdown import REPO_ROOT

from mlops_iac.spec import StackSpec


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
        import mkdocstrings_handlers.python  # noqa: F401
    except ImportError as missing:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"the docs extra is not installed ({missing}): pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    started = time.monotonic()
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stdout + build.stderr
    print(f"mkdocs build --strict: {time.monotonic() - started:.1f} s")
    return out


PAGES = [
    "index",
    "getting-started",
    "spec",
    "registry",
    "serving",
    "training",
    "feature-store",
    "monitoring",
    "targets",
    "testing",
    "safety",
    "cli",
    "api",
    "other-languages",
    "benchmarks",
    "troubleshooting",
    "design",
]


def _page(site: Path, name: str) -> str:
    # The offline plugin turns off directory URLs: each page is NAME.html.
    return (site / f"{name}.html").read_text(encoding="utf-8")


def test_every_page_is_built(site: Path) -> None:
    for name in PAGES:
        assert (site / f"{name}.html").is_file(), name


def test_every_spec_model_has_a_reference_section(site: Path) -> None:
    models = set(StackSpec.model_json_schema()["$defs"]) | {"StackSpec"}
    html = "".join(_page(site, name) for name in PAGES)
    missing = sorted(m for m in models if f'id="spec-{m.lower()}"' not in html)
    assert missing == []


def test_the_reference_is_the_models(site: Path) -> None:
    from mlops_iac.spec import EndpointSpec

    serving = _page(site, "serving")
    section = serving[serving.index('id="spec-endpointspec"') :]
    for name, field in EndpointSpec.model_fields.items():
        assert f"<code>{name}</code>" in section, name
        first_words = " ".join((field.description or "").split()[:3])
        assert first_words.split("`")[0] in section, (name, first_words)
    assert "≤ 65535" in section  # port's constraint, from the JSON schema


def test_the_pictures_are_there(site: Path) -> None:
    assert (site / "drift-report.png").stat().st_size > 10_000
    svg = (site / "architecture.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "MLOpsStack" in svg
    assert 'src="architecture.svg"' in _page(site, "design")
    assert 'src="drift-report.png"' in _page(site, "monitoring")
    # docs/architecture.md itself is the text of the architecture page
    assert "Layers (data flows down, never up)" in _page(site, "design")


def test_the_home_page_is_the_readme(site: Path) -> None:
    home = _page(site, "index")
    assert "What works where" in home
    assert 'href="getting-started.html"' in home  # README's docs/ links, made site links


EXTERNAL_LOAD = re.compile(
    r"""<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc=["'](?:https?:)?//"""
    r"""|<link\b[^>]*\bhref=["'](?:https?:)?//"""
    r"""|@import\s+url\(["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def test_nothing_loads_from_the_network(site: Path) -> None:
    loads = []
    for path in site.rglob("*"):
        if path.suffix in {".html", ".css"}:
            text = path.read_text(encoding="utf-8")
            loads += [f"{path.relative_to(site)}: {m[0]}" for m in EXTERNAL_LOAD.finditer(text)]
            # Material fetches Mermaid from a CDN when a page has a diagram: none may.
            if 'class="mermaid"' in text:
                loads.append(f"{path.relative_to(site)}: a Mermaid diagram")
    assert loads == []
    assert "fonts.googleapis.com" not in _page(site, "index")


def test_every_fixture_of_the_pytest_plugin_is_documented_with_its_signature() -> None:
    from mlops_iac.testing import pytest_plugin

    testing = (REPO_ROOT / "docs" / "testing.md").read_text()
    fixtures = [
        name
        for name, value in vars(pytest_plugin).items()
        if type(value).__name__ == "FixtureFunctionDefinition"  # what @pytest.fixture makes
    ]

    assert fixtures, "no fixtures found in the plugin"
    for name in fixtures:
        assert f"| `{name}` | `{name}(" in testing, f"fixture {name} is not in docs/testing.md"
