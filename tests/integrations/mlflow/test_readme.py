"""README.md's "MLflow" section: its bash block runs verbatim, in one shell, in a scratch dir.

``MLFLOW_TRACKING_URI=sqlite:///mlflow.db`` there puts the store and its ``./mlruns`` artifact
root in that dir; ``AEZOO_HOME`` is private, so the pulled copy is ``sda-mnist@2``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.integrations.mlflow.conftest import NEEDS_MLFLOW

pytestmark = pytest.mark.integration


def section_lines() -> list[str]:
    """The command lines of the section's ```bash block, trailing comments dropped."""
    text = (REPO_ROOT / "README.md").read_text()
    section = re.search(r"^## MLflow\n(.*?)^## ", text, flags=re.S | re.M)
    assert section, "README.md has no '## MLflow' section"
    (block,) = re.findall(r"^```bash\n(.*?)^```", section[1], flags=re.S | re.M)
    lines = (re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines())
    return [line for line in lines if line]


def test_the_round_trip_is_six_lines() -> None:
    lines = section_lines()
    assert len(lines) == 6, lines
    assert any(line.startswith("aezoo publish") and "--to mlflow" in line for line in lines)
    assert any(line.startswith("aezoo pull mlflow:models:/") for line in lines)


@pytest.mark.slow  # ~17 s: three CLI processes and two MLflow model loads
def test_the_mlflow_section_runs_verbatim(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason=NEEDS_MLFLOW)
    bin_dir = Path(sys.executable).parent  # aezoo, mlflow and python of this environment
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {"AEZOO_HOME": str(tmp_path / "home"), "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}
    script = "set -euo pipefail\n" + "\n".join(section_lines()) + "\n"
    r = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "published sda-mnist@1 to MLflow as models:/sda-mnist/1" in r.stdout
    assert "as sda-mnist@2" in r.stdout  # pulled back as the next version
    assert re.search(r"note on 2: imported from MLflow .*'production'", r.stdout), r.stdout
    assert "[" in r.stdout  # the classify line printed its labels
    assert (tmp_path / "mlflow.db").is_file() and (tmp_path / "mlruns").is_dir()
