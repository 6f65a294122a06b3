"""Every relative link and image in README.md and docs/*.md points at a file of the repository,
and every `#anchor` at a heading of the page it names."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.support.markdown import REPO, anchors, links, pages, relative, slug

EXTERNAL = ("http://", "https://", "mailto:")


def local_links() -> list[tuple[Path, int, str]]:
    return [
        (page, number, target)
        for page in pages()
        for number, target in links(page)
        if not target.startswith(EXTERNAL)
    ]


def test_the_pages_have_links() -> None:
    """The README links to every docs page, so none is an orphan."""
    linked = {
        (page.parent / target.split("#", 1)[0]).resolve()
        for page, _, target in local_links()
        if page.name == "README.md" and target.split("#", 1)[0]
    }
    orphans = [relative(doc) for doc in pages()[1:] if doc.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link to: {orphans}"


@pytest.mark.parametrize(
    ("page", "number", "target"),
    local_links(),
    ids=[f"{relative(page)}:{number}:{target}" for page, number, target in local_links()],
)
def test_link_resolves(page: Path, number: int, target: str) -> None:
    path_part, _, anchor = unquote(target).partition("#")
    destination = (page.parent / path_part).resolve() if path_part else page
    where = f"{relative(page)}:{number}: {target}"
    assert destination.is_relative_to(REPO), f"{where} leaves the repository"
    assert destination.exists(), f"{where}: no such file {destination}"
    if anchor:
        assert destination.suffix == ".md", f"{where}: an anchor into a file that is not Markdown"
        known = anchors(destination)
        assert anchor in known, f"{where}: no heading '#{anchor}' in {relative(destination)}"


def test_slugs_are_githubs() -> None:
    assert slug("Policy pack (`policy/`, Pulumi CrossGuard, Python)") == (
        "policy-pack-policy-pulumi-crossguard-python"
    )
    assert slug("Region stacks, wave by wave on CI runners") == (
        "region-stacks-wave-by-wave-on-ci-runners"
    )
    assert slug("What `make` leaves running, and how to stop it") == (
        "what-make-leaves-running-and-how-to-stop-it"
    )
