"""Lint speed and memory on generated GitOps trees, against the parse floor.

Run on purpose, never in CI:

    python benchmarks/bench_lint.py [--sizes 1000 10000 100000] [--workdir /tmp/nplint-bench]

For each size it generates a tree with ../shared/bench/gen_corpus.py (about 30
documents per namespace), then measures, each in a fresh process:

- nplint: ``nplint --format json --fail-on never .`` — wall seconds, documents
  per second, peak RSS;
- the parse floor: PyYAML's C loader (``yaml.load_all(..., Loader=yaml.CSafeLoader)``)
  loading the same files in one process (needs PyYAML with its C extension);
- Checkov's Kubernetes framework on the 1,000- and 10,000-document trees, when
  ``checkov`` is on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_corpus.py"
DOCS_PER_NAMESPACE = 30  # 10 workloads (Deployment/StatefulSet + Service) + 9 policies + the Namespace

FLOOR = """
import sys, time, pathlib, yaml
files = sorted(p for p in pathlib.Path(sys.argv[1]).rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
start = time.perf_counter()
documents = 0
for path in files:
    documents += sum(1 for _ in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
print(documents, time.perf_counter() - start)
"""


def run_measured(command: list[str], cwd: Path) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Wall seconds and the peak RSS (KiB) of one child process, read with wait4."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(command, process.returncode, out.read(), err.read())
    return elapsed, usage.ru_maxrss, result


def generate(size: int, workdir: Path) -> Path:
    target = workdir / f"tree-{size}"
    if (target / "apps").is_dir():
        return target
    namespaces = max(1, round(size / DOCS_PER_NAMESPACE))
    subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            "--namespaces",
            str(namespaces),
            "--workloads-per-ns",
            "10",
            "--policies-per-ns",
            "9",
            "--force",
            str(target),
        ],
        check=True,
        capture_output=True,
    )
    return target


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/nplint-bench"))
    args = parser.parse_args()
    if not GENERATOR.is_file():
        print(f"the corpus generator is not at {GENERATOR}", file=sys.stderr)
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    nplint = [sys.executable, "-m", "nplint", "--format", "json", "--fail-on", "never", "."]
    checkov = shutil.which("checkov")
    rows = []
    for size in sorted(args.sizes):
        tree = generate(size, args.workdir)
        seconds, rss, result = run_measured(nplint, tree)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        summary = json.loads(result.stdout)["summary"]
        floor = subprocess.run(
            [sys.executable, "-c", FLOOR, str(tree)], capture_output=True, text=True, check=False
        )
        if floor.returncode == 0:
            documents, floor_seconds = floor.stdout.split()
            documents_count, floor_time = int(documents), float(floor_seconds)
        else:
            documents_count, floor_time = 0, float("nan")
        row = {
            "size": size,
            "documents": documents_count,
            "files": summary["files"],
            "findings": summary["findings"],
            "nplint_s": round(seconds, 2),
            "docs_per_s": round(documents_count / seconds) if documents_count else None,
            "peak_rss_mib": round(rss / 1024),
            "floor_s": round(floor_time, 2),
            "ratio_to_floor": round(seconds / floor_time, 2) if floor_time == floor_time else None,
        }
        if checkov and size <= 10000:
            checkov_seconds, _, _ = run_measured(
                [checkov, "--framework", "kubernetes", "-d", ".", "--quiet", "--compact", "-o", "json"], tree
            )
            row["checkov_s"] = round(checkov_seconds, 2)
            row["ratio_to_checkov"] = round(seconds / checkov_seconds, 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    by_size = {row["size"]: row for row in rows}
    if 10000 in by_size and 100000 in by_size:
        scale = by_size[100000]["nplint_s"] / by_size[10000]["nplint_s"]
        print(json.dumps({"scaling_100k_over_10k": round(scale, 2)}))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NPLINT_DISABLE_PLUGIN_AUTOLOAD", "1")
    sys.exit(main())
