"""Named, versioned training recipes: typed configs kept as JSON files in the package.

A recipe file (``aezoo/training/recipes/<name>.json``) holds one trainer config;
its ``family`` key picks the trainer, its ``description`` (one line, not part of
the config) says what it trains. Overrides come from the CLI as dotted
``key=value`` pairs (``--set model.hidden_sizes=[500,500] seed=3``); values are
parsed as JSON where they parse, else kept as strings. Unknown keys are
rejected by the config's pydantic model (``extra="forbid"``), and earlier, without
torch, by :func:`aezoo.training.recipe_help.check_keys`.

This module imports no torch (nor does :mod:`aezoo.training.recipe_help`): ``aezoo train
--list`` and ``--help-recipe`` work without the ``[train]`` extra.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from aezoo.errors import ConfigError

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
DESCRIPTION = "description"  # a recipe file's one-line purpose; not a config key


def list_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def read_recipe(name_or_path: str) -> dict[str, Any]:
    """The config dict of a packaged recipe name or a JSON file path (``description`` dropped).

    Raises:
        ConfigError: unknown recipe or invalid JSON.
    """
    path = Path(name_or_path)
    if not path.is_file():
        path = RECIPES_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise ConfigError(
            f"unknown recipe {name_or_path!r}; packaged recipes: {', '.join(list_recipes())}"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict) or "family" not in data:
        raise ConfigError(f"{path}: a recipe is a JSON object with a 'family' key")
    data.pop(DESCRIPTION, None)
    return data


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted ``key=value`` overrides applied.

    Raises:
        ConfigError: an override is not of the form ``key=value``.
    """
    out = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like key=value (e.g. seed=3)")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p!r} is not a section")
        node[parts[-1]] = value
    return out


def validate(config_class: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    """Build the typed config, turning pydantic's errors into one readable ConfigError."""
    try:
        return config_class.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or '<root>'}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid {config_class.__name__}: {problems}") from None
