"""NP7xx: policy hygiene — rules that are ignored, defaults that surprise, objects that collide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from nplint.findings import Finding, Level, Related, namespace_text
from nplint.loading.nodes import MapNode, SeqNode
from nplint.model import Direction, KubeObject, NetworkPolicy
from nplint.rules.base import Rule, RuleContext
from nplint.units import is_unnamed
from nplint.units.units import KUSTOMIZE, PLAIN
from nplint.untrusted import shown

_KUSTOMIZATIONS = frozenset(("kustomization.yaml", "kustomization.yml", "Kustomization"))


def _rules_node(policy: NetworkPolicy, direction: Direction) -> SeqNode | None:
    """The direction's rule list, when it holds at least one rule."""
    spec = policy.spec
    node = spec.get_seq(direction.rules_key) if spec is not None else None
    return node if node is not None and len(node) > 0 else None


class RulesIgnoredByPolicyTypes(Rule):
    id = "NP701"
    name = "rules-ignored-by-policy-types"
    summary = "Rules for a direction that the explicit `policyTypes` does not list are ignored."
    level = Level.WARNING
    tags = ("hygiene", "policy-types")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            written = policy.written_policy_types
            if written is None or any(t not in ("Ingress", "Egress") for t in written):
                # Omitted types are defaulted (NP702); invalid ones are NP002's to report.
                continue
            for direction in Direction:
                node = _rules_node(policy, direction)
                if node is None or direction.value in written:
                    continue
                both = ", ".join(d.value for d in Direction)
                if len(node) == 1:
                    rules, them = f"the {direction.lower} rule here is", "it"
                else:
                    rules, them = f"the {len(node)} {direction.lower} rules here are", "them"
                message = (
                    f"`policyTypes` lists only {', '.join(written)}, so {rules} ignored: the API server "
                    f"keeps {them} but no CNI evaluates {them}, and this policy does not isolate the "
                    f"selected pods' {direction.lower}. Write `policyTypes: [{both}]` to apply {them}, "
                    f"or delete {them}"
                )
                yield self.finding(policy, node, message, span=node.key_span, fix=f"policyTypes: [{both}]")


def _isolates_ingress_deliberately(policy: NetworkPolicy) -> bool:
    """An empty-selector policy whose author asked for ingress isolation (not by defaulting)."""
    if not policy.pod_selector.is_empty:
        return False
    written = policy.written_policy_types
    if written is not None:
        return "Ingress" in written
    # Defaulted to [Ingress] only when there are no egress rules: a plain deny-all-ingress.
    return _rules_node(policy, Direction.EGRESS) is None


class EgressRulesImplyIngressIsolation(Rule):
    id = "NP702"
    name = "egress-rules-imply-ingress-isolation"
    summary = (
        "`policyTypes` is omitted and egress rules are present: the API server adds Ingress too, "
        "denying all ingress to the selected pods."
    )
    level = Level.WARNING
    tags = ("hygiene", "policy-types")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        policies = ctx.inventory.policies
        # A policy this rule reports never isolates deliberately itself, so a set of
        # namespaces is enough.
        denied = {p.namespace for p in policies if _isolates_ingress_deliberately(p)}
        for policy in policies:
            spec = policy.spec
            egress = _rules_node(policy, Direction.EGRESS)
            if spec is None or egress is None or policy.written_policy_types is not None:
                continue
            if "ingress" in spec:
                # Writing `ingress` (even empty) shows the author meant the ingress side too.
                continue
            if policy.namespace in denied:
                # Every pod of the namespace is ingress-isolated anyway: the implied isolation
                # changes nothing.
                continue
            state = "empty" if spec.get("policyTypes") is not None else "omitted"
            message = (
                f"`policyTypes` is {state} and the policy has egress rules, so the API server sets "
                "`policyTypes: [Ingress, Egress]`: the selected pods also become isolated for ingress, "
                "and with no ingress rule here they accept no connection unless another policy allows "
                "it. Write `policyTypes: [Egress]` if only egress was meant, or `policyTypes: [Ingress, "
                "Egress]` to make the ingress deny explicit"
            )
            yield self.finding(policy, egress, message, span=egress.key_span, fix="policyTypes: [Egress]")


class MissingNamespace(Rule):
    id = "NP703"
    name = "missing-namespace"
    summary = "`metadata.namespace` is omitted: the policy lands in whatever namespace it is applied to."
    level = Level.NOTE
    tags = ("hygiene", "namespaces")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        kustomized = _kustomization_dirs(ctx)
        for policy in ctx.inventory.policies:
            if policy.namespace_explicit:
                continue
            unit = ctx.inventory.unit_of(policy)
            if unit.namespace is not None:
                # Its unit gives it a namespace (a chart's release namespace, where helm
                # installs every object of the release that names none): the policy
                # lands with the objects it was written for.
                continue
            folder = PurePosixPath(policy.path).parent
            if unit.kind != KUSTOMIZE and (folder in kustomized or not kustomized.isdisjoint(folder.parents)):
                # Kustomize sets the namespace (its `namespace:` or an overlay's) when it
                # renders this file. Rendered, its output shows what it set: a policy
                # still without one goes where kubectl's context says.
                continue
            metadata = policy.node.get_map("metadata")
            if metadata is None:
                continue
            message = (
                f"`metadata.namespace` is omitted, so the policy is created in the namespace of "
                f"kubectl's context or `-n` (nplint assumes {namespace_text(policy.namespace)}), and it "
                f"selects pods of that namespace only — not necessarily the ones it was written for. Add "
                f"`namespace: <namespace>` under metadata"
            )
            yield self.finding(
                policy,
                metadata,
                message,
                span=metadata.key_span,
                fix=None if is_unnamed(policy.namespace) else f"namespace: {policy.namespace}",
            )


def _kustomization_dirs(ctx: RuleContext) -> set[PurePosixPath]:
    """Folders holding a kustomization, loaded as a manifest or skipped by discovery."""
    paths = [m.path for m in ctx.inventory.manifests if m.kind == "Kustomization"]
    paths += [str(getattr(s, "display", "")) for s in ctx.skipped]
    return {PurePosixPath(path).parent for path in paths if PurePosixPath(path).name in _KUSTOMIZATIONS}


def _identity(obj: KubeObject) -> tuple[str, str, str, str] | None:
    """(API group, kind, namespace, name), or None for an object with no fixed name."""
    metadata = obj.node.get_map("metadata")
    if metadata is None or "name" not in metadata or not obj.name:
        # `generateName` gives every object a name of its own.
        return None
    api_version = obj.node.get_str("apiVersion") or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return group, obj.kind, obj.namespace, obj.name


class DuplicatePolicy(Rule):
    id = "NP704"
    name = "duplicate-policy"
    summary = "Two objects with the same kind, namespace and name: one silently replaces the other."
    level = Level.ERROR
    tags = ("hygiene",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        first_of: dict[tuple[str, str, str, str, str], KubeObject] = {}
        for obj in ctx.inventory.objects:
            if obj.partial:
                continue  # a patch of an object, not a second definition of it
            identity = _identity(obj)
            if identity is None:
                continue
            # Only a file, or a folder, is applied as one set (`kubectl apply -f dir/`, a
            # kustomization's resources); the same object in other folders is a variant
            # (an overlay, an environment, an alternative bundle).
            folder = str(PurePosixPath(obj.path).parent)
            first = first_of.setdefault((folder, *identity), obj)
            if first is obj or first.node.to_python() == obj.node.to_python():
                # An identical copy replaces the object with itself.
                continue
            where = "in the same file" if first.path == obj.path else f"in {first.path}"
            where = f"{where}, line {first.span.line}"
            if ctx.inventory.unit_of(obj).kind != PLAIN:
                # A line of the rendered stream; the related location names its source file.
                where = "earlier in the same rendered output"
            advice = (
                "rename one of them, or merge their rules into one policy"
                if obj.kind == "NetworkPolicy"
                else "keep one definition with what both should set, or rename one"
            )
            message = (
                f"{obj.kind} {obj.namespace + '/' if obj.namespace else ''}{obj.name} is defined "
                f"again (first {where}) with different content: applying both, the "
                f"later one replaces the earlier one and its settings are lost without a warning; "
                f"{advice}"
            )
            name_node = obj.node.get_map("metadata")
            node = name_node.get("name") if isinstance(name_node, MapNode) else None
            yield self.finding(
                obj,
                node,
                message,
                related=[Related(first.path, first.span, f"the first {obj.kind} {shown(obj.name)}")],
            )


RULES = (
    RulesIgnoredByPolicyTypes,
    EgressRulesImplyIngressIsolation,
    MissingNamespace,
    DuplicatePolicy,
)
