"""Start-up: what a run imports, and the shortcuts that keep it small give the answers they replace.

Settings that plainly conform are accepted without jsonschema (:func:`nplint.config.conforms`):
whenever that check answers, jsonschema must answer the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nplint.config import SCHEMA, ConfigError, build_config, conforms
from nplint.plugins.manager import DISABLE_AUTOLOAD_ENV

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


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        (0.5, {"minimum": 1}),
        (1.0, {"type": "integer"}),
        ("x", {"type": ["string", "null"]}),
        (["x"], {"items": [{"type": "string"}]}),
        ("x", {"pattern": "^y"}),
    ],
)
def test_what_conforms_does_not_judge_it_leaves_to_jsonschema(value: object, schema: dict[str, Any]) -> None:
    assert conforms(value, schema) is None


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

    assert tuple(DIFF_FORMATS) == diff.FORMATS
    assert reach.FORMATS == tuple(MATRIX_FORMATS) == tuple(WORLDS_FORMATS)


def _site(tmp_path: Path, entry_points: str | None, name: str = "some_tool-1.0.dist-info") -> Path:
    site = tmp_path / "site"
    info = site / name
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: some-tool\nVersion: 1.0\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)
    return site


@pytest.mark.parametrize(
    ("entry_points", "may"),
    [
        (None, False),
        ("[console_scripts]\nsome-tool = some_tool:main\nnplint-helper = some_tool:nplint\n", False),
        ("[nplint]\nmine = some_tool.plugin\n", True),
        ("  [nplint]  \nmine = some_tool.plugin\n", True),
        ("[console_scripts]\nx = some_tool:main [nplint]\n", True),  # could be read either way: asked
    ],
)
def test_plugins_are_looked_up_only_where_a_distribution_may_declare_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_points: str | None, may: bool
) -> None:
    from nplint.plugins.manager import may_declare_entry_points

    site = _site(tmp_path, entry_points)
    monkeypatch.setattr(sys, "path", [str(site), str(tmp_path / "missing")])
    assert may_declare_entry_points("nplint") is may


def test_what_the_look_up_cannot_judge_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nplint.plugins.manager import may_declare_entry_points

    archive = tmp_path / "bundle.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert may_declare_entry_points("nplint")
    undecodable = _site(tmp_path / "u", None)
    (undecodable / "some_tool-1.0.dist-info" / "entry_points.txt").write_bytes(b"[\xff]\n")
    monkeypatch.setattr(sys, "path", [str(undecodable)])
    assert may_declare_entry_points("nplint")

    class Finder:
        @staticmethod
        def find_distributions(context: object = None) -> list[object]:
            return []

    monkeypatch.setattr(sys, "path", [])
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder()])
    assert may_declare_entry_points("nplint")


def test_a_run_without_plugins_does_not_import_importlib_metadata(tmp_path: Path) -> None:
    script = (
        "import io, json, sys\n"
        "from nplint.cli import main\n"
        "main(['rules'], stdout=io.StringIO())\n"
        "print(json.dumps('importlib.metadata' in sys.modules))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != DISABLE_AUTOLOAD_ENV}
    done = subprocess.run(
        [sys.executable, "-I", "-c", script],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) is False


@pytest.mark.parametrize("argv", [["--version"], ["rules"], ["explain", "NP101"]])
def test_commands_that_lint_nothing_import_no_pipeline(tmp_path: Path, argv: list[str]) -> None:
    modules = _imported_by(argv, tmp_path)
    assert "nplint.rules.isolation" in modules  # the session's rules are there
    for unused in (
        "nplint.lint",
        "nplint.render",
        "nplint.parallel",
        "nplint.commands.revision",
        "subprocess",
    ):
        assert unused not in modules, unused
