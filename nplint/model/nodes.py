"""Nodes and ServiceAccounts, as ``kubectl get nodes -o yaml`` and ``kubectl get sa -o yaml`` export them.

A Node decides nothing by itself, but two CNIs read it: Cilium's ``host`` and
``remote-node`` entities are the node a pod runs on and every other node
(policy-kinds §8.5), and its host policies (``nodeSelector``) select nodes by
their labels. A ServiceAccount's labels are what Calico's
``serviceAccountSelector`` and ``serviceAccounts.selector`` see (§7.4).

Only what those need is kept: a node's name, labels and the addresses of
``status.addresses`` whose type is ``InternalIP`` or ``ExternalIP``. Everything
is read leniently and bounded: an address that does not parse is dropped, and a
node keeps at most :data:`NODE_ADDRESS_LIMIT` of them (a real node has one or two
per family), so a hostile export cannot make every flow carry thousands of IPs.
"""

from __future__ import annotations

import ipaddress

from nplint.loading.nodes import MapNode
from nplint.model.objects import KubeObject
from nplint.records import record

#: The address types that carry a node's traffic (``Hostname`` and ``InternalDNS`` are names).
NODE_ADDRESS_TYPES = ("InternalIP", "ExternalIP")
#: The most addresses one node keeps.
NODE_ADDRESS_LIMIT = 16
#: The core API's version: a ``kind: Node`` of another group is someone else's resource.
CORE_API_VERSIONS = frozenset(("v1",))


@record(frozen=True, slots=True, eq=False)
class ClusterNode(KubeObject):
    """A ``kind: Node`` object: its name, labels (``labels``) and IP addresses."""

    #: The addresses of ``status.addresses`` (InternalIP, then ExternalIP, as written), normalized.
    ips: tuple[str, ...] = ()


def is_core_kind(api_version: str | None, kind: str, wanted: str) -> bool:
    """Whether an object is the core API's ``wanted`` kind (a missing apiVersion counts: list items)."""
    return kind == wanted and (api_version is None or api_version in CORE_API_VERSIONS)


def node_ips(node: MapNode) -> tuple[str, ...]:
    """The IP addresses of ``status.addresses``, InternalIP first, each once, at most the limit."""
    status = node.get_map("status")
    entries = status.get_seq("addresses") if status is not None else None
    found: dict[str, None] = {}
    for wanted in NODE_ADDRESS_TYPES:
        for entry in entries or ():
            if len(found) >= NODE_ADDRESS_LIMIT:
                break
            if not isinstance(entry, MapNode) or entry.get_str("type") != wanted:
                continue
            text = entry.get_str("address")
            if not text:
                continue
            try:
                address = ipaddress.ip_address(text.strip())
            except ValueError:
                continue
            found.setdefault(str(address), None)
    return tuple(found)
