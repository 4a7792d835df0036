"""Calico service accounts (policy-kinds §7.4, §7.5): a pod's account is its
``spec.serviceAccountName`` (``default`` when absent); ``serviceAccountSelector`` and
``serviceAccounts: {names, selector}`` match it by name and by the ServiceAccount object's
labels (plus ``projectcalico.org/name``); without the object only the name is known, and the
verdict's notes say so."""

from __future__ import annotations

import pytest

from nplint.cluster.profiles import engine_profile
from nplint.engine.engine import Engine
from nplint.engine.verdict import explain
from nplint.loading import iter_manifests, load_text
from nplint.model import Inventory, build_inventory

PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  serviceAccountName: web-sa
  containers: [{name: w, image: w, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec:
  containers: [{name: a, image: a, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: billing, namespace: shop, labels: {app: billing}}
spec:
  serviceAccountName: billing
  containers: [{name: b, image: b}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other, labels: {app: client}}
spec:
  serviceAccountName: billing
  containers: [{name: c, image: c}]
"""

ACCOUNTS = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: web-sa, namespace: shop, labels: {tier: front}}
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: billing, namespace: shop, labels: {pci: "true"}}
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: billing, namespace: other, labels: {pci: "true"}}
"""

# A default deny for the front-tier accounts' pods (the policy's serviceAccountSelector).
DENY_FRONT = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: front-deny}
spec:
  selector: all()
  serviceAccountSelector: tier == 'front'
  types: [Ingress]
"""

# Only pods running as `billing` reach shop's pods (a rule's `serviceAccounts.names`).
FROM_BILLING = """\
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: from-billing, namespace: shop}
spec:
  selector: all()
  types: [Ingress]
  ingress:
  - action: Allow
    source:
      serviceAccounts: {names: [billing]}
"""

# Pods of any account labelled pci reach shop's pods (a rule's `serviceAccounts.selector`).
FROM_PCI = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: from-pci}
spec:
  selector: projectcalico.org/namespace == 'shop'
  types: [Ingress]
  ingress:
  - action: Allow
    source:
      serviceAccounts: {selector: pci == 'true'}
"""

# The account's own name, through `projectcalico.org/name`.
FROM_BILLING_BY_NAME = FROM_PCI.replace("pci == 'true'", "projectcalico.org/name == 'billing'")


def inventory(*texts: str) -> Inventory:
    loaded = load_text("all.yaml", "---\n".join(texts))
    return build_inventory(list(iter_manifests(loaded)))


def ask(inv: Inventory, source: str, destination: str, cni: str = "calico") -> tuple[bool, list[str]]:
    engine = Engine(inv, engine_profile(cni))
    topology = engine.topology
    found = explain(engine, topology.resolve(source), topology.resolve(destination), "TCP", 8080)
    return found.allowed, found.reasons()


def test_a_policy_service_account_selector_selects_by_the_accounts_labels() -> None:
    inv = inventory(PODS, ACCOUNTS, DENY_FRONT)
    allowed, reasons = ask(inv, "shop/api", "shop/web")
    assert not allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: no rule of Calico tier default matches TCP 8080 (the tier governs it "
        "through Calico GlobalNetworkPolicy front-deny (all.yaml:43)): its end-of-tier action Deny denies it"
    )
    # shop/api runs as `default`, whose labels are not front: not selected.
    assert ask(inv, "shop/web", "shop/api")[0]
    # Where Calico does not run, nothing is decided.
    assert ask(inv, "shop/api", "shop/web", cni="upstream")[0]


def test_rule_service_account_names_match_the_pods_account_in_the_policys_namespace() -> None:
    inv = inventory(PODS, ACCOUNTS, FROM_BILLING)
    allowed, reasons = ask(inv, "shop/billing", "shop/web")
    assert allowed
    assert reasons[1] == (
        "ingress of shop/web[Pod]: Calico NetworkPolicy shop/from-billing (all.yaml:43) (tier default, "
        "no order) ingress rule 0 (all.yaml:48): allows TCP 8080"
    )
    assert not ask(inv, "shop/api", "shop/web")[0]
    # The same account name in another namespace is another account: a namespaced policy's
    # `serviceAccounts` see its own namespace only ([CAL-CONV] getEndpointSelector).
    assert not ask(inv, "other/client", "shop/web")[0]


def test_rule_service_account_selector_matches_labels_in_every_namespace_of_a_global_policy() -> None:
    inv = inventory(PODS, ACCOUNTS, FROM_PCI)
    assert ask(inv, "shop/billing", "shop/web")[0]
    assert ask(inv, "other/client", "shop/web")[0]
    allowed, reasons = ask(inv, "shop/api", "shop/web")
    assert not allowed
    assert not any("ServiceAccount" in reason for reason in reasons)


def test_without_the_service_account_object_its_name_alone_is_seen_and_noted() -> None:
    inv = inventory(PODS, FROM_PCI)
    allowed, reasons = ask(inv, "shop/billing", "shop/web")
    assert not allowed
    assert reasons[-2:] == [
        "ServiceAccount shop/billing is not in the repository: Calico's service-account selectors saw its "
        "name alone (projectcalico.org/name), as if it carried no labels",
        "ServiceAccount shop/web-sa is not in the repository: Calico's service-account selectors saw its "
        "name alone (projectcalico.org/name), as if it carried no labels",
    ]
    # A selector on the account's name needs no object.
    by_name = inventory(PODS, FROM_BILLING_BY_NAME)
    assert ask(by_name, "shop/billing", "shop/web")[0]
    assert ask(by_name, "other/client", "shop/web")[0]
    assert not ask(by_name, "shop/api", "shop/web")[0]


@pytest.mark.parametrize("policy", [FROM_BILLING, DENY_FRONT])
def test_names_alone_need_no_note(policy: str) -> None:
    reasons = ask(inventory(PODS, policy), "shop/api", "shop/web")[1]
    notes = [r for r in reasons if r.startswith("ServiceAccount")]
    # Only a selector over an account's labels depends on the object (web-sa's here; api's
    # `default` account is made by Kubernetes without labels).
    assert bool(notes) is (policy is DENY_FRONT)


def test_a_service_account_without_namespace_lands_with_its_unit() -> None:
    account = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web-sa, labels: {tier: front}}\n"
    inv = build_inventory(
        list(iter_manifests(load_text("all.yaml", "---\n".join((PODS, DENY_FRONT, account))))),
        default_namespace="shop",
    )
    assert inv.service_account_labels("shop", "web-sa") == {"tier": "front"}
    assert inv.service_account_labels("other", "web-sa") is None
    assert not ask(inv, "shop/api", "shop/web")[0]
