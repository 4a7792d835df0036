"""One cluster view: the CNI, its engine profile, the DNS facts and the address ranges, decided once.

Every rule, the connectivity engine, ``reach`` and ``diff`` read the view of
the inventory they evaluate; none of them asks the configuration or the
detection itself. The CNI is the declared one (``--cni`` or ``cni:``) when
there is one, else what the manifests show (:func:`nplint.cluster.cni.detect_cni`).
The view is memoised on the inventory, so an inventory that stands for one
world gets its own view from that world's objects and facts.
"""

from __future__ import annotations

import difflib
from dataclasses import field, replace

from nplint.cluster.addresses import SERVICE, ClusterRange, cluster_ranges, parse_range
from nplint.cluster.cni import PROFILES, CNIDetection, CNIProfile, detect_cni
from nplint.cluster.cni_version import BadCNIVersion, cni_name, split_cni
from nplint.cluster.platform import OPENSHIFT_SERVICE_NETWORK, Platform, detect_platform, platform_facts
from nplint.cluster.profiles import (
    UPSTREAM,
    EngineProfile,
    capability_profile,
    engine_profile,
    names_upstream,
    profile_names,
)
from nplint.config import ClusterFacts, Config, DNSFacts
from nplint.model import Inventory
from nplint.records import record
from nplint.untrusted import shown

__all__ = ["ClusterView", "UnknownCNIError", "check_cni", "cluster_view", "view_key"]

#: The CNIs that judge egress before a Service's DNAT (networkpolicy-semantics §2.8).
PRE_DNAT_CNIS = frozenset({"aws-vpc-cni"})


class UnknownCNIError(ValueError):
    """A declared CNI name no profile knows."""


def check_cni(name: str | None, *, option: str = "cni:") -> None:
    """Refuse a declared CNI name that no profile knows, with the near matches or the known names.

    The message reads like NP603's (which says the same to an embedding that
    passes such a name in code), so the help a user gets is the same in both.

    :param option: where the name came from (``--cni`` or ``cni:``), for the message.
    :raises UnknownCNIError: for an unknown name.
    """
    if name is not None:
        try:
            bare, version = split_cni(name)
        except BadCNIVersion as error:
            raise UnknownCNIError(f"`{option} {shown(name)}`: {error}") from None
        if version is not None and (names_upstream(bare) or bare.strip().lower() == "none"):
            raise UnknownCNIError(
                f"`{option} {shown(name)}`: `{shown(bare)}` names no CNI release; leave `@VERSION` out"
            )
    try:
        engine_profile(name)
    except KeyError:
        assert name is not None
        near = difflib.get_close_matches(cni_name(name).strip().lower(), profile_names(), n=3)
        hint = f"did you mean {', '.join(near)}?" if near else f"use one of: {', '.join(sorted(PROFILES))}"
        raise UnknownCNIError(
            f"`{option} {shown(name)}` is not a CNI nplint knows; {hint} "
            "(`nplint explain NP603` describes them)"
        ) from None


@record(frozen=True, slots=True)
class ClusterView:
    """What one cluster (one world) is, as every rule and the engine must see it."""

    #: The configuration's ``cni:`` (or ``--cni``) as written; None when not declared.
    declared: str | None
    #: Detection with its evidence (for the NP6xx messages); the declared CNI wins in it.
    detection: CNIDetection
    #: How the engine evaluates policies for this CNI (upstream when none is known).
    profile: EngineProfile
    facts: ClusterFacts
    #: The pod and service ranges: configured, then revealed by the manifests.
    ranges: tuple[ClusterRange, ...]
    #: The distribution where it changes the facts (OpenShift), and how nplint knows it.
    platform: Platform = field(default_factory=Platform)

    @property
    def cni(self) -> str | None:
        """The CNI whose semantics apply (a capability-table key); None when unknown or several."""
        return self.detection.cni

    @property
    def capabilities(self) -> CNIProfile | None:
        return self.detection.profile

    @property
    def source(self) -> str:
        """``declared`` or ``detected``: how the CNI was decided, for messages."""
        return "declared" if self.detection.declared else "detected"

    @property
    def dns(self) -> DNSFacts:
        return self.facts.dns

    @property
    def pre_dnat(self) -> bool:
        """Whether egress is judged before a Service's DNAT, so a ClusterIP in an ipBlock does match."""
        return self.cni in PRE_DNAT_CNIS

    @property
    def ipblock_matches_pods(self) -> bool:
        """Whether an ipBlock can select a cluster pod at all (Cilium: never)."""
        return self.profile.ipblock_matches_pods


def cluster_view(inventory: Inventory, config: Config) -> ClusterView:
    """The view of ``inventory``'s cluster under ``config``, computed once per inventory.

    A declared name no profile knows is refused by the commands before any rule
    runs (:func:`check_cni`); an embedding that passes one anyway gets the
    upstream semantics here, and NP603 says why.
    """
    return inventory.memo(("cluster-view", *view_key(config)), lambda: _view(inventory, config))


def view_key(config: Config) -> tuple[str | None, str]:
    """What a view depends on besides the inventory: the declared CNI and the cluster facts."""
    cluster, options = config.cluster, config.cni_options
    # Every rule of every world asks; the facts are frozen records, so their text is made once
    # per pair (kept with them, so an identity is not reused while its entry is there).
    known = _FACTS_TEXT.get((id(cluster), id(options)))
    if known is None or known[0] is not cluster or known[1] is not options:
        if len(_FACTS_TEXT) >= _FACTS_KEPT:
            _FACTS_TEXT.clear()
        known = _FACTS_TEXT[(id(cluster), id(options))] = (cluster, options, repr(cluster) + repr(options))
    return (config.cni, known[2])


_FACTS_TEXT: dict[tuple[int, int], tuple[object, object, str]] = {}
_FACTS_KEPT = 256


def _view(inventory: Inventory, config: Config) -> ClusterView:
    detection = detect_cni(inventory, config)
    capabilities = detection.profile
    profile = UPSTREAM if capabilities is None else capability_profile(capabilities)
    if capabilities is not None:
        profile = replace(profile, version=detection.version, switches=detection.switches)
    platform = detect_platform(inventory, config)
    facts = platform_facts(config.cluster, platform)
    ranges = cluster_ranges(inventory, facts)
    if platform.is_openshift and not any(r.role == SERVICE for r in ranges):
        # The installer's default: it places the DNS Service (172.30.0.10) and `kubernetes` (172.30.0.1).
        network = parse_range(OPENSHIFT_SERVICE_NETWORK)
        assert network is not None
        ranges += (ClusterRange(network, SERVICE, "the OpenShift default service network"),)
    return ClusterView(
        declared=config.cni,
        detection=detection,
        profile=profile,
        facts=facts,
        ranges=ranges,
        platform=platform,
    )
