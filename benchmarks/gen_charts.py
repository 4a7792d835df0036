#!/usr/bin/env python3
"""A chart collection: CHARTS Helm charts, each with subcharts, as chart repositories hold them.

    python benchmarks/gen_charts.py OUT --charts 60 --subcharts 2

Each chart ``charts/chartNN`` has a Chart.yaml, values.yaml, a helpers file and
templates for a Deployment, a Service, a ConfigMap and a NetworkPolicy; below
its ``charts/`` directory it holds SUBCHARTS subcharts (a cache and a worker,
each with its own values and templates), which helm renders with the parent.
One chart in ten is a library chart, which renders nothing. Standard library
only; the output depends only on the arguments.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELPERS = """{{- define "CHART.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "CHART.labels" -}}
app.kubernetes.io/name: {{ include "CHART.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "CHART.name" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ include "CHART.name" . }}
  template:
    metadata:
      labels:
        {{- include "CHART.labels" . | nindent 8 }}
    spec:
      containers:
        - name: main
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports:
            - name: http
              containerPort: {{ .Values.service.port }}
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {{ include "CHART.name" . }}
  labels:
    {{- include "CHART.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  ports:
    - port: {{ .Values.service.port }}
      targetPort: http
  selector:
    app.kubernetes.io/name: {{ include "CHART.name" . }}
"""

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "CHART.name" . }}-config
data:
{{- range $key, $value := .Values.settings }}
  {{ $key }}: {{ $value | quote }}
{{- end }}
"""

POLICY = """{{- if .Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "CHART.name" . }}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: {{ include "CHART.name" . }}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ .Values.networkPolicy.client }}
      ports:
        - port: {{ .Values.service.port }}
{{- end }}
"""


def values(port: int, client: str, settings: int) -> str:
    lines = [
        "replicaCount: 1",
        "image:",
        "  repository: registry.example/app",
        '  tag: "1.0"',
        "service:",
        f"  port: {port}",
        "networkPolicy:",
        "  enabled: true",
        f"  client: {client}",
        "resources:",
        "  requests: {cpu: 10m, memory: 32Mi}",
        "settings:",
    ]
    lines += [f"  key{i:03d}: value-{i}" for i in range(settings)]
    return "\n".join(lines) + "\n"


def chart(directory: Path, name: str, port: int, client: str, library: bool = False) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    kind = "library" if library else "application"
    (directory / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\ndescription: generated chart {name}\ntype: {kind}\n"
        'version: 0.1.0\nappVersion: "1.0"\n'
    )
    (directory / "values.yaml").write_text(values(port, client, 40))
    templates = directory / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "_helpers.tpl").write_text(HELPERS.replace("CHART", name))
    if library:
        return
    for file, text in (
        ("deployment.yaml", DEPLOYMENT),
        ("service.yaml", SERVICE),
        ("configmap.yaml", CONFIGMAP),
        ("networkpolicy.yaml", POLICY),
    ):
        (templates / file).write_text(text.replace("CHART", name))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--charts", type=int, default=60)
    parser.add_argument("--subcharts", type=int, default=2)
    args = parser.parse_args()
    for number in range(args.charts):
        name = f"chart{number:03d}"
        home = args.out / "charts" / name
        library = number % 10 == 9
        chart(home, name, 8080, "gateway", library=library)
        if library:
            continue
        for index in range(args.subcharts):
            sub = f"{name}-part{index}"
            chart(home / "charts" / sub, sub, 9000 + index, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
