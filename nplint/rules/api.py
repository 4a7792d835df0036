"""NP004: a NetworkPolicy written for an API version the API server does not serve.

NetworkPolicy has one served version, ``networking.k8s.io/v1`` (since Kubernetes
1.8). ``extensions/v1beta1`` was deprecated in 1.9 and no longer served from 1.16;
no other version of a Kubernetes API group ever held the kind. Kinds named
``NetworkPolicy`` in other groups (Calico's ``projectcalico.org/v3``, Antrea's
``crd.antrea.io``) are different resources and are left alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from nplint.findings import Edit, Finding, Fix, Level, Span
from nplint.loading import Manifest
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model import KubeObject
from nplint.rules.base import Rule, RuleContext, in_document, replacing, yaml_path
from nplint.untrusted import shown

SERVED = "networking.k8s.io/v1"
GROUP = "networking.k8s.io"

#: Groups owned by Kubernetes itself, where a kind called NetworkPolicy can only mean the built-in one.
_KUBERNETES_SUFFIXES = ("k8s.io", "kubernetes.io")


def _split(api_version: str) -> tuple[str, str]:
    """(group, version); the core group is ``""`` (``apiVersion: v1``)."""
    group, slash, version = api_version.rpartition("/")
    return (group, version) if slash else ("", api_version)


def meant_builtin(api_version: str, custom_groups: frozenset[str] = frozenset()) -> bool:
    """Whether ``kind: NetworkPolicy`` under this apiVersion can only mean the built-in kind.

    True for the core group, ``extensions``, any Kubernetes-owned group, and
    spellings close to ``networking.k8s.io``; False for the groups of CRDs that
    have a kind of the same name (``projectcalico.org``, ``crd.antrea.io``, or
    ``custom_groups``, those the repository's CustomResourceDefinitions declare).
    """
    group, _ = _split(api_version.strip())
    lowered = group.lower()
    if group in custom_groups:
        return False
    if lowered in ("", "extensions", "networking") or lowered.endswith(_KUBERNETES_SUFFIXES):
        return True
    return difflib.SequenceMatcher(None, lowered, GROUP).ratio() >= 0.85


def problem(api_version: str) -> str | None:
    """What is wrong with ``api_version`` for the built-in NetworkPolicy, or None when it is served."""
    if api_version == SERVED:
        return None
    group, version = _split(api_version.strip())
    if group.lower() == GROUP and version.lower() == "v1":
        return f"`{shown(api_version)}` is not spelled exactly `{SERVED}`"
    if api_version == "extensions/v1beta1":
        return "`extensions/v1beta1` is no longer served since 1.16"
    if group == GROUP:
        return f"the `{GROUP}` group has no NetworkPolicy in version `{shown(version)}`, only in `v1`"
    if not group and "." in version:
        return f"`{shown(api_version)}` is not of the form `group/version`"
    if not group:
        return f"the core API group (`apiVersion: {shown(api_version)}`) has no NetworkPolicy kind"
    if group.startswith("policy.") and group.endswith(_KUBERNETES_SUFFIXES):
        return f"the `{shown(group)}` group has no NetworkPolicy kind (AdminNetworkPolicy is another kind)"
    if difflib.SequenceMatcher(None, group.lower(), GROUP).ratio() >= 0.85:
        return f"`{shown(group)}` is no API group that serves NetworkPolicy (a misspelling of `{GROUP}`?)"
    if group in ("extensions", "networking") or group.endswith(_KUBERNETES_SUFFIXES):
        return f"the `{shown(group)}` group has no NetworkPolicy kind"
    return f"`{shown(group)}` is no API group that serves NetworkPolicy"


def custom_kind_groups(manifests: Iterable[Manifest], kind: str) -> frozenset[str]:
    """API groups in which the repository's CustomResourceDefinitions declare ``kind``."""
    groups: set[str] = set()
    for manifest in manifests:
        if manifest.kind != "CustomResourceDefinition":
            continue
        spec = manifest.node.get_map("spec")
        names = spec.get_map("names") if spec is not None else None
        group = spec.get_str("group") if spec is not None else None
        if group and names is not None and names.get_str("kind") == kind:
            groups.add(group)
    return frozenset(groups)


def _list_api_version(manifest: Manifest) -> ScalarNode | None:
    """For an item of a typed list (NetworkPolicyList) that omits its apiVersion: the list's."""
    items = manifest.node.parent
    owner = items.parent if isinstance(items, SeqNode) else None
    if manifest.implied_kind is None or not isinstance(owner, MapNode):
        return None
    node = owner.get("apiVersion")
    return node if isinstance(node, ScalarNode) and node.value is not None else None


class DeprecatedApiVersion(Rule):
    id = "NP004"
    name = "deprecated-api-version"
    summary = (
        "A NetworkPolicy uses `extensions/v1beta1` (no longer served since 1.16), another version "
        "that never served it, or no apiVersion at all."
    )
    level = Level.ERROR
    tags = ("schema",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        objects = {id(obj.node): obj for obj in ctx.inventory.objects}
        custom_groups = custom_kind_groups(ctx.inventory.manifests, "NetworkPolicy")
        reported: set[int] = set()
        for manifest in ctx.inventory.manifests:
            if manifest.kind != "NetworkPolicy":
                continue
            obj = objects.get(id(manifest.node))
            node = manifest.node.get("apiVersion")
            if isinstance(node, (MapNode, SeqNode)):
                continue  # a malformed field: NP003's to judge
            if node is None or (isinstance(node, ScalarNode) and node.value is None):
                inherited = _list_api_version(manifest)
                if inherited is not None:
                    node = inherited
                else:
                    yield self._missing(manifest, obj, node)
                    continue
            assert isinstance(node, ScalarNode)
            text = node.text
            message = problem(text)
            if message is None or not meant_builtin(text, custom_groups) or id(node) in reported:
                continue
            reported.add(id(node))
            yield self._finding(
                manifest,
                obj,
                node,
                f"{message}: write `{SERVED}`",
                _why(text),
                fixes=_served_fix(manifest, node),
            )

    def _missing(self, manifest: Manifest, obj: KubeObject | None, node: Node | None) -> Finding:
        where = node if node is not None else manifest.node.get("kind")
        span = where.key_span if where is not None else None
        return self._finding(
            manifest,
            obj,
            where,
            f"NetworkPolicy without apiVersion: add `apiVersion: {SERVED}`",
            "kubectl and the API server cannot tell which resource an object without apiVersion is, "
            f"and reject it. NetworkPolicy is served as `{SERVED}` (since Kubernetes 1.8).",
            span=span,
            fixes=_served_fix(manifest, node),
        )

    def _finding(
        self,
        manifest: Manifest,
        obj: KubeObject | None,
        node: Node | None,
        message: str,
        detail: str,
        span: Span | None = None,
        fixes: tuple[Fix, ...] = (),
    ) -> Finding:
        return self.finding(
            obj,
            node,
            message,
            path=manifest.path,
            span=span,
            document_index=manifest.document_index,
            fix=f"apiVersion: {SERVED}",
            detail=detail,
            fixes=fixes,
        )


def _served_fix(manifest: Manifest, node: Node | None) -> tuple[Fix, ...]:
    """``apiVersion: networking.k8s.io/v1`` in the object's own place: the kind it can only mean.

    Not for an item of a list whose apiVersion it takes: the list's is the list's own.
    """
    current = node.text if isinstance(node, ScalarNode) and node.value is not None else ""
    group = _split(current.strip())[0]
    if not in_document(manifest.node) or (
        group.startswith("policy.") and group.endswith(_KUBERNETES_SUFFIXES)
    ):
        # The AdminNetworkPolicy group: another kind may be meant, not another version.
        return ()
    if node is not None and node.parent is manifest.node:
        edit = replacing(node, SERVED)
    elif node is None:
        where = yaml_path(manifest.node)
        edit = Edit.make("set", where, "apiVersion", SERVED, after="") if where is not None else None
    else:
        edit = None
    if edit is None:
        return ()
    description = f"write `apiVersion: {SERVED}`, the one version that serves NetworkPolicy"
    return (Fix(description, True, (edit,), manifest.path, manifest.document_index),)


def _why(api_version: str) -> str:
    """The detail of a finding on an apiVersion: what the API server does with it, and the fix."""
    text = (
        "The API server rejects this manifest: NetworkPolicy is served only as "
        f"`{SERVED}` (since Kubernetes 1.8)."
    )
    if api_version == "extensions/v1beta1":
        text += (
            " `extensions/v1beta1` was deprecated in 1.9; the spec fields are the same, "
            "so nothing else changes."
        )
    group, version = _split(api_version.strip())
    if group.lower() == GROUP and version.lower() == "v1":
        text += " The API version is case-sensitive and takes no spaces."
    if group.startswith("policy.") and group.endswith(_KUBERNETES_SUFFIXES):
        text += (
            f" The `{shown(group)}` group serves AdminNetworkPolicy, BaselineAdminNetworkPolicy and "
            "ClusterNetworkPolicy, other kinds with another spec."
        )
    return text


RULES = (DeprecatedApiVersion,)
