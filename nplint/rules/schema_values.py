"""NP003's checks: the values of a NetworkPolicy, judged as the API server judges them.

Wrong types are decoding errors; the rest is ``ValidateNetworkPolicy``
(networkpolicy-semantics §1.6). Every problem is reported at the most specific
node, and a value of the wrong type is reported once and not looked into.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import field

from nplint.findings import Span
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode, is_null
from nplint.model.objects import PROTOCOLS, IPNetwork
from nplint.model.validation import (
    PORT_MAX,
    PORT_MIN,
    dns1123_label_problems,
    dns1123_subdomain_problems,
    generate_name_problems,
    is_strict_subset,
    label_key_problems,
    label_value_problems,
    parse_cidr,
    port_name_problems,
    port_number_valid,
)
from nplint.records import record
from nplint.untrusted import quoted as quoted_value
from nplint.untrusted import shown

POLICY_TYPES = ("Ingress", "Egress")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
#: Operators of other selector languages, and what NetworkPolicy calls them.
_OPERATOR_ALIASES = {"=": "In", "==": "In", "equals": "In", "eq": "In", "!=": "NotIn", "notequals": "NotIn"}
_PORT_RANGE_TEXT = re.compile(r"\s*(\d+)\s*[-:]\s*(\d+)\s*\Z")


@record(frozen=True, slots=True)
class ValueProblem:
    node: Node
    span: Span
    message: str
    #: Why the value is refused, at length (the rule of the syntax it breaks).
    detail: str = ""


def reading(node: Node) -> str:
    """What a node is read as: 'a mapping', 'the boolean true', 'the number 493'."""
    if isinstance(node, MapNode):
        return "a mapping"
    if isinstance(node, SeqNode):
        return "a list"
    if not isinstance(node, ScalarNode) or node.value is None:
        return "null"
    value = node.value
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"the number {value}"
    if isinstance(value, float):
        return f"the number {value}" if math.isfinite(value) else f"the number {shown(node.text)}"
    return f"the string {quoted_value(value)}"


def suggest(text: str, choices: Iterable[str]) -> str | None:
    """The choice ``text`` was probably meant to be: same letters in another case, else a close match."""
    options = list(choices)
    folded = "".join(char for char in text.lower() if char.isalnum())
    for option in options:
        if option.lower() == folded:
            return option
    close = difflib.get_close_matches(folded, [o.lower() for o in options], n=1, cutoff=0.6)
    return next((o for o in options if close and o.lower() == close[0]), None)


@record(slots=True)
class ValueChecker:
    """Checks values by type and syntax; collects what the API server would refuse."""

    problems: list[ValueProblem] = field(default_factory=list)

    def report(self, node: Node, message: str, *, at_key: bool = False, detail: str = "") -> None:
        self.problems.append(ValueProblem(node, node.key_span if at_key else node.span, message, detail))

    def report_syntax(self, node: Node, headline: str, problems: Iterable[str]) -> None:
        """One finding for a value that breaks a syntax, however many of its rules: each in the detail."""
        found = list(problems)
        if found:
            self.report(node, headline, detail=_sentences(found))

    # Nearly every value is valid: the callers below make a headline (a quoted value, a
    # valid name like it) only for a value with problems.

    def wrong_type(self, node: Node, message: str) -> None:
        # A block mapping or list starts on the line after its key: point at the key.
        self.report(node, message, at_key=isinstance(node, MapNode | SeqNode))

    # --- types -------------------------------------------------------------

    def mapping(self, node: Node | None, hint: str = "") -> MapNode | None:
        """``node`` when it is a mapping; None when absent or null; reported otherwise."""
        if node is None or isinstance(node, MapNode) or is_null(node):
            return node if isinstance(node, MapNode) else None
        if not hint and isinstance(node, SeqNode):
            hint = ": remove the `- ` in front of its fields" if len(node) else ": write {}"
        self.wrong_type(node, f"{node.path} must be a mapping, not {reading(node)}{hint}")
        return None

    def sequence(self, node: Node | None, hint: str = "") -> SeqNode | None:
        """``node`` when it is a list; None when absent or null; reported otherwise."""
        if node is None or isinstance(node, SeqNode) or is_null(node):
            return node if isinstance(node, SeqNode) else None
        if not hint:
            if isinstance(node, MapNode):
                hint = ": start each entry with `- `"
            elif isinstance(node, ScalarNode):
                hint = f": write [{shown(node.text)}]"
        self.wrong_type(node, f"{node.path} must be a list, not {reading(node)}{hint}")
        return None

    def string(self, node: Node | None, what: str = "") -> str | None:
        """The string value of ``node``; None when absent or null (read as ""); reported otherwise."""
        if node is None or is_null(node):
            return None
        if isinstance(node, ScalarNode) and isinstance(node.value, str):
            return node.value
        what = what or node.path
        if isinstance(node, ScalarNode):
            self.report(
                node,
                f"unquoted `{shown(node.text)}` is read as {reading(node)}, not a string: "
                f"quote it: {quoted(shown(node.text))}",
                detail=(
                    f"{what[:1].upper()}{what[1:]} must be a string; Kubernetes reads YAML 1.1, where "
                    f"unquoted `{shown(node.text)}` is {reading(node)}."
                ),
            )
        else:
            self.wrong_type(node, f"{what} must be a string, not {reading(node)}")
        return None

    def each(self, node: Node | None, check: Callable[[Node], None]) -> None:
        items = self.sequence(node)
        for item in items or ():
            check(item)

    # --- metadata ----------------------------------------------------------

    def metadata(self, metadata: MapNode) -> None:
        name_node = metadata.get("name")
        name = self.string(name_node)
        generate = self.string(metadata.get("generateName"))
        generate_node = metadata.get("generateName")
        if generate and generate_node is not None and (problems := generate_name_problems(generate)):
            self.report_syntax(
                generate_node,
                f"metadata.generateName {quoted_value(generate)} is not a valid prefix",
                problems,
            )
        if name and name_node is not None:
            if problems := dns1123_subdomain_problems(name):
                self.report_syntax(
                    name_node,
                    f"metadata.name {quoted_value(name)} is not a valid name{_like(name)}",
                    problems,
                )
        elif not generate and (name_node is None or is_null(name_node) or name == ""):
            where = metadata if name_node is None else name_node
            self.report(
                where,
                "metadata.name is required: give the policy a name (lowercase letters, digits, '-' and '.')",
                at_key=name_node is None or is_null(name_node),
            )
        namespace_node = metadata.get("namespace")
        namespace = self.string(namespace_node)
        if namespace and namespace_node is not None and (problems := dns1123_label_problems(namespace)):
            self.report_syntax(
                namespace_node,
                f"metadata.namespace {quoted_value(namespace)} is not a valid namespace"
                f"{_like(namespace, label=True)}",
                problems,
            )
        self.label_map(metadata.get("labels"), "label")
        self.label_map(metadata.get("annotations"), "annotation")

    def label_map(self, node: Node | None, what: str) -> None:
        """Labels (or annotations): valid keys, string values, and valid label values."""
        labels = self.mapping(node)
        if labels is None:
            return
        for key, key_node, value in labels.key_items():
            self.label_key(key_node, key, what)
            if isinstance(value, ScalarNode) and isinstance(value.value, str):
                text: str | None = value.value  # as self.string reads it, without making its path
            else:
                text = self.string(value, f"the {what} value {value.path}")
            if text is not None and what != "annotation" and (problems := label_value_problems(text)):
                self.report_syntax(
                    value, f"{what} value {quoted_value(text)} of {quoted_value(key)} is not valid", problems
                )

    def label_key(self, key_node: ScalarNode, key: str, what: str) -> None:
        value = key_node.value
        if key_node.style == "" and (
            isinstance(value, bool) or (isinstance(value, int) and str(value) != key)
        ):
            becomes = str(value).lower()
            self.report(
                key_node,
                f"the {what} key `{shown(key)}` is read as {reading(key_node)}, so the key sent is "
                f"{quoted_value(becomes)}: "
                f"quote it: {quoted(key)}",
            )
            return
        # Annotation keys are qualified names too, compared in lower case.
        if problems := label_key_problems(key.lower() if what == "annotation" else key):
            self.report_syntax(key_node, f"{what} key {quoted_value(key)} is not valid", problems)

    # --- selectors ---------------------------------------------------------

    def selector(self, node: Node | None) -> bool:
        """Check a LabelSelector; True when it is set (not absent, not null)."""
        if node is None or is_null(node):
            return False
        hint = (
            ": write a selector such as `{matchLabels: {app: web}}`" if isinstance(node, ScalarNode) else ""
        )
        selector = self.mapping(node, hint)
        if selector is None:
            return True
        self.label_map(selector.get("matchLabels"), "label")
        self.each(selector.get("matchExpressions"), self.requirement)
        return True

    def requirement(self, node: Node) -> None:
        if is_null(node):
            self.report(node, "this matchExpressions entry is empty: it needs a key and an operator")
            return
        requirement = self.mapping(node)
        if requirement is None:
            return
        key_node = requirement.get("key")
        key = self.string(key_node)
        if key_node is None or is_null(key_node) or key == "":
            self.report(
                requirement if key_node is None else key_node,
                "this matchExpressions entry has no key: add `key:` with the label key to test",
                at_key=key_node is None or is_null(key_node),
            )
        elif key is not None and key_node is not None and (problems := label_key_problems(key)):
            self.report_syntax(key_node, f"matchExpressions key {quoted_value(key)} is not valid", problems)
        operator_node = requirement.get("operator")
        operator = self.string(operator_node)
        if operator_node is None or is_null(operator_node):
            self.report(
                requirement if operator_node is None else operator_node,
                "this matchExpressions entry has no operator: write `operator:` In, NotIn, Exists or "
                "DoesNotExist",
                at_key=True,
            )
        elif operator is not None and operator not in OPERATORS:
            better = _OPERATOR_ALIASES.get(operator.strip().lower()) or suggest(operator, OPERATORS)
            advice = f"write {better}" if better else "write In, NotIn, Exists or DoesNotExist"
            self.report(
                operator_node,
                f"operator {quoted_value(operator)} is not supported: {advice}",
                detail="The operators are In, NotIn, Exists and DoesNotExist, case-sensitive.",
            )
        values_node = requirement.get("values")
        values = self.sequence(values_node)
        for item in values or ():
            if isinstance(item, ScalarNode) and isinstance(item.value, str):
                text: str | None = item.value  # as self.string reads it, without making its path
            else:
                text = self.string(item, f"the label value {item.path}")
            if problems := label_value_problems(text or ""):
                self.report_syntax(item, f"label value {quoted_value(text)} is not valid", problems)
        wrong_type = values is None and values_node is not None and not is_null(values_node)
        if operator in ("In", "NotIn") and operator_node is not None and not values and not wrong_type:
            self.report(
                operator_node,
                f"operator {operator} needs at least one entry in `values`: list the label values to match"
                + (" (or use Exists to match any value)" if operator == "In" else ""),
            )
        if operator in ("Exists", "DoesNotExist") and values is not None and len(values) > 0:
            self.report(
                values,
                f"operator {operator} takes no values: remove `values` (or use "
                f"{'In' if operator == 'Exists' else 'NotIn'} to test for particular values)",
            )

    # --- ipBlock -----------------------------------------------------------

    def ip_block(self, block: MapNode) -> None:
        cidr_node = block.get("cidr")
        cidr = self.string(cidr_node)
        network: IPNetwork | None = None
        if cidr_node is None or is_null(cidr_node) or cidr == "":
            self.report(
                block if cidr_node is None else cidr_node,
                "ipBlock needs a cidr: write the range to allow, e.g. `cidr: 10.0.0.0/8`",
                at_key=cidr_node is None or is_null(cidr_node),
            )
        elif cidr is not None and cidr_node is not None:
            parsed = parse_cidr(cidr)
            network = parsed.network
            if parsed.error is not None:
                self.report(cidr_node, f"ipBlock.cidr {quoted_value(cidr)} {parsed.error}")
        for item in self.sequence(block.get("except")) or ():
            text = self.string(item)
            if text is None and not is_null(item):
                continue  # the wrong type is reported
            parsed = parse_cidr(text or "")
            if parsed.error is not None:
                self.report(item, f"except entry {quoted_value(text or '')} {parsed.error}")
            if network is not None and parsed.network is not None:
                problem = subset_problem(parsed.network, network)
                if problem:
                    self.report(item, f"except entry {quoted_value(text)} {problem}")

    # --- ports -------------------------------------------------------------

    def port(self, node: Node) -> None:
        if is_null(node):
            return
        hint = f": write `- port: {shown(node.text)}`" if isinstance(node, ScalarNode) else ""
        port = self.mapping(node, hint)
        if port is None:
            return
        protocol_node = port.get("protocol")
        protocol = self.string(protocol_node)
        if protocol is not None and protocol_node is not None and protocol not in PROTOCOLS:
            if protocol.upper() in PROTOCOLS:
                advice = f"write {protocol.upper()}"
            else:
                advice = "to allow every protocol, leave out `ports` (NetworkPolicy cannot name others)"
            self.report(
                protocol_node,
                f"protocol {quoted_value(protocol)} is not supported: {advice}",
                detail="The protocols are TCP, UDP and SCTP, case-sensitive.",
            )
        number = self.port_value(port.get("port"))
        self.end_port(port, number)

    def port_value(self, node: Node | None) -> int | str | None:
        """The port as the API server reads it (number or name), checked; None when absent or wrong."""
        if node is None or is_null(node):
            return None
        value = node.value if isinstance(node, ScalarNode) else None
        if type(value) is int:
            if not port_number_valid(value):
                self.report(
                    node,
                    f"port {value} is out of range: a port number is {PORT_MIN} to {PORT_MAX} "
                    "(leave out `port` to allow every port)",
                )
                return None
            return value
        if not isinstance(node, ScalarNode) or not isinstance(value, str):
            self.wrong_type(node, f"port must be a number or a port name, not {reading(node)}")
            return None
        if value.isascii() and value.isdigit() and len(value) <= 10:
            meant = int(value)
            fix = (
                f"write {meant} unquoted for port number {meant}"
                if port_number_valid(meant)
                else f"and {meant} is not a port number either (1 to 65535)"
            )
            self.report(
                node,
                f'port "{value}" is quoted, so it is read as a port name: {fix}',
                detail=(
                    "A quoted port is a string, and the API server reads a string as a port name, "
                    "which must contain at least one letter (a-z)."
                ),
            )
            # Judge endPort against the number that was meant.
            return meant if port_number_valid(meant) else None
        problems = port_name_problems(value)
        if problems:
            match = _PORT_RANGE_TEXT.match(value)
            if match:
                advice = f"for a range write `port: {match.group(1)}` and `endPort: {match.group(2)}`"
            elif not port_name_problems(value.lower()):
                advice = f"write {value.lower()}"
            else:
                advice = "use the container port's name, or its number"
            self.report(
                node, f"port name {quoted_value(value)} is not valid: {advice}", detail=_sentences(problems)
            )
        return value

    def end_port(self, port: MapNode, number: int | str | None) -> None:
        node = port.get("endPort")
        if node is None or is_null(node):
            return
        value = node.value if isinstance(node, ScalarNode) else None
        if type(value) is not int:
            hint = (
                f": write {value.strip()} unquoted"
                if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
                else ""
            )
            self.wrong_type(node, f"endPort must be a number, not {reading(node)}{hint}")
            return
        if not port_number_valid(value):
            self.report(node, f"endPort {value} is out of range: a port number is {PORT_MIN} to {PORT_MAX}")
            return
        port_node = port.get("port")
        if port_node is None or is_null(port_node):
            self.report(
                node, "endPort needs a numeric `port` to start the range: add `port:` with the first port"
            )
        elif isinstance(number, str):
            self.report(
                node, "endPort cannot be used with a named port: give `port` as a number, or drop endPort"
            )
        elif isinstance(number, int) and value < number:
            self.report(
                node,
                f"endPort {value} is less than port {number}: endPort is the last port of the range, so it "
                f"must be at least {number}",
            )


def _sentences(problems: list[str]) -> str:
    """Problems as the sentences of a finding's detail."""
    return " ".join(f"{p[:1].upper()}{p[1:]}{'' if p.endswith('.') else '.'}" for p in problems)


def _like(name: str, *, label: bool = False) -> str:
    """'; for example 'my-name'': a valid name close to ``name``, when one is easy to make."""
    allowed = "[^a-z0-9-]+" if label else "[^a-z0-9.-]+"
    candidate = re.sub(allowed, "-", name.lower()).strip("-.")[: 63 if label else 253].strip("-.")
    problems = dns1123_label_problems(candidate) if label else dns1123_subdomain_problems(candidate)
    return f"; for example {quoted_value(candidate)}" if candidate and not problems else ""


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def subset_problem(inner: IPNetwork, outer: IPNetwork) -> str:
    """Why ``inner`` is not a valid ``except`` of ``outer`` (a strict subset), or ''."""
    if is_strict_subset(inner, outer):
        return ""
    if inner.version != outer.version:
        return f"is IPv{inner.version} but cidr {outer} is IPv{outer.version}: an except must lie inside cidr"
    if inner.prefixlen == outer.prefixlen and inner.network_address == outer.network_address:
        return (
            f"is all of cidr {outer}: an except must be a strict subset; to allow none of it, remove the peer"
        )
    if inner.prefixlen <= outer.prefixlen and outer.network_address in inner:
        return f"is wider than cidr {outer}: an except must be a strict subset of cidr (a longer prefix)"
    return (
        f"is not inside cidr {outer}: an except must be a strict subset of cidr; remove it or fix the range"
    )
