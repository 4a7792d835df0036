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
