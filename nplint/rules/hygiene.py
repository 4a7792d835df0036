"""NP7xx: policy hygiene — rules that are ignored, defaults that surprise, objects that collide."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from nplint.findings import Edit, Finding, Fix, Level, Related, namespace_text
from nplint.loading.nodes import MapNode, SeqNode
from nplint.model import Direction, KubeObject, NetworkPolicy, Workload
from nplint.rules.base import Rule, RuleContext, yaml_path
from nplint.units import is_unnamed
from nplint.units.units import KUSTOMIZE, NAMESPACED_KINDS, PLAIN
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
                    f"`policyTypes` lists only {', '.join(written)}, so {rules} ignored: add "
                    f"{direction.value} to it, or delete {them}"
                )
                detail = (
                    f"The API server keeps {them} but no CNI evaluates {them}, and this policy does not "
                    f"isolate the selected pods' {direction.lower}. Write `policyTypes: [{both}]` to apply "
                    f"{them}, or delete {them}."
                )
                fix = f"policyTypes: [{both}]"
                fixes = _policy_types_fix(
                    self,
                    policy,
                    [*written, direction.value],
                    f"add {direction.value} to `policyTypes`: the {direction.lower} rules take effect",
                    safe=False,
                )
                yield self.finding(
                    policy, node, message, span=node.key_span, fix=fix, detail=detail, fixes=fixes
                )


def _policy_types_fix(
    rule: Rule, policy: NetworkPolicy, types: list[str], description: str, *, safe: bool
) -> tuple[Fix, ...]:
    """A fix that writes ``policyTypes: types`` in the policy's spec, after its ``podSelector``."""
    spec = policy.spec
    where = yaml_path(spec) if spec is not None else None
    if where is None:
        return ()
    ordered = [t for t in ("Ingress", "Egress") if t in types]
    edit = Edit.make("set", where, "policyTypes", ordered, after="podSelector")
    return rule.make_fix(policy, description, [edit], safe=safe)


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
                f"`policyTypes` is {state}, so these egress rules isolate ingress too: write "
                "`policyTypes: [Egress]`"
            )
            detail = (
                "With egress rules and no `policyTypes`, the API server sets `policyTypes: [Ingress, "
                "Egress]`: the selected pods also become isolated for ingress, and with no ingress rule "
                "here they accept no connection unless another policy allows it. Write `policyTypes: "
                "[Egress]` if only egress was meant, or `policyTypes: [Ingress, Egress]` to make the "
                "ingress deny explicit."
            )
            fix = "policyTypes: [Egress]"
            # Written as the API server defaults it: the same policy, its ingress deny now in sight.
            fixes = _policy_types_fix(
                self,
                policy,
                ["Ingress", "Egress"],
                "write `policyTypes: [Ingress, Egress]` as the API server defaults it (same behaviour)",
                safe=True,
            )
            yield self.finding(
                policy, egress, message, span=egress.key_span, fix=fix, detail=detail, fixes=fixes
            )


class MissingNamespace(Rule):
    id = "NP703"
    name = "missing-namespace"
    summary = "`metadata.namespace` is omitted: the policy lands in whatever namespace it is applied to."
    level = Level.NOTE
    about_form = True
    tags = ("hygiene", "namespaces")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        kustomized: set[PurePosixPath] | None = None  # worked out for the first policy that needs it
        reported: dict[str, list[NetworkPolicy]] = {}
        for policy in ctx.inventory.policies:
            if policy.namespace_explicit:
                continue
            unit = ctx.inventory.unit_of(policy)
            if unit.namespace is not None:
                # Its unit gives it a namespace (a chart's release namespace, where helm
                # installs every object of the release that names none): the policy
                # lands with the objects it was written for.
                continue
            if unit.kind != KUSTOMIZE:
                kustomized = _kustomization_dirs(ctx) if kustomized is None else kustomized
                folder = PurePosixPath(policy.path).parent
                if folder in kustomized or not kustomized.isdisjoint(folder.parents):
                    # Kustomize sets the namespace (its `namespace:` or an overlay's) when it
                    # renders this file. Rendered, its output shows what it set: a policy
                    # still without one goes where kubectl's context says.
                    continue
            if policy.node.get_map("metadata") is None:
                continue
            if NAMESPACE_SELECTOR_ANNOTATION in policy.annotations:
                # Config Sync creates a copy in every namespace its NamespaceSelector matches:
                # leaving the namespace out is how such an object is written.
                continue
            reported.setdefault(policy.path, []).append(policy)
        if not reported:
            return
        libraries = _policy_library_folders(ctx)
        reported = {
            path: policies
            for path, policies in reported.items()
            if str(PurePosixPath(path).parent) not in libraries
        }
        named = _files_naming_a_namespace(ctx)
        for path, policies in reported.items():
            if len(policies) > 1 and path not in named:
                # No object of the file names a namespace: the file is written to be applied
                # with `-n`, as a whole; one finding says it for all of its policies.
                yield self._finding(policies[0], len(policies))
            else:
                for policy in policies:
                    yield self._finding(policy, 1)

    def _finding(self, policy: NetworkPolicy, count: int) -> Finding:
        metadata = policy.node.get_map("metadata")
        assert metadata is not None
        where = namespace_text(policy.namespace)
        if count == 1:
            message = (
                "`metadata.namespace` is omitted, so the policy lands in whatever namespace kubectl uses: "
                "add `namespace:`"
            )
        else:
            message = (
                f"no object of this file names a namespace: its {count} policies land in whatever "
                "namespace kubectl uses: add `namespace:`"
            )
        detail = (
            "Without `metadata.namespace` a policy is created in the namespace of kubectl's context "
            f"or `-n` (nplint assumes {where}), and selects pods of that namespace only, not "
            "necessarily the ones it was written for. Add `namespace: <namespace>` under metadata"
            + (" of each policy of the file." if count > 1 else ".")
        )
        return self.finding(
            policy,
            metadata,
            message,
            span=metadata.key_span,
            fix=None if is_unnamed(policy.namespace) else f"namespace: {policy.namespace}",
            detail=detail,
        )


#: The annotation of a Config Sync object that its NamespaceSelector places in namespaces.
NAMESPACE_SELECTOR_ANNOTATION = "configmanagement.gke.io/namespace-selector"


def _policy_library_folders(ctx: RuleContext) -> set[str]:
    """Folders of a policy library: sibling folders of namespace-less policies, without workloads.

    A parent with two or more such folders (``policies/logging/``, ``policies/baseline/``)
    is a library applied with ``-n`` to the namespaces each folder is for, by a script or
    an Ansible playbook: leaving the namespace out is the design, not a slip.
    """
    holds: dict[str, set[str]] = {}
    for obj in ctx.inventory.objects:
        folder = str(PurePosixPath(obj.path).parent)
        kinds = holds.setdefault(folder, set())
        metadata = obj.node.get_map("metadata")
        named = metadata is not None and bool(metadata.get_str("namespace"))
        if isinstance(obj, Workload) or named:
            kinds.add("other")  # pods of its own, or a namespace written down: not a library
        elif isinstance(obj, NetworkPolicy):
            kinds.add("policy")
    only_policies = {folder for folder, kinds in holds.items() if kinds == {"policy"}}
    siblings: dict[str, list[str]] = {}
    for folder in only_policies:
        if folder not in (".", ""):
            siblings.setdefault(str(PurePosixPath(folder).parent), []).append(folder)
    return {folder for group in siblings.values() if len(group) >= 2 for folder in group}


def _files_naming_a_namespace(ctx: RuleContext) -> set[str]:
    """Files with at least one namespaced object that names its namespace."""
    found: set[str] = set()
    for obj in ctx.inventory.objects:
        if obj.path in found or obj.kind not in NAMESPACED_KINDS:
            continue
        metadata = obj.node.get_map("metadata")
        if metadata is not None and metadata.get_str("namespace"):
            found.add(obj.path)
    return found


def _kustomization_dirs(ctx: RuleContext) -> set[PurePosixPath]:
    """Folders holding a kustomization, loaded as a manifest or skipped by discovery."""
    paths = [m.path for m in ctx.inventory.manifests if m.kind == "Kustomization"]
    paths += [str(getattr(s, "display", "")) for s in ctx.skipped]
    # Display paths are POSIX and normalised (a folder ends in "/"): the name is what follows
    # the last "/". Path objects are made only of the few that are kustomizations (a run
    # skips thousands of files, and every world asks).
    named = (path for path in paths if path.rstrip("/").rpartition("/")[2] in _KUSTOMIZATIONS)
    return {PurePosixPath(path).parent for path in named}


def _identity(obj: KubeObject) -> tuple[str, str, str, str] | None:
    """(API group, kind, namespace, name), or None for an object with no fixed name."""
    metadata = obj.node.get_map("metadata")
    if metadata is None or "name" not in metadata or not obj.name:
        # `generateName` gives every object a name of its own.
        return None
    api_version = obj.node.get_str("apiVersion") or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return group, obj.kind, obj.namespace, obj.name


def _compared(obj: KubeObject) -> object | None:
    """What of ``obj`` a second definition can lose that policies depend on, or None for other kinds.

    A policy is all content; of a Namespace, the labels its selectors see. Other kinds
    (ClusterRoles, CRDs, workloads) are not this rule's: their duplicates break other
    things than network policy, which other tools check.
    """
    if isinstance(obj, NetworkPolicy):
        return obj.node.to_python()
    if obj.kind == "Namespace":
        metadata = obj.node.get_map("metadata")
        labels = metadata.get("labels") if metadata is not None else None
        return labels.to_python() if labels is not None else None
    return None


class DuplicatePolicy(Rule):
    id = "NP704"
    name = "duplicate-policy"
    summary = (
        "Two NetworkPolicies (or Namespaces) with the same namespace and name applied together: "
        "one silently replaces the other."
    )
    level = Level.ERROR
    tags = ("hygiene",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        first_of: dict[tuple[str, str, str, str], tuple[KubeObject, object]] = {}
        for obj in ctx.inventory.objects:
            if not isinstance(obj, NetworkPolicy) and obj.kind != "Namespace":
                continue
            if obj.partial:
                continue  # a patch of an object, not a second definition of it
            identity = _identity(obj)
            if identity is None:
                continue
            # The inventory is one world's: what is applied together. Variants that are never
            # applied together (overlays, environments, alternative bundles of one folder)
            # are separate units in separate worlds, so they never meet here.
            content = _compared(obj)
            first, first_content = first_of.setdefault(identity, (obj, content))
            if first is obj or first_content == content:
                # An identical copy replaces the object with itself.
                continue
            where = "in this file" if first.path == obj.path else f"in {shown(first.path)}"
            where = f"{where}, line {first.span.line}"
            if ctx.inventory.unit_of(obj).kind != PLAIN:
                # A line of the rendered stream; the related location names its source file.
                where = "earlier in the same rendered output"
            what = "policy" if obj.kind == "NetworkPolicy" else "Namespace with other labels"
            # An unnamed namespace is a folder, not a name to write before the object's.
            named = obj.namespace and not is_unnamed(obj.namespace)
            ref = f"{shown(obj.namespace)}/{shown(obj.name)}" if named else shown(obj.name)
            message = (
                f"{obj.kind} {ref} is defined again as another {what}: the later one wins; rename or merge"
            )
            detail = (
                f"It is defined first {where}. "
                "Applying both, the API server creates the first and then replaces it with the second: "
                "the first one's "
                + ("rules" if obj.kind == "NetworkPolicy" else "labels, which namespace selectors match,")
                + " are lost without a warning. "
                + (
                    "Rename one of them, or merge their rules into one policy."
                    if obj.kind == "NetworkPolicy"
                    else "Keep one definition with the labels both should have."
                )
            )
            name_node = obj.node.get_map("metadata")
            node = name_node.get("name") if isinstance(name_node, MapNode) else None
            yield self.finding(
                obj,
                node,
                message,
                related=[Related(first.path, first.span, f"the first {obj.kind} {shown(obj.name)}")],
                detail=detail,
            )


RULES = (
    RulesIgnoredByPolicyTypes,
    EgressRulesImplyIngressIsolation,
    MissingNamespace,
    DuplicatePolicy,
)
