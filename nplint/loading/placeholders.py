"""Template placeholders: values that a tool fills in before the object reaches the API server.

A manifest kept for ``envsubst`` (``${NAMESPACE}``), a Chainsaw binding
(``($namespace)``), a Kustomize or Kyverno variable (``$(NS)``,
``{{request.object.metadata.name}}``), or a file rendered with a value missing
(``<no value>``) holds text that is not the value the cluster will see. Rules
judge what the cluster sees, so such a value is not judged as written.
"""

from __future__ import annotations

import re

from nplint.loading.nodes import Node, ScalarNode

__all__ = ["is_placeholder", "placeholder_node"]

_PLACEHOLDER = re.compile(
    r"\$\{[^}\n]*\}"  # envsubst, Flux post-build substitution, shell
    r"|\$\([A-Za-z_][A-Za-z0-9_.]*\)"  # Kustomize vars, Kubernetes env expansion
    r"|\{\{.*?\}\}"  # Go templates, Kyverno and Argo variables
    r"|<no value>"  # what a Go template prints for a missing value
)
#: A Chainsaw binding or JMESPath expression: the whole value in parentheses, starting with `$`.
_BINDING = re.compile(r"\(\$[^()\n]*\)\Z")


def is_placeholder(text: str) -> bool:
    """Whether ``text`` holds a placeholder another tool replaces before applying."""
    if "$" not in text and "{{" not in text and "<no value>" not in text:
        return False
    return _PLACEHOLDER.search(text) is not None or _BINDING.match(text) is not None


def placeholder_node(node: Node | None) -> bool:
    """Whether ``node`` is a scalar whose text is a placeholder."""
    return isinstance(node, ScalarNode) and isinstance(node.value, str) and is_placeholder(node.text)
