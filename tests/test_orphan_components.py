"""A Kustomize Component no overlay includes is no unit; NP005 only where nplint could never read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import FIXTURES, lint_paths, run_cli

REMOTE = FIXTURES / "NP005" / "bad" / "orphan-component-remote-chart"
LOCAL = FIXTURES / "NP101" / "good" / "orphan-component"
COMPONENT = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [job.yaml]\n"
JOB = (
    "apiVersion: batch/v1\nkind: Job\nmetadata: {name: setup, namespace: tools}\n"
    "spec: {template: {spec: {restartPolicy: Never, containers: [{name: s, image: 'example.org/s:1'}]}}}\n"
)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_files_of_an_orphan_component_are_no_unit() -> None:
    result = lint_paths(["."], root=LOCAL)
    assert result.findings == []
    assert [f.path for f in result.files] == []
    assert result.units == {}


def test_an_orphan_component_out_of_reach_is_said_once() -> None:
    result = lint_paths(["."], root=REMOTE)
    kustomization = "operator/components/console-plugin/kustomization.yaml"
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == [("NP005", kustomization, 1)]
    finding = result.findings[0]
    assert finding.message == (
        "this Kustomize Component was not linted: no overlay includes it, and remote chart console-plugin "
        "from https://ch…"
    )
    assert "remote chart console-plugin from https://charts.example.org/console-plugin" in finding.detail
    assert "lists it under `components:`" in finding.detail


def test_a_component_an_unrendered_overlay_includes_stays_plain(tmp_path: Path) -> None:
    # The overlay is refused (a remote base), so its files and its Component's are linted as
    # plain files, as before: the Job names its namespace, whichever overlay applies it.
    _write(
        tmp_path,
        {
            "overlay/kustomization.yaml": (
                "resources: [https://example.org/base.yaml]\ncomponents: [../components/setup]\n"
            ),
            "components/setup/kustomization.yaml": COMPONENT,
            "components/setup/job.yaml": JOB,
        },
    )
    result = lint_paths(["."], root=tmp_path, select=["NP005", "NP101"])
    assert [(f.rule_id, f.path, f.span.line) for f in result.findings] == [
        ("NP101", "components/setup/job.yaml", 3),
        ("NP005", "overlay/kustomization.yaml", 1),
    ]


def test_a_component_an_overlay_renders_is_linted_there(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "overlay/kustomization.yaml": (
                "namespace: tools\nresources: [policy.yaml]\ncomponents: [../setup]\n"
            ),
            "overlay/policy.yaml": (
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\n"
                "spec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n"
            ),
            "setup/kustomization.yaml": COMPONENT,
            "setup/job.yaml": JOB,
        },
    )
    result = lint_paths(["."], root=tmp_path, select=["NP005", "NP101", "NP102"])
    assert result.findings == []
    # One unit, the overlay: the Component's Job is linted in its output, not on its own.
    assert sorted({unit.name for unit in result.units.values()}) == ["overlay"]


@pytest.mark.parametrize("reason", ["an empty kustomization: it lists nothing", "it feeds an OLM bundle"])
def test_other_set_aside_kustomizations_keep_their_files(reason: str, tmp_path: Path) -> None:
    from nplint import kustomization
    from nplint.entry_points import orphan_component

    _write(tmp_path, {"c/kustomization.yaml": COMPONENT, "c/job.yaml": JOB})
    tree = kustomization.Tree(str(tmp_path))
    assert orphan_component(tree, "c", reason) == (set(), None)
    assert orphan_component(tree, "c", "a Kustomize Component: it is linted through…") == (
        {"c/job.yaml"},
        None,
    )


def test_worlds_shows_no_unit_for_an_orphan_out_of_reach(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _write(
        tmp_path,
        {
            "c/kustomization.yaml": COMPONENT
            + "helmCharts: [{name: x, repo: 'https://charts.example.org'}]\n",
            "c/job.yaml": JOB,
        },
    )
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    code, out = run_cli(["worlds", "--no-cache", "."])
    assert code == 0
    assert out.startswith("0 units")
