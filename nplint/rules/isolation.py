"""NP1xx: isolation and coverage — is every pod behind a default-deny?"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from typing import ClassVar

from nplint.cluster.platform_owned import platform_namespace
from nplint.engine.kind_denies import kind_default_denies
from nplint.engine.layers import admin_support, layer_default_denies
from nplint.findings import Edit, Finding, Fix, Level, Related, listed, listed_in_full, namespace_text
from nplint.model import Direction, Inventory, KubeObject, NetworkPolicy, Workload
from nplint.rules.base import Rule, RuleContext
from nplint.rules.intent import says_allow_all
from nplint.units import is_unnamed
from nplint.untrusted import quoted, shown

_DEFAULT_DENY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-{direction}
  namespace: {namespace}
spec:
  podSelector: {{}}
  policyTypes: [{policy_type}]"""


def isolates_whole_namespace(policy: NetworkPolicy, direction: Direction) -> bool:
    """A policy whose empty podSelector puts every pod of its namespace, now and future, under isolation."""
    return policy.pod_selector.is_empty and policy.isolates(direction)


class _MissingDefaultDeny(Rule):
    direction: ClassVar[Direction]
    level = Level.WARNING
    tags = ("isolation",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        workloads_by_ns: dict[str, list[Workload]] = defaultdict(list)
        for workload in inventory.workloads:
            if not workload.host_network:
                workloads_by_ns[workload.namespace].append(workload)
        covered = {p.namespace for p in inventory.policies if isolates_whole_namespace(p, self.direction)}
        profile = ctx.cluster.profile
        if profile.enforces and profile.name == "cilium" and profile.switches.cilium_mode == "always":
            return  # Cilium's `always` mode puts every pod in default deny both ways (policy-kinds §8.9, K40)
        for namespace in sorted(workloads_by_ns):
            if namespace in covered:
                continue
            # An AdminNetworkPolicy, BANP or ClusterNetworkPolicy deny covering the namespace counts
            # where the CNI enforces it; where it does not, the finding says so.
            layered = layer_default_denies(
                inventory.admin_policies,
                inventory.namespace_labels(namespace),
                self.direction,
                profile.name,
                profile.title,
                profile.enforces,
                support=admin_support(profile),
            )
            if layered and layered[0].not_enforced is None:
                continue
            # So does a Calico or Cilium default deny covering the namespace, where the CNI runs it.
            by_kind = kind_default_denies(
                inventory.calico_policies,
                inventory.calico_tiers,
                inventory.cilium_policies,
                namespace,
                inventory.namespace_labels(namespace),
                self.direction,
                profile.name,
                profile.title,
                profile.enforces,
            )
            if by_kind and by_kind[0].not_enforced is None:
                continue
            if platform_namespace(namespace, inventory.namespace_defined(namespace)):
                yield from self._platform_owned(inventory, namespace, workloads_by_ns[namespace])
                continue
            workloads = sorted(workloads_by_ns[namespace], key=lambda w: (w.path, w.span))
            names = [f"{w.kind} {shown(w.name)}" for w in workloads]
            # The headline names the workloads (kinds are in the detail), to stay one short line.
            short_names = [shown(w.name, _NAME_IN_HEADLINE) for w in workloads]
            direction = self.direction.lower
            fix = _DEFAULT_DENY.format(
                direction=direction, namespace=namespace, policy_type=self.direction.value
            )
            if is_unnamed(namespace):
                # Applied with the folder's other namespace-less objects, it lands where they do.
                fix = fix.replace(f"\n  namespace: {namespace}", "")
            consequence = (
                "accepts any connection" if self.direction is Direction.INGRESS else "may connect anywhere"
            )
            message = (
                f"{namespace_text(namespace)} ({listed(short_names)}) has no default-deny {direction} "
                "policy: add one with `podSelector: {}`"
            )
            detail = (
                f"{namespace_text(namespace)[:1].upper()}{namespace_text(namespace)[1:]} has workloads "
                f"({listed_in_full(names)}) but no NetworkPolicy that selects all of its pods for "
                f"{direction}, so every pod {consequence} until some policy selects it. Add a default-deny "
                f"policy with `podSelector: {{}}` and `policyTypes: [{self.direction.value}]`."
            )
            for ignored in layered:
                detail += f" {ignored.describe()} would deny it all, but {ignored.not_enforced}."
            for unenforced in by_kind:
                detail += f" {unenforced.describe()}, but {unenforced.not_enforced}."
            ns_object = inventory.namespaces.get(namespace)
            home: KubeObject = ns_object if ns_object is not None and ns_object.defined else workloads[0]
            fixes = self._default_deny_fix(inventory, namespace, home)
            if ns_object is not None and ns_object.defined:
                yield self.finding(
                    ns_object,
                    None,
                    message,
                    related=[
                        Related(
                            w.path,
                            w.span,
                            f"{w.ref}",
                        )
                        for w in workloads[:3]
                    ],
                    fix=fix,
                    detail=detail,
                    fixes=fixes,
                )
            else:
                first = workloads[0]
                yield self.finding(first, None, message, fix=fix, detail=detail, fixes=fixes)

    def _default_deny_fix(self, inventory: Inventory, namespace: str, home: KubeObject) -> tuple[Fix, ...]:
        """The default-deny as a new document of the file that holds the namespace's policies.

        Else of the file the finding is in (the Namespace's, or the first workload's).
        Unsafe: it refuses every connection no other policy allows.
        """
        direction = self.direction
        name = f"default-deny-{direction.lower}"
        policies = sorted(inventory.policies_in(namespace), key=lambda p: (p.path, p.span))
        if any(p.name == name for p in policies):
            return ()  # the name is taken: the author chooses another
        path = policies[0].path if policies else home.path
        if not path or path.endswith(".json"):
            return ()
        metadata = {"name": name} if is_unnamed(namespace) else {"name": name, "namespace": namespace}
        deny = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata,
            "spec": {"podSelector": {}, "policyTypes": [direction.value]},
        }
        description = f"add a default-deny {direction.lower} NetworkPolicy for the namespace"
        return (Fix(description, False, (Edit.make("new-document", (), None, deny),), path, 0),)

    def _platform_owned(
        self, inventory: Inventory, namespace: str, workloads: list[Workload]
    ) -> Iterator[Finding]:
        """The repository's pods in a namespace the platform owns: never a default-deny there.

        A ``podSelector: {}`` default-deny in kube-system or an ``openshift-*``
        namespace would isolate the platform's own pods too (the DNS pods, the
        network plugin, the provider's add-ons), which the repository does not
        show and whose traffic it does not list. What can be asked is a policy for
        the repository's own pods, by their labels; it is a note, not a demand.
        """
        direction = self.direction
        isolating = [p for p in inventory.policies_in(namespace) if p.isolates(direction)]
        left_open = sorted(
            (w for w in workloads if not any(p.pod_selector.matches(w.pod_labels) for p in isolating)),
            key=lambda w: (w.path, w.span),
        )
        if not left_open:
            return
        first = left_open[0]
        # One workload by name keeps the headline one short line; the rest are counted.
        names = f"{first.kind} {shown(first.name, _PLATFORM_NAME_LIMIT)}"
        more = f" and {len(left_open) - 1} more" if len(left_open) > 1 else ""
        message = (
            f"{namespace_text(namespace)} is the platform's: isolate the {direction.lower} of "
            f"{names}{more} by its labels"
        )
        detail = (
            "Not with `podSelector: {}`: a default-deny selecting every pod of this namespace would also "
            "isolate the platform's own "
            "pods there (the cluster DNS, the network plugin, the provider's add-ons), which the repository "
            "does not show. Isolate the repository's pods by their labels instead, and list what they need."
        )
        fix = None
        if first.pod_labels:
            pairs = sorted(first.pod_labels.items())
            labels = ", ".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in pairs)
            fix = (
                "apiVersion: networking.k8s.io/v1\n"
                "kind: NetworkPolicy\n"
                "metadata:\n"
                f"  name: {json.dumps(f'{first.name}-{direction.lower}')}\n"
                f"  namespace: {namespace}\n"
                "spec:\n"
                f"  podSelector: {{matchLabels: {{{labels}}}}}\n"
                f"  policyTypes: [{direction.value}]"
            )
        finding = self.finding(first, None, message, fix=fix, detail=detail)
        yield replace(finding, level=Level.NOTE) if self.effective_level.rank > Level.NOTE.rank else finding


#: Characters of a workload's name in the platform-namespace headline.
_PLATFORM_NAME_LIMIT = 40
#: Characters of a workload's or policy's name in a headline (the detail gives it whole).
_NAME_IN_HEADLINE = 40


class MissingDefaultDenyIngress(_MissingDefaultDeny):
    id = "NP101"
    name = "missing-default-deny-ingress"
    summary = "A namespace with workloads has no policy that isolates all of its pods for ingress."
    direction = Direction.INGRESS


class MissingDefaultDenyEgress(_MissingDefaultDeny):
    id = "NP102"
    name = "missing-default-deny-egress"
    summary = "A namespace with workloads has no policy that isolates all of its pods for egress."
    direction = Direction.EGRESS


class AllowAllNegatesDefaultDeny(Rule):
    id = "NP105"
    name = "allow-all-negates-default-deny"
    summary = "A rule with no peers and no ports on a policy selecting every pod cancels the default-deny."
    level = Level.WARNING
    about_form = True
    tags = ("isolation", "security")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            if not policy.pod_selector.is_empty:
                continue
            for direction in Direction:
                if not policy.isolates(direction):
                    continue
                for rule in policy.rules(direction):
                    if rule.peers is not None or rule.ports is not None:
                        continue
                    deny = [
                        p
                        for p in ctx.inventory.policies_in(policy.namespace)
                        if p is not policy
                        and isolates_whole_namespace(p, direction)
                        and not p.rules(direction)
                    ]
                    if not deny and says_allow_all(policy.name):
                        # Named for allowing everything and cancelling nothing: meant as written.
                        continue
                    cancels = (
                        f"cancels the default-deny of NetworkPolicy {deny[0].ref.qualified}"
                        if deny
                        else "makes the isolation it declares meaningless"
                    )
                    short = (
                        f"cancelling default-deny {shown(deny[0].ref.name, _NAME_IN_HEADLINE)}"
                        if deny
                        else "voiding the isolation it declares"
                    )
                    yield self.finding(
                        policy,
                        rule.node,
                        f"this {direction.lower} rule allows everything, {short}: "
                        "list the peers and ports needed",
                        detail=(
                            f"This {direction.lower} rule has no {direction.peers_key} and no ports, so it "
                            f"allows all {direction.lower} traffic for every pod of namespace "
                            f"{quoted(policy.namespace)}, and {cancels}: policies only add allows, nothing "
                            "can narrow it again. List the peers and ports this namespace really needs, or "
                            "delete the policy if allowing everything is intended."
                        ),
                        related=[
                            Related(
                                p.path,
                                p.span,
                                f"the default-deny {p.ref.qualified}",
                            )
                            for p in deny[:1]
                        ],
                    )


RULES = (MissingDefaultDenyIngress, MissingDefaultDenyEgress, AllowAllNegatesDefaultDeny)
