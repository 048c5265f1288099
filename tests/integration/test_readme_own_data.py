"""README's "Your own data" section runs as written: its Python blocks make the data, each
``aezoo`` line of its bash blocks runs verbatim, ``aezoo serve NAME`` is started (with
``--port 0`` added, and the queue-time deadline off as for every test server: the
changes) and each ``curl`` line is sent to it (with the server's address in place of
``localhost:8000``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from tests.serving.conftest import running_server

README = REPO_ROOT / "README.md"
HEADING = "## Your own data"


def section() -> str:
    text = README.read_text()
    start = text.index(HEADING)
    end = text.index("\n## ", start + len(HEADING))
    return text[start:end]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), flags=re.S)


def bash_lines() -> list[str]:
    """Every command line of the section's bash blocks, its trailing comment dropped."""
    lines = []
    for block in blocks("bash"):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line:
                lines.append(line)
    return lines


@pytest.mark.slow
def test_the_own_data_section_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    env = {**os.environ, "AEZOO_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO_ROOT)}
    for code in blocks("python"):
        subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True)
    aezoo = [sys.executable, "-m", "aezoo"]
    answers = []
    with contextlib.ExitStack() as stack:
        url = None
        for line in bash_lines():
            words = shlex.split(line)
            if words[:2] == ["aezoo", "serve"]:
                stack.close()  # the previous server, if any
                server = stack.enter_context(
                    running_server(words[2:], env, tmp_path / "serve.log", ("-m", "aezoo", "serve"))
                )
                url = server.url
            elif words[0] == "aezoo":
                proc = subprocess.run(
                    [*aezoo, *words[1:]], cwd=tmp_path, env=env, capture_output=True, text=True
                )
                assert proc.returncode == 0, f"{line}\n{proc.stderr}"
            else:
                assert words[0] == "curl" and url is not None, line
                words = [w.replace("http://localhost:8000", url).replace("localhost:8000", url)
                         for w in words]  # fmt: skip
                proc = subprocess.run(
                    [*words, "--fail-with-body"], cwd=tmp_path, capture_output=True
                )
                assert proc.returncode == 0, f"{line}\n{proc.stdout!r}"
                answers.append(proc.stdout)
    assert len(answers) == 2
    assert json.loads(answers[0])["labels"][0] in [str(i) for i in range(10)]
    assert np.load(tmp_path / "codes.npy").shape[0] == 600  # the image folder's codes
    assert Image.open(tmp_path / "denoised.png").size == (16, 16)
    models = subprocess.run([*aezoo, "models"], env=env, capture_output=True, text=True).stdout
    assert "digits" in models and "digit-images" in models
