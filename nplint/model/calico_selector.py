"""Calico's selector language: parsed into an AST that can say which labels it matches.

A pure function of the text (:func:`parse_selector`), following Calico's own tokenizer and
parser (libcalico-go ``lib/selector/tokenizer`` and ``parser``; policy-kinds §7.3):

* ``k == 'v'``, ``k != 'v'``, ``k in {'a', 'b'}``, ``k not in {…}`` (also ``notin``),
  ``k contains 's'``, ``k starts with 's'``, ``k ends with 's'``, ``has(k)``, ``all()``,
  ``global()``, ``!`` (repeatable), ``&&``, ``||`` and parentheses;
* precedence: a match operation binds tightest, then ``!`` (which applies to one operation
  or one parenthesised group), then ``&&``, then ``||``; ``a || b && c`` is ``a || (b && c)``;
* values must be quoted with ``'`` or ``"``; a string ends at the next quote of the same
  kind, with no escapes; a set may be empty and may end with a comma;
* a label key is one or more of ``A-Z a-z 0-9 _ . / -``; only space and tab separate
  tokens (a line break is an error, as in Calico); the empty selector is ``all()``.

Evaluation: :meth:`CalicoSelector.matches` takes the labels a selector sees, which the
caller builds (policy-kinds §7.4: pod labels plus ``projectcalico.org/namespace``,
``projectcalico.org/orchestrator`` and ``projectcalico.org/serviceaccount``; namespace
labels plus ``projectcalico.org/name`` for a ``namespaceSelector``); :func:`endpoint_labels`
and :func:`namespace_labels` build them. ``all()`` and ``global()`` match any labels: their
scope (which resources are candidates) is the policy's business, not the selector's.

Errors are :class:`SelectorError` with the 0-based offset of the offending character in the
expression; :func:`locate` turns an offset into a file position inside a YAML scalar.
Hostile input is bounded: a selector longer than :data:`MAX_LENGTH` characters or nested
deeper than :data:`MAX_DEPTH` parentheses is refused with an error of its own (``limit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING

from nplint.findings import Span
from nplint.records import record

if TYPE_CHECKING:
    from nplint.loading.nodes import ScalarNode

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "NAMESPACE_LABEL",
    "NAME_LABEL",
    "ORCHESTRATOR_LABEL",
    "SERVICE_ACCOUNT_LABEL",
    "All",
    "And",
    "CalicoSelector",
    "Global",
    "Has",
    "LabelMatch",
    "MatchOperator",
    "Not",
    "Or",
    "SelectorError",
    "SelectorNode",
    "endpoint_labels",
    "locate",
    "namespace_labels",
    "parse_selector",
]

#: Longer selectors are refused: no real policy comes close, and parsing is linear anyway.
MAX_LENGTH = 16384
#: Parentheses nested deeper are refused, so hostile input cannot exhaust the stack.
MAX_DEPTH = 64

#: Labels Calico adds to every workload endpoint (policy-kinds §7.4, [CAL-API] constants.go).
NAMESPACE_LABEL = "projectcalico.org/namespace"
ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"
SERVICE_ACCOUNT_LABEL = "projectcalico.org/serviceaccount"
#: The label Calico adds to namespaces and service accounts for their own name.
NAME_LABEL = "projectcalico.org/name"

_WHITESPACE = " \t"
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")


class SelectorError(ValueError):
    """A selector Calico's parser rejects (or nplint's limits refuse), at ``offset`` in the text."""

    def __init__(self, message: str, offset: int, *, limit: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        #: True when nplint's own bound refused it, not Calico's grammar.
        self.limit = limit


class MatchOperator(Enum):
    EQ = "=="
    NE = "!="
    IN = "in"
    NOT_IN = "not in"
    CONTAINS = "contains"
    STARTS_WITH = "starts with"
    ENDS_WITH = "ends with"


class SelectorNode:
    """A node of the AST. ``offset`` is where it starts in the expression."""

    __slots__ = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        raise NotImplementedError


@record(frozen=True, slots=True)
class All(SelectorNode):
    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "all()"


@record(frozen=True, slots=True)
class Global(SelectorNode):
    """``global()``: matches any labels; it means "non-namespaced resources" as a rule's
    ``namespaceSelector`` (policy-kinds §7.4), which the policy model interprets."""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def __str__(self) -> str:
        return "global()"


@record(frozen=True, slots=True)
class Has(SelectorNode):
    key: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.key in labels

    def __str__(self) -> str:
        return f"has({self.key})"


@record(frozen=True, slots=True)
class LabelMatch(SelectorNode):
    """``key <operator> value`` or ``key (not) in {values}``."""

    key: str
    operator: MatchOperator
    #: One value, or the set's values (sorted) for ``in`` / ``not in``.
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        operator = self.operator
        # The negative operators match resources without the label (policy-kinds §7.3).
        if value is None:
            return operator in (MatchOperator.NE, MatchOperator.NOT_IN)
        if operator is MatchOperator.EQ:
            return value == self.values[0]
        if operator is MatchOperator.NE:
            return value != self.values[0]
        if operator is MatchOperator.IN:
            return value in self.values
        if operator is MatchOperator.NOT_IN:
            return value not in self.values
        if operator is MatchOperator.CONTAINS:
            return self.values[0] in value
        if operator is MatchOperator.STARTS_WITH:
            return value.startswith(self.values[0])
        return value.endswith(self.values[0])

    def __str__(self) -> str:
        if self.operator in (MatchOperator.IN, MatchOperator.NOT_IN):
            return f"{self.key} {self.operator.value} {{{', '.join(_quote(v) for v in self.values)}}}"
        return f"{self.key} {self.operator.value} {_quote(self.values[0])}"


@record(frozen=True, slots=True)
class Not(SelectorNode):
    operand: SelectorNode

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.operand.matches(labels)

    def __str__(self) -> str:
        return f"!{self.operand}"


@record(frozen=True, slots=True)
class And(SelectorNode):
    operands: tuple[SelectorNode, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(operand.matches(labels) for operand in self.operands)

    def __str__(self) -> str:
        return "(" + " && ".join(str(operand) for operand in self.operands) + ")"


@record(frozen=True, slots=True)
class Or(SelectorNode):
    operands: tuple[SelectorNode, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return any(operand.matches(labels) for operand in self.operands)

    def __str__(self) -> str:
        return "(" + " || ".join(str(operand) for operand in self.operands) + ")"


def _quote(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


@record(frozen=True, slots=True)
class CalicoSelector:
    """A parsed selector: its text and its AST."""

    text: str
    root: SelectorNode

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.root.matches(labels)

    @property
    def is_all(self) -> bool:
        """Written as ``all()`` or empty: every candidate in scope."""
        return isinstance(self.root, All)

    @property
    def uses_global(self) -> bool:
        """Whether ``global()`` appears anywhere (valid only as a rule's ``namespaceSelector``)."""
        return _contains_global(self.root)

    def __str__(self) -> str:
        return str(self.root)


def _contains_global(node: SelectorNode) -> bool:
    if isinstance(node, Global):
        return True
    if isinstance(node, Not):
        return _contains_global(node.operand)
    if isinstance(node, (And, Or)):
        return any(_contains_global(operand) for operand in node.operands)
    return False


# --- tokens -------------------------------------------------------------------------------


class _Kind(Enum):
    LABEL = "a label"
    STRING = "a string"
    LBRACE = "`{`"
    RBRACE = "`}`"
    COMMA = "`,`"
    EQ = "`==`"
    NE = "`!=`"
    IN = "`in`"
    NOT = "`!`"
    NOT_IN = "`not in`"
    CONTAINS = "`contains`"
    STARTS_WITH = "`starts with`"
    ENDS_WITH = "`ends with`"
    ALL = "`all()`"
    HAS = "`has(…)`"
    LPAREN = "`(`"
    RPAREN = "`)`"
    AND = "`&&`"
    OR = "`||`"
    GLOBAL = "`global()`"
    EOF = "the end of the selector"


@record(frozen=True, slots=True)
class _Token:
    kind: _Kind
    offset: int
    value: str = ""


_SIMPLE = {"(": _Kind.LPAREN, ")": _Kind.RPAREN, "{": _Kind.LBRACE, "}": _Kind.RBRACE, ",": _Kind.COMMA}
#: Operators Calico's tokenizer recognises right after a label, longest words first as it tries them.
_AFTER_LABEL = (
    ("contains", None, _Kind.CONTAINS),
    ("starts", "with", _Kind.STARTS_WITH),
    ("ends", "with", _Kind.ENDS_WITH),
    ("not", "in", _Kind.NOT_IN),
    ("in", None, _Kind.IN),
)


def _named(label: str) -> str:
    """A label as an error message names it: long ones cut, so messages stay short."""
    return label if len(label) <= 40 else label[:39] + "…"


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def _label_end(text: str, at: int) -> int:
    end = at
    while end < len(text) and text[end] in _LABEL_CHARS:
        end += 1
    return end


def _describe_char(char: str) -> str:
    if char == "\n":
        return "a line break (only spaces and tabs may separate a selector's parts)"
    if char == "\r":
        return "a carriage return"
    if not char.isprintable():
        return f"the character U+{ord(char):04X}"
    return f"`{char}`"


def _tokenize(text: str) -> list[_Token]:
    """Calico's tokenizer: the same tokens, the same rejections, each with its offset."""
    tokens: list[_Token] = []
    at = 0
    while True:
        at = _skip(text, at)
        if at >= len(text):
            tokens.append(_Token(_Kind.EOF, at))
            return tokens
        char = text[at]
        after_label = bool(tokens) and tokens[-1].kind is _Kind.LABEL
        if char in _SIMPLE:
            tokens.append(_Token(_SIMPLE[char], at))
            at += 1
        elif char in "'\"":
            close = text.find(char, at + 1)
            if close < 0:
                raise SelectorError(f"unterminated string: no closing {char} for the one here", at)
            tokens.append(_Token(_Kind.STRING, at, text[at + 1 : close]))
            at = close + 1
        elif char == "=":
            if not text.startswith("==", at):
                raise SelectorError("expected `==`: a single `=` is no operator", at)
            tokens.append(_Token(_Kind.EQ, at))
            at += 2
        elif char == "!":
            if text.startswith("!=", at):
                tokens.append(_Token(_Kind.NE, at))
                at += 2
            else:
                tokens.append(_Token(_Kind.NOT, at))
                at += 1
        elif char in "&|":
            if not text.startswith(char * 2, at):
                raise SelectorError(f"expected `{char * 2}`", at)
            tokens.append(_Token(_Kind.AND if char == "&" else _Kind.OR, at))
            at += 2
        elif after_label:
            at = _operator_after_label(text, at, tokens)
        elif text.startswith("has(", at):
            at = _has(text, at, tokens)
        elif text.startswith(("all(", "global("), at):
            kind = _Kind.ALL if text.startswith("all(", at) else _Kind.GLOBAL
            word = "all(" if kind is _Kind.ALL else "global("
            inner = _skip(text, at + len(word))
            if not text.startswith(")", inner):
                raise SelectorError(f"no closing `)` after `{word}`", inner)
            tokens.append(_Token(kind, at))
            at = inner + 1
        else:
            end = _label_end(text, at)
            if end == at:
                raise SelectorError(f"unexpected character {_describe_char(char)}", at)
            tokens.append(_Token(_Kind.LABEL, at, text[at:end]))
            at = end


def _operator_after_label(text: str, at: int, tokens: list[_Token]) -> int:
    label = tokens[-1].value
    for first, second, kind in _AFTER_LABEL:
        if not text.startswith(first, at):
            continue
        end = at + len(first)
        if second is not None:
            end = _skip(text, end)
            if not text.startswith(second, end):
                break
            end += len(second)
        tokens.append(_Token(kind, at))
        return end
    char = text[at]
    hint = " (a value must be quoted)" if char in _LABEL_CHARS else ""
    raise SelectorError(
        f"expected an operator (`==`, `!=`, `in`, `not in`, …) after the label `{_named(label)}`, "
        f"found {_describe_char(char)}{hint}",
        at,
    )


def _has(text: str, at: int, tokens: list[_Token]) -> int:
    start = _skip(text, at + len("has("))
    end = _label_end(text, start)
    # Calico's identifier scan finds no label when the text ends inside it.
    if end == start or end >= len(text):
        raise SelectorError("no label name in `has(`", start)
    close = _skip(text, end)
    if not text.startswith(")", close):
        raise SelectorError("no closing `)` after `has(`", close)
    tokens.append(_Token(_Kind.HAS, at, text[start:end]))
    return close + 1


# --- parser -------------------------------------------------------------------------------

_VALUE_OPERATORS = {
    _Kind.EQ: MatchOperator.EQ,
    _Kind.NE: MatchOperator.NE,
    _Kind.CONTAINS: MatchOperator.CONTAINS,
    _Kind.STARTS_WITH: MatchOperator.STARTS_WITH,
    _Kind.ENDS_WITH: MatchOperator.ENDS_WITH,
}


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def or_expression(self, depth: int) -> SelectorNode:
        operands = [self.and_expression(depth)]
        while self.peek().kind is _Kind.OR:
            self.take()
            operands.append(self.and_expression(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expression(self, depth: int) -> SelectorNode:
        operands = [self.operation(depth)]
        while self.peek().kind is _Kind.AND:
            self.take()
            operands.append(self.operation(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def operation(self, depth: int) -> SelectorNode:
        # Leading `!`s collapse to one negation, as Calico's parser does.
        negated = False
        while self.peek().kind is _Kind.NOT:
            self.take()
            negated = not negated
        token = self.take()
        node: SelectorNode
        if token.kind is _Kind.HAS:
            node = Has(token.value)
        elif token.kind is _Kind.ALL:
            node = All()
        elif token.kind is _Kind.GLOBAL:
            node = Global()
        elif token.kind is _Kind.LABEL:
            node = self.match(token)
        elif token.kind is _Kind.LPAREN:
            if depth >= MAX_DEPTH:
                raise SelectorError(f"parentheses nested deeper than {MAX_DEPTH}", token.offset, limit=True)
            node = self.or_expression(depth + 1)
            close = self.take()
            if close.kind is not _Kind.RPAREN:
                raise SelectorError(
                    f"expected `)` to close the `(` at character {token.offset + 1}", close.offset
                )
        else:
            raise SelectorError(
                f"unexpected {token.kind.value}: expected a label, `has(…)`, `all()` or `(`", token.offset
            )
        return Not(node) if negated else node

    def match(self, label: _Token) -> SelectorNode:
        operator = self.take()
        if operator.kind in _VALUE_OPERATORS:
            value = self.take()
            if value.kind is not _Kind.STRING:
                hint = " (a value must be quoted: 'value')" if value.kind is _Kind.LABEL else ""
                raise SelectorError(f"expected a string after {operator.kind.value}{hint}", value.offset)
            return LabelMatch(label.value, _VALUE_OPERATORS[operator.kind], (value.value,))
        if operator.kind in (_Kind.IN, _Kind.NOT_IN):
            brace = self.take()
            if brace.kind is not _Kind.LBRACE:
                raise SelectorError(
                    f"expected a set literal `{{'a', 'b'}}` after {operator.kind.value}", brace.offset
                )
            values: set[str] = set()
            while self.peek().kind is _Kind.STRING:
                values.add(self.take().value)
                if self.peek().kind is not _Kind.COMMA:
                    break
                self.take()
            close = self.take()
            if close.kind is not _Kind.RBRACE:
                raise SelectorError(f"expected `}}` to close the set, found {close.kind.value}", close.offset)
            kind = MatchOperator.IN if operator.kind is _Kind.IN else MatchOperator.NOT_IN
            return LabelMatch(label.value, kind, tuple(sorted(values)))
        raise SelectorError(
            f"expected an operator (`==`, `!=`, `in`, `not in`, …) after the label `{_named(label.value)}`, "
            f"found {operator.kind.value}",
            operator.offset,
        )


def parse_selector(text: str) -> CalicoSelector:
    """``text`` parsed as Calico parses it; raises :class:`SelectorError` where Calico rejects it."""
    if len(text) > MAX_LENGTH:
        raise SelectorError(f"selector longer than {MAX_LENGTH} characters", MAX_LENGTH, limit=True)
    tokens = _tokenize(text)
    if tokens[0].kind is _Kind.EOF:
        return CalicoSelector(text, All())
    parser = _Parser(tokens)
    root = parser.or_expression(0)
    rest = parser.peek()
    if rest.kind is not _Kind.EOF:
        raise SelectorError(f"unexpected {rest.kind.value} after a complete selector", rest.offset)
    return CalicoSelector(text, root)


# --- what selectors see -------------------------------------------------------------------


def endpoint_labels(
    pod_labels: Mapping[str, str], namespace: str, service_account: str = "default"
) -> dict[str, str]:
    """The labels a Calico selector sees on a pod (policy-kinds §7.4)."""
    return {
        **pod_labels,
        NAMESPACE_LABEL: namespace,
        ORCHESTRATOR_LABEL: "k8s",
        SERVICE_ACCOUNT_LABEL: service_account,
    }


def namespace_labels(labels: Mapping[str, str], name: str) -> dict[str, str]:
    """The labels a ``namespaceSelector`` sees on a namespace (policy-kinds §7.4)."""
    return {**labels, "kubernetes.io/metadata.name": name, NAME_LABEL: name}


# --- positions ----------------------------------------------------------------------------


def locate(node: ScalarNode, offset: int) -> Span:
    """The file position of character ``offset`` of the scalar's value.

    Exact for a scalar on one line: plain, single-quoted (``''`` is one quote) and
    double-quoted (checked against the node's width, since escapes change it). A scalar
    over several lines (folded, literal, or a wrapped flow scalar) loses, in the loader,
    the indentation and line breaks that decide where each character was; its whole span
    is returned then, and the caller names the character in its message.
    """
    line, column, end_line, end_column = (
        node.span.line,
        node.span.column,
        node.span.end_line,
        node.span.end_column,
    )
    text = node.text
    offset = max(0, min(offset, len(text)))
    if line == end_line:
        width = end_column - column
        if node.style == "" and width == len(text):
            return Span.point(line, column + offset)
        if node.style == "'" and width == len(text) + text.count("'") + 2:
            return Span.point(line, column + 1 + offset + text[:offset].count("'"))
        if node.style == '"':
            escaped = [_escaped_width(char) for char in text]
            if width == sum(escaped) + 2:
                return Span.point(line, column + 1 + sum(escaped[:offset]))
    return node.span


def _escaped_width(char: str) -> int:
    """How wide ``char`` is written in a double-quoted scalar when it is written shortest."""
    if char in '"\\':
        return 2
    if char.isprintable():
        return 1
    if char in "\0\a\b\t\n\v\f\r\x1b":
        return 2 if char != "\t" else 1
    return 4 if ord(char) < 0x100 else 6 if ord(char) < 0x10000 else 10
