"""The allowed-connection matrix among workloads and external address ranges.

External addresses are cut into the fewest ranges that no ipBlock boundary
crosses (as np-guard does): the ``cidr`` and ``except`` networks of ingress
rules give the possible sources, those of egress rules the possible
destinations. Each range is then wholly inside or outside every block, so one
address stands for the whole range.

A large repository can allow millions of flows, so the matrix keeps each flow
as one integer (source rank × endpoint count + destination rank, ranks in
endpoint-key order) and builds :class:`Flow` objects only when they are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from nplint.engine.endpoints import AddressRange, Endpoint, cut_address_space, external_endpoint
from nplint.engine.engine import Engine
from nplint.engine.portsets import ALL_PORTS, PortSet
from nplint.model import Direction
from nplint.model.objects import IPNetwork
from nplint.records import record


class Flow(NamedTuple):
    """Connections ``source`` may open to ``destination``."""

    source: Endpoint
    destination: Endpoint
    ports: PortSet

    @property
    def key(self) -> tuple[str, str]:
        return (self.source.key, self.destination.key)


@record(frozen=True, slots=True, eq=False)
class Matrix:
    profile: str
    #: The workloads shown (after filters), then the external ranges that have a flow.
    endpoints: tuple[Endpoint, ...]
    #: Every endpoint in key order; a flow's packed key indexes into it.
    ranked: tuple[Endpoint, ...]
    #: Packed flow keys, sorted: source then destination, by endpoint key.
    keys: tuple[int, ...]
    #: Ports of the flows that do not allow every connection.
    partial: dict[int, PortSet]

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[Flow]:
        stride = len(self.ranked)
        ranked, partial = self.ranked, self.partial
        for key in self.keys:
            source, destination = divmod(key, stride)
            yield Flow(ranked[source], ranked[destination], partial.get(key, ALL_PORTS))

    @property
    def flows(self) -> list[Flow]:
        return list(self)


def compute_matrix(
    engine: Engine,
    *,
    namespaces: Sequence[str] = (),
    focus: Sequence[Endpoint] = (),
    extra_networks: Iterable[IPNetwork] = (),
) -> Matrix:
    """Every allowed flow, sorted by source then destination.

    ``namespaces`` and ``focus`` keep only flows with an end among those
    namespaces / workloads. ``extra_networks`` add cut points to the external
    ranges (``nplint diff`` passes both revisions' blocks, so ranges line up).
    """
    topology = engine.topology
    workloads = topology.endpoints
    focus_keys = {e.key for e in focus}
    filtered = bool(namespaces or focus_keys)
    kept = [
        position
        for position, endpoint in enumerate(workloads)
        if (not namespaces or endpoint.namespace in namespaces)
        and (not focus_keys or endpoint.key in focus_keys)
    ]
    keep_classes = frozenset(c for p in kept for c in workloads[p].classes) if filtered else None

    extra = list(extra_networks)
    ranges = {
        direction: cut_address_space(engine.ip_blocks(direction) + extra)
        for direction in (Direction.INGRESS, Direction.EGRESS)
    }
    externals = {str(r): external_endpoint(r) for d in ranges for r in ranges[d]}
    ranked = tuple(sorted([*workloads, *externals.values()], key=lambda e: e.key))
    stride = len(ranked)
    rank_of = {e.key: position for position, e in enumerate(ranked)}
    workload_rank = [rank_of[e.key] for e in workloads]
    kept_ranks = frozenset(workload_rank[p] for p in kept)
    #: For each class, the ranks of its endpoints.
    class_ranks = [tuple(workload_rank[p] for p in eps) for eps in topology.endpoints_of_class]
    bare_ranks = frozenset(workload_rank[p] for p, e in enumerate(workloads) if e.is_bare_pod)

    everything: list[int] = []  # keys of flows that allow every connection
    partial: dict[int, PortSet] = {}

    def add(key: int, ports: PortSet) -> None:
        previous = partial.get(key)
        partial[key] = ports if previous is None else previous | ports

    simple = all(len(r) == 1 for r in class_ranks) and all(len(e.classes) == 1 for e in workloads)
    for destination, open_sources, evaluated in engine.flows_by_destination(keep_classes):
        if simple and not filtered:
            # One class per endpoint and back: no aggregation, one int per flow.
            target = class_ranks[destination][0]
            found = [class_ranks[s][0] * stride + target for s in open_sources]
            for source, ports in evaluated:
                partial[class_ranks[source][0] * stride + target] = ports
            if target in bare_ranks:
                itself = target * stride + target
                found = [k for k in found if k != itself]
                partial.pop(itself, None)
            everything.extend(found)
            continue
        pairs = [(s, ALL_PORTS) for s in open_sources] + evaluated
        for target in class_ranks[destination]:
            for source, ports in pairs:
                for origin in class_ranks[source]:
                    if origin == target and origin in bare_ranks:
                        continue  # a pod cannot be kept from itself: no row for it
                    if filtered and origin not in kept_ranks and target not in kept_ranks:
                        continue
                    add(origin * stride + target, ports)

    classes = sorted(keep_classes) if keep_classes is not None else range(len(engine.classes))
    used: set[int] = set()
    for direction in (Direction.INGRESS, Direction.EGRESS):
        positions = [rank_of[str(address)] for address in ranges[direction]]
        for cls, index, ports in _external_flows(engine, direction, ranges[direction], classes):
            for rank in class_ranks[cls]:
                if filtered and rank not in kept_ranks:
                    continue
                used.add(positions[index])
                if direction is Direction.INGRESS:
                    add(positions[index] * stride + rank, ports)
                else:
                    add(rank * stride + positions[index], ports)

    complete = set(everything)
    for key, ports in list(partial.items()):
        if ports.is_everything:
            complete.add(key)
        if key in complete:
            del partial[key]
    keys = tuple(sorted(complete.union(partial)))
    shown = tuple(workloads[p] for p in kept) + tuple(ranked[p] for p in sorted(used))
    return Matrix(engine.profile.name, shown, ranked, keys, partial)


def _external_flows(
    engine: Engine, direction: Direction, ranges: list[AddressRange], classes: Iterable[int]
) -> Iterator[tuple[int, int, PortSet]]:
    """(class, range index, ports) for every pod class and external range with a connection.

    ``direction`` is the pod's side: ingress from the ranges, or egress to them.
    """
    cache: dict[tuple[object, ...], list[PortSet]] = {}
    everything = [ALL_PORTS] * len(ranges)
    for cls in classes:
        if not engine.restricted(cls, direction):
            per_range = everything
        else:
            named = direction is Direction.INGRESS and engine.side_has_named_port(direction, cls)
            key = (engine.side_key(direction, cls), cls if named else -1)
            if key not in cache:
                if direction is Direction.INGRESS:
                    cache[key] = [engine.from_external(r, cls) for r in ranges]
                else:
                    cache[key] = [engine.to_external(cls, r) for r in ranges]
            per_range = cache[key]
        for index, ports in enumerate(per_range):
            if ports:
                yield cls, index, ports
