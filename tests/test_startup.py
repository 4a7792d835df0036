"""Start-up: what a run imports, and the shortcuts that keep it small give the answers they replace.

Settings that plainly conform are accepted without jsonschema (:func:`nplint.config.conforms`):
whenever that check answers, jsonschema must answer the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nplint.config import SCHEMA, ConfigError, build_config, conforms

VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=70000),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-2, max_value=70000),
    st.sampled_from(["", "x", "error", "warning", "note", "never", "auto", "calico", "openshift", "NP101"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["paths", "cni", "level", "dns", "ports", "port", "namespace", "x", "prod"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
_keys = st.sampled_from([*SCHEMA["properties"], "unknown-key"])


def _agrees(data: Any) -> None:
    verdict = conforms(data, SCHEMA)
    valid = not any(VALIDATOR.iter_errors(data))
    if verdict is not None:
        assert verdict == valid, (data, verdict, valid)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=4))
def test_conforms_agrees_with_jsonschema(data: dict[str, Any]) -> None:
    _agrees(data)


@pytest.mark.parametrize(
    "data",
    [
        {"fail-on": "never"},
        {"select": ["NP101"], "ignore": ["NP2"], "respect-gitignore": False, "cni": "calico"},
        {"expect": "probes.yaml", "render": "never", "cache": False},
        {"rules": {"NP101": {"level": "error", "ports": [1, 2]}}, "per-file-ignores": {"a/*": ["NP1"]}},
        {"cluster": {"dns": {"ports": [53], "pod-labels": {"k": "v"}}, "pod-cidr": ["10.0.0.0/8"]}},
        {"clusters": {"prod": {"paths": ["prod/**"], "cni": "cilium"}}},  # propertyNames: jsonschema's
        {"fail-on": "sometimes"},
        {"select": "NP101"},
        {"cluster": {"dns": {"ports": [0]}}},
        {"cluster": {"apiserver": {"port": 443.0}}},  # an integer to jsonschema: left to it
        {"rules": {"NP101": {"level": True}}},
        {"expect": ""},
        {"unknown": 1},
    ],
)
def test_conforms_on_typical_settings(data: dict[str, Any]) -> None:
    _agrees(data)


def test_plainly_valid_settings_are_accepted_and_bad_ones_named(tmp_path: Path) -> None:
    config = build_config({"fail-on": "never", "select": ["NP101"]}, source=None, root=tmp_path)
    assert config.fail_on is None and config.select == ("NP101",)
    with pytest.raises(ConfigError) as error:
        build_config({"fail-on": "sometimes"}, source=None, root=tmp_path)
    assert "key 'fail-on': 'sometimes' is not one of error, warning, note, never" in str(error.value)


def _imported_by(argv: list[str], cwd: Path) -> set[str]:
    """The modules a run of ``nplint ARGV`` in a fresh interpreter has imported when it ends."""
    script = (
        "import io, json, sys\n"
        "from nplint.cli import main\n"
        f"main({argv!r}, stdout=io.StringIO())\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={"NPLINT_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"},
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_a_check_imports_only_what_it_uses(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: a}\nspec: {podSelector: {}}\n"
    )
    modules = _imported_by(
        ["check", "--render", "never", "--format", "json", "--fail-on", "never", "."], tmp_path
    )
    assert "nplint.rules.isolation" in modules  # the check did run
    # Settings from the command line alone need no schema validator, and a check neither
    # the connectivity matrix nor the comparison of two revisions.
    for unused in (
        "jsonschema",
        "nplint.engine.diff",
        "nplint.reporting.changes",
        "nplint.reporting.connectivity",
        "nplint.engine.matrix",
    ):
        assert unused not in modules, unused


def test_the_commands_name_the_formats_their_reports_have() -> None:
    from nplint.commands import diff, reach
    from nplint.reporting.changes import DIFF_FORMATS
    from nplint.reporting.connectivity import MATRIX_FORMATS, WORLDS_FORMATS

    assert diff.FORMATS == tuple(DIFF_FORMATS)
    assert reach.FORMATS == tuple(MATRIX_FORMATS) == tuple(WORLDS_FORMATS)
