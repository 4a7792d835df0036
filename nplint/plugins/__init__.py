"""The public plugin API: the ``hookimpl`` marker to decorate hook functions with."""

from __future__ import annotations

from nplint.plugins.hookspecs import hookimpl

__all__ = ["hookimpl"]
