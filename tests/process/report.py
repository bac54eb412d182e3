"""The tier's table: every container's peak memory and every emptyDir's peak use against the
limits its manifest declares, as Markdown (`.process-tier/<stack>.md`) and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from kubelet import ContainerRecord, EmptyDirRecord

MIB = 1024 * 1024


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.0f}"


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def _share(used: int, limit: int | None) -> str:
    return "-" if not limit else f"{100 * used / limit:.0f}%"


def container_rows(records: list[ContainerRecord]) -> list[dict[str, object]]:
    return [
        {
            "workload": r.workload,
            "container": r.name + (" (init)" if r.init else ""),
            "peak_mib": round(r.peak_bytes / MIB),
            "limit_mib": None if r.memory_limit is None else round(r.memory_limit / MIB),
            "share": _share(r.peak_bytes, r.memory_limit),
            "restarts": r.restarts,
            "ready_after_s": r.ready_after,
            "stand_in": r.stand_in,
        }
        for r in records
    ]


def write(
    folder: Path, stack: str, containers: list[ContainerRecord], dirs: list[EmptyDirRecord]
) -> Path:
    """Write both files for one stack; the Markdown's path."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Process tier: stack `{stack}`",
        "",
        "| workload | container | peak MiB (VmHWM, process tree) | limit MiB | share "
        "| restarts | ready after s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in container_rows(containers):
        lines.append(
            f"| {row['workload']} | {row['container']} | {row['peak_mib']} | "
            f"{row['limit_mib'] if row['limit_mib'] is not None else '-'} | {row['share']} | "
            f"{row['restarts']} | {_dash(row['ready_after_s'])} |"
        )
    lines += [
        "",
        "| workload | emptyDir | peak MiB | sizeLimit MiB | share |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for d in dirs:
        lines.append(
            f"| {d.workload} | {d.name} | {d.peak_bytes / MIB:.1f} | {_mib(d.size_limit)} | "
            f"{_share(d.peak_bytes, d.size_limit)} |"
        )
    lines += ["", "Stand-ins:", ""]
    for what in sorted({r.stand_in for r in containers}):
        lines.append(f"- {what}")
    markdown = folder / f"{stack}.md"
    markdown.write_text("\n".join(lines) + "\n")
    (folder / f"{stack}.json").write_text(
        json.dumps(
            {
                "containers": container_rows(containers),
                "empty_dirs": [
                    {
                        "pod": d.pod,
                        "name": d.name,
                        "peak_bytes": d.peak_bytes,
                        "size_limit": d.size_limit,
                    }
                    for d in dirs
                ],
            },
            indent=2,
        )
    )
    return markdown
