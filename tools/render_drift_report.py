"""Render the drift report's plot for the README (docs/drift-report.png): breast_cancer as
the training reference against live rows where two features drifted.

    python tools/render_drift_report.py
"""

from __future__ import annotations

from pathlib import Path

from sklearn.datasets import load_breast_cancer

from mlops_iac.workloads.drift import compare, plot_png

OUT = Path(__file__).resolve().parents[1] / "docs" / "drift-report.png"


def main() -> None:
    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    reference = frame.sample(400, random_state=1)
    live = frame.sample(300, random_state=7, replace=True).reset_index(drop=True)
    live["mean radius"] *= 1.4
    live["worst texture"] += 6
    features = compare(reference, live, "psi", 0.2)
    OUT.write_bytes(plot_png(features, reference, live))
    print(OUT)


if __name__ == "__main__":
    main()
