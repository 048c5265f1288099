"""The serving image builds from the Dockerfile and answers over HTTP (issue 14).

Runs ``scripts/container/smoke.sh``, which builds the image on a Debian base made with
debootstrap (no image registry needed) and checks one container of it on loopback.
Skips only when no Docker daemon can be started here (``dockerd.sh start`` exits 3).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "container"
NO_DAEMON = 3  # dockerd.sh and smoke.sh: no Docker daemon can be started / answers


@pytest.fixture(scope="module")
def docker_daemon() -> Iterator[None]:
    """A Docker daemon that answers; one this fixture started is stopped afterwards."""
    start = subprocess.run(
        [SCRIPTS / "dockerd.sh", "start"], capture_output=True, text=True, timeout=120
    )
    if start.returncode == NO_DAEMON:
        reason = start.stderr.strip().splitlines()[-1]
        pytest.skip(f"no Docker daemon can be started here: {reason}")
    assert start.returncode == 0, start.stderr
    yield
    if start.stdout.startswith("dockerd: started"):
        subprocess.run([SCRIPTS / "dockerd.sh", "stop"], check=True, timeout=60)


@pytest.mark.slow
@pytest.mark.container
def test_serving_image_builds_runs_as_non_root_and_encodes(
    docker_daemon: None, tmp_path: Path
) -> None:
    results = tmp_path / "smoke.json"
    smoke = subprocess.run(
        [SCRIPTS / "smoke.sh", "--json", results],
        capture_output=True,
        text=True,
        timeout=2400,  # the script bounds itself: 10 + 20 + 2 min at most
    )
    assert smoke.returncode == 0, smoke.stdout[-4000:] + smoke.stderr[-4000:]
    r = json.loads(results.read_text())
    assert r["build"] == 1
    assert r["uid"] != 0
    assert r["ready_status"] == 200
    assert r["healthcheck"] == 1
    assert (r["encode_status"], r["n_codes"]) == (200, 200)
    assert (r["grpc"], r["grpc_health"]) == (1, "SERVING")
    assert r["no-torch"] == 1
    assert r["image_size_bytes"] > r["base_size_bytes"] > 0
