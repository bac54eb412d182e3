"""Becomes one container: run by `unshare --mount` with a JSON plan, it lays out the
container's filesystem in its own mount namespace (volumes and image paths bound at their
mount paths, /etc/hosts of the pod, the root made read-only when the manifest says so),
takes the container's user and groups, and execs the container's command.

Standard library only: it runs under the harness's interpreter before the container's own
program replaces it, so the container's peak memory is its program's, not this script's."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def keep_reachable(parent: str, keep: list[str], stage: str) -> None:
    """Make the folders `keep` under `parent` (a 0700 home: the venv cache, the interpreter
    the venvs link to) reachable by the container's user: move them aside, cover `parent`
    with an empty 0755 tmpfs, move them back."""
    staged = []
    for index, folder in enumerate(keep):
        place = os.path.join(stage, str(index))
        os.makedirs(place, exist_ok=True)
        mount("--bind", folder, place)
        staged.append((place, folder))
    mount("-t", "tmpfs", "-o", "mode=0755,size=1m", "tmpfs", parent)
    for place, folder in staged:
        os.makedirs(folder, exist_ok=True)
        mount("--move", place, folder)


def write_account(path: str, line: str, key: int) -> str:
    """`path` (/etc/passwd or /etc/group) with `line` added when no entry has id `key`."""
    with open(path) as handle:
        lines = handle.read().splitlines()
    if any(entry.split(":")[2] == str(key) for entry in lines if entry.count(":") >= 3):
        return path
    copy = f"{sys.argv[1]}.{os.path.basename(path)}"
    with open(copy, "w") as handle:
        handle.write("\n".join([*lines, line]) + "\n")
    os.chmod(copy, 0o644)
    return copy


def main() -> None:
    with open(sys.argv[1]) as handle:
        plan = json.load(handle)
    if plan["reachable"]:
        keep_reachable(**plan["reachable"])
    uid, gid = plan["uid"], plan["gid"]
    for path, line, key in (
        ("/etc/passwd", f"{plan['user']}:x:{uid}:{gid}::/tmp:/bin/sh", uid),
        ("/etc/group", f"{plan['user']}:x:{gid}:", gid),
    ):
        account = write_account(path, line, key)
        if account != path:
            mount("--bind", account, path)
    for source, target, read_only in plan["mounts"]:
        mount("--bind", source, target)
        if read_only:
            mount("-o", "remount,bind,ro", target)
    if plan["read_only_root"]:
        mount("-o", "remount,bind,ro", "/")
    os.chdir(plan["cwd"])
    os.setgroups(plan["groups"])
    os.setgid(plan["gid"])
    os.setuid(plan["uid"])
    argv = plan["argv"]
    os.execvpe(argv[0], argv, plan["env"])


if __name__ == "__main__":
    main()
