"""A CNI's version: ``cni: calico@3.30`` in the configuration, or an image tag such as ``v3.30.2``.

The version only chooses among verdicts the reference documents per release
(policy-kinds §10: which of the Network Policy API's kinds Calico enforces,
from which Cilium release deny rules exist). It is compared, shown and
nothing else: no program ever sees it. This module imports nothing of
nplint, so the configuration can check a declared version before any
detection runs.
"""

from __future__ import annotations

import functools
import re

from nplint.records import record

#: ``3.30``, ``v3.30.2``: MAJOR.MINOR with an optional PATCH and an optional leading ``v``.
#: A tag with anything else (``latest``, ``v3.30.2-rc1``, ``master-amd64``) is not a release.
_RELEASE = re.compile(r"v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,6}))?")
_EXAMPLES = {"calico": "3.30", "canal": "3.30", "cilium": "1.17", "antrea": "2.7"}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}")


@functools.total_ordering
@record(frozen=True, slots=True)
class CNIVersion:
    """A release of a CNI, comparable; ``patch`` is None when only MAJOR.MINOR is known, and
    then sorts before every patch of that release (``3.30`` < ``3.30.0``)."""

    major: int
    minor: int
    patch: int | None = None

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, -1 if self.patch is None else self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, CNIVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.patch}" if self.patch is not None else "")

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)

    @property
    def release(self) -> tuple[int, int]:
        """MAJOR.MINOR, the part every verdict depends on."""
        return (self.major, self.minor)


class BadCNIVersion(ValueError):
    """A ``NAME@VERSION`` whose version is not MAJOR.MINOR[.PATCH]; the message says what to write."""


def parse_release(text: str) -> CNIVersion | None:
    """``3.30``, ``v3.30.2`` as a version; None for anything else (``latest``, a digest, ``3``)."""
    match = _RELEASE.fullmatch(text.strip())
    if match is None:
        return None
    patch = match.group(3)
    return CNIVersion(int(match.group(1)), int(match.group(2)), int(patch) if patch is not None else None)


def split_cni(text: str) -> tuple[str, CNIVersion | None]:
    """A declared CNI, ``NAME`` or ``NAME@VERSION``, as the name and its version (None: not given).

    :raises BadCNIVersion: for an ``@`` followed by anything but MAJOR.MINOR[.PATCH].
    """
    name, at, version_text = text.partition("@")
    if not at:
        return name, None
    version = parse_release(version_text)
    if version is None or not name.strip():
        # The name is the repository's text: it reaches the example only when it is a plain word.
        plain = name.strip() if _PLAIN_NAME.fullmatch(name.strip()) else "calico"
        example = f"{plain}@{_EXAMPLES.get(plain.lower(), '1.2')}"
        raise BadCNIVersion(
            f"the version after `@` must be MAJOR.MINOR or MAJOR.MINOR.PATCH, such as `{example}` "
            "(leave `@VERSION` out when the version is not known)"
        )
    return name, version


def cni_name(text: str) -> str:
    """The name part of a declared CNI (``calico@3.30`` → ``calico``), without checking the version."""
    return text.partition("@")[0]


#: Antrea feature gates that decide whether a kind of the Network Policy API is enforced
#: (policy-kinds §9.4): both alpha, both off unless turned on.
ANTREA_GATES = ("AdminNetworkPolicy", "ClusterNetworkPolicy")
#: Cilium's ``policy-enforcement-mode`` (``enable-policy`` in cilium-config), policy-kinds §8.9, K40.
CILIUM_MODES = ("default", "always", "never")


@record(frozen=True, slots=True)
class CNISwitches:
    """The CNI switches that change verdicts (``cni-options:``); None or absent: not said."""

    #: Antrea feature gates (name, on), sorted by name.
    antrea_gates: tuple[tuple[str, bool], ...] = ()
    cilium_mode: str | None = None

    def gate(self, name: str) -> bool | None:
        return next((on for gate, on in self.antrea_gates if gate == name), None)

    @property
    def empty(self) -> bool:
        return not self.antrea_gates and self.cilium_mode is None
