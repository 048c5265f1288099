"""Run aezoo as if some packages were not installed.

``python -m tests.cli.without torch,sklearn aezoo train --list`` runs the ``aezoo`` CLI,
``python -m tests.cli.without torch -c CODE`` runs Python code, with a meta-path finder
first in ``sys.meta_path`` that refuses the named top-level modules the way a missing
package does (``ModuleNotFoundError`` with ``name`` set). Any import of them, direct or
deep inside a dependency, fails exactly there.
"""

from __future__ import annotations

import importlib.abc
import runpy
import sys
from collections.abc import Sequence


class Absent(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target=None):  # type: ignore[no-untyped-def]
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def main() -> None:
    names, *rest = sys.argv[1:]
    sys.meta_path.insert(0, Absent(set(names.split(","))))
    if rest[:1] == ["-c"]:
        sys.argv = ["-c", *rest[2:]]
        exec(compile(rest[1], "<string>", "exec"), {"__name__": "__main__"})
    elif rest[:1] == ["aezoo"]:
        sys.argv = rest
        runpy.run_module("aezoo", run_name="__main__", alter_sys=True)
    else:
        raise SystemExit("usage: python -m tests.cli.without MODULES (aezoo ARGS | -c CODE)")


if __name__ == "__main__":
    main()
