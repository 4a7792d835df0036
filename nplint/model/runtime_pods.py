"""Evidence of pods the repository does not create: an operator or controller makes them at run time.

A selector that matches none of the repository's workloads is a typo only when
the repository shows every pod its namespace will have. Operators (Longhorn's
instance managers, a database operator's StatefulSets, a CI runner's job pods)
create pods no manifest describes. The repository betrays them in four ways,
each read here from the inventory alone:

- a Service whose selector matches none of the repository's workloads, while the
  selector in question matches the Service's labels: someone runs those pods;
- a label key in a project's own domain (``longhorn.io/component``) whose domain
  is, or is below, the API group of a CustomResourceDefinition or custom resource
  in the tree: the project labels the pods it makes;
- ``app.kubernetes.io/managed-by`` required with a value that is not a deploy
  tool and that no workload of the repository carries: that manager makes them;
- a workload whose ServiceAccount is bound to a Role or ClusterRole that may
  create pods or pod controllers in the namespace: a controller makes pods there.
  This is the weakest sign, so it excuses only selectors that do not look like a
  typo of a workload's labels (no workload carries every key of the selector).

The rules that ask (NP104, NP206) list these on their pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field

from nplint.loading.nodes import MapNode, ScalarNode, SeqNode
from nplint.model.inventory import Inventory, string_map
from nplint.model.objects import KubeObject, Workload
from nplint.model.selectors import LabelSelector, Operator
from nplint.records import record

MANAGED_BY = "app.kubernetes.io/managed-by"

#: Tools that apply manifests the repository holds: pods they manage are in the tree.
DEPLOY_TOOLS = frozenset(
    (
        "helm",
        "tiller",
        "kustomize",
        "kubectl",
        "argocd",
        "argo-cd",
        "flux",
        "fluxcd",
        "kapp",
        "skaffold",
        "pulumi",
        "terraform",
        "timoni",
        "carvel",
        "jsonnet",
        "tanka",
        "kpt",
        "config-sync",
        "configsync",
    )
)

#: Label domains Kubernetes keeps for itself: not a project's own.
RESERVED_DOMAINS = ("kubernetes.io", "k8s.io")

#: The API groups whose resources make pods, and those resources (``*``: any).
POD_MAKING = {
    "": frozenset(("pods", "*")),
    "apps": frozenset(("deployments", "statefulsets", "daemonsets", "replicasets", "*")),
    "batch": frozenset(("jobs", "cronjobs", "*")),
    "*": frozenset(
        ("pods", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs", "*")
    ),
}
CREATING_VERBS = frozenset(("create", "*"))

#: Every namespace, for a ClusterRoleBinding.
ALL_NAMESPACES = "*"


@record(frozen=True, slots=True)
class RuntimePods:
    """What the repository says about pods it does not create, indexed once per inventory."""

    #: API groups of the CRDs and custom resources in the tree.
    groups: frozenset[str]
    #: Per namespace: selectors of Services that match no workload of the repository.
    orphan_services: Mapping[str, tuple[Mapping[str, str], ...]]
    #: ``app.kubernetes.io/managed-by`` values some workload of the repository carries.
    managed_by: frozenset[str]
    #: Namespaces where a controller of the repository may create pods (``*``: all).
    controlled: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, inventory: Inventory) -> RuntimePods:
        return inventory.memo("runtime-pods", lambda: _build(inventory))

    def reason(self, namespace: str, selector: LabelSelector, workloads: Sequence[Workload]) -> str | None:
        """Why pods matching ``selector`` in ``namespace`` may exist outside the repository, or None."""
        if selector.is_empty:
            return None
        for labels in self.orphan_services.get(namespace, ()):
            if selector.matches(labels) or _within(labels, selector):
                return "a Service selects such pods and no workload of the repository makes them"
        for key in selector.keys:
            group = self._group_of(key)
            if group is not None:
                return (
                    f"its label {key} is in the domain of API group {group}, whose operator labels its pods"
                )
        for value in _required(selector, MANAGED_BY):
            if value.lower() not in DEPLOY_TOOLS and value not in self.managed_by:
                return f"its pods are managed by {value}, which the repository does not deploy as pods"
        if (namespace in self.controlled or ALL_NAMESPACES in self.controlled) and not any(
            all(key in w.pod_labels for key in selector.keys) for w in workloads
        ):
            return "a controller of the repository may create pods in the namespace"
        return None

    def _group_of(self, key: str) -> str | None:
        domain, slash, _ = key.rpartition("/")
        if not slash or not domain or _reserved(domain):
            return None
        for group in sorted(self.groups):
            if domain == group or domain.endswith("." + group):
                return group
        return None


def _reserved(domain: str) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS)


def _within(labels: Mapping[str, str], selector: LabelSelector) -> bool:
    """Whether every label the Service selects is one the selector requires: the same pods, narrowed."""
    required = dict(selector.match_labels)
    return bool(labels) and all(required.get(key) == value for key, value in labels.items())


def _required(selector: LabelSelector, key: str) -> Iterable[str]:
    for label, value in selector.match_labels:
        if label == key:
            yield value
    for requirement in selector.expressions:
        if requirement.key == key and requirement.operator is Operator.IN:
            yield from sorted(requirement.values)


def _group(api_version: str | None) -> str | None:
    if not api_version or "/" not in api_version:
        return None
    group = api_version.split("/", 1)[0]
    return group if "." in group else None


def _build(inventory: Inventory) -> RuntimePods:
    groups: set[str] = set()
    for obj in inventory.objects:
        if obj.kind == "CustomResourceDefinition":
            spec = obj.node.get_map("spec")
            group = spec.get_str("group") if spec is not None else None
            if group:
                groups.add(group)
        elif (found := _group(obj.node.get_str("apiVersion"))) is not None and not _reserved(found):
            groups.add(found)
    orphan: dict[str, list[Mapping[str, str]]] = {}
    for service in inventory.services:
        if not service.selector:
            continue
        selector = LabelSelector(tuple(sorted(service.selector.items())))
        if not any(selector.matches(w.pod_labels) for w in inventory.workloads_in(service.namespace)):
            orphan.setdefault(service.namespace, []).append(service.selector)
    managed_by = frozenset(
        w.pod_labels[MANAGED_BY] for w in inventory.workloads if MANAGED_BY in w.pod_labels
    )
    return RuntimePods(
        groups=frozenset(groups),
        orphan_services={ns: tuple(found) for ns, found in orphan.items()},
        managed_by=managed_by,
        controlled=_controlled(inventory),
    )


def custom_resource_namespace(obj: KubeObject, inventory: Inventory) -> str | None:
    """Where a custom resource written without a namespace lands; None for anything else.

    A custom resource is an object of a dotted API group outside Kubernetes' own
    (``longhorn.io/v1beta2``, ``monitoring.coreos.com/v1``). One whose kind a
    CustomResourceDefinition in the tree declares cluster-scoped lands nowhere.
    """
    group = _group(obj.node.get_str("apiVersion"))
    if obj.namespace or group is None or _reserved(group):
        return None
    scopes = inventory.memo("custom-resource-scopes", lambda: _scopes(inventory))
    if scopes.get((group, obj.kind)) == "Cluster":
        return None
    return _namespace_of(obj, inventory)


def _scopes(inventory: Inventory) -> dict[tuple[str, str], str]:
    """The scope each CustomResourceDefinition in the tree declares, by group and kind."""
    scopes: dict[tuple[str, str], str] = {}
    for obj in inventory.objects:
        spec = obj.node.get_map("spec") if obj.kind == "CustomResourceDefinition" else None
        names = spec.get_map("names") if spec is not None else None
        if spec is not None and names is not None:
            scopes[(spec.get_str("group") or "", names.get_str("kind") or "")] = spec.get_str("scope") or ""
    return scopes


def _namespace_of(obj: KubeObject, inventory: Inventory) -> str:
    """Where a namespaced object lands: its own namespace, else its unit's."""
    return obj.namespace or inventory.unit_of(obj).namespace_for_unnamed(inventory.default_namespace)


def _strings(node: object) -> set[str]:
    if not isinstance(node, SeqNode):
        return set()
    return {"" if item.value is None else item.text for item in node if isinstance(item, ScalarNode)}


def _makes_pods(role: KubeObject) -> bool:
    for rule in role.node.get_seq("rules") or ():
        if not isinstance(rule, MapNode):
            continue
        if not _strings(rule.get("verbs")) & CREATING_VERBS:
            continue
        resources = _strings(rule.get("resources"))
        # A rule grants every listed resource in every listed group: pods only in the core group.
        if any(resources & POD_MAKING.get(group, frozenset()) for group in _strings(rule.get("apiGroups"))):
            return True
    return False


def _controlled(inventory: Inventory) -> frozenset[str]:
    """The namespaces where a workload of the repository may create pods, through its RBAC."""
    roles: dict[tuple[str, str], KubeObject] = {}
    for obj in inventory.objects:
        if obj.kind == "ClusterRole":
            roles[("ClusterRole", obj.name)] = obj
        elif obj.kind == "Role":
            roles[(_namespace_of(obj, inventory), obj.name)] = obj
    if not roles:
        return frozenset()
    accounts = {(w.namespace, w.service_account) for w in inventory.workloads}
    found: set[str] = set()
    for binding in inventory.objects:
        if binding.kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        where = ALL_NAMESPACES if binding.kind == "ClusterRoleBinding" else _namespace_of(binding, inventory)
        ref = string_map(binding.node.get("roleRef"))
        role_kind, role_name = ref.get("kind"), ref.get("name", "")
        role = roles.get(("ClusterRole", role_name) if role_kind == "ClusterRole" else (where, role_name))
        if role is None or not _makes_pods(role):
            continue
        for subject in binding.node.get_seq("subjects") or ():
            if not isinstance(subject, MapNode) or subject.get_str("kind") != "ServiceAccount":
                continue
            home = subject.get_str("namespace") or (where if where != ALL_NAMESPACES else "")
            if (home, subject.get_str("name") or "") in accounts:
                found.add(where)
    return frozenset(found)
