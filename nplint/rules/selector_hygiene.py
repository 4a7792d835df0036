"""NP202, NP203, NP205, NP207, NP208: selectors whose reach differs from what they look like.

The rules read every selector of a policy — ``spec.podSelector`` and each peer's
``podSelector``/``namespaceSelector`` — as the model parsed it, and the raw YAML
where the way it is written matters (an emptied ``matchLabels:`` is not the same
thing as a deliberate ``{}``). Semantics: networkpolicy-semantics §1.5, §2.4, §3.3.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from nplint.findings import Finding, Level, Related, listed, namespace_text
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode, is_null
from nplint.model import Direction, Inventory, LabelSelector, NetworkPolicy, Operator, Peer, PolicyRule
from nplint.model.inventory import NAMESPACE_NAME_LABEL
from nplint.model.namespace_labels import NamespaceLabelCommands
from nplint.records import record
from nplint.rules.base import Rule, RuleContext
from nplint.rules.intent import (
    says_all_namespaces,
    says_allow_all,
    says_every_pod,
    says_restriction,
    written_empty,
)
from nplint.rules.selectors import selector_yaml
from nplint.untrusted import quoted
from nplint.untrusted import shown as shown_value


def peers_of(policy: NetworkPolicy) -> Iterator[tuple[Direction, PolicyRule, Peer]]:
    for direction in Direction:
        for rule in policy.rules(direction):
            for peer in rule.peers or ():
                yield direction, rule, peer


@record(frozen=True, slots=True)
class SelectorSite:
    """One selector of a policy, with where it sits."""

    policy: NetworkPolicy
    #: "spec" for ``spec.podSelector``, else "pod" or "namespace" for a peer's selector.
    role: str
    node: MapNode
    selector: LabelSelector
    peer: Peer | None = None

    def reach(self) -> str:
        """What the policy or peer covers when this selector is empty, in words."""
        peer, namespace = self.peer, self.policy.namespace
        if peer is None:
            return f"this policy selects every pod of {namespace_text(namespace)}"
        if self.role == "pod":
            if peer.namespace_selector is None:
                return f"this peer matches every pod of {namespace_text(namespace)}"
            return f"this peer matches every pod of the namespaces matching {peer.namespace_selector}"
        if peer.pod_selector is None or peer.pod_selector.is_empty:
            return "this peer matches every pod of every namespace of the cluster"
        return f"this peer matches the pods {peer.pod_selector} of every namespace of the cluster"


def selector_sites(policy: NetworkPolicy) -> Iterator[SelectorSite]:
    """The selectors of a policy written as mappings, in document order."""
    if isinstance(policy.pod_selector_node, MapNode):
        yield SelectorSite(policy, "spec", policy.pod_selector_node, policy.pod_selector)
    for _, _, peer in peers_of(policy):
        if not isinstance(peer.node, MapNode):
            continue
        for role, selector in (("pod", peer.pod_selector), ("namespace", peer.namespace_selector)):
            node = peer.node.get(f"{role}Selector")
            if selector is not None and isinstance(node, MapNode):
                yield SelectorSite(policy, role, node, selector, peer)


@record(frozen=True, slots=True)
class Term:
    """One requirement as written: a matchLabels entry (operator In) or a matchExpressions entry."""

    key: str
    operator: Operator | None
    values: tuple[str, ...]
    #: The node of the key: a matchLabels key, or the value of an expression's ``key:``.
    key_node: ScalarNode


def terms(selector: MapNode) -> Iterator[Term]:
    labels = selector.get_map("matchLabels")
    for key, key_node, value in labels.key_items() if labels is not None else ():
        if isinstance(value, ScalarNode):
            yield Term(key, Operator.IN, ("" if value.value is None else value.text,), key_node)
    for entry in selector.get_seq("matchExpressions") or ():
        key_scalar = entry.get("key") if isinstance(entry, MapNode) else None
        if not isinstance(entry, MapNode) or not isinstance(key_scalar, ScalarNode) or key_scalar.is_null:
            continue
        operator = next((op for op in Operator if op.value == entry.get_str("operator")), None)
        values = tuple(
            item.text
            for item in entry.get_seq("values") or ()
            if isinstance(item, ScalarNode) and item.value is not None
        )
        yield Term(key_scalar.text, operator, values, key_scalar)


def _verb(direction: Direction) -> str:
    return "admits connections from" if direction is Direction.INGRESS else "allows connections to"


#: A policy named for its scope ("allow-same-namespace", "deny-from-other-namespaces")
#: says what its `podSelector: {}` peers mean.
_SAME_NAMESPACE_NAME = re.compile(
    r"(same|intra|within|own|this|local|other)[-_.]?(namespace|ns\b)|namespace[-_]only"
)


class SameNamespaceOnlyPeer(Rule):
    id = "NP202"
    name = "same-namespace-only-peer"
    summary = "`- podSelector: {}` as a peer of its own matches the pods of the policy's namespace only."
    level = Level.NOTE
    about_form = True
    tags = ("selectors",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        # Policies that select other namespaces somewhere in the namespace were written by
        # someone who knows a podSelector stays home: there `podSelector: {}` is deliberate.
        aware = {
            policy.namespace
            for policy in ctx.inventory.policies
            for _, _, peer in peers_of(policy)
            if peer.namespace_selector is not None
        }
        for policy in ctx.inventory.policies:
            if (
                policy.namespace in aware
                or _SAME_NAMESPACE_NAME.search(policy.name)
                or says_restriction(policy.name)
            ):
                # A policy named for what it takes away (restrict-*, deny-*) keeps its
                # peers at home on purpose.
                continue
            for direction, _, peer in peers_of(policy):
                node = peer.node.get("podSelector") if isinstance(peer.node, MapNode) else None
                if peer.ip_block is not None or peer.namespace_selector is not None:
                    continue
                if isinstance(node, MapNode) and not node.entries:  # an emptied one is NP205's
                    yield self._finding(policy, direction, peer)

    def _finding(self, policy: NetworkPolicy, direction: Direction, peer: Peer) -> Finding:
        fix = (
            f"{direction.peers_key}:\n- namespaceSelector: {{}}\n"
            "  podSelector: {matchLabels: {<label>: <value>}}"
        )
        message = (
            f"`- podSelector: {{}}` {_verb(direction)} only this namespace's pods: for every namespace, "
            "write `- namespaceSelector: {}`"
        )
        detail = (
            f"This peer {_verb(direction)} every pod of {namespace_text(policy.namespace)} only: a "
            "podSelector without a namespaceSelector never looks outside the policy's own namespace, "
            "nor outside the cluster. If every pod of every namespace was meant, write "
            "`- namespaceSelector: {}` (with `podSelector: {matchLabels: {...}}` in the same item to "
            "narrow it to given pods); if this namespace was meant, all is well."
        )
        return self.finding(policy, peer.node, message, fix=fix, detail=detail)


class AllNamespacesPeer(Rule):
    id = "NP203"
    name = "all-namespaces-peer"
    summary = "A peer `namespaceSelector: {}` without a podSelector matches every pod of the cluster."
    level = Level.WARNING
    about_form = True
    tags = ("selectors",)
    #: A rule limited to ports is how a cluster-wide service (metrics, DNS, webhooks) is
    #: published; such rules are reported only with this option.
    options: ClassVar[Mapping[str, Any]] = {"port-restricted": False}

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        with_ports = ctx.options.get("port-restricted") is True
        for policy in ctx.inventory.policies:
            for direction, rule, peer in peers_of(policy):
                namespaces, pods = peer.namespace_selector, peer.pod_selector
                if (rule.ports is not None and not with_ports) or peer.ip_block is not None:
                    continue
                if namespaces is None or not namespaces.is_empty or (pods is not None and not pods.is_empty):
                    continue
                ports = "on every port" if rule.ports is None else "on the ports of this rule"
                fix = (
                    f"{direction.peers_key}:\n"
                    f"- namespaceSelector: {{matchLabels: {{{NAMESPACE_NAME_LABEL}: <namespace>}}}}\n"
                    "  podSelector: {matchLabels: {<label>: <value>}}"
                )
                message = (
                    f"this peer {_verb(direction)} every pod of every namespace {ports}: name the "
                    "namespaces, or add a podSelector"
                )
                detail = (
                    f"This peer {_verb(direction)} every pod of every namespace of the cluster {ports}, "
                    "including namespaces created later: `namespaceSelector: {}` selects all namespaces "
                    "and no podSelector narrows it. Name the namespaces you mean, `namespaceSelector: "
                    f"{{matchLabels: {{{NAMESPACE_NAME_LABEL}: <namespace>}}}}`, and/or add "
                    "`podSelector: {matchLabels: {...}}` to this same item for given pods; if the whole "
                    "cluster is meant (a cluster-wide service), suppress this finding."
                )
                yield self.finding(policy, peer.node, message, fix=fix, detail=detail)


class EmptySelectorByAccident(Rule):
    id = "NP205"
    name = "empty-selector-by-accident"
    summary = "A selector's `matchLabels`/`matchExpressions` is present but empty, so it matches everything."
    level = Level.WARNING
    about_form = True
    tags = ("selectors",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            for site in selector_sites(policy):
                emptied = emptied_field(site.node)
                if emptied is None or deliberately_empty(site, emptied):
                    continue
                key = str(emptied.key)
                what = "labels" if key == "matchLabels" else "expressions"
                field = "spec.podSelector" if site.role == "spec" else f"this {site.role}Selector"
                literal = "podSelector: {}" if site.role == "spec" else f"{site.role}Selector: {{}}"
                message = (
                    f"`{key}` is {'null' if is_null(emptied) else 'empty'}, so {field} matches everything: "
                    f"put the {what} back, or write `{literal}`"
                )
                detail = (
                    f"{field[:1].upper()}{field[1:]} has no other requirement, so it is an empty "
                    f"selector: {site.reach()}. An emptied `{key}` usually means its {what} were "
                    "commented out or a template value rendered to nothing. Put the "
                    f"{what} back under `{key}`, or, if everything is meant, write `{literal}`."
                )
                yield self.finding(
                    policy, emptied, message, span=emptied.key_span, fix=literal, detail=detail
                )


def deliberately_empty(site: SelectorSite, emptied: Node) -> bool:
    """Whether an empty field was typed as ``{}``/``[]`` in a policy whose name says "every pod".

    ``default-deny`` with ``podSelector: {matchLabels: {}}`` means every pod, as its
    name says; ``allow-all`` with such a peer means every peer. An emptied block
    (null: lines commented out, a value rendered away) stays suspect whatever the name.
    """
    if not written_empty(emptied):
        return False
    name = site.policy.name
    if site.role == "spec":
        return says_every_pod(name)
    return says_allow_all(name) or (site.role == "namespace" and says_all_namespaces(name))


def emptied_field(selector: MapNode) -> Node | None:
    """The first of matchLabels/matchExpressions that is null or empty, when neither holds a requirement."""
    emptied: Node | None = None
    for key, shape in (("matchLabels", MapNode), ("matchExpressions", SeqNode)):
        value = selector.get(key)
        if value is None:
            continue
        empty = isinstance(value, shape) and not (value.entries if isinstance(value, MapNode) else len(value))
        if not (is_null(value) or empty):
            return None  # a requirement, or a malformed field NP003 judges
        if emptied is None or value.pos < emptied.pos:
            emptied = value
    return emptied


#: Label keys old guides put on namespaces, that nothing sets (networkpolicy-semantics §3.3, P38).
CLASSIC_NAME_KEYS = frozenset(("name", "ns", "namespace", "role"))
#: Namespaces most clusters have, that such a label is most often meant to pick.
WELL_KNOWN_NAMESPACES = frozenset(
    (
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "default",
        "monitoring",
        "ingress-nginx",
        "cert-manager",
    )
)


class UnknownNamespaceLabel(Rule):
    id = "NP207"
    name = "unknown-namespace-label"
    summary = (
        "A namespaceSelector uses a label no known Namespace carries, e.g. `name: kube-system` "
        "(only `kubernetes.io/metadata.name` is set automatically)."
    )
    level = Level.WARNING
    tags = ("selectors",)
    options: ClassVar[Mapping[str, Any]] = {"namespace-labels": (), "namespaces-complete": False}

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        inventory = ctx.inventory
        defined = [ns for ns in inventory.namespaces.values() if ns.defined]
        carried = {key for ns in defined for key in ns.labels} | {NAMESPACE_NAME_LABEL}
        extra = ctx.options.get("namespace-labels")
        if isinstance(extra, list | tuple):
            carried |= {str(key) for key in extra}
        complete = ctx.options.get("namespaces-complete") is True and bool(defined)
        known = tuple(sorted(carried))
        commands = inventory.label_commands
        for policy in inventory.policies:
            for site in selector_sites(policy):
                for term in terms(site.node) if site.role == "namespace" else ():
                    if term.key in carried or term.operator not in (Operator.IN, Operator.EXISTS):
                        continue
                    # A command of the repository labels some namespace so (a script, a README).
                    if commands.setting(term.key, term.values if term.operator is Operator.IN else None):
                        continue
                    message, fix, named = self._judge(term, inventory, known, bool(defined), complete)
                    if message is None:
                        continue
                    headline, detail = self._headline(term, known), message + _commands_note(term, commands)
                    related = [
                        Related(
                            ns.path,
                            ns.span,
                            f"Namespace {shown_value(ns.name)}, without label {shown_value(term.key)}",
                        )
                        for ns in (inventory.namespaces[name] for name in named)
                    ]
                    span = term.key_node.span
                    yield self.finding(
                        policy, term.key_node, headline, span=span, related=related, fix=fix, detail=detail
                    )

    def _headline(self, term: Term, known: tuple[str, ...]) -> str:
        """What ``_judge`` says, in a line: the label, and what to select by instead."""
        near = _near_key(term.key, known)
        key = f"`{shown_value(term.key, _HEADLINE_VALUE)}`"
        if near:
            return f"no namespace carries the label {key}: did you mean `{near}`?"
        return f"no namespace carries the label {key} unless labelled so: select by `{NAMESPACE_NAME_LABEL}`"

    def _judge(
        self, term: Term, inventory: Inventory, known: tuple[str, ...], defined: bool, complete: bool
    ) -> tuple[str | None, str | None, list[str]]:
        """The message and fix for a label no defined Namespace carries, when there is evidence it is missing.

        Evidence, strongest first: a misspelling of a label the namespaces carry; a
        namespace defined here, named by the value, without the label; an old-guide
        label (`name: kube-system`) on a namespace every cluster has. A namespace the
        repository merely refers to is no evidence: test harnesses and platform tooling
        label the namespaces they create (`ns: x`) outside the repository.
        """
        values = term.values if term.operator is Operator.IN else ()
        near = _near_key(term.key, known)
        classic = term.key.lower() in CLASSIC_NAME_KEYS and any(v in WELL_KNOWN_NAMESPACES for v in values)
        named = [v for v in values if inventory.namespace_defined(v)]
        if not (near or classic or named or complete):
            return None, None, []
        if near:
            message = (
                f"`{shown_value(term.key)}` is not the label Kubernetes sets on every namespace"
                if near == NAMESPACE_NAME_LABEL
                else f"no Namespace of the repository carries the label `{shown_value(term.key)}`"
            ) + f"; did you mean `{near}`?"
            fix = f"{near}: {shown_value(values[0])}" if len(values) == 1 else None
        else:
            shown = (
                f"`{shown_value(term.key)}: {shown_value(values[0])}`"
                if len(values) == 1
                else f"`{shown_value(term.key)}`"
            )
            message = (
                f"a namespace carries {shown} only if someone labels it so: Kubernetes sets "
                f"`{NAMESPACE_NAME_LABEL}` on every namespace (since 1.21) and no other label"
            )
            if named:
                message += f", and Namespace {quoted(named[0])} is defined in this repository without it"
            elif defined:
                message += ", and no Namespace defined in this repository has it"
            fix = _by_name(values) if values else None
            message += ". This selector probably matches no namespace; " + (
                f"to select namespaces by name write `{fix}`"
                if fix
                else "select namespaces by a label they carry"
            )
        message += (
            f". If the label is set outside this repository, list `{shown_value(term.key)}` in the option "
            f"`rules.{self.id}.namespace-labels`, or keep the `kubectl label namespace` command that sets it "
            "in a script, Makefile or README of the repository."
        )
        return message[:1].upper() + message[1:], fix, named


#: Commands named in a detail, at most.
_COMMANDS_NAMED = 3


def _commands_note(term: Term, commands: NamespaceLabelCommands) -> str:
    """What the repository's label commands do with the term's key, when they set it otherwise.

    A command that labels another namespace, or sets another value, is why a reader
    may think the label exists: the detail names where it is and what it sets.
    """
    setting = commands.with_key(term.key)
    if not setting:
        return ""
    said = []
    for command in setting[:_COMMANDS_NAMED]:
        values = sorted({"…" if v is None else v for k, v in command.labels if k == term.key})
        where = (
            f"namespace {listed(shown_value(n) for n in command.namespaces)}"
            if command.namespaces
            else "some namespace"
        )
        pairs = ", ".join(f"`{shown_value(term.key)}={shown_value(v)}`" for v in values)
        said.append(f"{shown_value(command.path)}:{command.line} labels {where} {pairs}")
    more = len(setting) - _COMMANDS_NAMED
    return (
        " The repository's commands set this key, but not to the value selected: "
        + "; ".join(said)
        + (f"; and {more} more" if more > 0 else "")
        + "."
    )


@functools.lru_cache(maxsize=1024)
def _near_key(key: str, known: tuple[str, ...]) -> str | None:
    """A known namespace label (``known``, sorted) that ``key`` is probably a misspelling of."""
    lowered = key.lower()
    if "metadata" in lowered and "name" in lowered:
        return NAMESPACE_NAME_LABEL  # `metadata.name`, `kubernetes.io/metadata-name`, …
    folded = {k.lower(): k for k in known}
    if lowered in folded:
        return folded[lowered]
    if len(key) < 8:
        return None  # one letter apart is most of a short key: `env` is no misspelling of `env1`
    close = difflib.get_close_matches(key, [k for k in known if len(k) >= 8], n=1, cutoff=0.85)
    return close[0] if close else None


def _by_name(values: tuple[str, ...]) -> str:
    if len(values) == 1:
        return f"{NAMESPACE_NAME_LABEL}: {shown_value(values[0])}"
    return f"{{key: {NAMESPACE_NAME_LABEL}, operator: In, values: [{', '.join(values)}]}}"


#: Characters of a label key quoted in a headline.
_HEADLINE_VALUE = 48

_NEW_JOB = "for every new Job (a recreated one, or each CronJob run)"
#: Labels controllers set per revision or per instance: who sets each, and when its value
#: changes (None: it names one pod of several, and stays).
EPHEMERAL_LABELS: Mapping[str, tuple[str, str | None]] = {
    "pod-template-hash": (
        "the Deployment controller sets it to a hash of the pod template",
        "with every rollout",
    ),
    "controller-revision-hash": (
        "the StatefulSet and DaemonSet controllers set it to the current revision",
        "with every update",
    ),
    "pod-template-generation": (
        "the DaemonSet controller sets it to the template generation",
        "with every update",
    ),
    "statefulset.kubernetes.io/pod-name": ("it names one replica of a StatefulSet", None),
    "batch.kubernetes.io/controller-uid": ("it is the UID of one Job", _NEW_JOB),
    "controller-uid": ("it is the UID of one Job", _NEW_JOB),
}


#: A version (``1.2.3``, ``v0.4``, ``2.0.0-rc.1``); one dot at least, so that the variant labels
#: of canary routing (``version: v1``, ``version: v2``) are not taken for it.
_VERSION = r"v?\d+(?:\.\d+)+(?:[-+][0-9A-Za-z.+-]*)?"
#: Labels charts and release tooling set to the release's version: what changes each, and
#: the shape of a value that changes with every upgrade.
_CHART_VERSION = re.compile(rf"(?:.+-)?{_VERSION}")
RELEASE_LABELS: Mapping[str, tuple[str, re.Pattern[str]]] = {
    "helm.sh/chart": ("every chart upgrade changes", _CHART_VERSION),
    "chart": ("every chart upgrade changes", _CHART_VERSION),
    "app.kubernetes.io/version": ("every release changes", re.compile(_VERSION)),
    "version": ("every release changes", re.compile(_VERSION)),
}


_RELEASE_DETAIL = (
    "The value names one release of the chart or the application: after the next upgrade the pods "
    "carry another value and this selector no longer matches them, without any error. Select the "
    "pods by labels that stay the same across releases, such as those of the workload's selector."
)


class EphemeralLabelSelector(Rule):
    id = "NP208"
    name = "ephemeral-label-selector"
    summary = (
        "A selector uses a label that changes per rollout, release or instance "
        "(`pod-template-hash`, `controller-revision-hash`, `helm.sh/chart`, …)."
    )
    level = Level.WARNING
    about_form = True
    tags = ("selectors",)

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for policy in ctx.inventory.policies:
            for site in selector_sites(policy):
                for term in terms(site.node):
                    message = self._message(site, term)
                    if message is None:
                        continue
                    if term.key in EPHEMERAL_LABELS:
                        headline, detail = self._headline(site, term), message + "."
                    else:
                        # A release's version label: the message is its headline already.
                        headline, detail = message, _RELEASE_DETAIL
                    yield self.finding(
                        policy, term.key_node, headline, span=term.key_node.span, detail=detail
                    )

    @staticmethod
    def _headline(site: SelectorSite, term: Term) -> str:
        """What ``_message`` says, in a line: the label, why it fails, and what to select by."""
        changes = EPHEMERAL_LABELS[term.key][1]
        # "for every new Job (a recreated one, …)": the parenthesis is for the detail.
        changes = changes.split(" (")[0] if changes else None
        key = f"`{shown_value(term.key, _HEADLINE_VALUE)}`"
        if site.role == "namespace":
            return f"{key} is a pod label no Namespace carries: select namespaces by `{NAMESPACE_NAME_LABEL}`"
        if term.operator is Operator.NOT_IN:
            return f"the selector leaves out a {key} value, which changes {changes}: the exclusion lapses"
        # With other requirements beside it, the rest already selects the workload: drop the label.
        fix = (
            "remove it"
            if len(site.selector.match_labels) + len(site.selector.expressions) > 1
            else "select by stable template labels"
        )
        if changes is None:
            return f"the selector uses {key}, which names one replica: {fix}"
        return f"the selector uses a {key} value, which changes {changes}: {fix}"

    def _message(self, site: SelectorSite, term: Term) -> str | None:
        release = self._release_message(site, term)
        if release is not None:
            return release
        label = EPHEMERAL_LABELS.get(term.key)
        # Exists/DoesNotExist ignore the value: "every Deployment pod" stays true across rollouts.
        if label is None or term.operator not in (Operator.IN, Operator.NOT_IN):
            return None
        origin, changes = label
        shown = (
            f"`{shown_value(term.key)}: {shown_value(term.values[0])}`"
            if len(term.values) == 1
            else f"`{shown_value(term.key)}`"
        )
        if site.role == "namespace":
            if term.operator is not Operator.IN:
                return None
            return (
                f"{shown} is a pod label set by a controller, and Namespaces never carry it: this "
                f"namespaceSelector matches no namespace. Select namespaces by `{NAMESPACE_NAME_LABEL}` "
                "or a label you put on them"
            )
        rest = LabelSelector(
            tuple(r for r in site.selector.match_labels if r[0] != term.key),
            tuple(r for r in site.selector.expressions if r.key != term.key),
        )
        advice = (
            f"Remove `{shown_value(term.key)}`: the rest, {selector_yaml(rest)}, selects the workload"
            if not rest.is_empty
            else "Select the pods by stable labels of their pod template (those of the workload's selector)"
        )
        if term.operator is Operator.NOT_IN:
            if changes is None:
                return None  # leaving one replica out by its ordinal name stays true
            return (
                f"the selector leaves out {shown}, but {origin}, so the value changes {changes}: the "
                f"exclusion then lapses and the pods it left out are matched again. {advice}"
            )
        if changes is None:
            return (
                f"the selector uses {shown}, but {origin}: the other replicas, and those added by "
                f"scaling up, are not matched. {advice}"
            )
        return (
            f"the selector uses {shown}, but {origin}, so the value changes {changes}: the new pods "
            f"carry another value and this selector stops matching them, without any error. {advice}"
        )

    @staticmethod
    def _release_message(site: SelectorSite, term: Term) -> str | None:
        """A pod selector that pins a release's version: the next upgrade changes the pods' value."""
        release = RELEASE_LABELS.get(term.key)
        if release is None or site.role == "namespace" or term.operator is not Operator.IN:
            return None
        origin, pattern = release
        if not term.values or not all(pattern.fullmatch(value) for value in term.values):
            return None
        if site.policy.labels.get(term.key) in term.values:
            # The policy carries the same version itself: it is released with the pods, and
            # an upgrade changes both together.
            return None
        # The key is one of four; the value is cut short so the headline stays under 160 characters.
        shown = f"`{term.key}: {shown_value(term.values[0], 20)}`"
        return f"the selector pins {shown}, which {origin}: select by labels that stay"


RULES = (
    SameNamespaceOnlyPeer,
    AllNamespacesPeer,
    EmptySelectorByAccident,
    UnknownNamespaceLabel,
    EphemeralLabelSelector,
)
