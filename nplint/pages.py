"""The rule pages of ``rules/``: what ``nplint explain`` prints and SARIF's help comes from."""

from __future__ import annotations

from functools import cache
from pathlib import Path

#: Where the pages are in an installed wheel, and in a source checkout.
_PACKAGED = Path(__file__).parent / "_pages"
_CHECKOUT = Path(__file__).parent.parent / "rules"

HELP_URI = "https://github.com/nplint/nplint/blob/main/rules/{rule_id}.md"


def pages_dir() -> Path | None:
    for candidate in (_PACKAGED, _CHECKOUT):
        if candidate.is_dir():
            return candidate
    return None


@cache
def rule_page(rule_id: str) -> str | None:
    directory = pages_dir()
    if directory is None:
        return None
    page = directory / f"{rule_id}.md"
    try:
        return page.read_text(encoding="utf-8")
    except OSError:
        return None


def help_uri(rule_id: str) -> str:
    return HELP_URI.format(rule_id=rule_id)
