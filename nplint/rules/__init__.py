"""The built-in rules. They register through the same hook a plugin uses.

Each module of this package lists its rule classes in a module-level ``RULES``
tuple; :func:`builtin_rules` collects them, so adding a rule module needs no
edit here.
"""

from __future__ import annotations

import importlib
import pkgutil

from nplint.rules.base import Rule, RuleContext, RuleRegistry


def builtin_rules() -> tuple[type[Rule], ...]:
    """Every built-in rule class, sorted by ID."""
    found: list[type[Rule]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "RULES", ()))
    return tuple(sorted(found, key=lambda rule: rule.id))


__all__ = ["Rule", "RuleContext", "RuleRegistry", "builtin_rules"]
