"""How each CNI evaluates NetworkPolicy: the one table the connectivity engine consults.

The default profile, ``upstream``, is the Kubernetes e2e conformance semantics
(networkpolicy-semantics §2.14). A CNI profile changes only what that CNI is
known to do differently. The feature columns (enforcement, egress, ``except``,
``endPort``, named ports, SCTP) are read from the capability table of
:mod:`nplint.cluster.cni` (§4), so the two never disagree; what only
reachability needs — whether an ipBlock can select a pod at all — is kept
here. A capability the table marks unknown is taken as supported: the engine
then answers what the API promises.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import field, replace

from nplint.cluster.cni import ALIASES, PROFILES, CNIProfile, profile_for
from nplint.cluster.cni_version import BadCNIVersion, CNISwitches, CNIVersion, cni_name, split_cni
from nplint.records import record

UPSTREAM_NAME = "upstream"

#: CNIs whose CIDR rules never select cluster pods or nodes: Cilium maps in-cluster
#: peers to label identities first (Cilium docs, language.rst "IP/CIDR based";
#: cilium/cilium#9209, #19601), and so do the Cilium-based dataplanes (AKS, GKE DPv2).
IPBLOCK_IGNORES_PODS: Mapping[str, str] = {
    "cilium": "Cilium never lets an ipBlock (CIDR rule) select a cluster pod or node",
    "gke-dataplane-v2": "GKE Dataplane V2 (Cilium) never lets an ipBlock select a cluster pod or node",
}


@record(frozen=True, slots=True)
class EngineProfile:
    """What the engine does differently for one CNI. Every default is the upstream behaviour."""

    name: str = UPSTREAM_NAME
    title: str = "upstream Kubernetes (e2e conformance semantics)"
    #: False: policies are accepted but nothing enforces them; every connection is allowed.
    enforces: bool = True
    #: False: egress isolation and egress rules have no effect.
    egress: bool = True
    #: False: an ipBlock never selects a pod (or a host-network pod's node address).
    ipblock_matches_pods: bool = True
    #: False: an ipBlock that has ``except`` is ignored and matches nothing.
    ipblock_except: bool = True
    #: False: ``endPort`` is ignored and only ``port`` is allowed.
    end_port: bool = True
    #: False: a policy that uses a named port anywhere is rejected and enforced not at all.
    named_ports: bool = True
    #: False: ``protocol: SCTP`` port entries match nothing.
    sctp: bool = True
    #: Why a behaviour differs (feature → explanation), for verdict reasons.
    notes: Mapping[str, str] = field(default_factory=dict)
    #: The CNI's release where declared (``calico@3.30``) or shown by its images; None: not known.
    version: CNIVersion | None = None
    #: The switches that change verdicts (Antrea feature gates, Cilium's enforcement mode), as
    #: the configuration or the CNI's own ConfigMaps set them; unset ones are not known.
    switches: CNISwitches = field(default_factory=CNISwitches)

    @property
    def release_title(self) -> str:
        """``Calico 3.30`` where the version is known, else the title alone."""
        return f"{self.title} {self.version}" if self.version is not None else self.title


UPSTREAM = EngineProfile()


def capability_profile(capabilities: CNIProfile) -> EngineProfile:
    """The engine profile of a capability-table row, with what the manifests changed in it."""
    notes = dict(capabilities.notes)
    ignores_pods = IPBLOCK_IGNORES_PODS.get(capabilities.name)
    if ignores_pods:
        notes["ipblock_matches_pods"] = ignores_pods
    if capabilities.enforces is False:
        notes["enforces"] = f"{capabilities.title} does not enforce NetworkPolicy"
    return EngineProfile(
        name=capabilities.name,
        title=capabilities.title,
        enforces=capabilities.enforces is not False,
        egress=capabilities.supports("egress") is not False,
        ipblock_matches_pods=ignores_pods is None,
        ipblock_except=capabilities.supports("ip_block_except") is not False,
        end_port=capabilities.supports("end_port") is not False,
        named_ports=capabilities.supports("named_ports") is not False,
        sctp=capabilities.supports("sctp") is not False,
        notes=notes,
    )


def profile_names() -> list[str]:
    """Every accepted profile name (aliases too), sorted."""
    return sorted({UPSTREAM_NAME, *PROFILES, *ALIASES})


def names_upstream(name: str) -> bool:
    """Whether a declared name asks for the upstream semantics rather than naming a CNI."""
    return cni_name(name).strip().lower() in (UPSTREAM_NAME, "default", "kubernetes")


def engine_profile(name: str | None) -> EngineProfile:
    """The profile of a CNI name or alias (``calico@3.30`` with its version); ``upstream`` for None.

    :raises KeyError: for an unknown name; the message lists near matches.
    """
    if name is None or names_upstream(name):
        return UPSTREAM
    capabilities = profile_for(name)
    if capabilities is None:
        near = difflib.get_close_matches(cni_name(name).strip().lower(), profile_names(), n=3)
        hint = f"did you mean {', '.join(near)}?" if near else "known: " + ", ".join(profile_names())
        raise KeyError(f"unknown CNI {name!r}; {hint}")
    try:
        version = split_cni(name)[1]
    except BadCNIVersion as error:
        raise KeyError(f"CNI {name!r}: {error}") from None
    profile = capability_profile(capabilities)
    return replace(profile, version=version) if version is not None else profile
