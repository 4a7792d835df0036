"""NP002/NP003: fields the NetworkPolicy API does not have, and values the API server refuses.

Both rules read the raw YAML nodes of each NetworkPolicy (the inventory is
lenient and would hide what is malformed). The field tables are the
``networking.k8s.io/v1`` types (networkpolicy-semantics §1.1–§1.3); the value
checks are the API server's validation (§1.6): the walk of a policy is here,
the judging of selectors, ipBlocks, ports and labels in :mod:`nplint.rules.schema_values`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import field

from nplint.findings import Edit, Finding, Fix, Level
from nplint.loading import Manifest, iter_manifests
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode, is_null
from nplint.loading.placeholders import placeholder_node
from nplint.model.inventory import NETWORK_POLICY_API_VERSIONS
from nplint.model.objects import NetworkPolicy
from nplint.records import record
from nplint.rules.base import Rule, RuleContext, in_document, yaml_path
from nplint.rules.schema_values import POLICY_TYPES, ValueChecker, suggest
from nplint.untrusted import quoted, shown


@record(frozen=True, slots=True, eq=False)
class Shape:
    """One kind of mapping of the NetworkPolicy API: its legal fields and what each holds."""

    #: How a message names it: "an ingress rule", "a LabelSelector".
    noun: str
    #: field → (shape of the mapping it holds, True when it holds a list of them); None for leaves.
    fields: Mapping[str, tuple[Shape | None, bool]] = field(default_factory=dict)


def _leaves(*names: str) -> dict[str, tuple[Shape | None, bool]]:
    return dict.fromkeys(names, (None, False))


REQUIREMENT = Shape("a matchExpressions entry", _leaves("key", "operator", "values"))
SELECTOR = Shape("a LabelSelector", {**_leaves("matchLabels"), "matchExpressions": (REQUIREMENT, True)})
IP_BLOCK = Shape("an ipBlock", _leaves("cidr", "except"))
PORT = Shape("a ports entry", _leaves("protocol", "port", "endPort"))
PEER = Shape(
    "a peer",
    {"podSelector": (SELECTOR, False), "namespaceSelector": (SELECTOR, False), "ipBlock": (IP_BLOCK, False)},
)
INGRESS_RULE = Shape("an ingress rule", {"from": (PEER, True), "ports": (PORT, True)})
EGRESS_RULE = Shape("an egress rule", {"to": (PEER, True), "ports": (PORT, True)})
SPEC = Shape(
    "the NetworkPolicy spec",
    {
        "podSelector": (SELECTOR, False),
        "ingress": (INGRESS_RULE, True),
        "egress": (EGRESS_RULE, True),
        **_leaves("policyTypes"),
    },
)
# labels and annotations hold label keys, not fields: NP003 judges them.
METADATA = Shape(
    "metadata",
    _leaves(
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "ownerReferences",
        "finalizers",
        "managedFields",
        "selfLink",
    ),
)
OBJECT = Shape(
    "a NetworkPolicy", {**_leaves("apiVersion", "kind"), "metadata": (METADATA, False), "spec": (SPEC, False)}
)

#: Where each field of the API belongs, for a field written at the wrong level.
HOMES: Mapping[str, str] = {
    "apiVersion": "at the top level of the object",
    "kind": "at the top level of the object",
    "metadata": "at the top level of the object",
    "spec": "at the top level of the object",
    **dict.fromkeys(METADATA.fields, "under metadata"),
    "podSelector": "under spec, or in a from/to peer",
    "ingress": "under spec",
    "egress": "under spec",
    "policyTypes": "under spec",
    "from": "in an ingress rule (spec.ingress[].from)",
    "to": "in an egress rule (spec.egress[].to)",
    "ports": "in an ingress or egress rule",
    "namespaceSelector": "in a from/to peer",
    "ipBlock": "in a from/to peer",
    "cidr": "inside ipBlock",
    "except": "inside ipBlock",
    "protocol": "in an entry of ports",
    "port": "in an entry of ports, as in `ports: [{port: 80}]`",
    "endPort": "in an entry of ports, next to port",
    "matchLabels": "inside podSelector or namespaceSelector",
    "matchExpressions": "inside podSelector or namespaceSelector",
    "key": "in an entry of matchExpressions",
    "operator": "in an entry of matchExpressions",
    "values": "in an entry of matchExpressions",
}


def is_network_policy(manifest: Manifest) -> bool:
    """The objects both rules judge: the same test the inventory uses to build a NetworkPolicy."""
    if manifest.kind != "NetworkPolicy":
        return False
    api_version = manifest.node.get_str("apiVersion")
    return api_version is None or api_version in NETWORK_POLICY_API_VERSIONS


def network_policy_manifests(ctx: RuleContext) -> Iterator[tuple[Manifest, NetworkPolicy | None]]:
    """Every NetworkPolicy manifest of the run, with its inventory object when there is one."""
    by_node = {id(policy.node): policy for policy in ctx.inventory.policies}
    for loaded in ctx.files:
        for manifest in iter_manifests(loaded):
            if is_network_policy(manifest):
                yield manifest, by_node.get(id(manifest.node))


def walk(shape: Shape, node: MapNode) -> Iterator[tuple[Shape, MapNode]]:
    """Each mapping under ``node`` that sits where the API expects one, with its shape.

    Values of the wrong type are skipped (NP003 reports them); the depth is
    bounded by the shapes, not by the YAML.
    """
    yield shape, node
    for key, value in node.items():
        child, is_list = shape.fields.get(key, (None, False))
        if child is None:
            continue
        if is_list and isinstance(value, SeqNode):
            for item in value:
                if isinstance(item, MapNode):
                    yield from walk(child, item)
        elif not is_list and isinstance(value, MapNode):
            yield from walk(child, value)


def where(shape: Shape, node: MapNode) -> str:
    """'an ingress rule (spec.ingress[0])', or just the noun at the top of the object."""
    path = node.path
    return f"{shape.noun} ({path})" if path and shape not in (OBJECT, METADATA, SPEC) else shape.noun


#: The label every namespace carries, as a selector of one namespace writes it.
NAME_LABEL = "{kubernetes.io/metadata.name: NAME}"


def unknown_field_advice(key: str, shape: Shape) -> str:
    """What to write instead of ``key``, a field ``shape`` does not have.

    The same field in another case first, then the mix-ups with a known story
    (``from`` in an egress rule), then close spellings among the fields of
    ``shape``, then where the field belongs when it is legal elsewhere (a
    mis-indent), and at last the list of legal fields.
    """
    legal = list(shape.fields)
    folded = {name.lower(): name for name in legal}
    if key.lower() in folded:
        return f"did you mean `{folded[key.lower()]}`? Field names are case-sensitive"
    if shape is EGRESS_RULE and key.lower() == "from":
        return "egress rules use `to`, not `from`, for the destinations"
    if shape is INGRESS_RULE and key.lower() == "to":
        return "ingress rules use `from`, not `to`, for the sources"
    if key == "status" and shape is OBJECT:
        return "NetworkPolicy has no status (withdrawn in Kubernetes 1.28): remove it"
    if key.lower() == "namespace" and shape is PEER:
        return "select namespaces by label: `namespaceSelector: {matchLabels: " + NAME_LABEL + "}`"
    close = difflib.get_close_matches(key, legal, n=1, cutoff=0.6) or [
        folded[match] for match in difflib.get_close_matches(key.lower(), list(folded), n=1, cutoff=0.6)
    ]
    homes = {name.lower(): name for name in HOMES}
    home = homes.get(key.lower())
    if close and home:
        return f"did you mean `{close[0]}`? (`{home}` on its own belongs {HOMES[home]})"
    if close:
        return f"did you mean `{close[0]}`?"
    if home:
        spelled = f"`{home}`" if home == key else f"`{home}` (written `{shown(key)}` here)"
        return f"{spelled} belongs {HOMES[home]}: check the indentation"
    return f"the fields of {shape.noun} are " + ", ".join(f"`{name}`" for name in legal)


def one_close_field(key: str, shape: Shape) -> str | None:
    """The one field of ``shape`` that ``key`` is a misspelling of, or None when it is not exactly one.

    The same field in another case, or a single close spelling. None when the key is
    legal elsewhere (a mis-indent may be meant, not a typo) or close to several fields.
    """
    legal = list(shape.fields)
    folded = {name.lower(): name for name in legal}
    if key.lower() in folded:
        return folded[key.lower()]
    if key.lower() in {name.lower() for name in HOMES}:
        return None
    close = set(difflib.get_close_matches(key, legal, n=2, cutoff=0.6))
    close |= {folded[m] for m in difflib.get_close_matches(key.lower(), list(folded), n=2, cutoff=0.6)}
    return close.pop() if len(close) == 1 else None


class PolicyChecker(ValueChecker):
    """NP003's walk of one NetworkPolicy, level by level, down to the values ValueChecker judges."""

    def object(self, root: MapNode) -> None:
        metadata_node = root.get("metadata")
        metadata = self.mapping(metadata_node)
        if metadata is not None:
            self.metadata(metadata)
        elif metadata_node is None or is_null(metadata_node):
            where: Node = root.key_node("metadata") or root.key_node("kind") or root
            self.report(where, "the NetworkPolicy has no metadata: add `metadata:` with a `name`")
        spec = self.mapping(root.get("spec"))
        if spec is not None:
            self.spec(spec)

    def spec(self, spec: MapNode) -> None:
        self.selector(spec.get("podSelector"))
        for key, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in self.sequence(spec.get(key)) or ():
                self.rule(rule, peers_key)
        types = self.sequence(spec.get("policyTypes"))
        if types is None:
            return
        if len(types) > 2:
            self.report(
                types,
                f"spec.policyTypes has {len(types)} entries, but may have at most two: "
                "write [Ingress], [Egress] or [Ingress, Egress]",
                at_key=True,
            )
        for item in types:
            text = self.string(item)
            if text is None and is_null(item):
                text = ""
            if text is None or text in POLICY_TYPES:
                continue
            better = suggest(text, POLICY_TYPES)
            advice = f"write {better}" if better else "write Ingress or Egress"
            self.report(
                item,
                f"policyTypes entry {quoted(text)} is not supported: the values are Ingress and Egress, "
                f"case-sensitive; {advice}",
            )

    def rule(self, node: Node, peers_key: str) -> None:
        if is_null(node):
            return
        rule = self.mapping(node)
        if rule is None:
            return
        self.each(rule.get(peers_key), lambda peer: self.peer(peer, peers_key))
        ports = rule.get("ports")
        hint = f": write `ports: [{{port: {ports.text}}}]`" if isinstance(ports, ScalarNode) else ""
        for port in self.sequence(ports, hint) or ():
            self.port(port)

    def peer(self, node: Node, peers_key: str) -> None:
        rejected = "The API server rejects a peer that selects nothing (must specify a peer)."
        if is_null(node):
            self.report(
                node,
                f"this peer is null (a `-` with nothing after it): {omit_peers(peers_key)}",
                detail=rejected,
            )
            return
        peer = self.mapping(node)
        if peer is None:
            return
        present = [key for key in ("podSelector", "namespaceSelector") if self.selector(peer.get(key))]
        block_node = peer.get("ipBlock")
        hint = (
            f": write `ipBlock: {{cidr: {shown(block_node.text)}}}`"
            if isinstance(block_node, ScalarNode)
            else ""
        )
        block = self.mapping(block_node, hint)
        if block is not None:
            self.ip_block(block)
        if block_node is not None and not is_null(block_node):
            if present:
                self.report(
                    block_node,
                    f"a peer may not specify both ipBlock and {' and '.join(present)}: make them "
                    "separate peers, each starting with its own `- `",
                    at_key=True,
                )
            return
        if present:
            return
        nulls = [key for key in peer.entries if key in ("podSelector", "namespaceSelector", "ipBlock")]
        if nulls:
            fields = " and ".join(f"`{key}:`" for key in nulls)
            it, has = ("it", "has") if len(nulls) == 1 else ("them", "have")
            fix = {
                "podSelector": "`podSelector: {}` selects every pod of the policy's namespace",
                "namespaceSelector": "`namespaceSelector: {}` selects every namespace",
                "ipBlock": "an ipBlock needs a cidr",
            }[nulls[0]]
            message = f"{fields} {has} nothing after {it}, so this peer selects nothing: fill {it} in"
            detail = (
                f"A field with nothing after it is null, the same as leaving it out. {rejected} "
                f"{fix[:1].upper()}{fix[1:]}."
            )
        else:
            message = (
                "this peer has none of podSelector, namespaceSelector and ipBlock: give one, or, "
                f"{omit_peers(peers_key)}"
            )
            detail = rejected
        self.report(peer, message, detail=detail)


def omit_peers(peers_key: str) -> str:
    what = "source" if peers_key == "from" else "destination"
    return f"to allow every {what}, leave out `{peers_key}` (or write `{peers_key}: []`)"


class UnknownField(Rule):
    id = "NP002"
    name = "unknown-field"
    summary = "A NetworkPolicy has a field the networking.k8s.io/v1 API does not know (a typo or mis-indent)."
    level = Level.ERROR
    tags = ("input", "schema")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for manifest, policy in network_policy_manifests(ctx):
            for shape, node in walk(OBJECT, manifest.node):
                for key in node.entries:
                    if key in shape.fields:
                        continue
                    # The key's node is made only for a key that is reported (as key_items makes it).
                    key_node = node.key_node(key)
                    if key_node is not None:
                        yield self._unknown(manifest, policy, shape, node, key, key_node)

    def _unknown(
        self,
        manifest: Manifest,
        policy: NetworkPolicy | None,
        shape: Shape,
        node: MapNode,
        key: str,
        key_node: ScalarNode,
    ) -> Finding:
        message = f"unknown field `{shown(key)}` in {shape.noun}: {unknown_field_advice(key, shape)}"
        detail = (
            f"The field is in {where(shape, node)}. The API server rejects it under strict field "
            "validation, kubectl's default; other clients drop it silently."
        )
        if key == "status" and shape is OBJECT:
            detail += " A status in a manifest is usually a leftover of `kubectl get -o yaml`."
        return self.finding(
            policy,
            key_node,
            message,
            path=manifest.path,
            span=key_node.span,
            document_index=manifest.document_index,
            detail=detail,
            fixes=_rename_fix(manifest, shape, node, key),
        )


def _rename_fix(manifest: Manifest, shape: Shape, node: MapNode, key: str) -> tuple[Fix, ...]:
    """The misspelt key renamed to the one field it is close to, when the mapping does not have it yet."""
    field = one_close_field(key, shape)
    where = yaml_path(node) if in_document(manifest.node) else None
    if field is None or field in node.entries or where is None:
        return ()
    edit = Edit.make("rename", where, key, field)
    description = f"rename `{shown(key)}` to `{field}`"
    return (Fix(description, True, (edit,), manifest.path, manifest.document_index),)


class InvalidValue(Rule):
    id = "NP003"
    name = "invalid-value"
    summary = "A NetworkPolicy value the API server rejects: a wrong type, a bad port, CIDR, label or name."
    level = Level.ERROR
    tags = ("input", "schema")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for manifest, policy in network_policy_manifests(ctx):
            checker = PolicyChecker()
            checker.object(manifest.node)
            for problem in checker.problems:
                if placeholder_node(problem.node):
                    # `${NAMESPACE}`, `{{request.object.metadata.name}}`: another tool writes the
                    # value the API server sees; this is not it.
                    continue
                yield self.finding(
                    policy,
                    problem.node,
                    problem.message,
                    path=manifest.path,
                    span=problem.span,
                    document_index=manifest.document_index,
                    detail=problem.detail,
                )


RULES = (UnknownField, InvalidValue)
