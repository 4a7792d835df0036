"""Lint speed and memory on generated GitOps trees, against the parse floor.

Run on purpose, never in CI:

    python benchmarks/bench_lint.py [--sizes 1000 10000 100000] [--workdir /tmp/nplint-bench]

For each size it generates a tree with ../shared/bench/gen_corpus.py (about 30
documents per namespace), then measures, each in a fresh process:

- nplint: ``nplint --format json --fail-on never .`` — the median wall seconds
  of ``--repeat`` runs, documents per second, peak RSS; then the same with
  ``NPLINT_JOBS=1`` (one process); every run must print the same bytes;
- the parse floor: PyYAML's C loader (``yaml.load_all(..., Loader=yaml.CSafeLoader)``)
  loading the same files in one process (needs PyYAML with its C extension);
- Checkov's Kubernetes framework on the 1,000- and 10,000-document trees, when
  ``checkov`` is on PATH (stopped after ``--checkov-timeout`` seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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


def run_measured(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float | None = None
) -> tuple[float, int, subprocess.CompletedProcess[str] | None]:
    """Wall seconds and the peak RSS (KiB) of one child process, read with wait4.

    The peak is the largest of the process and the children it waited for (nplint's
    second process on large trees), as the kernel reports it; None instead of a
    result when ``timeout`` passed and the process was killed.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, text=True, env=env)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG if timeout else 0)
            if pid:
                break
            if timeout is not None and time.perf_counter() - start > timeout:
                process.kill()
                _, status, usage = os.wait4(process.pid, 0)
                process.returncode = -9
                return time.perf_counter() - start, usage.ru_maxrss, None
            time.sleep(0.05)
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
    parser.add_argument("--repeat", type=int, default=3, help="runs of nplint per size (the median is shown)")
    parser.add_argument(
        "--checkov-timeout", type=float, default=600, help="seconds before a Checkov run is stopped"
    )
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
        one_env = {**os.environ, "NPLINT_JOBS": "1"}
        runs, one_runs = [], []
        for _ in range(args.repeat):  # interleaved, so a burst of load on the machine hits both
            runs.append(run_measured(nplint, tree))
            one_runs.append(run_measured(nplint, tree, env=one_env))
        outputs = {r.stdout if r is not None and r.returncode == 0 else None for _, _, r in runs + one_runs}
        if len(outputs) != 1 or None in outputs:
            print("nplint failed, or its output changed between runs", file=sys.stderr)
            return 1
        summary = json.loads(outputs.pop() or "")["summary"]
        seconds = statistics.median(t for t, _, _ in runs)
        rss = max(r for _, r, _ in runs)
        one_seconds = statistics.median(t for t, _, _ in one_runs)
        one_rss = max(r for _, r, _ in one_runs)
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
            "one_process_s": round(one_seconds, 2),
            "one_process_peak_rss_mib": round(one_rss / 1024),
            "floor_s": round(floor_time, 2),
            "ratio_to_floor": round(seconds / floor_time, 2) if floor_time == floor_time else None,
        }
        if checkov and size <= 10000:
            checkov_seconds, _, checkov_result = run_measured(
                [checkov, "--framework", "kubernetes", "-d", ".", "--quiet", "--compact", "-o", "json"],
                tree,
                timeout=args.checkov_timeout,
            )
            if checkov_result is None:
                row["checkov_s"] = f"> {args.checkov_timeout:.0f} (stopped)"
                row["ratio_to_checkov"] = f"< {seconds / checkov_seconds:.4f}"
            else:
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
