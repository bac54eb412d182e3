"""Where Helm releases take their charts from: the pinned repository, or MLOPS_IAC_CHARTS."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_iac import charts
from mlops_iac.charts import CHARTS_ENV, ChartNotFound


def test_by_default_every_chart_comes_from_its_repository_at_its_pin() -> None:
    for chart in charts.ALL:
        args = chart.release_args({})
        assert args["version"] == chart.version
        if chart.repository.startswith("oci://"):
            assert args == {"chart": chart.repository, "version": chart.version}
        else:
            assert args["chart"] == chart.name
            assert args["repository_opts"] == {"repo": chart.repository}


def test_a_charts_folder_replaces_every_download(tmp_path: Path) -> None:
    for chart in charts.ALL:
        (tmp_path / chart.folder_name).mkdir()
        (tmp_path / chart.folder_name / "Chart.yaml").write_text(f"name: {chart.name}\n")

    for chart in charts.ALL:
        args = chart.release_args({CHARTS_ENV: str(tmp_path)})
        assert args == {"chart": str(tmp_path / chart.folder_name)}


def test_a_charts_folder_without_a_pinned_chart_is_an_error_naming_where_it_looked(
    tmp_path: Path,
) -> None:
    with pytest.raises(ChartNotFound) as caught:
        charts.KUEUE.release_args({CHARTS_ENV: str(tmp_path)})

    assert str(tmp_path / f"kueue-{charts.KUEUE.version}" / "Chart.yaml") in str(caught.value)


def test_every_helm_release_of_the_code_uses_a_pinned_chart() -> None:
    sources = Path(charts.__file__).parent
    unpinned = [
        str(path.relative_to(sources))
        for path in sources.rglob("*.py")
        if "helm.v3.Release(" in (text := path.read_text()) and ".release_args()" not in text
    ]
    assert unpinned == []
