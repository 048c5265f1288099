"""Sample a server's Python stacks with py-spy while a load runs, and sum them up.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``);
:func:`summarize` turns them into the share of samples spent in (inclusive) and on
top of (self) each function, the profile printed beside the benchmark's table.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    """The py-spy executable beside this interpreter or on PATH (``pip install py-spy``)."""
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` (and its threads) for ``seconds`` into ``out`` (raw format)."""
    exe = py_spy()
    if exe is None:
        raise FileNotFoundError("py-spy is not installed (pip install py-spy)")
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    cmd += ["--rate", str(rate), "--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _frame(raw: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py)``: one entry per function."""
    name, _, where = raw.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({Path(file).name})" if file else name


def _idle(leaf: str) -> bool:
    """A thread parked in a wait (a pool worker with no work, the event loop in epoll)."""
    name, _, file = leaf.partition(" (")
    return file.rstrip(")") in ("threading.py", "selectors.py") and name.endswith(
        ("wait", "select")
    )


def summarize(collapsed: str, top: int = 12) -> tuple[int, list[tuple[str, float, float]]]:
    """``(busy samples, [(function, inclusive share, self share), ...])``, most self first.

    Samples whose top frame is a wait (a thread-pool worker waiting for work, the event
    loop in ``select``) are dropped: they are threads with nothing to do.
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        if _idle(frames[-1]):
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    rows = [(f, inclusive[f] / total, own[f] / total) for f, _ in inclusive.most_common() if total]
    rows.sort(key=lambda r: (-r[2], -r[1]))
    return total, rows[:top]


def report(path: Path, title: str, top: int = 12) -> str:
    """A markdown table of the busiest functions (by self time) in a raw py-spy file."""
    total, rows = summarize(path.read_text(), top)
    lines = [f"\n{title}: {total} busy samples (self = top of stack, incl = anywhere in it)"]
    lines += ["| function | self | incl |", "|---|---|---|"]
    lines += [f"| {f} | {s:.0%} | {i:.0%} |" for f, i, s in rows]
    return "\n".join(lines)
