"""The append-only history of a model's alias moves, and the lock that serialises writers.

One JSON object per line in ``<name>/aliases.history.jsonl``::

    {"time": "2026-05-01T12:00:00.123456+00:00", "alias": "production", "from": "2",
     "to": "3", "user": "ana@build-7", "pid": 4242, "command": "aezoo alias sda-mnist production 3"}

``from`` is the version the alias pointed at before the move (``null`` for a new alias).
The history is the record; ``aliases.json`` (the current state, what readers resolve
against) is recomputed from it on every move, under the lock, and replaced atomically,
so a writer killed between the two files leaves a state the next move repairs. Lines are
appended with one ``write`` and fsynced; a reader that races a writer ignores a last line
without its newline.

Writers (new versions, alias moves) of one model take ``<name>/.lock``
(:class:`filelock.FileLock`): serialised across processes and across threads of one
process.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from aezoo.errors import AezooError

HISTORY = "aliases.history.jsonl"
ALIASES = "aliases.json"
LOCK = ".lock"
LOCK_TIMEOUT_S = 120.0


def actor() -> str:
    """``user@host`` of this process (who moves an alias)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def this_command() -> str:
    """This process's command line (what moved an alias), at most 300 characters."""
    argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    return " ".join(argv)[:300]


@contextmanager
def locked(base: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the writers' lock of one model directory ``base``.

    Raises:
        AezooError: another writer held it for ``timeout`` seconds.
    """
    base.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(base / LOCK), timeout=timeout)
    try:
        with lock:
            yield
    except Timeout:
        raise AezooError(
            f"the registry entry {base} is locked by another writer ({base / LOCK}); "
            f"waited {timeout:g} s"
        ) from None


def read_history(base: Path) -> list[dict[str, Any]]:
    """Every complete record of ``base / HISTORY``, oldest first (``[]`` when none)."""
    path = base / HISTORY
    if not path.is_file():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]  # a racing append may not have finished
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def replay(records: list[dict[str, Any]]) -> dict[str, str]:
    """The aliases the records leave: ``{alias: version}``."""
    state: dict[str, str] = {}
    for r in records:
        if "alias" in r:  # notes (see :func:`note`) move nothing
            state[r["alias"]] = r["to"]
    return state


def append(base: Path, record: dict[str, Any]) -> None:
    """Append one record (caller holds the lock); one write, fsynced."""
    line = (json.dumps(record, sort_keys=False) + "\n").encode()
    fd = os.open(base / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def record(alias: str, old: str | None, new: str, command: str | None) -> dict[str, Any]:
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "alias": alias,
        "from": old,
        "to": new,
        "user": actor(),
        "pid": os.getpid(),
        "command": command or this_command(),
    }


def note(text: str, version: str, command: str | None) -> dict[str, Any]:
    """A history record that moves no alias: ``text`` about ``version`` (e.g. where an
    imported version came from and the alias it had there)."""
    return {
        "time": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "note": text,
        "to": version,
        "user": actor(),
        "pid": os.getpid(),
        "command": command or this_command(),
    }
