"""Serving smoke test of an installed aezoo wheel (run by ``.ci/run wheel``).

Run with the python of a clean venv holding ``aezoo[serve]`` from the wheel, from a directory
outside the checkout. Checks: torch is not installed; aezoo is imported from site-packages
(not an editable checkout); ``aezoo serve sda-mnist --port 0`` starts on a free loopback port
with the bundled model from the wheel; ``/health/ready`` is 200; one sample encodes to 200
codes. Stops the server and exits 0, or exits 1 with one line saying what failed. Bounded:
the whole check gives up after 180 s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

LIMIT_S = 180


def fail(message: str) -> None:
    print(f"smoke test: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main() -> None:
    signal.signal(signal.SIGALRM, lambda *_: fail(f"no answer within {LIMIT_S} s"))
    signal.alarm(LIMIT_S)
    if importlib.util.find_spec("torch") is not None:
        fail("torch is installed in the [serve] venv")
    import aezoo

    where = Path(aezoo.__file__).resolve()
    if "site-packages" not in where.parts:
        fail(f"aezoo was imported from {where}, not from an installed wheel")
    bundled = aezoo.load("sda-mnist@bundled").path
    if "site-packages" not in bundled.resolve().parts:
        fail(f"the bundled sda-mnist is at {bundled}, not inside the installed package")

    home = tempfile.mkdtemp(prefix="aezoo-smoke-")
    exe = Path(sys.executable).parent / "aezoo"
    cmd = [str(exe), "serve", "sda-mnist", "--host", "127.0.0.1", "--port", "0"]
    env = {**os.environ, "AEZOO_HOME": home}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # uvicorn's log lines come first; ours says where
            seen.append(line)
            if line.startswith("aezoo: serving"):
                break
        else:
            fail(f"aezoo serve exited {proc.wait()} before listening: {''.join(seen)[-2000:]}")
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(f"{url}/health/ready", timeout=30) as response:
            if response.status != 200:
                fail(f"/health/ready answered {response.status}")
        codes = post(f"{url}/v1/models/sda-mnist/encode", {"inputs": [[0.0] * 784]})["codes"]
        if len(codes) != 1 or len(codes[0]) != 200:
            fail(f"encode returned {len(codes)} rows of {len(codes[0]) if codes else 0}")
        print(
            f"smoke test: aezoo {aezoo.__version__} from {where.parent} served sda-mnist at {url}"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
