"""The benchmark suite of real repository shapes: nplint against the libyaml floor of the same files.

Run on purpose, never in CI:

    python benchmarks/run_all.py                         # every generated shape, 3 rounds
    python benchmarks/run_all.py --shapes fleet-300 fleet-600 --rounds 5
    python benchmarks/run_all.py --repo fleet=/work/bench-repos/some-fleet --repo charts=/path
    python benchmarks/run_all.py --before /tmp/venv-main/bin/python   # before/after, same run

Shapes (generated into ``--workdir``, never into the repository; reused when present):

- ``corpus-10k``: the 10,000-document GitOps tree of ``../shared/bench/gen_corpus.py``;
- ``corpus-10k-warm``: the same tree warm: before each timed run one untimed run (of the
  same installation) fills ``.nplint_cache``, which the timed run keeps (bound 0.5 x);
- ``fleet-300``, ``fleet-600``: the kustomize fleet of ``../shared/bench/gen_kustomize_fleet.py``
  (4 kustomizations per app sharing a common base and two components), ``--render never``;
- ``fleet-rendered``: a fleet of ``--rendered-apps`` apps rendered with kubectl (the
  virtual environment's), also timed against rendering its entry points one after another
  (the budget: 0.6 x), as ``benchmarks/bench_render.py`` does;
- ``charts``: ``benchmarks/gen_charts.py`` (60 charts, 2 subcharts each), ``--render never``;
- ``charts-rendered``: the same rendered with helm (``--helm``, or ``helm`` on PATH);
- ``bundle``: ``benchmarks/gen_operator_bundle.py`` (240 large CRDs in 4 files), ``--render never``;
- ``--repo NAME=PATH``: a checkout of a real repository, ``--render never`` (keep it out of the project).

Each round runs, for every shape in turn, the floor and then nplint, each in a fresh
process: the machine is shared, so rounds are interleaved and medians reported, CPU
seconds (user + system, with children) beside wall seconds. The floor is
``yaml.load_all(..., Loader=yaml.CSafeLoader)`` over every ``.yaml``/``.yml``/``.json`` file
of the tree (a file libyaml cannot parse, like a chart template, counts up to its error).
It is timed twice in the same run: as a whole process from outside (interpreter start-up,
``import yaml`` and listing the files included), as nplint is timed, and inside its process
(the loads alone; the suite's first figure). Bounds are held against the whole process,
like against like; both figures and both ratios are printed. nplint runs cold:
``.nplint_cache`` is removed before each run (but for a warm shape, see above; the warm run
must print what the cold run that filled the cache printed). With ``--before PYTHON`` the same runs are
made with another installation of nplint (``PYTHON -m nplint``), interleaved, and both
must print the same ``--format json`` bytes.
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
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "bench"
#: Bound of nplint's wall time over the floor's, per kind of shape (issue 16's acceptance).
NEVER_BOUND = 1.5
CORPUS_BOUND = 1.0
#: The 10k-document tree again, unchanged since a run that filled the cache.
WARM_BOUND = 0.5
#: A rendered fleet's cold run against rendering its entry points one after another.
SEQUENTIAL_BOUND = 0.6

FLOOR = """
import sys, time, pathlib, yaml
files = sorted(p for p in pathlib.Path(sys.argv[1]).rglob("*")
               if p.suffix in (".yaml", ".yml", ".json") and ".nplint_cache" not in p.parts and p.is_file())
wall, cpu = time.perf_counter(), time.process_time()
documents = 0
for path in files:
    try:
        for _ in yaml.load_all(path.read_text(encoding="utf-8", errors="replace"), Loader=yaml.CSafeLoader):
            documents += 1
    except yaml.YAMLError:
        pass
print(len(files), documents, time.perf_counter() - wall, time.process_time() - cpu)
"""


@dataclass
class Shape:
    name: str
    tree: Path
    render: str  # "never" or "auto"
    bound: float
    #: Entry points rendered one after another for the sequential baseline (rendered fleets).
    entries: list[Path] = field(default_factory=list)
    #: Timed with the cache an untimed run of the same installation filled just before.
    warm: bool = False


@dataclass
class Figures:
    files: int = 0
    documents: int = 0
    #: The floor as a whole process, timed from outside as nplint is.
    floor: list[float] = field(default_factory=list)
    floor_cpu: list[float] = field(default_factory=list)
    #: The floor's loads alone, timed inside its process.
    inner: list[float] = field(default_factory=list)
    inner_cpu: list[float] = field(default_factory=list)
    runs: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    outputs: dict[str, set[bytes]] = field(default_factory=dict)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _generate(args: argparse.Namespace) -> list[Shape]:
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)

    def made(name: str, argv: list[str]) -> Path:
        tree = work / name
        if not tree.is_dir() or not any(tree.iterdir()):
            subprocess.run([sys.executable, *argv, str(tree)], check=True, stdout=subprocess.DEVNULL)
        return tree

    shapes: list[Shape] = []
    wanted = set(args.shapes)
    if wanted & {"corpus-10k", "corpus-10k-warm"}:
        tree = work / "corpus-10k"
        if not tree.is_dir():
            subprocess.run(
                [
                    sys.executable,
                    str(SHARED / "gen_corpus.py"),
                    "--namespaces",
                    "400",
                    "--workloads-per-ns",
                    "8",
                    "--policies-per-ns",
                    "8",
                    str(tree),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        if "corpus-10k" in wanted:
            shapes.append(Shape("corpus-10k", tree, "never", CORPUS_BOUND))
        if "corpus-10k-warm" in wanted:
            shapes.append(Shape("corpus-10k-warm", tree, "never", WARM_BOUND, warm=True))
    for apps in (300, 600):
        if f"fleet-{apps}" in wanted:
            tree = made(f"fleet-{apps}", [str(SHARED / "gen_kustomize_fleet.py"), "--apps", str(apps)])
            shapes.append(Shape(f"fleet-{apps}", tree, "never", NEVER_BOUND))
    if "fleet-rendered" in wanted:
        apps = args.rendered_apps
        tree = made(f"fleet-{apps}-r", [str(SHARED / "gen_kustomize_fleet.py"), "--apps", str(apps)])
        entries = sorted(
            p for p in (tree / "apps").glob("*/overlays/*") if (p / "kustomization.yaml").is_file()
        )
        shapes.append(Shape(f"fleet-{apps}-rendered", tree, "auto", SEQUENTIAL_BOUND, entries))
    if wanted & {"charts", "charts-rendered"}:
        tree = made("charts", [str(HERE / "gen_charts.py"), "--charts", "60"])
        if "charts" in wanted:
            shapes.append(Shape("charts", tree, "never", NEVER_BOUND))
        if "charts-rendered" in wanted:
            # A library chart renders nothing (helm refuses it); nplint does not render it either.
            entries = sorted(
                p
                for p in (tree / "charts").iterdir()
                if (p / "Chart.yaml").is_file() and "type: library" not in (p / "Chart.yaml").read_text()
            )
            shapes.append(Shape("charts-rendered", tree, "auto", SEQUENTIAL_BOUND, entries))
    if "bundle" in wanted:
        tree = made("bundle", [str(HERE / "gen_operator_bundle.py"), "--crds", "240"])
        shapes.append(Shape("bundle", tree, "never", NEVER_BOUND))
    for given in args.repo:
        name, _, path = given.partition("=")
        shapes.append(Shape(f"repo:{name}", Path(path).resolve(), "never", NEVER_BOUND))
    return shapes


def _environment(args: argparse.Namespace, scratch: Path) -> dict[str, str]:
    directories = [str(Path(sys.executable).parent)]
    if args.helm is not None:
        directories.append(str(args.helm.resolve().parent))
    return {
        "PATH": os.pathsep.join([*directories, "/usr/bin", "/bin"]),
        "HOME": str(scratch / "home"),
        "XDG_CACHE_HOME": str(scratch / "xdg-cache"),
        "LANG": "C.UTF-8",
        "NPLINT_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def _sequential(shape: Shape, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of rendering every entry point one after another."""
    wall, cpu = time.perf_counter(), _children_cpu()
    for entry in shape.entries:
        if (entry / "Chart.yaml").is_file():
            argv = ["helm", "template", "nplint", "--", str(entry)]
        else:
            argv = ["kubectl", "kustomize", "--", str(entry)]
        subprocess.run(
            argv, env=env, cwd=shape.tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
        )
    return time.perf_counter() - wall, _children_cpu() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    all_shapes = [
        "corpus-10k",
        "corpus-10k-warm",
        "fleet-300",
        "fleet-600",
        "fleet-rendered",
        "charts",
        "charts-rendered",
        "bundle",
    ]
    parser.add_argument("--shapes", nargs="*", default=all_shapes, choices=all_shapes)
    parser.add_argument("--repo", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "nplint-bench-suite")
    parser.add_argument("--rendered-apps", type=int, default=34, help="apps of the rendered fleet")
    parser.add_argument("--helm", type=Path, default=None, help="helm binary (else helm on PATH)")
    parser.add_argument(
        "--before", default=None, help="a Python whose nplint is the 'before' of a comparison"
    )
    args = parser.parse_args()
    if args.helm is None and shutil.which("helm"):
        args.helm = Path(shutil.which("helm") or "")
    if args.helm is None and "charts-rendered" in args.shapes:
        print(
            "charts-rendered needs helm (--helm PATH; ../shared/bench/get-helm.sh DIR installs one)",
            file=sys.stderr,
        )
        return 2
    shapes = _generate(args)
    scratch = Path(tempfile.mkdtemp(prefix="nplint-bench-"))
    env = _environment(args, scratch)
    (scratch / "home").mkdir()
    pythons = {"after": sys.executable} | ({"before": args.before} if args.before else {})
    figures = {shape.name: Figures() for shape in shapes}
    print(
        f"{len(shapes)} shapes, {args.rounds} rounds; usable cores: {len(os.sched_getaffinity(0))}",
        flush=True,
    )
    for number in range(args.rounds):
        for shape in shapes:
            found = figures[shape.name]
            began, used = time.perf_counter(), _children_cpu()
            floor = subprocess.run(
                [sys.executable, "-c", FLOOR, str(shape.tree)],
                cwd=shape.tree,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            found.floor.append(time.perf_counter() - began)
            found.floor_cpu.append(_children_cpu() - used)
            files, documents, wall, cpu = floor.stdout.split()
            found.files, found.documents = int(files), int(documents)
            found.inner.append(float(wall))
            found.inner_cpu.append(float(cpu))
            if shape.entries:
                wall_s, cpu_s = _sequential(shape, env)
                found.runs.setdefault("sequential", []).append(wall_s)
                found.cpu.setdefault("sequential", []).append(cpu_s)
            for label, python in pythons.items():
                shutil.rmtree(shape.tree / ".nplint_cache", ignore_errors=True)
                argv = [
                    python,
                    "-m",
                    "nplint",
                    "check",
                    "--render",
                    shape.render,
                    "--format",
                    "json",
                    "--fail-on",
                    "never",
                    ".",
                ]
                if shape.warm:
                    # The cache this installation fills (another's is of another code: not used).
                    filled = subprocess.run(argv, cwd=shape.tree, env=env, capture_output=True)
                    found.outputs.setdefault(label, set()).add(filled.stdout)
                began, used = time.perf_counter(), _children_cpu()
                done = subprocess.run(argv, cwd=shape.tree, env=env, capture_output=True)
                found.runs.setdefault(label, []).append(time.perf_counter() - began)
                found.cpu.setdefault(label, []).append(_children_cpu() - used)
                if done.returncode != 0:
                    print(
                        f"{shape.name}: nplint ({label}) failed: {done.stderr.decode()[-400:]}",
                        file=sys.stderr,
                    )
                    return 1
                found.outputs.setdefault(label, set()).add(done.stdout)
            shutil.rmtree(shape.tree / ".nplint_cache", ignore_errors=True)
        print(f"round {number + 1} done", flush=True)
    print()
    head = f"{'shape':<24}{'files':>7}{'docs':>8}{'floor s (cpu)':>16}{'inner s (cpu)':>16}"
    for label in pythons:
        head += f"{'nplint ' + label + ' s (cpu)':>24}{'ratio (cpu)':>13}{'inner ratio':>13}"
    head += f"{'bound':>7}  verdict"
    print(head)
    verdicts = []
    for shape in shapes:
        found = figures[shape.name]
        floor = statistics.median(found.floor)
        floor_cpu = statistics.median(found.floor_cpu)
        inner = statistics.median(found.inner)
        inner_cpu = statistics.median(found.inner_cpu)
        if shape.entries:  # a rendered shape is held against its renders one after another
            baseline = statistics.median(found.runs["sequential"])
            baseline_cpu = statistics.median(found.cpu["sequential"])
        else:
            baseline, baseline_cpu = floor, floor_cpu
        line = f"{shape.name:<24}{found.files:>7}{found.documents:>8}{floor:>8.2f} ({floor_cpu:>5.2f})"
        line += f"{inner:>8.2f} ({inner_cpu:>5.2f})"
        ratios = {}
        for label in pythons:
            wall = statistics.median(found.runs[label])
            cpu = statistics.median(found.cpu[label])
            ratios[label] = wall / baseline
            line += f"{wall:>14.2f} ({cpu:>6.2f}){ratios[label]:>7.2f} ({cpu / baseline_cpu:>4.2f})"
            line += f"{wall / inner:>7.2f} ({cpu / inner_cpu:>4.2f})"
        ok = ratios["after"] <= shape.bound
        verdicts.append(ok)
        line += f"{shape.bound:>7.2f}  {'ok' if ok else 'OVER'}"
        if shape.entries:
            line += f" (against {len(shape.entries)} renders one after another: "
            line += f"{baseline:.2f} s, cpu {baseline_cpu:.2f})"
        outputs = {label: found.outputs[label] for label in pythons}
        if any(len(o) != 1 for o in outputs.values()):
            line += "  OUTPUT CHANGED BETWEEN ROUNDS"
        elif len(pythons) > 1 and outputs["before"] != outputs["after"]:
            line += "  OUTPUT DIFFERS FROM BEFORE"
        print(line)
    print(
        "\nfloor: libyaml loading the same files, a whole process timed from outside as nplint is; "
        "inner: its loads alone, timed inside that process.\n"
        "ratio: nplint's median wall (CPU) over the floor's (the verdict); inner ratio: over the "
        "inner figure; rendered shapes: ratio over the renders one after another"
    )
    shutil.rmtree(scratch, ignore_errors=True)
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
