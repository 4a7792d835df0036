"""The inventory: typed objects built from manifests, with the API server's defaulting applied."""

from __future__ import annotations

from nplint.model.calico import CalicoPolicy
from nplint.model.cilium import CiliumPolicy
from nplint.model.inventory import Inventory, build_inventory
from nplint.model.objects import (
    ContainerPort,
    Direction,
    IPBlock,
    KubeObject,
    Namespace,
    NetworkPolicy,
    Peer,
    PolicyPort,
    PolicyRule,
    Service,
    ServicePort,
    Workload,
)
from nplint.model.selectors import LabelSelector, Operator, Requirement

__all__ = [
    "CalicoPolicy",
    "CiliumPolicy",
    "ContainerPort",
    "Direction",
    "IPBlock",
    "Inventory",
    "KubeObject",
    "LabelSelector",
    "Namespace",
    "NetworkPolicy",
    "Operator",
    "Peer",
    "PolicyPort",
    "PolicyRule",
    "Requirement",
    "Service",
    "ServicePort",
    "Workload",
    "build_inventory",
]
