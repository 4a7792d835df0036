"""NP002 unknown-field and NP003 invalid-value: fixtures, validators, messages, robustness."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FIXTURES
from nplint.config import Config
from nplint.findings import Finding
from nplint.loading import iter_manifests, load_text
from nplint.model import build_inventory
from nplint.model.validation import (
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
from nplint.rules.base import Rule, RuleContext
from nplint.rules.schema import (
    EGRESS_RULE,
    INGRESS_RULE,
    OBJECT,
    SELECTOR,
    SPEC,
    InvalidValue,
    Shape,
    UnknownField,
    unknown_field_advice,
)

RULES: tuple[type[Rule], ...] = (UnknownField, InvalidValue)
MARKER = re.compile(r"#\s*expect:\s*([A-Z0-9@, ]+)")


def run(rule: type[Rule], text: str, path: str = "policy.yaml") -> list[Finding]:
    loaded = load_text(path, text)
    inventory = build_inventory(iter_manifests(loaded))
    ctx = RuleContext(inventory=inventory, config=Config(), files=[loaded])
    return list(rule().check(ctx))


def messages(rule: type[Rule], text: str) -> list[str]:
    return [finding.message for finding in run(rule, text)]


def details(rule: type[Rule], text: str) -> list[str]:
    return [finding.detail for finding in run(rule, text)]


def policy(spec: str, metadata: str = "  name: p\n  namespace: shop\n") -> str:
    """A NetworkPolicy manifest around ``spec`` (indented two spaces)."""
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n{metadata}spec:\n{spec}"


# --- fixtures ----------------------------------------------------------------


def _fixture_files() -> list[Path]:
    return sorted(
        path
        for rule_id in ("NP002", "NP003")
        for kind in ("bad", "good")
        for path in (FIXTURES / rule_id / kind).glob("*.yaml")
    )


def _marked_lines(text: str, rule_id: str) -> set[int]:
    lines = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = MARKER.search(line)
        if match and rule_id in {code.strip().partition("@")[0] for code in match.group(1).split(",")}:
            lines.add(number)
    return lines


FIXTURE_FILES = _fixture_files()


def test_there_are_fixtures_of_each_kind() -> None:
    for rule_id in ("NP002", "NP003"):
        for kind in ("bad", "good"):
            assert len(list((FIXTURES / rule_id / kind).glob("*.yaml"))) >= 3, f"{rule_id}/{kind}"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
@pytest.mark.parametrize(
    "fixture", FIXTURE_FILES, ids=[f"{p.parent.parent.name}-{p.parent.name}-{p.name}" for p in FIXTURE_FILES]
)
def test_fixture_lines(rule: type[Rule], fixture: Path) -> None:
    """Both rules, on every fixture of both: the reported lines are exactly the marked ones."""
    text = fixture.read_text(encoding="utf-8")
    loaded = load_text(fixture.name, text)
    assert not loaded.problems and not any(doc.problems for doc in loaded.documents), "fixture is not valid"
    found = run(rule, text, fixture.name)
    reported = {finding.span.line for finding in found}
    expected = _marked_lines(text, rule.id)
    assert reported == expected, "\n".join(f"{f.span.line}: {f.message}" for f in found)
    assert all(finding.rule_id == rule.id and finding.path == fixture.name for finding in found)
    if fixture.parent.name == "bad" and fixture.parent.parent.name == rule.id:
        assert found, f"bad fixture {fixture.name} raises no {rule.id}"


def test_finding_names_the_policy_and_points_at_the_key() -> None:
    text = policy("  podSelector: {}\n  ingres: []\n")
    [finding] = run(UnknownField, text)
    assert finding.object is not None and str(finding.object) == "NetworkPolicy shop/p"
    assert (finding.span.line, finding.span.column) == (8, 3)
    assert finding.yaml_path == "spec.ingres"


def test_policy_without_metadata_is_reported_without_an_object() -> None:
    [finding] = run(InvalidValue, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nspec: {}\n")
    assert finding.object is None and finding.path == "policy.yaml" and finding.span.line == 2


def test_rules_are_registered() -> None:
    from nplint.rules import builtin_rules

    rules = {rule.id: rule for rule in builtin_rules()}
    assert rules["NP002"] is UnknownField and rules["NP003"] is InvalidValue
    assert UnknownField.default_enabled and InvalidValue.default_enabled


# --- validators --------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "app",
        "a",
        "A",
        "9",
        "app.kubernetes.io/name",
        "kubernetes.io/metadata.name",
        "a_b.c-d",
        "x/" + "n" * 63,
    ],
)
def test_valid_label_keys(key: str) -> None:
    assert label_key_problems(key) == []


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "must be non-empty"),
        ("/name", "prefix part must be non-empty"),
        ("example.com/", "name part must be non-empty"),
        ("a/b/c", "at most one '/'"),
        ("-app", "start and end with an alphanumeric"),
        ("app_", "start and end with an alphanumeric"),
        ("bad key", "alphanumeric"),
        ("n" * 64, "no more than 63"),
        ("Example.com/name", "prefix"),
        ("exa_mple.com/name", "prefix"),
        ("p" * 254 + "/name", "no more than 253"),
    ],
)
def test_invalid_label_keys(key: str, fragment: str) -> None:
    problems = label_key_problems(key)
    assert problems and any(fragment in p for p in problems), problems


@pytest.mark.parametrize("value", ["", "a", "Backend_2.x", "1.0", "v" * 63, "on"])
def test_valid_label_values(value: str) -> None:
    assert label_value_problems(value) == []


@pytest.mark.parametrize("value", ["-x", "x-", ".x", "a b", "a/b", "v" * 64, "é"])
def test_invalid_label_values(value: str) -> None:
    assert label_value_problems(value)


def test_dns_subdomain_and_label() -> None:
    assert dns1123_subdomain_problems("api.allow-web") == []
    assert dns1123_subdomain_problems("9lives") == []
    assert dns1123_subdomain_problems("a" * 253) == []
    assert any("253" in p for p in dns1123_subdomain_problems("a" * 254))
    for bad in ("", "Api", "a_b", "-a", "a-", "a..b", ".a", "a."):
        assert dns1123_subdomain_problems(bad), bad
    assert dns1123_label_problems("shop-prod") == []
    assert dns1123_label_problems("a" * 63) == []
    assert any("63" in p for p in dns1123_label_problems("a" * 64))
    for bad in ("", "shop.prod", "Shop", "-a", "a-", "a_b"):
        assert dns1123_label_problems(bad), bad


def test_generate_name_allows_a_trailing_dash() -> None:
    assert generate_name_problems("allow-") == []
    assert generate_name_problems("allow") == []
    assert generate_name_problems("Allow-")
    assert generate_name_problems("-")


@pytest.mark.parametrize("name", ["http", "http-alt", "h2c", "metrics9090", "a" * 15, "9a"])
def test_valid_port_names(name: str) -> None:
    assert port_name_problems(name) == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "must not be empty"),
        ("a" * 16, "no more than 15"),
        ("HTTP", "lowercase"),
        ("http_alt", "lowercase"),
        ("8080", "at least one letter"),
        ("80-90", "at least one letter"),
        ("web--alt", "consecutive hyphens"),
        ("-http", "begin or end"),
        ("http-", "begin or end"),
    ],
)
def test_invalid_port_names(name: str, fragment: str) -> None:
    problems = port_name_problems(name)
    assert any(fragment in p for p in problems), problems


def test_port_number_range() -> None:
    assert [port_number_valid(n) for n in (0, 1, 80, 65535, 65536, -1, 10**30)] == [
        False,
        True,
        True,
        True,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("text", "network"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("192.168.1.7/32", "192.168.1.7/32"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:DB8::/32", "2001:db8::/32"),
        ("2001:0db8::/32", "2001:db8::/32"),
        ("::/0", "::/0"),
    ],
)
def test_valid_cidrs(text: str, network: str) -> None:
    parsed = parse_cidr(text)
    assert parsed.valid and str(parsed.network) == network and not parsed.host_bits


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("10.0.0.1", "write 10.0.0.1/32"),
        ("2001:db8::1", "write 2001:db8::1/128"),
        ("010.0.0.0/8", "leading zeros"),
        ("10.0.0.0/08", "leading zeros"),
        ("::ffff:10.0.0.0/104", "IPv4-mapped"),
        ("10.0.0.0/33", "not a valid CIDR"),
        ("10.0.0.0/255.0.0.0", "not a valid CIDR"),
        ("10.0.0.0/-1", "not a valid CIDR"),
        ("10.0.0/8", "not a valid CIDR"),
        ("256.0.0.0/8", "not a valid CIDR"),
        (" 10.0.0.0/8", "not a valid CIDR"),
        ("fe80::1%eth0/64", "not a valid CIDR"),
        ("10.0.0.0/8/8", "not a valid CIDR"),
        ("", "not a valid CIDR"),
        ("internal", "not a valid CIDR"),
        ("10.0.0.0/" + "9" * 5000, "not a valid CIDR"),
    ],
)
def test_invalid_cidrs(text: str, fragment: str) -> None:
    parsed = parse_cidr(text)
    assert not parsed.valid and parsed.error is not None and fragment in parsed.error


def test_cidr_with_host_bits_is_valid_here_and_masked() -> None:
    parsed = parse_cidr("10.0.0.1/8")
    assert parsed.valid and parsed.host_bits and str(parsed.network) == "10.0.0.0/8"


def test_cidr_with_leading_zeros_still_has_the_lenient_network() -> None:
    parsed = parse_cidr("010.000.0.0/8")
    assert (
        str(parsed.network) == "10.0.0.0/8"
        and parsed.error is not None
        and "write 10.0.0.0/8" in parsed.error
    )


def test_strict_subset() -> None:
    outer = parse_cidr("10.0.0.0/8").network
    outer6 = parse_cidr("2001:db8::/32").network
    assert outer is not None and outer6 is not None
    for inner, container, expected in [
        ("10.1.0.0/16", outer, True),
        ("10.255.255.255/32", outer, True),
        ("10.0.0.0/9", outer, True),
        ("10.0.0.0/8", outer, False),
        ("0.0.0.0/0", outer, False),
        ("11.0.0.0/16", outer, False),
        ("::/128", outer, False),
        ("2001:db8:1::/48", outer6, True),
        ("2001:db8::/32", outer6, False),
        ("10.1.0.0/16", outer6, False),
    ]:
        network = parse_cidr(inner).network
        assert network is not None and is_strict_subset(network, container) is expected, inner


# --- NP002 messages ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "shape", "fragment"),
    [
        ("podselector", SPEC, "did you mean `podSelector`?"),
        ("PolicyTypes", SPEC, "did you mean `policyTypes`?"),
        ("matchLabel", SELECTOR, "did you mean `matchLabels`?"),
        ("policyType", SPEC, "did you mean `policyTypes`?"),
        ("ingres", SPEC, "did you mean `ingress`?"),
        ("ingress", SELECTOR, "`ingress` belongs under spec"),
        ("from", EGRESS_RULE, "egress rules use `to`"),
        ("to", INGRESS_RULE, "ingress rules use `from`"),
        ("status", OBJECT, "withdrawn"),
        ("podSelector", OBJECT, "belongs under spec"),
        ("port", INGRESS_RULE, "did you mean `ports`?"),
        ("zzz", SPEC, "`podSelector`, `ingress`, `egress`, `policyTypes`"),
    ],
)
def test_unknown_field_advice(key: str, shape: Shape, fragment: str) -> None:
    assert fragment in unknown_field_advice(key, shape)


def test_unknown_field_messages_in_a_manifest() -> None:
    text = policy(
        "  podSelector:\n    matchLabel: {app: api}\n    ingress:\n    - from: []\n  egress:\n  - from: []\n"
    )
    found = messages(UnknownField, text)
    assert len(found) == 3
    assert found[0] == "unknown field `matchLabel` in a LabelSelector: did you mean `matchLabels`?"
    assert "in a LabelSelector (spec.podSelector)" in details(UnknownField, text)[0]
    assert "`ingress` belongs under spec" in found[1] and "check the indentation" in found[1]
    assert "egress rules use `to`" in found[2]


# --- NP003 messages ----------------------------------------------------------


def test_quoted_port_message() -> None:
    text = policy('  ingress:\n  - ports:\n    - port: "8080"\n')
    [message] = messages(InvalidValue, text)
    assert 'port "8080" is quoted, so it is read as a port name' in message
    assert "write 8080 unquoted" in message
    [detail] = details(InvalidValue, text)
    assert "A quoted port is a string" in detail and "at least one letter" in detail


def test_quoted_port_still_judges_end_port_against_the_number() -> None:
    found = messages(InvalidValue, policy('  ingress:\n  - ports:\n    - {port: "8080", endPort: 8000}\n'))
    assert len(found) == 2 and "less than port 8080" in found[1]


@pytest.mark.parametrize("written", ["on", "yes", "true", "1.0", "8080", "0755", "y"])
def test_unquoted_label_value_says_to_quote_it(written: str) -> None:
    text = policy(f"  podSelector:\n    matchLabels: {{x: {written}}}\n")
    [message] = messages(InvalidValue, text)
    assert f'quote it: "{written}"' in message and "not a string" in message
    [detail] = details(InvalidValue, text)
    assert "must be a string" in detail


@pytest.mark.parametrize(
    ("fragment", "spec", "advice"),
    [
        ("protocol", "  ingress:\n  - ports: [{protocol: tcp}]\n", "write TCP"),
        ("protocol", "  ingress:\n  - ports: [{protocol: Udp}]\n", "write UDP"),
        ("policyTypes entry", "  policyTypes: [ingress]\n", "write Ingress"),
        ("policyTypes entry", "  policyTypes: [EGRESS]\n", "write Egress"),
        (
            "operator",
            "  podSelector:\n    matchExpressions: [{key: a, operator: in, values: [b]}]\n",
            "write In",
        ),
        ("operator", "  podSelector:\n    matchExpressions: [{key: a, operator: exists}]\n", "write Exists"),
        (
            "operator",
            "  podSelector:\n    matchExpressions: [{key: a, operator: notin, values: [b]}]\n",
            "write NotIn",
        ),
        (
            "operator",
            "  podSelector:\n    matchExpressions: [{key: a, operator: DoesNotExists}]\n",
            "write DoesNotExist",
        ),
        ("port name", "  ingress:\n  - ports: [{port: HTTP}]\n", "write http"),
        ("port name", "  ingress:\n  - ports: [{port: 80-90}]\n", "`port: 80` and `endPort: 90`"),
    ],
)
def test_invalid_value_suggestions(fragment: str, spec: str, advice: str) -> None:
    [message] = messages(InvalidValue, policy(spec))
    assert fragment in message and advice in message, message


def test_null_peer_selector_message() -> None:
    text = policy("  ingress:\n  - from:\n    - podSelector:\n")
    [message] = messages(InvalidValue, text)
    assert "`podSelector:` has nothing after it" in message and "fill it in" in message
    [detail] = details(InvalidValue, text)
    assert "`podSelector: {}` selects every pod" in detail


def test_metadata_name_suggests_a_valid_name() -> None:
    [message] = messages(InvalidValue, policy("  podSelector: {}\n", "  name: Allow_Web\n"))
    assert "for example 'allow-web'" in message


def test_ip_block_with_selector_is_reported_once_at_ip_block() -> None:
    found = run(
        InvalidValue,
        policy("  ingress:\n  - from:\n    - podSelector: {}\n      ipBlock: {cidr: 10.0.0.0/8}\n"),
    )
    assert [f.yaml_path for f in found] == ["spec.ingress[0].from[0].ipBlock"]


# --- robustness --------------------------------------------------------------

_FIELDS = sorted(
    {
        *("podSelector", "namespaceSelector", "ipBlock", "ingress", "egress", "policyTypes", "from", "to"),
        *("ports", "port", "endPort", "protocol", "cidr", "except", "matchLabels", "matchExpressions"),
        *(
            "key",
            "operator",
            "values",
            "name",
            "namespace",
            "labels",
            "metadata",
            "spec",
            "x",
            "on",
            "8080",
            "''",
        ),
    }
)
# Plain scalars, written as they are (YAML 1.1 resolves many to bools and numbers).
_PLAIN = [
    "on", "off", "yes", "~", "null", "0", "-1", "0755", "0x1F", "1.0", "1e3", ".inf", ".nan", "8080", "70000",
    "99999999999999999999999", "http", "HTTP", "TCP", "tcp", "In", "in", "Exists", "Ingress", "Egress",
    "10.0.0.0/8", "10.0.0.1", "010.0.0.0/8", "0.0.0.0/0", "app", "-x", "a/b/c",
]  # fmt: skip


def _yaml_scalar() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(_PLAIN),
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(
            lambda text: json.dumps(text, ensure_ascii=False)
        ),
        st.integers().map(str),
        st.sampled_from(["{}", "[]", "''", '""']),
    )


def _flow(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return str(value)


_JUNK = st.recursive(
    _yaml_scalar(),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(_FIELDS), children, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_JUNK, metadata=_JUNK)
def test_arbitrary_junk_only_produces_findings(spec: object, metadata: object) -> None:
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {_flow(metadata)}\nspec: {_flow(spec)}\n"
    )
    loaded = load_text("junk.yaml", text)
    inventory = build_inventory(iter_manifests(loaded))
    ctx = RuleContext(inventory=inventory, config=Config(), files=[loaded])
    for rule in RULES:
        for finding in rule().check(ctx):
            assert isinstance(finding, Finding) and finding.rule_id == rule.id
            assert finding.message and finding.span.line >= 1
