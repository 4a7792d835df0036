"""Baselines: record today's findings, then report only new ones.

A finding is recorded by its fingerprint (rule, object, YAML path — not line
numbers), so moving a policy within its file, or the file's other content
changing, does not make an old finding look new. Equal fingerprints are
counted, so a second identical problem on the same object is still reported.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from nplint.config import BASELINE_FILE_LIMIT, RefusedFile, read_regular_file
from nplint.findings import Finding, fingerprint
from nplint.output_files import OutputFileError, replace_file
from nplint.records import record
from nplint.reporting.jsontext import dumps
from nplint.untrusted import escape

FORMAT_VERSION = 1


class BaselineError(Exception):
    """A baseline file that cannot be read; the run exits 2."""


@record(frozen=True, slots=True)
class BaselineResult:
    new: list[Finding]
    matched: int
    #: Baseline entries no current finding matched: fixed, or changed beyond recognition.
    gone: int


def write_baseline(path: Path, findings: Sequence[Finding]) -> None:
    """Record ``findings`` in ``path``; the fingerprints are of the raw values, the rest is for people.

    :raises BaselineError: when the file cannot be written.
    """
    entries = sorted(
        (
            {
                "fingerprint": fingerprint(f),
                "rule": f.rule_id,
                "path": escape(f.path),
                "object": str(f.object) if f.object else None,
                "yaml_path": f.yaml_path,
                "message": f.message,
            }
            for f in findings
        ),
        key=lambda e: (e["path"] or "", e["rule"] or "", e["fingerprint"] or ""),
    )
    document = {"version": FORMAT_VERSION, "tool": "nplint", "findings": entries}
    # Replaced, never written through a symlink the repository put at the path.
    try:
        replace_file(path, [dumps(document), "\n"])
    except OutputFileError as error:
        raise BaselineError(str(error)) from None


def read_baseline(path: Path) -> Counter[str]:
    try:
        data = json.loads(read_regular_file(path, BASELINE_FILE_LIMIT).decode("utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found (create it with --write-baseline)") from None
    except RefusedFile as error:
        raise BaselineError(f"{path}: not a readable nplint baseline: it {error}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"{path}: not a readable nplint baseline: {error}") from None
    except RecursionError:
        # json reads nested arrays recursively; a baseline is two levels deep.
        raise BaselineError(f"{path}: not a readable nplint baseline: nested too deeply") from None
    if (
        not isinstance(data, dict)
        or data.get("version") != FORMAT_VERSION
        or not isinstance(data.get("findings"), list)
    ):
        raise BaselineError(f"{path}: not an nplint baseline (version {FORMAT_VERSION} expected)")
    counts: Counter[str] = Counter()
    for entry in data["findings"]:
        if isinstance(entry, dict) and isinstance(entry.get("fingerprint"), str):
            counts[entry["fingerprint"]] += 1
    return counts


def apply_baseline(findings: Sequence[Finding], baseline: Counter[str]) -> BaselineResult:
    remaining = Counter(baseline)
    new: list[Finding] = []
    matched = 0
    for finding in findings:
        key = fingerprint(finding)
        if remaining[key] > 0:
            remaining[key] -= 1
            matched += 1
        else:
            new.append(finding)
    return BaselineResult(new, matched, sum(remaining.values()))
