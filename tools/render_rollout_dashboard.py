"""Draw the serving dashboard's panels from a process-tier run (docs/rollout-dashboard.png):
the panel queries of the stack's Grafana dashboard as the tier's real Prometheus answered
them over the churn loop (`.process-tier/churn-serving-dashboard.json`, written by
tests/process/test_fresh_stack.py). Grafana itself does not run here: this is the same
queries and data, drawn with matplotlib.

    pytest tests/process -m process -k churn && python tools/render_rollout_dashboard.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / ".process-tier" / "churn-serving-dashboard.json"
OUT = REPO / "docs" / "rollout-dashboard.png"
PANELS = (
    "Requests per model version (rollouts)",
    "Failed inferences per model version",
    "Latency p50 / p99",
)
"""The panels drawn, in order: those this tier's Prometheus has series for."""


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not SOURCE.is_file():
        sys.exit(f"{SOURCE} is missing: run the process tier on examples/churn first")
    panels = {panel["title"]: panel for panel in json.loads(SOURCE.read_text())}
    figure, axes = plt.subplots(len(PANELS), 1, figsize=(10, 3.2 * len(PANELS)), sharex=True)
    for axis, title in zip(axes, PANELS, strict=True):
        panel = panels[title]
        for series in sorted(panel["series"], key=lambda s: s["legend"]):
            times = [t / 60 for t, _ in series["points"]]
            values = [v for _, v in series["points"]]
            axis.plot(times, values, label=series["legend"], linewidth=1.4)
        axis.set_title(title, loc="left", fontsize=11)
        axis.set_ylabel(panel["unit"])
        axis.grid(alpha=0.3)
        if panel["series"]:
            axis.legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel("minutes since the steady load started")
    figure.suptitle(
        "examples/churn serving dashboard: its queries on the process tier's Prometheus "
        "(drawn with matplotlib)",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(OUT, dpi=90)
    print(OUT)


if __name__ == "__main__":
    main()
