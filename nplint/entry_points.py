"""Which kustomizations are entry points: the render side of :mod:`nplint.deployment_scope`.

A kustomization no other one uses is rendered as a unit of its own, unless it
cannot be one: a Kustomize ``Component`` (it reaches a cluster only through the
overlays that list it), an empty kustomization (it renders nothing, on purpose),
or the input of an OLM bundle. Those are set aside, silently for the rules
(no NP005) and visibly for people (``nplint worlds``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from nplint import deployment_scope, kustomization
from nplint.discovery import ParsedKustomization
from nplint.kustomization import _SOURCE_LIMIT
from nplint.loading import load_text
from nplint.loading.nodes import MapNode, is_null

#: How :func:`nplint.deployment_scope.set_aside` starts the reason of a Component.
COMPONENT_PREFIX = "a Kustomize Component"


def set_aside(
    root_real: str, directory: str, parsed: Mapping[str, ParsedKustomization] | None = None
) -> str | None:
    """Why the kustomization of ``directory`` (a real path relative to the root) is no entry point.

    None when it is one, or when it cannot be read: kustomize then says what is wrong (NP005).
    ``parsed``: the kustomizations discovery read (by real path), not read again here.
    """
    where = os.path.join(root_real, *directory.split("/")) if directory else root_real
    for name in kustomization.KUSTOMIZATION_FILES:
        path = f"{directory}/{name}" if directory else name
        known = parsed.get(os.path.join(where, name)) if parsed is not None else None
        if known is not None and known.complete and known.decoded and known.size <= _SOURCE_LIMIT:
            if not known.clean:
                return None  # broken: kustomize says how (NP005)
            return deployment_scope.set_aside(known.mapping or {}, where, directory)
        text = kustomization.read_inside(root_real, path)
        if text is None:
            continue
        loaded = load_text(path, text)
        documents = loaded.documents
        if loaded.problems or any(d.failed for d in documents):
            return None  # broken: kustomize says how (NP005)
        if any(not isinstance(d.root, MapNode) and not is_null(d.root) for d in documents):
            return None  # not a mapping: kustomize reports it
        data = next((d.root.to_python() for d in documents if isinstance(d.root, MapNode)), {})
        return deployment_scope.set_aside(data, where, directory)
    return None


def is_component(reason: str) -> bool:
    """Whether a reason of :func:`set_aside` says the kustomization is a Component."""
    return reason.startswith(COMPONENT_PREFIX)


#: How :func:`orphan_component` starts the reason NP005 gives for a Component.
ORPHAN_PREFIX = "no overlay includes it"


def orphan_component(tree: kustomization.Tree, where: str | None, reason: str) -> tuple[set[str], str | None]:
    """For a kustomization set aside for ``reason``: the files it keeps from being units, and why NP005.

    Only a Component (no overlay includes it, or the planner would not set it aside)
    has either. Its files reach a cluster only through an overlay that includes it,
    which gives them its namespace and patches; linted on their own they would be
    judged as an apply nobody runs, so they are no unit. Where an including overlay
    exists but fails to render, the Component is not set aside and its files stay
    plain files, as the overlay's own do.

    Most such Components are a catalog's building blocks whose files nplint reads
    whenever an overlay includes them: nothing is said about them. One whose content
    nplint could never read (a remote chart or base, a path out of the repository) is
    reported by NP005 with the second value, since no overlay would make it linted.
    ``where``: its real directory relative to the root.
    """
    if where is None or not is_component(reason):
        return set(), None
    closure = tree.closure(where)
    unseen = f"{ORPHAN_PREFIX}, and {closure.refusal}" if closure.refusal else None
    return set(closure.files), unseen
