"""Sets of (protocol, port) pairs: what a rule allows, what a connection may use.

NetworkPolicy defines three protocols (networkpolicy-semantics §2.6); a set
keeps, per protocol, sorted disjoint inclusive ranges of port numbers 1–65535.
Sets are immutable and hashable, so equal sets compare and dedupe cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nplint.model.objects import PROTOCOLS
from nplint.records import record

MIN_PORT = 1
MAX_PORT = 65535

Ranges = tuple[tuple[int, int], ...]
_FULL: Ranges = ((MIN_PORT, MAX_PORT),)


def _normalise(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, merged (adjacent ranges joined), clipped to 1–65535."""
    merged: list[list[int]] = []
    for low, high in sorted((max(lo, MIN_PORT), min(hi, MAX_PORT)) for lo, hi in ranges):
        if low > high:
            continue
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return tuple((low, high) for low, high in merged)


def _intersect(left: Ranges, right: Ranges) -> Ranges:
    result: list[tuple[int, int]] = []
    i = j = 0
    while i < len(left) and j < len(right):
        low = max(left[i][0], right[j][0])
        high = min(left[i][1], right[j][1])
        if low <= high:
            result.append((low, high))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return tuple(result)


def _subtract(left: Ranges, right: Ranges) -> Ranges:
    result: list[tuple[int, int]] = []
    for low, high in left:
        start = low
        for r_low, r_high in right:
            if r_high < start or r_low > high:
                continue
            if r_low > start:
                result.append((start, r_low - 1))
            start = max(start, r_high + 1)
            if start > high:
                break
        if start <= high:
            result.append((start, high))
    return tuple(result)


@record(frozen=True, slots=True)
class PortSet:
    """Port ranges per protocol. Protocols with no port are left out, so equality is structural."""

    by_protocol: tuple[tuple[str, Ranges], ...] = ()

    @classmethod
    def of(cls, mapping: Mapping[str, Iterable[tuple[int, int]]]) -> PortSet:
        items = []
        for protocol in sorted(mapping):
            ranges = _normalise(mapping[protocol])
            if ranges:
                items.append((protocol, ranges))
        return cls(tuple(items))

    @classmethod
    def everything(cls) -> PortSet:
        """Every port of every protocol NetworkPolicy defines."""
        return ALL_PORTS

    @classmethod
    def nothing(cls) -> PortSet:
        return NO_PORTS

    @classmethod
    def single(cls, protocol: str, low: int, high: int | None = None) -> PortSet:
        return cls.of({protocol: [(low, low if high is None else high)]})

    @classmethod
    def protocol(cls, protocol: str) -> PortSet:
        """Every port of one protocol."""
        return cls(((protocol, _FULL),))

    def ranges(self, protocol: str) -> Ranges:
        for name, ranges in self.by_protocol:
            if name == protocol:
                return ranges
        return ()

    @property
    def is_empty(self) -> bool:
        return not self.by_protocol

    @property
    def is_everything(self) -> bool:
        return self.by_protocol == _EVERYTHING

    def __bool__(self) -> bool:
        return bool(self.by_protocol)

    def contains(self, protocol: str, port: int) -> bool:
        return any(low <= port <= high for low, high in self.ranges(protocol))

    def __or__(self, other: PortSet) -> PortSet:
        if not other.by_protocol or self is other:
            return self
        if not self.by_protocol:
            return other
        if self.is_everything or other.is_everything:
            return ALL_PORTS
        protocols = {name for name, _ in self.by_protocol} | {name for name, _ in other.by_protocol}
        return PortSet.of({p: self.ranges(p) + other.ranges(p) for p in protocols})

    def __and__(self, other: PortSet) -> PortSet:
        if not self.by_protocol or not other.by_protocol:
            return NO_PORTS
        if other.is_everything or self is other:
            return self
        if self.is_everything:
            return other
        items = []
        for protocol, ranges in self.by_protocol:
            common = _intersect(ranges, other.ranges(protocol))
            if common:
                items.append((protocol, common))
        return PortSet(tuple(items))

    def __sub__(self, other: PortSet) -> PortSet:
        items = []
        for protocol, ranges in self.by_protocol:
            rest = _subtract(ranges, other.ranges(protocol))
            if rest:
                items.append((protocol, rest))
        return PortSet(tuple(items))

    def describe(self) -> str:
        """``All Connections``, or e.g. ``TCP 80,8000-8080,UDP 53`` (protocols sorted, ranges merged)."""
        if self.is_everything:
            return "All Connections"
        if not self.by_protocol:
            return "No Connections"
        parts = []
        for protocol, ranges in self.by_protocol:
            text = ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)
            parts.append(f"{protocol} {text}")
        return ",".join(parts)

    def short(self) -> str:
        """A compact label for graphs: ``all``, ``TCP 80, 443 · UDP 53``, ``TCP all``."""
        if self.is_everything:
            return "all"
        parts = []
        for protocol, ranges in self.by_protocol:
            if ranges == _FULL:
                parts.append(f"{protocol} all")
                continue
            text = ", ".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)
            parts.append(f"{protocol} {text}")
        return " · ".join(parts)

    def to_json(self) -> dict[str, list[list[int]]]:
        return {protocol: [[low, high] for low, high in ranges] for protocol, ranges in self.by_protocol}

    def __str__(self) -> str:
        return self.describe()


_EVERYTHING = tuple((protocol, _FULL) for protocol in sorted(PROTOCOLS))
ALL_PORTS = PortSet(_EVERYTHING)
NO_PORTS = PortSet()
