"""NP006: an AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy the API server rejects.

The checks are the CRD schemas of ``policy.networking.k8s.io`` v1alpha1 and
v1alpha2 (policy-kinds §3.2, §4, §5.2), collected while the model is built
(:func:`nplint.model.admin.build_admin_policy`), so the rule and the engine read
one interpretation. A kind of the group at a version that does not serve it
(``AdminNetworkPolicy`` at v1alpha2, ``ClusterNetworkPolicy`` at v1alpha1) is
reported here too: the API server knows no such resource.
"""

from __future__ import annotations

from collections.abc import Iterator

from nplint.findings import Finding, Level
from nplint.loading.placeholders import placeholder_node
from nplint.model.admin import ADMIN_KINDS, GROUP_KINDS, V1ALPHA1, V1ALPHA2
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

_SERVED_AT = {kind: version for version, kind in ADMIN_KINDS}
_GROUP_VERSIONS = (V1ALPHA1, V1ALPHA2)


class InvalidAdminPolicy(Rule):
    id = "NP006"
    name = "invalid-admin-policy"
    summary = (
        "An AdminNetworkPolicy, BaselineAdminNetworkPolicy or ClusterNetworkPolicy the API server "
        "rejects (CRD schema)."
    )
    level = Level.ERROR
    tags = ("input", "schema")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.admin_policies:
            for node, message in policy.problems:
                if placeholder_node(node):
                    continue  # another tool writes the value the API server sees
                yield self.finding(
                    policy,
                    node,
                    message,
                    detail=(
                        f"The {policy.api_version} CRD schema rejects this {policy.kind}: the API server "
                        "stores nothing of it and no CNI enforces it. nplint's connectivity still "
                        "evaluates it as written."
                    ),
                )
        for obj in ctx.inventory.objects:
            if obj.kind not in GROUP_KINDS:
                continue
            api_version = obj.node.get_str("apiVersion")
            if api_version not in _GROUP_VERSIONS or api_version == _SERVED_AT[obj.kind]:
                continue
            served = _SERVED_AT[obj.kind]
            yield self.finding(
                obj,
                obj.node.get("apiVersion"),
                f"{obj.kind} is not served at {shown(api_version)}: write `apiVersion: {served}`",
                detail=(
                    "AdminNetworkPolicy and BaselineAdminNetworkPolicy exist only in v1alpha1, "
                    "ClusterNetworkPolicy only in v1alpha2; their fields differ (v1alpha2 spells "
                    "`Allow` as `Accept` and `ports` as `protocols`)."
                ),
            )


RULES = (InvalidAdminPolicy,)
