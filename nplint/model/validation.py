"""The API server's syntax checks for the strings of a NetworkPolicy, as small pure functions.

Each ``*_problems`` function returns what is wrong with a value, in the words
of the apimachinery validator it mirrors (empty when the value is valid), so
a rule can say exactly why the API server would refuse it. Sources:
networkpolicy-semantics §1.6; apimachinery ``validation.IsQualifiedName``,
``IsValidLabelValue``, ``IsDNS1123Subdomain``, ``IsDNS1123Label``,
``IsValidPortName`` and the strict CIDR parser of KEP-4858.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from nplint.model.objects import IPNetwork
from nplint.records import record

#: A label key's name part and a label value (apimachinery ``qualifiedNameFmt``).
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS1123_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
_PORT_NAME_CHARS = re.compile(r"[-a-z0-9]+")

QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
PORT_NAME_MAX_LENGTH = 15
PORT_MIN, PORT_MAX = 1, 65535

_NAME_CHARSET = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def label_key_problems(key: str) -> list[str]:
    """Why ``key`` is not a valid label key (``[prefix/]name``, IsQualifiedName), or []."""
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        problems = [f"the prefix (before '/'): {p}" for p in dns1123_subdomain_problems(prefix)]
        return problems + _name_part_problems(name)
    else:
        return ["a label key may contain at most one '/' (an optional DNS-subdomain prefix, then the name)"]
    return _name_part_problems(name)


def _name_part_problems(name: str) -> list[str]:
    if not name:
        return ["name part must be non-empty"]
    problems = []
    if len(name) > QUALIFIED_NAME_MAX_LENGTH:
        problems.append(f"name part must be no more than {QUALIFIED_NAME_MAX_LENGTH} characters")
    if not _QUALIFIED_NAME.fullmatch(name):
        problems.append(f"name part {_NAME_CHARSET}")
    return problems


def label_value_problems(value: str) -> list[str]:
    """Why ``value`` is not a valid label value (IsValidLabelValue), or []. Empty is valid."""
    problems = []
    if len(value) > LABEL_VALUE_MAX_LENGTH:
        problems.append(f"must be no more than {LABEL_VALUE_MAX_LENGTH} characters")
    if value and not _QUALIFIED_NAME.fullmatch(value):
        problems.append(f"a label value must be empty or {_NAME_CHARSET}")
    return problems


def dns1123_subdomain_problems(name: str) -> list[str]:
    """Why ``name`` is not a DNS-1123 subdomain (object names), or []."""
    problems = []
    if len(name) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        problems.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX_LENGTH} characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(name):
        problems.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character"
        )
    return problems


def dns1123_label_problems(name: str) -> list[str]:
    """Why ``name`` is not a DNS-1123 label (namespace names), or []."""
    problems = []
    if len(name) > DNS1123_LABEL_MAX_LENGTH:
        problems.append(f"must be no more than {DNS1123_LABEL_MAX_LENGTH} characters")
    if not _DNS1123_LABEL.fullmatch(name):
        problems.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character"
        )
    return problems


def generate_name_problems(prefix: str) -> list[str]:
    """Why ``prefix`` is not a valid ``generateName``: a subdomain once a suffix is added, or []."""
    # The API server masks a trailing '-' before validating, as a random suffix follows
    # (apimachinery maskTrailingDash, which drops the last two characters and appends "a").
    masked = prefix[:-2] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
    return dns1123_subdomain_problems(masked)


def port_name_problems(name: str) -> list[str]:
    """Why ``name`` is not a valid named port (IsValidPortName, IANA_SVC_NAME), or []."""
    if not name:
        return ["must not be empty"]
    problems = []
    if len(name) > PORT_NAME_MAX_LENGTH:
        problems.append(f"must be no more than {PORT_NAME_MAX_LENGTH} characters")
    if not _PORT_NAME_CHARS.fullmatch(name):
        problems.append("must contain only lowercase alphanumeric characters (a-z, 0-9) and hyphens (-)")
    if not any("a" <= char <= "z" for char in name):
        problems.append("must contain at least one letter (a-z)")
    if "--" in name:
        problems.append("must not contain consecutive hyphens (-)")
    if name.startswith("-") or name.endswith("-"):
        problems.append("must not begin or end with a hyphen (-)")
    return problems


def port_number_valid(number: int) -> bool:
    """True for a port number the API server accepts: 1..65535 (IsValidPortNum)."""
    return PORT_MIN <= number <= PORT_MAX


@record(frozen=True, slots=True)
class ParsedCIDR:
    """A CIDR string as the API server reads it.

    ``network`` is what the lenient ("sloppy") parser makes of it, masked, or
    None when even that fails; ``error`` says why strict validation (KEP-4858)
    rejects it. Host bits set beyond the prefix are not an ``error`` here but
    recorded in ``host_bits`` (rule NP501 judges them).
    """

    network: IPNetwork | None
    error: str | None = None
    host_bits: bool = False

    @property
    def valid(self) -> bool:
        return self.network is not None and self.error is None


_INVALID_CIDR = "is not a valid CIDR (write an address and a prefix length, e.g. 10.0.0.0/8 or 2001:db8::/32)"


#: Distinct CIDRs kept parsed: a repository repeats a few (the cluster ranges, 0.0.0.0/0) in
#: many policies, and several rules and the engine parse each of them.
_PARSED_CIDRS = 4096


@functools.lru_cache(maxsize=_PARSED_CIDRS)
def parse_cidr(text: str) -> ParsedCIDR:
    """Parse a NetworkPolicy CIDR (``ipBlock.cidr``, ``except[]``) as strict validation does."""
    address, slash, prefix = text.partition("/")
    if not slash:
        if _parses_as_address(address):
            full = "128" if ":" in address else "32"
            return ParsedCIDR(
                None, f"is a single address, not a CIDR: write {address}/{full} for that one address"
            )
        return ParsedCIDR(None, _INVALID_CIDR)
    if not (prefix.isascii() and prefix.isdigit()) or "%" in address or address != address.strip():
        return ParsedCIDR(None, _INVALID_CIDR)
    zeros = False
    if ":" not in address:
        octets = address.split(".")
        if any(len(octet) > 1 and octet.startswith("0") for octet in octets):
            zeros = True
            # The lenient parser reads them as decimal: 010 is 10.
            address = ".".join(octet.lstrip("0") or "0" for octet in octets)
    zeros = zeros or (len(prefix) > 1 and prefix.startswith("0"))
    try:
        interface = ipaddress.ip_interface(f"{address}/{int(prefix)}")
    except ValueError:
        return ParsedCIDR(None, _INVALID_CIDR)
    network = interface.network
    host_bits = interface.ip != network.network_address
    error: str | None = None
    if zeros:
        error = f"has leading zeros, which strict validation rejects: write {interface.with_prefixlen}"
    elif isinstance(interface.ip, ipaddress.IPv6Address) and interface.ip.ipv4_mapped is not None:
        # Strict parsing judges the address as written, before masking.
        mapped = interface.ip.ipv4_mapped
        instead = f"{mapped}/{network.prefixlen - 96}" if network.prefixlen >= 96 else "an IPv4 CIDR"
        error = f"is an IPv4-mapped IPv6 CIDR, which strict validation rejects: write {instead}"
    return ParsedCIDR(network, error, host_bits=host_bits)


def _parses_as_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


def is_strict_subset(inner: IPNetwork, outer: IPNetwork) -> bool:
    """True when ``inner`` lies inside ``outer`` with a strictly longer prefix (ipBlock ``except``)."""
    if inner.version != outer.version:
        return False
    return inner.prefixlen > outer.prefixlen and inner.network_address in outer
