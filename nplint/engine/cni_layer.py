"""What the engine asks of a CNI's own policy layer (Calico tiers, Cilium's deny-first union).

A world's CNI may replace the NetworkPolicy evaluation of a side with its own: on a
Calico world the tiers of :mod:`.calico_layer`, on a Cilium world the union of
:mod:`.cilium_layer`. Either evaluates Kubernetes NetworkPolicies inside it, through
``policy_ports`` (what one isolating NetworkPolicy allows with the peer), so the
engine's NetworkPolicy layer is reused, never duplicated. A side the layer does not
govern is decided exactly as without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from nplint.engine.endpoints import AddressRange, PodClass
    from nplint.engine.engine import Engine
    from nplint.engine.portsets import PortSet
    from nplint.model.objects import Direction, IPNetwork, NetworkPolicy

    PolicyPorts = Callable[[NetworkPolicy], PortSet]


class LayerStep(Protocol):
    """One thing the layer did with some of a side's connections, for reasons."""

    def describe(self) -> str: ...

    def to_json(self) -> dict[str, object]: ...

    def related(self) -> tuple[str, int, int, str] | None:
        """(path, line, column, message) of the object that decided, if one did."""
        ...


class CNILayer(Protocol):
    def governs(self, direction: Direction, cls: int) -> bool: ...

    def side_key(self, direction: Direction, cls: int) -> tuple[object, ...]: ...

    def has_named_port(self, direction: Direction, cls: int) -> bool: ...

    def networks(self) -> list[IPNetwork]: ...

    def notes(self, classes: set[int], several: bool) -> list[str]:
        """Why objects of the kind that select one of ``classes`` decide nothing."""
        ...

    def evaluate(
        self,
        direction: Direction,
        subject: int,
        peer: int | AddressRange,
        destination: PodClass | None,
        policy_ports: PolicyPorts,
        asked: PortSet,
        steps: list[LayerStep] | None = None,
    ) -> PortSet: ...


def unenforced_notes(engine: Engine, classes: set[int], several: bool) -> list[str]:
    """Calico and Cilium policies selecting one of ``classes`` on a world whose CNI does not run
    them: accepted by the API server where their CRDs exist, they decide nothing (policy-kinds §10)."""
    from nplint.engine.calico_layer import class_endpoint
    from nplint.engine.calico_layer import policy_title as calico_title
    from nplint.engine.cilium_layer import policy_title as cilium_title
    from nplint.engine.layers import RUNS_CALICO
    from nplint.model.cilium import identity_labels

    profile, inventory = engine.profile, engine.inventory
    if not profile.enforces:
        return []
    pods = [engine.classes[i] for i in sorted(classes) if not engine.classes[i].host_network]
    end = "an end" if several else "it"
    notes = []
    if profile.name not in RUNS_CALICO and inventory.calico_policies:
        endpoints = [class_endpoint(cls) for cls in pods]
        for policy in sorted(inventory.calico_policies, key=lambda p: (p.path, p.span)):
            if any(policy.selects(e) for e in endpoints):
                notes.append(
                    f"{calico_title(policy)} selects {end} but decides nothing: "
                    f"{profile.title} does not enforce Calico policies"
                )
    if profile.name != "cilium" and inventory.cilium_policies:
        labels = [identity_labels(c.labels, c.namespace, c.namespace_labels) for c in pods]
        for cilium in sorted(inventory.cilium_policies, key=lambda p: (p.path, p.span)):
            if any(spec.selects(found) for spec in cilium.specs for found in labels):
                notes.append(
                    f"{cilium_title(cilium)} selects {end} but decides nothing: {profile.title} does not "
                    "enforce CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy"
                )
    return notes
