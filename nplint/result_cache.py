"""The findings of a run kept for the next run over the same input, beside the documents.

A run over a repository that did not change since the last one (a second
pre-commit run, CI on a re-run) would judge the same documents with the same
rules and get the same findings. So ``check`` keeps what a run found under a
digest of everything the findings depend on (:func:`run_key`):

- nplint's own code: every module of the package, by content (a new release, a
  developer's edit, a rule changed: all start over), and no plugin at all (a run
  with a plugin registered keeps nothing, as a plugin may judge anything);
- the configuration as the run uses it, and the rules chosen;
- the paths asked for, what discovery found and skipped, what was not rendered
  and why, and how each render was made;
- the bytes of every file and every rendered output the run loaded, by the key
  of :mod:`nplint.document_cache` (which sees every load), in order, with the
  name each was loaded as; and the bytes of the probe files ``expect`` names.

If any input was loaded without a key (standard input, a file that could not be
read), nothing is kept. What is kept is authenticated like every entry of the
cache (:class:`~nplint.render_cache.RenderCache`), so a repository cannot
supply findings of its own; it is written in plain values read with
:mod:`marshal`, never with :mod:`pickle`.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nplint.config import PROBE_FILE_LIMIT, RefusedFile, read_regular_file, repository_path
from nplint.findings import Edit, Finding, Fix, Level, ObjectRef, Related, Span

if TYPE_CHECKING:
    from nplint.config import Config
    from nplint.discovery import Discovery
    from nplint.document_cache import DocumentCache
    from nplint.lint import RuleFailure
    from nplint.render import RenderPlan
    from nplint.rules.base import Rule

__all__ = ["decode_outcome", "encode_outcome", "run_key"]

_FINDING_FIELDS = (
    "rule_id",
    "level",
    "message",
    "path",
    "span",
    "object",
    "yaml_path",
    "document_index",
    "related",
    "fix",
    "worlds",
    "detail",
    "fixes",
)

_code_digest: bytes | None = None


def code_fingerprint() -> bytes:
    """A digest of every module of the nplint package and the parsing environment (computed once)."""
    global _code_digest
    if _code_digest is None:
        from nplint.document_cache import parsing_environment

        digest = hashlib.sha256(b"nplint code\0" + parsing_environment())
        package = Path(__file__).resolve().parent
        for source in sorted(package.rglob("*.py")):
            digest.update(source.relative_to(package).as_posix().encode() + b"\0")
            try:
                digest.update(source.read_bytes())
            except OSError:
                digest.update(b"\0unreadable")
            digest.update(b"\0")
        _code_digest = digest.digest()
    return _code_digest


def run_key(
    *,
    paths: Sequence[str],
    config: Config,
    rules: Sequence[type[Rule]],
    found: Discovery,
    rendering: RenderPlan,
    documents: DocumentCache,
) -> str | None:
    """The digest of everything a run's findings depend on; None when it cannot be known."""
    inputs = documents.inputs()
    if inputs is None:
        return None
    digest = hashlib.sha256(b"nplint result 1\0" + code_fingerprint())
    parts: list[Any] = [
        repr(config),
        [(rule.id, rule.__module__, rule.__qualname__) for rule in rules],
        list(paths),
        [(f.display, f.stream) for f in found.files],
        [(s.display, s.reason, s.detail) for s in found.skipped],
        list(found.missing),
        [(t.tool, t.directory, reason) for t, reason in rendering.unrendered],
        [
            (
                r.target.tool,
                r.target.directory,
                r.loaded.path,
                r.directory,
                r.inputs,
                r.consumed,
                r.namespace,
                r.root_real,
                r.chart_homes,
                [(m.path, m.document_index) for m in r.sources],
            )
            for r in rendering.rendered
        ],
        sorted(rendering.consumed),
        [_probe_digest(entry, config.root) for entry in config.expect],
        # Namespace labels set by command: read from files that are not manifests.
        found.label_commands.commands if found.label_commands is not None else (),
    ]
    digest.update(repr(parts).encode("utf-8", "surrogateescape"))
    for path, key in inputs:
        digest.update(path.encode("utf-8", "surrogateescape") + b"\0" + key)
    return digest.hexdigest()


def _probe_digest(entry: str, root: Path) -> str:
    """The digest of a probe file ``expect`` names, read as NP801 reads it: inside the repository only."""
    path = Path(entry) if Path(entry).is_absolute() else root / entry
    try:
        repository_path(str(path), root=root, missing_ok=True)
        return hashlib.sha256(read_regular_file(path, PROBE_FILE_LIMIT)).hexdigest()
    except ValueError as error:
        return f"refused: {error}"
    except (RefusedFile, OSError) as error:  # too large, not a regular file, unreadable
        return f"unread: {type(error).__name__}: {error}"


def _span(span: Span) -> tuple[int, int, int, int]:
    return (span.line, span.column, span.end_line, span.end_column)


def _finding(finding: Finding) -> tuple[Any, ...]:
    obj = finding.object
    return (
        finding.rule_id,
        finding.level.value,
        finding.message,
        finding.path,
        _span(finding.span),
        (obj.kind, obj.namespace, obj.name) if obj is not None else None,
        finding.yaml_path,
        finding.document_index,
        tuple((r.path, _span(r.span), r.message) for r in finding.related),
        finding.fix,
        finding.worlds,
        finding.detail,
        tuple(
            (fix.description, fix.safe, fix.path, fix.document_index, tuple(_edit(e) for e in fix.edits))
            for fix in finding.fixes
        ),
    )


def _edit(edit: Edit) -> tuple[Any, ...]:
    return (edit.op, edit.path, edit.key, edit.value, edit.after)


def _unfinding(values: Sequence[Any]) -> Finding:
    rule_id, level, message, path, span, obj, yaml_path, index, related, fix, worlds, detail, fixes = values
    return Finding(
        rule_id=rule_id,
        level=Level(level),
        message=message,
        path=path,
        span=Span(*span),
        object=ObjectRef(*obj) if obj is not None else None,
        yaml_path=yaml_path,
        document_index=index,
        related=tuple(Related(p, Span(*s), m) for p, s, m in related),
        fix=fix,
        worlds=tuple(worlds),
        detail=detail,
        fixes=tuple(
            Fix(description, safe, tuple(Edit(*e) for e in edits), fix_path, document)
            for description, safe, fix_path, document, edits in fixes
        ),
    )


def encode_outcome(
    findings: Sequence[Finding], suppressed: Sequence[Finding], failures: Sequence[RuleFailure]
) -> bytes:
    """What a run found, as bytes to keep."""
    return marshal.dumps(
        (
            [_finding(f) for f in findings],
            [_finding(f) for f in suppressed],
            [(f.rule_id, f.error, f.object) for f in failures],
        )
    )


def decode_outcome(data: bytes) -> tuple[list[Finding], list[Finding], list[RuleFailure]] | None:
    """What :func:`encode_outcome` kept; None for bytes of another shape."""
    from nplint.lint import RuleFailure

    try:
        findings, suppressed, failures = marshal.loads(data)
        return (
            [_unfinding(f) for f in findings],
            [_unfinding(f) for f in suppressed],
            [RuleFailure(*f) for f in failures],
        )
    except (EOFError, ValueError, TypeError):
        return None
