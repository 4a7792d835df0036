"""Process exit codes, the contract CI systems rely on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    #: Nothing at or above the failure threshold.
    OK = 0
    #: At least one finding at or above the failure threshold (or a failed
    #: connectivity expectation).
    FINDINGS = 1
    #: Bad usage, a bad configuration, a plugin that failed to load, or an
    #: internal error.
    ERROR = 2
