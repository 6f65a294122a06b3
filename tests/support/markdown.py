"""The README and the docs/ pages read as GitHub reads them: their code blocks, links and heading
anchors, for the tests that run their commands and check their links."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pages() -> list[Path]:
    """README.md and every docs/*.md."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


@dataclass(frozen=True)
class Block:
    """A code block: fenced (its info string) or indented (info "")."""

    page: Path
    line: int  # 1-based line of the block's first content line
    info: str
    lines: tuple[str, ...]


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def blocks(page: Path) -> Iterator[Block]:
    """Every fenced code block (also inside list items), and every indented one (four spaces or
    more after a blank line, outside a fence)."""
    lines = page.read_text().split("\n")
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening:
            indent, fence, info = opening.groups()
            body: list[str] = []
            index += 1
            start = index
            while index < len(lines) and not lines[index].strip().startswith(fence):
                line = lines[index]
                body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
                index += 1
            yield Block(page, start + 1, info.strip(), tuple(body))
            index += 1
            continue
        if lines[index].startswith("    ") and index > 0 and not lines[index - 1].strip():
            start = index
            body = []
            while index < len(lines) and (lines[index].startswith("    ") or not lines[index]):
                body.append(lines[index].strip())
                index += 1
            yield Block(page, start + 1, "", tuple(body))
            continue
        index += 1


def prose(page: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line outside code blocks, with inline code spans removed."""
    inside = {block.line + offset for block in blocks(page) for offset in range(len(block.lines))}
    fences = {
        number for number, line in enumerate(page.read_text().split("\n"), 1) if FENCE.match(line)
    }
    for number, line in enumerate(page.read_text().split("\n"), 1):
        if number in inside or number in fences:
            continue
        yield number, re.sub(r"(`+).*?\1", "", line)


LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(page: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every inline link and image outside code, also one whose text
    runs over a line break."""
    numbered = dict(prose(page))
    lines = [numbered.get(number, "") for number in range(1, max(numbered, default=0) + 1)]
    text = "\n".join(lines)
    for match in LINK.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group(1)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    kept = "".join(
        char for char in text if char in " -_" or unicodedata.category(char)[0] in ("L", "N", "M")
    )
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page, numbered as GitHub numbers repeats (`-1`, `-2`)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, line in prose_with_code_spans(page):
        heading = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def prose_with_code_spans(page: Path) -> Iterator[tuple[int, str]]:
    inside = {block.line + offset for block in blocks(page) for offset in range(len(block.lines))}
    for number, line in enumerate(page.read_text().split("\n"), 1):
        if number not in inside and not FENCE.match(line):
            yield number, line
