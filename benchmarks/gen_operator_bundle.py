#!/usr/bin/env python3
"""An operator bundle: a few files holding many large CustomResourceDefinitions, as OLM and
operator repositories ship them (``bundle.yaml``, ``crds.yaml``), beside the operator itself.

    python benchmarks/gen_operator_bundle.py OUT --crds 240 --files 4

Each CRD has two versions with an OpenAPI schema of nested objects (about 40 KB
of YAML each). ``deploy/operator.yaml`` holds the operator's namespace,
Deployment, Service and NetworkPolicy. Standard library only; the output depends
only on the arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def schema(depth: int, width: int, indent: int) -> list[str]:
    """The lines of an object schema ``depth`` levels deep with ``width`` fields per level."""
    pad = " " * indent
    lines = [f"{pad}type: object", f"{pad}properties:"]
    for field in range(width):
        lines.append(f"{pad}  field{field:02d}:")
        if depth > 0 and field < 3:
            lines.append(f"{pad}    description: nested settings number {field} of this level")
            lines += schema(depth - 1, width, indent + 4)
        elif field % 3 == 0:
            lines += [
                f"{pad}    type: string",
                f"{pad}    description: a string value, at most 253 characters",
                f"{pad}    maxLength: 253",
            ]
        elif field % 3 == 1:
            lines += [f"{pad}    type: integer", f"{pad}    format: int32", f"{pad}    minimum: 0"]
        else:
            lines += [f"{pad}    type: array", f"{pad}    items:", f"{pad}      type: string"]
    return lines


def crd(group: str, kind: str) -> str:
    plural = kind.lower() + "s"
    body = schema(2, 8, 12)
    versions = []
    for version, served in (("v1alpha1", "false"), ("v1", "true")):
        versions += [
            f"  - name: {version}",
            f"    served: {served}",
            f"    storage: {'true' if version == 'v1' else 'false'}",
            "    schema:",
            "      openAPIV3Schema:",
            "        type: object",
            "        properties:",
            "          spec:",
            *body,
            "          status:",
            "            type: object",
            "            x-kubernetes-preserve-unknown-fields: true",
        ]
    return "\n".join(
        [
            "apiVersion: apiextensions.k8s.io/v1",
            "kind: CustomResourceDefinition",
            "metadata:",
            f"  name: {plural}.{group}",
            "  annotations:",
            "    controller-gen.kubebuilder.io/version: v0.16.0",
            "spec:",
            f"  group: {group}",
            "  names:",
            f"    kind: {kind}",
            f"    listKind: {kind}List",
            f"    plural: {plural}",
            f"    singular: {kind.lower()}",
            "  scope: Namespaced",
            "  versions:",
            *versions,
        ]
    )


OPERATOR = """apiVersion: v1
kind: Namespace
metadata:
  name: example-operator
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: example-operator
  namespace: example-operator
spec:
  selector:
    matchLabels: {app: example-operator}
  template:
    metadata:
      labels: {app: example-operator}
    spec:
      containers:
      - name: manager
        image: registry.example/operator:1.0
        ports:
        - containerPort: 8443
---
apiVersion: v1
kind: Service
metadata:
  name: example-operator-webhook
  namespace: example-operator
spec:
  selector: {app: example-operator}
  ports:
  - port: 443
    targetPort: 8443
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: example-operator-webhook
  namespace: example-operator
spec:
  podSelector:
    matchLabels: {app: example-operator}
  policyTypes: [Ingress]
  ingress:
  - ports:
    - port: 8443
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--crds", type=int, default=240)
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()
    bundle = args.out / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    per_file = -(-args.crds // args.files)
    for number in range(args.files):
        kinds = range(number * per_file, min(args.crds, (number + 1) * per_file))
        group = f"group{number}.example.com"
        text = "\n---\n".join(crd(group, f"Resource{kind:04d}") for kind in kinds)
        (bundle / f"crds-{number}.yaml").write_text(text + "\n")
    (args.out / "deploy").mkdir(parents=True, exist_ok=True)
    (args.out / "deploy" / "operator.yaml").write_text(OPERATOR)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
