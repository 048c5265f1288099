"""The OpenAPI document states what the server does: schemathesis (in ``[dev]``) against a
real ``aezoo serve`` of two bundled models with different inputs (sda-mnist: 784 values in
[0, 1] or 28x28; ae-lines: 1,024 in [-1, 1] or 32x32), with every check, 0 failures.

Every check runs on every route, with one exception: on the v2 ``infer`` routes,
``negative_data_rejection`` (a body outside the schema must be refused) is skipped. Their
schema is a strict subset of the Open Inference Protocol, which leaves ``id``,
``parameters`` and further keys open, and the server accepts them as the protocol says;
that a body valid under the schema is accepted (``positive_data_acceptance``) is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.serving.conftest import running_server

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ST = Path(sys.executable).with_name("st")
INFER = r"^/v2/models/[^/]+(/versions/[^/]+)?/infer$"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not ST.exists():
        pytest.skip(f"no schemathesis beside {sys.executable} (pip install -e '.[dev]')")
    home = tmp_path_factory.mktemp("openapi-home")
    args = ["sda-mnist", "ae-lines", "--log-level", "warning"]
    with running_server(
        args, {"AEZOO_HOME": str(home)}, home / "serve.log", command=("-m", "aezoo", "serve")
    ) as live:
        yield live.url


# schemathesis' negative_data_rejection accepts these refusals, plus 413: a batch above
# max_batch_size (the schema's maxItems) is refused as too large, as the 413 response says
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429",
            "5xx"]  # fmt: skip


def schemathesis(url: str, *args: str, report: Path) -> subprocess.CompletedProcess[str]:
    config = report.with_name("schemathesis.toml")
    config.write_text(
        f"[checks.negative_data_rejection]\nexpected-statuses = {json.dumps(REFUSALS)}\n"
    )
    return subprocess.run(
        [
            *(str(ST), "--config-file", str(config), "run", f"{url}/openapi.json"),
            *("--checks", "all"),
            *("--max-examples", "25", "--generation-deterministic", "--workers", "1"),
            *("--suppress-health-check", "all"),  # 784-number bodies are large on purpose
            *("--report", "junit", "--report-junit-path", str(report)),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=540,
    )


def operations_of(report: Path) -> set[str]:
    """The operations of a JUnit report, each asserted to have no failure or error."""
    cases = ElementTree.parse(report).getroot().iter("testcase")
    names = set()
    for case in cases:
        assert not [*case.iter("failure"), *case.iter("error")], case.get("name")
        names.add(case.get("name", ""))
    return names


def test_every_route_but_infer_conforms(server: str, tmp_path: Path) -> None:
    run = schemathesis(server, "--exclude-path-regex", INFER, report=tmp_path / "st.xml")
    assert run.returncode == 0, run.stdout[-6000:]
    names = operations_of(tmp_path / "st.xml")
    for model in ("sda-mnist", "ae-lines"):  # one path per model and operation offered
        for op in ("encode", "denoise", "interpolate", "score"):
            assert f"POST /v1/models/{model}/{op}" in names
    assert "POST /v1/models/sda-mnist/classify" in names
    assert {"GET /v2/models/{name}", "GET /v1/models/{name}/files/{path}"} <= names


def test_infer_routes_accept_every_schema_valid_body(server: str, tmp_path: Path) -> None:
    run = schemathesis(
        server,
        *("--include-path-regex", INFER, "--exclude-checks", "negative_data_rejection"),
        report=tmp_path / "st.xml",
    )
    assert run.returncode == 0, run.stdout[-6000:]
    assert operations_of(tmp_path / "st.xml") == {
        f"POST /v2/models/{model}{version}/infer"
        for model in ("sda-mnist", "ae-lines")
        for version in ("", "/versions/1")
    }


def test_the_server_refuses_what_the_schemas_refuse_where_it_should(server: str) -> None:
    """The exception above is the protocol's openness, not a lax server: a v1 body outside
    its model's schema (wrong row length, value out of range, extra key) is refused."""
    import httpx

    for body in (
        {"inputs": [[0.0] * 1024]},  # ae-lines' length sent to sda-mnist
        {"inputs": [[2.0] * 784]},  # outside [0, 1]
        {"inputs": [[0.0] * 784], "extra": 1},
    ):
        r = httpx.post(f"{server}/v1/models/sda-mnist/encode", json=body, timeout=30)
        assert r.status_code == 422, r.text
