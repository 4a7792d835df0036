"""Run an external program with everything it may do bounded.

nplint runs programs (``helm``, ``kustomize``, ``kubectl``, ``git``) over
repositories it does not trust. A program is found only in the absolute
directories of PATH (a relative entry such as ``.`` would let the scanned tree
choose the program), is given an argument list and never a shell, runs in a
directory the caller chooses, with an environment built from an allow-list
(:func:`scrubbed_environment`), a wall-clock limit and a cap on what it may
print. It starts in a session of its own, so that on a timeout or when it
prints too much the whole process group -- its children too -- is killed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nplint.records import record

if TYPE_CHECKING:
    import subprocess

#: Variables passed on from the environment of the person running nplint: enough to find
#: programs and to speak their language, nothing that carries credentials or configuration.
_PASSED_ON = ("PATH", "LANG", "LANGUAGE", "TZ")
_PASSED_ON_PREFIXES = ("LC_",)
#: Port 9 (discard) on the loopback: nothing listens there, so a program that honours the
#: proxy variables fails at once instead of reaching the network.
CLOSED_PROXY = "http://127.0.0.1:9"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
#: Bytes of standard error kept for messages; the rest is read and dropped so the program
#: never blocks on a full pipe.
STDERR_KEPT = 64 * 1024
_CHUNK = 64 * 1024


class ProgramError(Exception):
    """A program could not be run to its end; ``str()`` says why in words fit for a finding."""


class ProgramTimeout(ProgramError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish within {seconds:g} s and was stopped")
        self.seconds = seconds


class OutputTooLarge(ProgramError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"output too large: more than {limit // (1024 * 1024)} MiB, stopped")
        self.limit = limit


class ProgramNotStarted(ProgramError):
    pass


@record(frozen=True, slots=True)
class Completed:
    returncode: int
    stdout: bytes
    #: At most :data:`STDERR_KEPT` bytes: the beginning, where programs say what went wrong.
    stderr: bytes


def find_program(name: str, search_path: str | None = None) -> Path | None:
    """The executable ``name`` in an absolute directory of PATH, or None.

    Relative entries (``.``, an empty entry, ``bin``) are left out: they name a
    directory of wherever nplint was started, usually the repository being linted.
    """
    search_path = os.environ.get("PATH", os.defpath) if search_path is None else search_path
    for directory in search_path.split(os.pathsep):
        if not directory or not os.path.isabs(directory):
            continue
        candidate = Path(directory, name)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def scrubbed_environment(home: Path, temporary: Path, *, offline: bool = True) -> dict[str, str]:
    """An environment for a program run over untrusted files.

    Built from an allow-list rather than by removing what looks dangerous, so
    tokens (``GITHUB_TOKEN``, ``*_TOKEN``), tool configuration (``HELM_*``,
    ``KUBECONFIG``, ``GIT_*``) and anything added to CI tomorrow never reach the
    program. ``HOME`` and the XDG directories point into ``home``, ``TMPDIR`` to
    ``temporary`` (both made by the caller). With ``offline`` the proxies lead to
    a closed port and git may use no transport, so a program that would fetch
    something fails fast instead of reaching the network.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key in _PASSED_ON or key.startswith(_PASSED_ON_PREFIXES)
    }
    env["PATH"] = os.pathsep.join(
        entry for entry in env.get("PATH", os.defpath).split(os.pathsep) if entry and os.path.isabs(entry)
    )
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["XDG_STATE_HOME"] = str(home / ".local" / "state")
    env["TMPDIR"] = str(temporary)
    # git reads no configuration but ours and never asks for a password on a terminal.
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_TERMINAL_PROMPT"] = "0"
    if offline:
        for variable in _PROXY_VARIABLES:
            env[variable] = CLOSED_PROXY
        env["NO_PROXY"] = env["no_proxy"] = ""
        # A protocol list that names no protocol: git may not fetch over any transport.
        env["GIT_ALLOW_PROTOCOL"] = "none"
    return env


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    output_limit: int,
) -> Completed:
    """Run ``argv`` to its end and return what it printed.

    Raises :class:`ProgramNotStarted` when it cannot start, :class:`ProgramTimeout`
    after ``timeout`` seconds and :class:`OutputTooLarge` once standard output
    exceeds ``output_limit`` bytes; in the last two cases the process group is
    killed first. Standard input is empty.
    """
    return start(argv, cwd=cwd, env=env, timeout=timeout, output_limit=output_limit).finish()


def start(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    output_limit: int,
) -> Running:
    """``argv`` started as :func:`run` starts it; :meth:`Running.finish` is the rest of :func:`run`.

    For a program whose answer is needed later: it runs while nplint works. Its
    ``timeout`` counts from now. Raises :class:`ProgramNotStarted` as :func:`run` does.
    """
    # Imported here: most runs start no program, and nplint's start-up counts on every run.
    import subprocess

    deadline = time.monotonic() + max(timeout, 0.0)
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        raise ProgramNotStarted(f"could not be started: {error.strerror or error}") from None
    return Running(process, deadline, timeout, output_limit)


class Running:
    """A program :func:`start` started: :meth:`finish` once, or :meth:`stop`."""

    def __init__(
        self, process: subprocess.Popen[bytes], deadline: float, timeout: float, output_limit: int
    ) -> None:
        self._process = process
        self._deadline = deadline
        self._timeout = timeout
        self._output_limit = output_limit

    def finish(self) -> Completed:
        """Wait for its end (up to the deadline) and return what it printed; raises as :func:`run` does."""
        process = self._process
        try:
            stdout, stderr = _collect(process, self._deadline, self._timeout, self._output_limit)
            _wait_unreaped(process, self._deadline, self._timeout)
        finally:
            self.stop()
        return Completed(process.returncode, stdout, stderr)

    def stop(self) -> None:
        """End it now if it runs (its whole process group), and reap it."""
        process = self._process
        # The program may have left children behind (or be one of them, on a timeout):
        # the group goes before the leader is reaped, so its id cannot have been reused.
        _kill_group(process)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        process.wait()


def _collect(
    process: subprocess.Popen[bytes], deadline: float, timeout: float, output_limit: int
) -> tuple[bytes, bytes]:
    import selectors

    assert process.stdout is not None and process.stderr is not None
    stdout = bytearray()
    stderr = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, stdout)
        selector.register(process.stderr, selectors.EVENT_READ, stderr)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProgramTimeout(timeout)
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                sink: bytearray = key.data
                if sink is stdout:
                    if len(stdout) + len(chunk) > output_limit:
                        raise OutputTooLarge(output_limit)
                    stdout += chunk
                elif len(stderr) < STDERR_KEPT:
                    stderr += chunk[: STDERR_KEPT - len(stderr)]
    return bytes(stdout), bytes(stderr)


def _wait_unreaped(process: subprocess.Popen[bytes], deadline: float, timeout: float) -> None:
    """Wait until the program has exited, without reaping it (its pid stays ours)."""
    if not hasattr(os, "waitid"):
        import subprocess

        try:
            process.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            raise ProgramTimeout(timeout) from None
        return
    pause = 0.001
    while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() >= deadline:
            raise ProgramTimeout(timeout)
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.returncode is not None:
        return  # reaped already: the id may belong to someone else now
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already
    except AttributeError:  # no process groups on this platform
        process.kill()
