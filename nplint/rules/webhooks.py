"""NP107: admission webhooks and aggregated APIs the API server cannot reach through the policies.

The API server calls a webhook (``webhooks[].clientConfig.service``) or an
aggregated API (an APIService's ``spec.service``) through a Service. It is no
pod: its connections come from a control-plane or node address (a host-network
static pod, or a managed control plane), which no podSelector or
namespaceSelector matches (networkpolicy-semantics §2.10, P21). When the pods
behind the Service are isolated for ingress and only selector peers admit the
Service's target port, every call times out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nplint.engine.matching import PodView, rule_ports_match
from nplint.engine.pods import pod_view
from nplint.findings import Finding, Level, Related
from nplint.loading import Manifest
from nplint.loading.nodes import MapNode, Node, ScalarNode, SeqNode
from nplint.model import Direction, Inventory, KubeObject, NetworkPolicy, Peer, Service, Workload
from nplint.records import record
from nplint.rules.base import Rule, RuleContext
from nplint.untrusted import shown

_WEBHOOK_KINDS = frozenset({"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"})
#: Labels of the konnectivity agent, which tunnels the API server's calls on GKE and AKS.
_KONNECTIVITY = {"k8s-app": "konnectivity-agent"}
#: The namespace label OpenShift gives host-network traffic (OVN-Kubernetes policy groups).
_OPENSHIFT_HOST_NETWORK = {"policy-group.network.openshift.io/host-network": ""}


@record(frozen=True, slots=True)
class Backend:
    """One Service the API server calls: who calls it, and where that is written."""

    caller: str
    namespace: str
    name: str
    port: int
    #: The ``service`` mapping (the finding's position).
    node: MapNode
    path: str
    document_index: int
    owner: KubeObject | None


def backends(inventory: Inventory) -> Iterator[Backend]:
    """The Services webhook configurations and APIServices of ``inventory`` send the API server to."""
    owners = {id(o.node): o for o in inventory.objects}
    for manifest in inventory.manifests:
        node = manifest.node
        kind = manifest.kind
        metadata = node.get_map("metadata")
        name = (metadata.get_str("name") if metadata is not None else None) or "(unnamed)"
        owner = owners.get(id(node))
        if kind in _WEBHOOK_KINDS:
            hooks = node.get("webhooks")
            for hook in hooks if isinstance(hooks, SeqNode) else ():
                if not isinstance(hook, MapNode):
                    continue
                config = hook.get_map("clientConfig")
                service = config.get_map("service") if config is not None else None
                hook_name = hook.get_str("name") or name
                found = _backend(service, f"webhook {shown(hook_name)}", manifest, owner)
                if found is not None:
                    yield found
        elif kind == "APIService":
            spec = node.get_map("spec")
            service = spec.get_map("service") if spec is not None else None
            found = _backend(service, f"APIService {shown(name)}", manifest, owner)
            if found is not None:
                yield found


def _backend(
    service: MapNode | None, caller: str, manifest: Manifest, owner: KubeObject | None
) -> Backend | None:
    if service is None:
        return None
    namespace = service.get_str("namespace")
    name = service.get_str("name")
    port_node = service.get("port")
    port = 443  # the API's default for both
    if port_node is not None:
        if not isinstance(port_node, ScalarNode) or not isinstance(port_node.value, int):
            return None
        port = port_node.value
    if not namespace or not name:
        return None
    return Backend(caller, namespace, name, port, service, manifest.path, manifest.document_index, owner)


def may_admit_apiserver(peer: Peer, inventory: Inventory) -> bool:
    """Whether a ``from`` peer may admit the API server's connections.

    An ipBlock may hold the control plane's or the nodes' addresses (nplint
    cannot tell them); a namespaceSelector that takes in kube-system with every
    pod (or the konnectivity agent) admits the tunnel GKE and AKS send the API
    server's calls through; OpenShift marks host-network traffic with a
    namespace label of its own. Only pod selectors, and namespace selectors that
    reach none of these, are known to leave the API server out.
    """
    if peer.ip_block is not None:
        return True
    selector = peer.namespace_selector
    if selector is None:
        return False
    if selector.matches(_OPENSHIFT_HOST_NETWORK):
        return True
    if not selector.matches(inventory.namespace_labels("kube-system")):
        return False
    pods = peer.pod_selector
    return pods is None or pods.is_empty or pods.matches(_KONNECTIVITY)


#: Node labels that pin pods to control-plane nodes.
_CONTROL_PLANE_NODE_LABELS = frozenset(
    {"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"}
)


def on_control_plane(workload: Workload) -> bool:
    """Whether the pods are pinned to control-plane nodes, where the API server is their own node.

    A pod always admits its own node (networkpolicy-semantics §2.9), and a
    kubeadm API server runs on the host network of the control-plane nodes.
    """
    template = workload.node.get_map("spec")
    if workload.kind != "Pod":
        template = template.get_map("template") if template is not None else None
        template = template.get_map("spec") if template is not None else None
    if template is None:
        return False
    selector = template.get_map("nodeSelector")
    if selector is not None and any(key in _CONTROL_PLANE_NODE_LABELS for key, _, _ in selector.key_items()):
        return True
    affinity = template.get_map("affinity")
    node_affinity = affinity.get_map("nodeAffinity") if affinity is not None else None
    required = (
        node_affinity.get_map("requiredDuringSchedulingIgnoredDuringExecution")
        if node_affinity is not None
        else None
    )
    for term in (required.get_seq("nodeSelectorTerms") if required is not None else None) or ():
        expressions = term.get_seq("matchExpressions") if isinstance(term, MapNode) else None
        for expression in expressions or ():
            if isinstance(expression, MapNode) and expression.get_str("key") in _CONTROL_PLANE_NODE_LABELS:
                return True
    return False


def _target_ports(service: Service, port: int, workload: Workload) -> list[tuple[str, int]]:
    """The (protocol, number) a Service port reaches on one workload's pods."""
    found: list[tuple[str, int]] = []
    for entry in service.ports:
        if entry.port != port:
            continue
        if isinstance(entry.target_port, int):
            found.append((entry.protocol, entry.target_port))
        else:
            found.extend((entry.protocol, n) for n in workload.named_port(entry.target_port, entry.protocol))
    return found


def _admitted(
    policies: Sequence[NetworkPolicy], protocol: str, number: int, pod: PodView, inventory: Inventory
) -> bool:
    for policy in policies:
        for rule in policy.ingress:
            if not rule_ports_match(rule, protocol, number, pod):
                continue
            if rule.peers is None or any(may_admit_apiserver(peer, inventory) for peer in rule.peers):
                return True
    return False


class WebhookBackendBlocked(Rule):
    id = "NP107"
    name = "webhook-backend-blocked"
    summary = (
        "A webhook's or APIService's pods are isolated for ingress and only pod or namespace "
        "selectors admit its port: the API server cannot reach it."
    )
    level = Level.WARNING
    tags = ("isolation", "webhooks")

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        if not ctx.cluster.profile.enforces:
            return
        inventory = ctx.inventory
        services = {(s.namespace, s.name): s for s in inventory.services}
        for backend in backends(inventory):
            service = services.get((backend.namespace, backend.name))
            if service is None or not service.selector:
                continue  # the Service or its pods are not in this world: nothing to judge
            if not any(p.port == backend.port for p in service.ports):
                continue
            finding = self._judge(backend, service, inventory)
            if finding is not None:
                yield finding

    def _judge(self, backend: Backend, service: Service, inventory: Inventory) -> Finding | None:
        selector = dict(service.selector or {})
        pods = [
            w
            for w in inventory.workloads_in(service.namespace)
            if not w.host_network
            and all(w.pod_labels.get(k) == v for k, v in selector.items())
            and not on_control_plane(w)
        ]
        policies = [p for p in inventory.policies_in(service.namespace) if p.isolates(Direction.INGRESS)]
        for workload in pods:
            isolating = [p for p in policies if p.pod_selector.matches(workload.pod_labels)]
            if not isolating:
                continue
            view = pod_view(workload, inventory)
            for protocol, number in _target_ports(service, backend.port, workload):
                if _admitted(isolating, protocol, number, view, inventory):
                    continue
                some = any(
                    rule_ports_match(rule, protocol, number, view) for p in isolating for rule in p.ingress
                )
                return self._finding(backend, service, workload, isolating, number, some)
        return None

    def _finding(
        self,
        backend: Backend,
        service: Service,
        workload: Workload,
        isolating: Sequence[NetworkPolicy],
        number: int,
        selectors_only: bool,
    ) -> Finding:
        target = f"{shown(service.namespace)}/{shown(service.name)}"
        kind = "APIService" if backend.caller.startswith("APIService") else "webhook"
        # The position names the webhook and the detail the Service: the headline stays short.
        message = (
            f"the API server cannot reach this {kind}'s pods on port {number}: "
            + ("only pod or namespace selectors admit it" if selectors_only else "no ingress rule admits it")
            + "; allow the control-plane IPs"
        )
        names = ", ".join(str(p.ref) for p in isolating[:3])
        detail = (
            f"{backend.caller} calls Service {target}. "
            f"{workload.ref} serves the Service's port {backend.port} on {number} and is isolated for "
            f"ingress by {names}. No ingress rule of theirs admits that port from an ipBlock or from every "
            "source. The API server is not a pod: its calls come from a control-plane or node address, "
            "which no podSelector or namespaceSelector matches, so every call times out and, with "
            "failurePolicy Fail, requests the webhook handles are refused. Add an ingress rule on port "
            f"{number} from an ipBlock holding the control-plane (or node) addresses."
        )
        node: Node = backend.node
        related = [Related(service.path, service.span, f"{service.ref} selects {workload.ref}")]
        related += [Related(p.path, p.span, f"{p.ref} isolates its ingress") for p in isolating[:2]]
        return self.finding(
            backend.owner,
            node,
            message,
            path=backend.path,
            span=node.key_span,
            related=related,
            document_index=backend.document_index,
            detail=detail,
        )


RULES = (WebhookBackendBlocked,)
