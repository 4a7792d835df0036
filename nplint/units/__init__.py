"""Units and worlds: what is applied together, and to which cluster.

The stage between rendering and the inventory (see ``docs``: discover → render
→ load → units → worlds → inventory): :mod:`nplint.units.units` says which unit
every file belongs to, :mod:`nplint.units.worlds` which units each cluster holds.
"""

from __future__ import annotations

from nplint.units.units import Unit, directory_of, is_unnamed, unit_of_file, units_of
from nplint.units.worlds import World, environment, naming, worlds_of

__all__ = [
    "Unit",
    "World",
    "directory_of",
    "environment",
    "is_unnamed",
    "naming",
    "unit_of_file",
    "units_of",
    "worlds_of",
]
