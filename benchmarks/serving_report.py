"""The serving benchmark's loads and its report as Markdown (pure: the docs test renders the
stored report with it and compares it with docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

LOADS = [(1, 1), (8, 1), (32, 1), (1, 100), (8, 100), (32, 100)]
"""(concurrency, rows per request)."""
KEY_LOAD = "c8_rows1"
"""The load the rule judges by: concurrency 8, one row per request."""


def key(concurrency: int, rows: int) -> str:
    """A load's name in the report, e.g. `c8_rows1`."""
    return f"c{concurrency}_rows{rows}"


def markdown_table(report: dict[str, Any]) -> str:
    """The report as one Markdown table: the floor, then each candidate row, every load's
    requests/s, p50/p99 and memory at KEY_LOAD, and the ratio to the floor; the winner bold."""
    loads = [key(c, r) for c, r in LOADS]
    heads = [f"c{c}, {r} row{'s' if r > 1 else ''}" for c, r in LOADS]
    key_head = heads[loads.index(KEY_LOAD)]
    lines = [
        f"| server | {' | '.join(heads)} | p50 / p99 at {key_head} (ms) | memory, MB: RSS (PSS) "
        f"| ratio to floor at {key_head} |",
        "| --- " * (len(heads) + 4) + "|",
    ]
    floor_row = report["floor"]["pyfunc"]
    lines.append(
        "| floor: pyfunc `predict` in process, per core | "
        + " | ".join(f"{floor_row[k]['rps_per_core']:g}" for k in loads)
        + " | — | — | 1.00 |"
    )
    winner = report.get("winner", {}).get("name")
    ratios = report.get("ratio_to_floor", {})
    for name, row in report["candidates"].items():
        at_key = row["loads"][KEY_LOAD]
        label = f"{row['runtime']} ({row['protocol']})"
        label = f"**{label}**" if name == winner else label
        memory = max(lo["rss_mb"] for lo in row["loads"].values())
        shared = max(lo["pss_mb"] for lo in row["loads"].values())
        cells = [f"{row['loads'][k]['rps']:g}" for k in loads]
        lines.append(
            f"| {label} | "
            + " | ".join(cells)
            + f" | {at_key['p50_ms']:g} / {at_key['p99_ms']:g} | {memory:g} ({shared:g}) | "
            + f"{ratios.get(name, 0):.2f} |"
        )
    return "\n".join(lines)
