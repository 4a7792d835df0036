"""What a policy's author meant: read from the policy's name and from how a selector was written.

Rules that judge wording (NP105, NP202, NP205) report what looks accidental. A
policy's name is the one place where its author says in words what it is for,
and a selector written ``{}`` in braces was typed that way, while an emptied
block (``matchLabels:`` with its lines commented out, or rendered to nothing)
decodes to null. Where both say "on purpose", the wording is deliberate and the
rules keep quiet. The heuristics are listed on each rule's page.
"""

from __future__ import annotations

import itertools
import re

from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode

_TOKEN = re.compile(r"[a-z0-9]+")

#: Words that, after "allow", mean every peer and every port.
_EVERYTHING = frozenset(("all", "any", "everything", "everyone"))
#: Words that may follow "allow" in a name that grants everything: ``allow-egress``, ``allow-all-traffic``.
_UNQUALIFIED = _EVERYTHING | frozenset(("egress", "ingress", "traffic", "inbound", "outbound", "from", "to"))
#: Words that, with "namespaces", mean every namespace: ``allow-other-namespaces``.
_EVERY_NAMESPACE = frozenset(("all", "any", "every", "other", "cross"))
#: Words for a policy that takes traffic away rather than granting it.
_RESTRICTING = frozenset(("deny", "restrict", "restricted", "isolate", "isolated", "isolation", "lockdown"))


def name_words(name: str) -> tuple[str, ...]:
    """The words of a name: ``default-deny_all.v2`` → ``default deny all v2``."""
    return tuple(_TOKEN.findall(name.lower()))


def _follows(words: tuple[str, ...], first: str, then: frozenset[str]) -> bool:
    return any(a == first and b in then for a, b in itertools.pairwise(words))


def says_allow_all(name: str) -> bool:
    """Whether the name says the policy allows everything: ``allow-all``, ``allow-egress``.

    "allow" followed only by words that qualify nothing (a direction, "all",
    "traffic") grants everything; ``allow-egress-to-db`` names what it allows.
    """
    words = name_words(name)
    if _follows(words, "allow", _EVERYTHING) or any(word in ("allowall", "allowany") for word in words):
        return True
    if "allow" not in words:
        return False
    rest = words[words.index("allow") + 1 :]
    return bool(rest) and all(word in _UNQUALIFIED for word in rest)


def says_all_namespaces(name: str) -> bool:
    """Whether the name says the policy is about every namespace: ``allow-other-namespaces``."""
    words = set(name_words(name))
    return "namespaces" in words and bool(words & _EVERY_NAMESPACE)


def says_deny_all(name: str) -> bool:
    """Whether the name says the policy isolates every pod: ``default-deny``, ``deny-all``, ``denyall``."""
    words = name_words(name)
    return (
        _follows(words, "default", frozenset(("deny",)))
        or _follows(words, "deny", _EVERYTHING)
        or any(word in ("denyall", "defaultdeny") for word in words)
    )


def says_every_pod(name: str) -> bool:
    """Whether the name says the policy is about every pod of its namespace (deny-all or allow-all)."""
    return says_deny_all(name) or says_allow_all(name)


def says_restriction(name: str) -> bool:
    """Whether the name says the policy narrows traffic: ``restrict-*``, ``deny-*``, ``*-isolation``."""
    return any(word in _RESTRICTING for word in name_words(name)) or says_deny_all(name)


def written_empty(node: Node | None) -> bool:
    """Whether ``node`` was written empty on purpose, rather than emptied.

    ``matchLabels: {}``, ``[]``, ``null`` or ``~`` were typed (kustomize and
    hydration tools write ``null``); so was a bare ``matchLabels:`` whose very next
    line holds the next field. A bare ``matchLabels:`` followed by other lines
    before the next field had its entries commented out (or a template rendered
    them to nothing), and one at the end of its document cannot be told apart.
    """
    if isinstance(node, MapNode):
        return not node.entries
    if isinstance(node, SeqNode):
        return len(node) == 0
    if isinstance(node, ScalarNode) and node.is_null:
        line, column, end_line, end_column = node.pos
        if (end_line, end_column) > (line, column):
            return True
        following = _next_line(node)
        return following is not None and following == node.key_span.line + 1
    return False


def _next_line(node: Node) -> int | None:
    """The line where the next node after ``node`` in its document starts, or None at the end."""
    current: Node = node
    while current.parent is not None:
        parent = current.parent
        siblings = list(parent.entries.values()) if isinstance(parent, MapNode) else list(parent)
        index = next(i for i, sibling in enumerate(siblings) if sibling is current)
        if index + 1 < len(siblings):
            return siblings[index + 1].key_span.line
        current = parent
    return None
