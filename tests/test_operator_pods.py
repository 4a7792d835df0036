"""Evidence of pods an operator or controller makes at run time (NP104, NP206)."""

from __future__ import annotations

import pytest

from nplint.loading import iter_manifests, load_text
from nplint.model import Inventory, LabelSelector, build_inventory
from nplint.model.runtime_pods import RuntimePods, custom_resource_namespace

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata: {labels: {app: api, tier: web, app.kubernetes.io/managed-by: Helm}}
    spec: {serviceAccountName: api, containers: [{name: api, image: api}]}
"""


def inventory(*documents: str) -> Inventory:
    text = "---\n".join((DEPLOYMENT, *documents))
    return build_inventory(iter_manifests(load_text("repo.yaml", text)))


def reason(inv: Inventory, labels: dict[str, str], namespace: str = "shop") -> str | None:
    selector = LabelSelector(tuple(sorted(labels.items())))
    return RuntimePods.of(inv).reason(namespace, selector, inv.workloads_in(namespace))


SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {selector: {cluster: orders, role: primary}}
"""


def test_service_without_workload() -> None:
    inv = inventory(SERVICE)
    assert reason(inv, {"cluster": "orders"}) is not None  # the Service's pods, fewer labels
    assert reason(inv, {"cluster": "orders", "role": "primary", "x": "y"}) is not None  # narrowed
    assert reason(inv, {"cluster": "billing"}) is None
    assert reason(inv, {"cluster": "orders"}, namespace="other") is None


def test_service_of_a_workload_is_no_evidence() -> None:
    served = SERVICE.replace("{cluster: orders, role: primary}", "{app: api}")
    assert reason(inventory(served), {"app": "api", "version": "v2"}) is None


@pytest.mark.parametrize(
    ("group", "key", "found"),
    [
        ("storage.example.io", "storage.example.io/component", True),
        ("storage.example.io", "engine.storage.example.io/component", True),
        ("storage.example.io", "example.io/component", False),  # a parent domain of the group
        ("storage.example.io", "other.io/component", False),
        ("storage.example.io", "component", False),
    ],
)
def test_label_domain_of_a_crd_group(group: str, key: str, found: bool) -> None:
    crd = f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: volumes.{group}}}
spec: {{group: {group}, scope: Namespaced, names: {{kind: Volume, plural: volumes}}}}
"""
    assert (reason(inventory(crd), {key: "x"}) is not None) is found


def test_label_domain_of_a_custom_resource() -> None:
    resource = "apiVersion: queue.example.org/v1\nkind: Broker\nmetadata: {name: events, namespace: infra}\n"
    assert reason(inventory(resource), {"queue.example.org/broker": "events"}) is not None


def test_kubernetes_domains_are_nobodys_own() -> None:
    resource = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: x}\n"
    assert reason(inventory(resource), {"gateway.networking.k8s.io/gateway-name": "gw"}) is None
    assert reason(inventory(resource), {"app.kubernetes.io/name": "gw"}) is None


@pytest.mark.parametrize(
    ("manager", "found"), [("queue-operator", True), ("Helm", False), ("kustomize", False), ("argocd", False)]
)
def test_managed_by(manager: str, found: bool) -> None:
    labels = {"app.kubernetes.io/managed-by": manager, "app.kubernetes.io/name": "broker"}
    assert (reason(inventory(), labels) is not None) is found


def test_managed_by_a_workload_of_the_repository() -> None:
    # The repository's own pods carry that manager: it is not someone else's.
    carried = DEPLOYMENT.replace("managed-by: Helm", "managed-by: in-house")
    inv = build_inventory(iter_manifests(load_text("repo.yaml", carried)))
    assert reason(inv, {"app.kubernetes.io/managed-by": "in-house", "app": "x"}) is None


def rbac(role_kind: str, binding_kind: str, verbs: str, resources: str = "[pods]", group: str = '""') -> str:
    namespace = "namespace: shop, " if role_kind == "Role" else ""
    binding_namespace = "namespace: shop, " if binding_kind == "RoleBinding" else ""
    return f"""\
apiVersion: rbac.authorization.k8s.io/v1
kind: {role_kind}
metadata: {{{namespace}name: maker}}
rules: [{{apiGroups: [{group}], resources: {resources}, verbs: {verbs}}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: {binding_kind}
metadata: {{{binding_namespace}name: maker}}
roleRef: {{kind: {role_kind}, name: maker}}
subjects: [{{kind: ServiceAccount, name: api, namespace: shop}}]
"""


@pytest.mark.parametrize(
    ("documents", "namespace", "found"),
    [
        (rbac("Role", "RoleBinding", "[create]"), "shop", True),
        (rbac("Role", "RoleBinding", "[create]"), "other", False),
        (rbac("ClusterRole", "ClusterRoleBinding", '["*"]'), "other", True),
        (rbac("ClusterRole", "RoleBinding", "[create]", "[statefulsets]", "apps"), "shop", True),
        (rbac("Role", "RoleBinding", "[get, list, watch]"), "shop", False),
        (rbac("Role", "RoleBinding", "[create]", "[configmaps]"), "shop", False),
        (rbac("Role", "RoleBinding", "[create]", group="apps"), "shop", False),
    ],
)
def test_controller_rbac(documents: str, namespace: str, found: bool) -> None:
    assert (reason(inventory(documents), {"job": "build"}, namespace) is not None) is found


def test_controller_rbac_does_not_excuse_a_typo() -> None:
    # Every key of the selector is on a workload, with another value: a typo.
    inv = inventory(rbac("Role", "RoleBinding", "[create]"))
    assert reason(inv, {"app": "apii"}) is None
    assert reason(inv, {"app": "apii", "job": "build"}) is not None


def test_custom_resource_namespace() -> None:
    documents = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: issuers.pki.example.com}
spec: {group: pki.example.com, scope: Cluster, names: {kind: ClusterIssuer, plural: clusterissuers}}
---
apiVersion: pki.example.com/v1
kind: ClusterIssuer
metadata: {name: internal}
---
apiVersion: cache.example.com/v1
kind: CacheCluster
metadata: {name: sessions}
---
apiVersion: cache.example.com/v1
kind: CacheCluster
metadata: {name: carts, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
"""
    inv = inventory(documents)
    where = {obj.name: custom_resource_namespace(obj, inv) for obj in inv.objects}
    assert where["internal"] is None  # cluster-scoped by its CRD
    assert where["sessions"] == "default"  # lands where the file's other objects do
    assert where["carts"] is None  # names its namespace: counted as written
    assert where["reader"] is None  # not a custom resource
