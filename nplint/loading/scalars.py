"""YAML 1.1 scalar resolution, as Kubernetes' YAML decoder (go-yaml v2 behind sigs.k8s.io/yaml) reads scalars.

``on`` and ``yes`` are booleans, ``0755`` is octal, ``~`` is null, and
``08080`` (not octal) stays a string.
"""

from __future__ import annotations

import re

Scalar = str | int | float | bool | None

CORE_TAG = "tag:yaml.org,2002:"

#: The plain scalars that are null.
NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
# YAML 1.1 integers: binary, hex, octal (a leading 0, digits 0-7 only), decimal.
# "08080" matches none of them and stays a string, as in Kubernetes' decoder.
_INT_RE = re.compile(r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o[0-7_]+|0[0-7_]+|0|[1-9][0-9_]*)\Z")
_FLOAT_RE = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?\Z"
    r"|[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z"
)


def resolve_plain(text: str) -> Scalar:
    """Resolve an untagged plain scalar to null, bool, int, float or str."""
    if not text:
        return None
    first = text[0]
    if first in "0123456789+-.":
        if _INT_RE.match(text):
            return _parse_int(text)
        if _FLOAT_RE.match(text):
            return _parse_float(text)
        return text
    if text in NULLS:
        return None
    return _BOOLS.get(text, text)


def _parse_int(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    if digits.startswith("0b"):
        return sign * int(digits[2:], 2)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


def _parse_float(text: str) -> float | str:
    lowered = text.replace("_", "").lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered.endswith(".nan"):
        return float("nan")
    try:
        return float(lowered)
    except ValueError:
        return text


def resolve_tagged(tag: str, text: str) -> Scalar:
    name = tag[len(CORE_TAG) :] if tag.startswith(CORE_TAG) else ""
    if name == "null":
        return None
    if name == "bool":
        value = _BOOLS.get(text)
        return value if value is not None else text
    if name == "int" and _INT_RE.match(text):
        return _parse_int(text)
    if name == "float" and (_FLOAT_RE.match(text) or _INT_RE.match(text)):
        return _parse_float(text)
    return text
