"""Ports a workload's pods serve without declaring them in ``ports``.

A container listens where its program is told to, and ``ports`` is only
documentation: controllers built with controller-runtime serve metrics on
``--metrics-bind-address=:8443`` and webhooks on ``--webhook-port=9443``, many
programs read ``PORT`` from the environment, and a probe on a port proves the
kubelet finds something there. Read from the pod template only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model.inventory import WORKLOAD_TEMPLATE_PATHS, Inventory
from nplint.model.objects import Workload

#: A flag and its value: ``--port=9443``, ``-listen :8080``, ``--bind-address 0.0.0.0:9000``.
_FLAG = re.compile(r"(?:^|\s)--?([A-Za-z][\w.-]*)(?:=|\s+)[\"']?([^\s\"']+)")
#: Words in a flag or variable name that say its value is where the program listens.
_LISTEN_WORDS = frozenset(("port", "addr", "address", "listen", "bind"))
#: Words that say the value is where the program connects to instead (``DB_PORT``, ``--upstream-addr``).
_CLIENT_WORDS = frozenset(
    (
        "db",
        "database",
        "redis",
        "postgres",
        "postgresql",
        "pg",
        "mysql",
        "mariadb",
        "mongo",
        "mongodb",
        "kafka",
        "amqp",
        "rabbitmq",
        "nats",
        "elasticsearch",
        "memcached",
        "smtp",
        "mail",
        "ldap",
        "upstream",
        "remote",
        "target",
        "backend",
        "dest",
        "destination",
        "peer",
        "proxy",
        "sink",
        "collector",
        "otlp",
        "jaeger",
    )
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
#: A port at the end of an address: ``:8443``, ``0.0.0.0:9000``, ``[::]:80``, ``http://x:8080/``.
_ADDRESS_PORT = re.compile(r":(\d{1,5})/?\Z")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_PROBE_HANDLERS = ("httpGet", "tcpSocket", "grpc")


def _port(value: str) -> int | None:
    """The port a flag or variable value names: a bare number or an address's port."""
    text = value.strip()
    if text.isdigit():
        number = int(text)
    elif (match := _ADDRESS_PORT.search(text)) is not None:
        number = int(match.group(1))
    else:
        return None
    return number if 0 < number < 65536 else None


def _names_listening(name: str) -> bool:
    """Whether a name says where its program listens: ``webhookPort``, ``METRICS_BIND_ADDRESS``."""
    words = {word.lower() for word in _WORD.findall(name)}
    return bool(words & _LISTEN_WORDS) and not words & _CLIENT_WORDS


def _texts(node: Node | None) -> Iterator[str]:
    if isinstance(node, SeqNode):
        for item in node:
            if isinstance(item, ScalarNode) and item.value is not None:
                yield item.text


def _containers(workload: Workload) -> Iterator[MapNode]:
    node: MapNode | None = workload.node
    for key in WORKLOAD_TEMPLATE_PATHS.get(workload.kind, ()):
        node = node.get_map(key) if node is not None else None
    spec = node.get_map("spec") if node is not None else None
    if spec is None:
        return
    for key in ("containers", "initContainers"):
        for container in spec.get_seq(key) or ():
            if isinstance(container, MapNode):
                yield container


def _from_command(container: MapNode) -> Iterator[int]:
    line = " ".join((*_texts(container.get("command")), *_texts(container.get("args"))))
    for match in _FLAG.finditer(line):
        if _names_listening(match.group(1)) and (port := _port(match.group(2))) is not None:
            yield port


def _from_env(container: MapNode) -> Iterator[int]:
    for entry in container.get_seq("env") or ():
        if not isinstance(entry, MapNode):
            continue
        name, value = entry.get_str("name") or "", entry.get("value")
        if (
            isinstance(value, ScalarNode)
            and value.value is not None
            and _names_listening(name)
            and (port := _port(value.text)) is not None
        ):
            yield port


def _from_probes(container: MapNode) -> Iterator[int]:
    for probe_key in _PROBES:
        probe = container.get_map(probe_key)
        for handler_key in _PROBE_HANDLERS if probe is not None else ():
            handler = probe.get_map(handler_key) if probe is not None else None
            port = handler.get("port") if handler is not None else None
            if isinstance(port, ScalarNode) and type(port.value) is int and 0 < port.value < 65536:
                yield port.value


def served_ports(workload: Workload, inventory: Inventory) -> frozenset[int]:
    """TCP ports the pods serve by their command line, environment or probes, declared or not.

    Read once per workload and inventory: many policies select the same pods.
    """
    return inventory.memo(("served-ports", id(workload)), lambda: _served_ports(workload))


def _served_ports(workload: Workload) -> frozenset[int]:
    found: set[int] = set()
    for container in _containers(workload):
        found.update(_from_command(container))
        found.update(_from_env(container))
        found.update(_from_probes(container))
    return frozenset(found)
