"""Time the full connectivity matrix of a large generated repository.

    python benchmarks/bench_reach.py                       # 1000 namespaces x 10 workloads x 10 policies
    python benchmarks/bench_reach.py --corpus /tmp/corpus  # reuse (or create) a generated tree
    python benchmarks/bench_reach.py --namespaces 100 --render json

The tree comes from ``../shared/bench/gen_corpus.py`` and is written to a
temporary directory (never into the repository). Loading (YAML parsing and the
inventory) is timed apart from the engine (pod classes, selector indexes) and
the matrix (every allowed flow among workloads and external ranges), which is
what nplint's connectivity engine adds. Peak memory is the process's maximum
resident set size. Then ``nplint reach`` runs end to end in a fresh process,
with text and with JSON output. Run on purpose, not in CI.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nplint.cli import Session
from nplint.config import build_config
from nplint.engine.engine import Engine
from nplint.engine.matrix import compute_matrix
from nplint.lint import collector_paused, inventory_of, load_paths
from nplint.reporting.connectivity import MATRIX_FORMATS

GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--workloads-per-ns", type=int, default=10)
    parser.add_argument("--policies-per-ns", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, help="generated tree to use; created when missing or empty")
    parser.add_argument("--render", choices=sorted(MATRIX_FORMATS), help="also time rendering the matrix")
    args = parser.parse_args()

    scratch = None
    corpus = args.corpus
    if corpus is None:
        scratch = tempfile.TemporaryDirectory(prefix="nplint-bench-")
        corpus = Path(scratch.name)
    if not corpus.is_dir() or not any(corpus.iterdir()):
        if not GENERATOR.is_file():
            print(
                f"the generator is not at {GENERATOR} (needs ../shared beside the repository)",
                file=sys.stderr,
            )
            return 2
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(GENERATOR),
                str(corpus),
                "--namespaces",
                str(args.namespaces),
                "--workloads-per-ns",
                str(args.workloads_per_ns),
                "--policies-per-ns",
                str(args.policies_per_ns),
                "--seed",
                str(args.seed),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"generate   {time.perf_counter() - started:7.2f} s  ({corpus})")

    with collector_paused():  # as `nplint reach` runs
        _measure(corpus, args.render)
    # End to end, as a user runs it: a fresh process, the matrix written to a file.
    for fmt in ("text", "json"):
        with tempfile.TemporaryFile() as out:
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "nplint", "reach", "--format", fmt, "."], cwd=corpus, stdout=out
            )
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            print(f"nplint reach --format {fmt} failed", file=sys.stderr)
            return 1
        print(f"nplint reach --format {fmt}: {elapsed:7.2f} s  (peak {usage.ru_maxrss / 1024:.0f} MB)")
    if scratch is not None:
        scratch.cleanup()
    return 0


def _measure(corpus: Path, render: str | None) -> None:
    config = build_config({}, source=None, root=corpus)
    session = Session()
    started = time.perf_counter()
    _, files = load_paths([str(corpus)], config, session.plugins)
    inventory = inventory_of(files, config, session.plugins)
    loaded = time.perf_counter()
    print(
        f"load       {loaded - started:7.2f} s  {len(files)} files, {len(inventory.workloads)} workloads, "
        f"{len(inventory.policies)} policies  (peak {_peak_mb():.0f} MB)"
    )

    started = time.perf_counter()
    engine = Engine(inventory)
    built = time.perf_counter()
    matrix = compute_matrix(engine)
    done = time.perf_counter()
    print(f"engine     {built - started:7.2f} s  {len(engine.classes)} pod classes")
    print(f"matrix     {done - built:7.2f} s  {len(matrix)} flows")
    print(f"engine+matrix {done - started:7.2f} s  (peak {_peak_mb():.0f} MB)")
    if render:
        started = time.perf_counter()
        size = sum(len(chunk) for chunk in MATRIX_FORMATS[render](matrix))
        print(f"render     {time.perf_counter() - started:7.2f} s  {size / 1e6:.1f} MB of {render}")
    print(f"peak RSS   {_peak_mb():7.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
