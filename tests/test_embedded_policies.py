"""Policies that reach the cluster through another object or a folder: Kyverno generate rules, Config Sync."""

from __future__ import annotations

from pathlib import Path

from helpers import lint_paths
from nplint.loading import iter_manifests, load_text
from nplint.units.hierarchy import place_hierarchical


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


GENERATE = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: add-networkpolicy
spec:
  rules:
  - name: default-deny
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      name: default-deny
      namespace: "{{request.object.metadata.name}}"
      data:
        spec:
          podSelector: {}
          policyTypes: [Ingress, Egress]
  - name: allow-dns
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      name: allow-dns
      namespace: "{{request.object.metadata.name}}"
      data:
        metadata:
          labels: {owner: platform}
        spec:
          podSelector: {}
          policyTypes: [Egress]
          egress:
          - ports:
            - {protocol: UDP, port: 53}
            - {protocol: TCP, port: 53}
          - ports:
            - port: 70000
  - name: clone-secret
    generate:
      apiVersion: v1
      kind: Secret
      name: pull
      namespace: "{{request.object.metadata.name}}"
      clone: {namespace: default, name: pull}
"""


def test_generate_rules_become_policies() -> None:
    manifests = list(iter_manifests(load_text("kyverno.yaml", GENERATE)))
    assert [m.kind for m in manifests] == ["ClusterPolicy", "NetworkPolicy", "NetworkPolicy"]
    deny, dns = manifests[1], manifests[2]
    metadata = dns.node.get_map("metadata")
    assert metadata is not None
    assert metadata.get_str("name") == "allow-dns"
    assert metadata.get_str("namespace") == "{{request.object.metadata.name}}/"
    assert metadata.get_map("labels") is not None
    # Nodes of the policy file: positions and paths inside the ClusterPolicy.
    spec = deny.node.get_map("spec")
    assert spec is not None
    assert spec.span.line == 19
    assert spec.path == "spec.rules[0].generate.data.spec"
    assert dns.document_index == 0


def test_generated_policies_are_linted_where_they_are_written(tmp_path: Path) -> None:
    _write(tmp_path, {"kyverno.yaml": GENERATE})
    result = lint_paths(["."], root=tmp_path, select=["NP001", "NP003", "NP703", "NP704"])
    # The invalid port is the API server's to refuse in each namespace; the variable is not judged.
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == [("NP003", "kyverno.yaml", 42)]


def test_generated_namespace_is_every_namespace(tmp_path: Path) -> None:
    _write(tmp_path, {"kyverno.yaml": GENERATE})
    result = lint_paths(["."], root=tmp_path)
    policies = result.inventory.policies
    assert [(p.name, p.namespace) for p in policies] == [
        ("default-deny", "{{request.object.metadata.name}}/"),
        ("allow-dns", "{{request.object.metadata.name}}/"),
    ]
    assert all(p.namespace_explicit for p in policies)


def test_namespaced_policy_generates_into_its_own_namespace() -> None:
    text = (
        "apiVersion: kyverno.io/v1\nkind: Policy\nmetadata: {name: p, namespace: shop}\nspec:\n  rules:\n"
        "  - name: r\n    generate:\n      kind: NetworkPolicy\n      apiVersion: networking.k8s.io/v1\n"
        "      name: deny\n      data: {spec: {podSelector: {}}}\n"
    )
    made = list(iter_manifests(load_text("p.yaml", text)))[1]
    metadata = made.node.get_map("metadata")
    assert metadata is not None and metadata.get_str("namespace") == "shop"


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example/web:1
        ports: [{containerPort: 8080}]
"""
DENY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
REPO = "apiVersion: configmanagement.gke.io/v1\nkind: Repo\nmetadata: {name: repo}\nspec: {version: 1.0.0}\n"


def _config_sync(root: Path) -> None:
    _write(
        root,
        {
            "system/repo.yaml": REPO,
            "cluster/reader.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
            "metadata: {name: reader}\nrules: []\n",
            "namespaces/teams/default-deny.yaml": DENY,
            "namespaces/teams/shop/namespace.yaml": NAMESPACE,
            "namespaces/teams/shop/web.yaml": DEPLOYMENT,
            # A leaf folder without its Namespace object is still a namespace folder.
            "namespaces/teams/billing/web.yaml": DEPLOYMENT,
        },
    )


def test_config_sync_folders_give_namespaces(tmp_path: Path) -> None:
    _config_sync(tmp_path)
    result = lint_paths(["."], root=tmp_path, extra={"cni": "calico"})
    placed = sorted((o.kind, o.namespace, o.name, o.path) for o in result.inventory.objects if o.namespace)
    assert placed == [
        ("Deployment", "billing", "web", "namespaces/teams/billing/web.yaml"),
        ("Deployment", "shop", "web", "namespaces/teams/shop/web.yaml"),
        ("NetworkPolicy", "billing", "default-deny", "namespaces/teams/default-deny.yaml"),
        ("NetworkPolicy", "shop", "default-deny", "namespaces/teams/default-deny.yaml"),
    ]
    # Every namespace inherits the default deny: no NP101/NP102, and no NP703 on it.
    assert {f.rule_id for f in result.findings}.isdisjoint({"NP101", "NP102", "NP703", "NP704"})


def test_not_hierarchical_without_the_repo_object(tmp_path: Path) -> None:
    _config_sync(tmp_path)
    (tmp_path / "system" / "repo.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: repo, namespace: x}\n", encoding="utf-8"
    )
    result = lint_paths(["."], root=tmp_path, select=["NP703"])
    assert [(f.rule_id, f.path) for f in result.findings] == [("NP703", "namespaces/teams/default-deny.yaml")]


def test_placing_keeps_positions_and_the_original_files(tmp_path: Path) -> None:
    files = [
        load_text("system/repo.yaml", REPO),
        load_text("namespaces/a/deny.yaml", DENY),
        load_text("namespaces/a/b/web.yaml", DEPLOYMENT),
        load_text("namespaces/a/c/web.yaml", DEPLOYMENT),
    ]
    placed = place_hierarchical(files)
    deny = placed[1]
    assert [d.index for d in deny.documents] == [0, 0]
    namespaces = []
    for document in deny.documents:
        assert document.root is not None and not isinstance(document.root, list)
        metadata = document.root.get_map("metadata")  # type: ignore[union-attr]
        assert metadata is not None
        namespace = metadata.get("namespace")
        assert namespace is not None and namespace.span.line == 3
        namespaces.append(metadata.get_str("namespace"))
    assert namespaces == ["b", "c"]
    # The loaded files themselves are left as read.
    original = files[1].documents[0].root
    assert original is not None and original.get_map("metadata").get("namespace") is None  # type: ignore[union-attr]


def test_generate_rule_without_api_version(tmp_path: Path) -> None:
    # Older Kyverno policies name only the kind; Kyverno finds its API.
    _write(
        tmp_path,
        {
            "deny.yaml": (
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: deny}\nspec:\n  rules:\n"
                "  - name: deny\n    generate:\n      kind: NetworkPolicy\n      name: deny\n"
                "      namespace: '{{request.object.metadata.name}}'\n"
                "      data: {spec: {podSelector: {}, policyTypes: [Ingress]}}\n"
            )
        },
    )
    result = lint_paths(["."], root=tmp_path, select=["NP002", "NP003", "NP004", "NP703"])
    assert result.findings == []
    [policy] = result.inventory.policies
    assert policy.node.get_str("apiVersion") == "networking.k8s.io/v1"
