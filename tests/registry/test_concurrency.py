"""Registry writers under concurrency: alias moves and new versions from many processes and
threads are serialised (filelock), none is lost, and readers never see a torn file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from aezoo.registry import history
from aezoo.registry.store import LocalStore
from tests.conftest import REPO_ROOT

WRITER = textwrap.dedent(
    """
    import sys
    from aezoo.registry.store import LocalStore
    store, wid = LocalStore(root=sys.argv[1], bundled=None), int(sys.argv[2])
    for i in range(int(sys.argv[3])):
        alias = ("production", "staging")[i % 2]
        store.set_alias("m", alias, str(1 + (wid + i) % 2), command=f"writer {wid} move {i}")
    """
)
READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from aezoo.registry.store import LocalStore
    root, stop = Path(sys.argv[1]), Path(sys.argv[2])
    store = LocalStore(root=root, bundled=None)
    reads = torn = 0
    deadline = time.monotonic() + 300  # stops by itself even if the test dies
    while not stop.exists() and time.monotonic() < deadline:
        try:
            json.loads((root / "m" / "aliases.json").read_bytes())
            store.resolve("m@production")
            store.alias_history("m")
        except ValueError:
            torn += 1
        reads += 1
    print(json.dumps({"reads": reads, "torn": torn}))
    """
)


def check_history(store: LocalStore, n_moves: int) -> list[dict]:
    """Every move recorded once; each move starts where the previous one of its alias ended;
    the current state is what the history leaves."""
    records = store.alias_history("m")
    assert len(records) == n_moves
    last: dict[str, str | None] = {}
    for r in records:
        assert r["from"] == last.get(r["alias"]), r
        last[r["alias"]] = r["to"]
    assert store.aliases("m") == history.replay(records) == last
    return records


def test_four_processes_move_aliases_while_a_reader_resolves(
    tmp_path: Path, tiny_artifact: Path
) -> None:
    root = tmp_path / "registry"
    store = LocalStore(root=root, bundled=None)
    store.add(tiny_artifact, "m", aliases=("production", "staging"))
    store.add(tiny_artifact, "m")
    stop = tmp_path / "stop"
    run = {"cwd": REPO_ROOT, "text": True, "stdout": subprocess.PIPE}
    reader = subprocess.Popen([sys.executable, "-c", READER, str(root), str(stop)], **run)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(w), "100"], **run)
        for w in range(4)
    ]
    try:
        assert [w.wait(timeout=600) for w in writers] == [0, 0, 0, 0]
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=600)
    seen = json.loads(out)
    assert seen["reads"] > 0 and seen["torn"] == 0, seen

    records = check_history(store, 2 + 400)
    for w in range(4):  # each writer's 100 moves, in its own order
        mine = [r["command"] for r in records if r["command"].startswith(f"writer {w} ")]
        assert mine == [f"writer {w} move {i}" for i in range(100)]
    leftovers = [p.name for p in (root / "m").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []  # every writer's temp file was its own and was renamed


def test_threads_of_one_process_move_aliases_without_losing_one(
    tmp_path: Path, tiny_artifact: Path
) -> None:
    store = LocalStore(root=tmp_path / "registry", bundled=None)
    store.add(tiny_artifact, "m")
    store.add(tiny_artifact, "m")
    errors: list[BaseException] = []

    def move(t: int) -> None:
        try:
            for i in range(50):
                LocalStore(root=store.root, bundled=None).set_alias(
                    "m", f"a{i % 3}", str(1 + (t + i) % 2), command=f"thread {t} move {i}"
                )
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=move, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check_history(store, 400)


ADDER = textwrap.dedent(
    """
    import sys
    from aezoo.registry.store import LocalStore
    store = LocalStore(root=sys.argv[1], bundled=sys.argv[3])
    print(" ".join(store.add(sys.argv[2], "b").version for _ in range(3)))
    """
)


def test_processes_adding_versions_take_distinct_numbers_after_the_bundled_one(
    tmp_path: Path, tiny_artifact: Path
) -> None:
    bundled = tmp_path / "bundled"
    shutil.copytree(tiny_artifact, bundled / "b")  # bundled version "1"
    root = tmp_path / "registry"
    args = [str(root), str(tiny_artifact), str(bundled)]
    cmd = [sys.executable, "-c", ADDER, *args]
    run = {"cwd": REPO_ROOT, "text": True, "stdout": subprocess.PIPE}
    procs = [subprocess.Popen(cmd, **run) for _ in range(3)]
    taken = [int(v) for p in procs for v in p.communicate(timeout=600)[0].split()]
    assert sorted(taken) == list(range(2, 11))  # nine distinct numbers, after bundled 1
    store = LocalStore(root=root, bundled=bundled)
    assert store.local_versions("b") == [str(v) for v in range(2, 11)]
    for v in store.local_versions("b"):
        assert store.verify(f"b@{v}").version == v
