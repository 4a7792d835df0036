"""Cilium DNS match patterns as NP014 reads them ([CIL-L3] "DNS based")."""

from __future__ import annotations

import pytest

from nplint.rules.cilium_fqdn import pattern_regex


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "anything.at.all", True),
        ("*.example.com", "api.example.com", True),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "example.com", False),
        ("api*.example.com", "api-v2.example.com", True),
        ("**.example.com", "a.b.example.com", True),
        ("**.example.com", "example.com", False),
        ("Example.COM.", "example.com", True),
        ("example.com", "examplexcom", False),
    ],
)
def test_pattern(pattern: str, name: str, expected: bool) -> None:
    assert bool(pattern_regex(pattern).fullmatch(name)) is expected
