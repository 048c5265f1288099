"""``mlflow:models:/NAME@ALIAS`` and ``models:/NAME/VERSION`` references (no MLflow needed)."""

from __future__ import annotations

import pytest

from aezoo.integrations.mlflow.uri import is_mlflow_ref, parse_model_uri


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        ("mlflow:models:/sda-mnist@production", ("sda-mnist", "production", None)),
        ("models:/sda-mnist/3", ("sda-mnist", None, "3")),
        ("mlflow:models:/my model/12", ("my model", None, "12")),
    ],
)
def test_references_split_into_name_alias_version(ref: str, want: tuple) -> None:
    assert parse_model_uri(ref) == want


@pytest.mark.parametrize(
    "ref", ["mlflow:sda-mnist", "models:/sda-mnist", "models:/a/b/c", "models:/a/x", "runs:/abc/m"]
)
def test_other_forms_are_refused_showing_the_accepted_ones(ref: str) -> None:
    with pytest.raises(ValueError, match="mlflow:models:/NAME@ALIAS"):
        parse_model_uri(ref)


def test_only_mlflow_prefixed_references_go_to_the_bridge() -> None:
    assert is_mlflow_ref("mlflow:models:/a@b")
    assert not is_mlflow_ref("hf-hub:org/a")


def test_core_and_serve_declare_no_mlflow() -> None:
    """The [mlflow] extra is the only one naming MLflow (test_without_extras.py checks a
    real [serve,sklearn] venv lacks it)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    from tests.conftest import REPO_ROOT

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for deps in (project["dependencies"], extras["serve"], extras["train"], extras["dev"]):
        assert not [d for d in deps if d.lower().startswith("mlflow")], deps
    assert any(d.startswith("mlflow") for d in extras["mlflow"])
