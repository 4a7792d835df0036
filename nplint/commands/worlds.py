"""``nplint worlds``: the units of a repository and the worlds that hold them.

The first thing to run when a finding surprises: it shows what nplint takes
for one ``kubectl apply`` (a unit: a kustomize entry point, a Helm chart, the
plain manifests of one folder) and which units it judges together (a world:
what one cluster holds).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from nplint.cluster.cni import CNIDetection, detect_cni
from nplint.cluster.platform import (
    Platform,
    PlatformEvidence,
    declared_platform,
    evidence_order,
    platform_evidence,
    platform_of,
)
from nplint.commands.common import (
    Deployed,
    Session,
    add_common,
    add_render_option,
    config_for,
    deployed,
    write_output,
)
from nplint.config import Config
from nplint.discovery import SKIP_TEST_FOLDER, SkippedFile
from nplint.exitcodes import ExitCode
from nplint.units import Unit, World
from nplint.units.units import PLAIN
from nplint.untrusted import capped, escape, shown


def add_parser(subparsers: Any, session: Session | None = None) -> None:
    """Add the `worlds` command; ``session`` is unused (the command has no plugin options)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "worlds",
        help="show the deployment units and the worlds (clusters) nplint judges them in",
        description="Print the units (what one `kubectl apply` sends: a kustomize entry point, a Helm "
        "chart, the plain manifests of one folder) and the worlds (what one cluster holds) that every "
        "cross-object rule and the connectivity engine judge one at a time.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default '.')")
    parser.add_argument(
        "--format", choices=["text", "json"], default="text", help="output format (default: text)"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    add_common(parser)
    add_render_option(parser)


def run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    from nplint.lint import collector_paused

    with collector_paused():
        return _run(args, session, stdout)


def _run(args: argparse.Namespace, session: Session, stdout: TextIO) -> int:
    paths = args.paths or ["."]
    config = config_for(args, paths, {})
    session.plugins.configure(config)
    tree = deployed(paths, config, session)
    manifests, units, worlds = tree.manifests, tree.units, tree.worlds
    objects = Counter(units[m.path] for m in manifests if m.path in units)
    every = sorted(set(units.values()))
    platforms = _platforms(tree, config)
    releases = _releases(tree, config, session)
    # Folders skipped as a whole are part of how nplint sees the tree; skipped files are
    # said by the rules that need them (NP005).
    folders = [s for s in tree.skipped if s.reason == SKIP_TEST_FOLDER]
    if args.format == "json":
        data = _json(every, objects, worlds, platforms)
        for entry, release in zip(data["worlds"], releases, strict=True):  # type: ignore[call-overload]
            entry.update(_release_json(release))
        data["skipped"] = [{"path": s.display, "reason": s.reason, "detail": s.detail} for s in folders]
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = _text(every, objects, worlds, platforms, releases) + _skipped_text(folders)
    write_output(text, args.output, stdout)
    return ExitCode.OK


def _platforms(tree: Deployed, config: Config) -> list[Platform]:
    """Each world's platform (in the worlds' order), with why nplint takes it for that platform.

    The manifests are read once, unit by unit; a world shows what its units show.
    """
    first: dict[tuple[Unit, str], PlatformEvidence] = {}
    for manifest in tree.manifests:
        unit = tree.units.get(manifest.path)
        found = platform_evidence(manifest) if unit is not None else None
        if unit is None or found is None:
            continue
        name, evidence = found
        known = first.get((unit, name))
        if known is None or evidence_order(evidence) < evidence_order(known):
            first[(unit, name)] = evidence
    found_platforms: list[Platform] = []
    for world in tree.worlds:
        declared = declared_platform(world.config(config))
        if declared is not None:
            found_platforms.append(declared)
            continue
        shown: dict[str, list[PlatformEvidence]] = {}
        for (unit, name), evidence in first.items():
            if unit in world.units:
                shown.setdefault(name, []).append(evidence)
        found_platforms.append(platform_of(shown))
    return found_platforms


def _releases(tree: Deployed, config: Config, session: Session) -> list[CNIDetection]:
    """Each world's CNI as the rules see it, for its version and switches and where they come from."""
    from nplint.lint import world_inventories

    evaluated = world_inventories(
        tree.files, tree.units, tree.worlds, config, session.plugins, tree.manifests, tree.label_commands
    )
    return [detect_cni(w.inventory, w.config) for w in evaluated]


def _release_json(detection: CNIDetection) -> dict[str, object]:
    """The CNI's version and switches with their sources; nothing when neither is known."""
    if detection.version is None and not detection.switch_sources:
        return {}
    found: dict[str, object] = {"cni_release": {"name": detection.cni}}
    if detection.version is not None:
        found["cni_release"] = {
            "name": detection.cni,
            "version": str(detection.version),
            "source": capped(escape(detection.version_source)),
        }
    if detection.switch_sources:
        found["cni_switches"] = [
            {"switch": what, "source": where} for what, where in detection.switch_sources
        ]
    return found


def _release_lines(detection: CNIDetection) -> list[str]:
    lines = []
    if detection.version is not None:
        title = detection.profile.title if detection.profile is not None else str(detection.cni)
        lines.append(f"    cni: {title} {detection.version} ({shown(detection.version_source, 300)})")
    for what, where in detection.switch_sources:
        lines.append(f"    cni switch: {what} ({shown(where, 300)})")
    return lines


def _json(
    units: Sequence[Unit], objects: Counter[Unit], worlds: Sequence[World], platforms: Sequence[Platform]
) -> dict[str, object]:
    return {
        "version": 1,
        "units": [
            {
                "kind": u.kind,
                "directory": u.name,
                "objects": objects[u],
                # A chart's release namespace; else the unit's unnamed one.
                "namespace": u.namespace or u.unnamed_namespace,
            }
            for u in units
        ],
        "worlds": [
            {
                "kind": w.kind,
                "name": w.name,
                "units": [{"kind": u.kind, "directory": u.name} for u in w.units],
                **({"cni": w.cni} if w.cni else {}),
                **(
                    {"platform": {"name": p.name, "source": p.source, "reason": p.reason}}
                    if (p := platforms[i]).name is not None
                    else {}
                ),
            }
            for i, w in enumerate(worlds)
        ],
    }


def _skipped_text(folders: Sequence[SkippedFile]) -> str:
    if not folders:
        return ""
    lines = ["", f"{len(folders)} folder{'s' if len(folders) != 1 else ''} skipped (not manifests):"]
    lines += [f"  {shown(folder.display)}  {shown(folder.detail, 200)}" for folder in folders]
    return "\n".join(lines) + "\n"


def _text(
    units: Sequence[Unit],
    objects: Counter[Unit],
    worlds: Sequence[World],
    platforms: Sequence[Platform],
    releases: Sequence[CNIDetection],
) -> str:
    width = max((len(shown(u.name)) for u in units), default=0)
    lines = [f"{len(units)} unit{'s' if len(units) != 1 else ''} (what one `kubectl apply` sends):"]
    for unit in units:
        count = objects[unit]
        # Kustomize wrote the namespace it sets and a chart's objects go to its release namespace;
        # a plain folder's are left to kubectl's context.
        where = f"; without a namespace: `{shown(unit.unnamed_namespace)}`" if unit.kind == PLAIN else ""
        if unit.namespace is not None:
            where = f"; release namespace `{shown(unit.namespace)}`"
        lines.append(
            f"  {unit.kind:<9}  {shown(unit.name):<{width}}  {count} object{'s' if count != 1 else ''}{where}"
        )
    lines.append("")
    lines.append(
        f"{len(worlds)} world{'s' if len(worlds) != 1 else ''} (what one cluster holds, judged on its own):"
    )
    for world, platform, release in zip(worlds, platforms, releases, strict=True):
        cni = f" (cni: {shown(world.cni)})" if world.cni else ""
        lines.append(
            f"  {shown(world.label)}{cni}: {len(world.units)} unit{'s' if len(world.units) != 1 else ''}"
        )
        if platform.name is not None:
            # The reason quotes repository values already escaped and capped.
            lines.append(f"    platform: {platform.reason}")
        lines.extend(_release_lines(release))
        for unit in world.units:
            lines.append(f"    {unit.kind:<9}  {shown(unit.name)}")
    return "\n".join(lines) + "\n"
