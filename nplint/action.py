"""The GitHub Action's logic: run nplint, write SARIF, annotations, a job summary and outputs.

``action.yml`` passes every input through ``env:`` (never by interpolating
expressions into a shell script) and calls ``python -I -m nplint.action run``,
then, after the SARIF upload, ``python -I -m nplint.action finish`` to fail the
job when the run's exit code says so.

The checkout is a pull request's, so it is untrusted: ``-I`` keeps it off
Python's path, plugins are not loaded unless the ``plugins`` input asks,
nothing is rendered unless the ``render`` input asks, paths are passed after
``--``, and the SARIF report goes to the runner's temporary directory unless
``sarif-file`` names a place in the workspace (never through a link out of it).

Environment read by ``run``: ``NPLINT_PATHS`` (whitespace-separated),
``NPLINT_CONFIG``, ``NPLINT_FAIL_ON``, ``NPLINT_SARIF_FILE``,
``NPLINT_ANNOTATE``, ``NPLINT_SUMMARY``, ``NPLINT_RENDER``, ``NPLINT_PLUGINS``,
plus the runner's ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``,
``GITHUB_EVENT_NAME``, ``GITHUB_EVENT_PATH``, ``GITHUB_BASE_REF``,
``GITHUB_WORKSPACE`` and ``RUNNER_TEMP``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from nplint.cli import main as nplint_main
from nplint.commands.common import print_error
from nplint.exitcodes import ExitCode
from nplint.plugins.manager import DISABLE_AUTOLOAD_ENV
from nplint.untrusted import markdown_code, markdown_text

#: Rows of the "worst findings" table in the job summary.
WORST_ROWS = 15
#: Bytes of the pull-request comparison in the job summary. GitHub refuses a step summary
#: over 1 MiB and then shows none of it, findings included; the findings part is bounded
#: (:data:`WORST_ROWS`), the comparison grows with what the pull request adds.
CONNECTIVITY_LIMIT = 256 * 1024
_LEVEL_ORDER = {"error": 0, "warning": 1, "note": 2}

ConnectivitySection = Callable[[Mapping[str, str], Path], str | None]


def _truthy(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def _set_output(env: Mapping[str, str], name: str, value: str) -> None:
    # Values here never contain newlines, so the one-line form is safe.
    _append(env.get("GITHUB_OUTPUT"), f"{name}={value}\n")


def _cli(args: Sequence[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = nplint_main(list(args), stdout=out)
    return code, out.getvalue()


class ActionError(Exception):
    """An input the action cannot use; the step reports it and sets exit-code 2."""


def render_mode(env: Mapping[str, str]) -> str:
    """``never`` unless the workflow's ``render`` input says ``auto``: rendering runs the PR's charts."""
    value = env.get("NPLINT_RENDER", "").strip().lower() or "never"
    if value not in ("auto", "never"):
        raise ActionError(f"input 'render' must be 'auto' or 'never', not {value!r}")
    return value


def build_arguments(env: Mapping[str, str], formats: Sequence[str]) -> list[str]:
    args = ["check", "--render", render_mode(env)]
    for fmt in formats:
        args += ["--format", fmt]
    if env.get("NPLINT_CONFIG", "").strip():
        args += ["--config", env["NPLINT_CONFIG"].strip()]
    if env.get("NPLINT_FAIL_ON", "").strip():
        args += ["--fail-on", env["NPLINT_FAIL_ON"].strip()]
    # "--": a path of the workflow's (or a file name it globs) is never read as an option.
    return [*args, "--", *lint_paths(env)]


def lint_paths(env: Mapping[str, str]) -> list[str]:
    """The ``paths`` input split as a shell would (quotes group), ``.`` when it is empty.

    A workflow may fill it with the pull request's changed files, so a file name
    with a lone quote must be an input error the step reports, not a traceback.
    """
    try:
        return shlex.split(env.get("NPLINT_PATHS", "")) or ["."]
    except ValueError as error:
        raise ActionError(
            f"input 'paths' cannot be split into file names ({error}); "
            'quote a name holding a quote or a space, e.g. "it\'s.yaml"'
        ) from None


def sarif_destination(env: Mapping[str, str], workspace: Path) -> Path:
    """Where the SARIF report goes: the ``sarif-file`` input in the workspace, else the runner's temp.

    The workspace holds the pull request's files, so a directory on the way may be a
    committed link: the report's folder must really be inside the workspace (or the
    runner's temporary directory), and the file itself is replaced, never written through.
    """
    given = env.get("NPLINT_SARIF_FILE", "").strip()
    temp = Path(env.get("RUNNER_TEMP", "").strip() or tempfile.gettempdir())
    if not given:
        return temp / "nplint.sarif"
    target = workspace / given
    allowed = [workspace.resolve(), temp.resolve()]
    parent = target.parent
    # Create the folders that are missing, one by one, never following a link out.
    missing: list[Path] = []
    while not parent.exists() and not parent.is_symlink():
        missing.append(parent)
        parent = parent.parent
    real = parent.resolve()
    if not any(real == base or base in real.parents for base in allowed):
        raise ActionError(
            f"input 'sarif-file' {given!r} leads out of the workspace (through {parent}); "
            "name a place inside it, or leave the input empty"
        )
    for folder in reversed(missing):
        folder.mkdir()
    return target


def summary_markdown(report: Mapping[str, object], connectivity: str | None) -> str:
    findings = report.get("findings", [])
    assert isinstance(findings, list)
    lines = ["## nplint", ""]
    if not findings:
        lines.append("No problems found. ✅")
    else:
        by_rule = Counter((f["rule"], f["name"], f["level"]) for f in findings)
        lines += [f"**{len(findings)} findings**", "", "| rule | level | count |", "|---|---|---|"]
        for (rule, name, level), count in sorted(
            by_rule.items(), key=lambda i: (_LEVEL_ORDER[i[0][2]], i[0][0])
        ):
            lines.append(f"| {markdown_text(f'{rule} {name}')} | {markdown_text(str(level))} | {count} |")
        worst = sorted(findings, key=lambda f: (_LEVEL_ORDER[f["level"]], f["path"], f["line"], f["rule"]))
        lines += ["", "### Worst findings", "", "| level | location | rule | message |", "|---|---|---|---|"]
        for finding in worst[:WORST_ROWS]:
            # Paths and messages are the repository's: one line each, no markup, no HTML.
            message = markdown_text(str(finding["message"]))
            location = markdown_code(f"{finding['path']}:{finding['line']}")
            level, rule = (markdown_text(str(finding[key])) for key in ("level", "rule"))
            lines.append(f"| {level} | {location} | {rule} | {message} |")
        if len(worst) > WORST_ROWS:
            lines.append(f"| | | | … and {len(worst) - WORST_ROWS} more |")
    if connectivity:
        lines += ["", bounded_section(connectivity).rstrip()]
    return "\n".join(lines) + "\n"


def bounded_section(text: str, limit: int = CONNECTIVITY_LIMIT) -> str:
    """``text`` cut after whole lines to at most about ``limit`` bytes, saying so when it is cut.

    A code fence (the Mermaid graph) is kept whole or left out, never left open.
    """
    if len(text.encode("utf-8")) <= limit:
        return text
    kept: list[str] = []
    size = 0
    fence_start: int | None = None
    for line in text.splitlines():
        size += len(line.encode("utf-8")) + 1
        if size > limit:
            break
        if line.startswith("```"):
            fence_start = len(kept) if fence_start is None else None
        kept.append(line)
    if fence_start is not None:
        del kept[fence_start:]
    kept += [
        "",
        f"_… cut here: the comparison is longer than {limit // 1024} KiB, more than a job summary "
        "should hold; run `nplint diff` with the base commit to see all of it._",
    ]
    return "\n".join(kept) + "\n"


def run(env: Mapping[str, str], connectivity: ConnectivitySection | None = None) -> int:
    """Run nplint as the action's main step. Always returns 0: failing is ``finish``'s job."""
    workspace = Path(env.get("GITHUB_WORKSPACE") or Path.cwd())
    try:
        sarif_path = sarif_destination(env, workspace)
        render_mode(env)
        lint_paths(env)
    except (ActionError, OSError) as error:
        print_error(error)
        _set_output(env, "exit-code", str(int(ExitCode.ERROR)))
        _set_output(env, "findings", "0")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        json_path = Path(scratch) / "nplint.json"
        # One lint run, three outputs: SARIF for upload, JSON for the summary,
        # workflow annotations on standard output.
        # Its folder was checked to really lie in the workspace or the runner's temporary
        # directory; written there by its real path, it goes where it was checked to go.
        real_sarif = Path(os.path.realpath(sarif_path.parent)) / sarif_path.name
        formats = [f"sarif={real_sarif}", f"json={json_path}"]
        if _truthy(env.get("NPLINT_ANNOTATE"), True):
            formats.append("github")
        code, annotations = _cli(build_arguments(env, formats))
        if code == ExitCode.ERROR or not json_path.is_file():
            print("nplint: the run failed; see the messages above", file=sys.stderr)
            _set_output(env, "exit-code", str(int(ExitCode.ERROR)))
            _set_output(env, "findings", "0")
            return 0
        report = json.loads(json_path.read_text(encoding="utf-8"))
    sys.stdout.write(annotations)
    if _truthy(env.get("NPLINT_SUMMARY"), True):
        section = connectivity(env, workspace) if connectivity is not None else None
        _append(env.get("GITHUB_STEP_SUMMARY"), summary_markdown(report, section))
    _set_output(env, "sarif-file", str(sarif_path))
    _set_output(env, "findings", str(len(report["findings"])))
    _set_output(env, "exit-code", str(code))
    return 0


def finish(env: Mapping[str, str]) -> int:
    """Fail the job after the SARIF upload when the run's exit code says so."""
    text = env.get("NPLINT_EXIT_CODE", "").strip()
    if not text.isdigit():
        print("nplint: the nplint step did not report an exit code", file=sys.stderr)
        return ExitCode.ERROR
    code = int(text)
    if code == ExitCode.FINDINGS:
        print("nplint: findings at or above the failure threshold", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["run"]:
        if not _truthy(os.environ.get("NPLINT_PLUGINS"), False):
            # Entry points come from whatever the job installed: only when the workflow asks.
            os.environ[DISABLE_AUTOLOAD_ENV] = "1"
        return run(os.environ, connectivity_section)
    if args == ["finish"]:
        return finish(os.environ)
    print("usage: python -m nplint.action run|finish", file=sys.stderr)
    return ExitCode.ERROR


def connectivity_section(env: Mapping[str, str], workspace: Path) -> str | None:
    """On pull requests: what the change does to connectivity, against the base branch."""
    if env.get("GITHUB_EVENT_NAME") not in ("pull_request", "pull_request_target"):
        return None
    base = _base_revision(env)
    if base is None:
        return None
    # A bare name is always a revision to `nplint diff`, so a folder of the pull request
    # named like the base commit cannot stand in for it.
    config = ["--config", env["NPLINT_CONFIG"].strip()] if env.get("NPLINT_CONFIG", "").strip() else []
    code, text = _cli(["diff", "--render", render_mode(env), *config, "--format", "markdown", base])
    if code == ExitCode.ERROR:
        return f"_nplint could not compare with `{base}`; check out the base branch (fetch-depth: 0)._"
    return text


def _base_revision(env: Mapping[str, str]) -> str | None:
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path:
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
            sha = event["pull_request"]["base"]["sha"]
            # An object name, nothing else: it is handed to git.
            if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
                return sha
        except (OSError, ValueError, KeyError, TypeError):
            pass
    base_ref = env.get("GITHUB_BASE_REF", "").strip()
    return f"origin/{base_ref}" if base_ref and not base_ref.startswith("-") else None


if __name__ == "__main__":
    sys.exit(main())
