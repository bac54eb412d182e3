"""Reading the documentation's Markdown: which files, their fenced code blocks, their links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"

NOT_RUN = re.compile(r"^<!--\s*not-run\b(?P<rest>.*?)-->\s*$")
"""`<!-- not-run: reason -->` on the line before a code block: the block is deliberately not
executed, and the reason says why."""
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`\n]*)$")
LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # [text], one level of nested brackets
    r"\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"  # (target "title")
)
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)=["'](?P<target>[^"']+)["']""")


def doc_files() -> list[Path]:
    """README.md and every Markdown page of the site (docs/, without the hooks)."""
    pages = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)
    return [REPO_ROOT / "README.md", *pages]


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """1-based line of the opening fence."""
    lang: str
    code: str
    not_run: str | None
    """The marker's text after `not-run` (None: no marker)."""

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"


def code_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        lang = opening["info"].strip().split(" ")[0].lower()
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][indent:] if lines[end][:indent].strip() == "" else lines[end])
            end += 1
        previous = next((lines[j] for j in range(index - 1, -1, -1) if lines[j].strip()), "")
        marker = NOT_RUN.match(previous.strip())
        blocks.append(
            Block(path, index + 1, lang, "\n".join(body) + "\n", marker["rest"] if marker else None)
        )
        index = end + 1
    return blocks


def prose(path: Path, keep_code: bool = False) -> str:
    """The file without its fenced blocks and (unless `keep_code`) inline code: links there
    are not links."""
    text = path.read_text(encoding="utf-8")
    out: list[str] = []
    in_fence: str | None = None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if in_fence is None and opening is not None:
            in_fence = opening["fence"]
            out.append("")
            continue
        if in_fence is not None:
            if line.strip().startswith(in_fence):
                in_fence = None
            out.append("")
            continue
        out.append(line if keep_code else re.sub(r"`+[^`]*`+", "", line))
    return "\n".join(out)


def links(path: Path) -> list[str]:
    text = prose(path)
    return [m["target"] for m in LINK.finditer(text)] + [
        m["target"] for m in HTML_LINK.finditer(text)
    ]


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) and not target.startswith(
        "//"
    )


def slug(title: str) -> str:
    """A heading's anchor as MkDocs' toc and GitHub both make it for plain titles."""
    title = re.sub(r"`([^`]*)`", r"\1", title)
    title = re.sub(r"\{#[^}]*\}\s*$", "", title).strip().lower()
    return re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", title)).strip("-")


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file (explicit `{#id}` ones included)."""
    found: set[str] = set()
    for line in prose(path, keep_code=True).splitlines():
        heading = re.match(r"^#{1,6} +(.*?)\s*$", line)
        if heading:
            found.add(slug(heading[1]))
            explicit = re.search(r"\{#([^}]+)\}\s*$", heading[1])
            if explicit:
                found.add(explicit[1])
    return found
