"""What ``aezoo train`` tells about recipes without importing torch: every packaged recipe
(family, data set, purpose, the shipped run's time) and every key a recipe may set, with
its type, default and meaning.

The trainer configs (pydantic models beside the torch code in ``aezoo/training/*.py``
and ``aezoo/models/*.py``) are the truth. ``recipe_keys.json`` is their flattened
summary: one entry per dotted key (``pretrain_epochs``, ``model.hidden_sizes``,
``acai.enabled``), written by ``python -m aezoo.training.recipe_help`` and checked
against the configs by the tests. The CLI reads it to reject an unknown ``--set`` key
(naming the closest valid one) and to print ``aezoo train NAME --help-recipe`` before
torch is imported, so both answer at once and work without the ``[train]`` extra.

A key's meaning is its pydantic ``Field(description=...)``, else the comment on or
just above its line (the configs' "flat, commented defaults", STYLE.md), else its
entry under ``Attributes:`` in the class docstring.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import io
import json
import re
import textwrap
import tokenize
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel

from aezoo.errors import ConfigError
from aezoo.registry.artifact import TRAINING
from aezoo.registry.store import BUNDLED_DIR
from aezoo.training.recipes import DESCRIPTION, RECIPES_DIR, list_recipes

KEYS_FILE = Path(__file__).resolve().with_name("recipe_keys.json")
SECTION = "section"  # the "type" of a key whose value is a nested config
_MISSING = object()


# -- reading the configs (generation side) -----------------------------------------------


def _docstring_attributes(cls: type) -> dict[str, str]:
    """``name -> text`` from a Google-style ``Attributes:`` section of ``cls.__doc__``."""
    doc = inspect.getdoc(cls) or ""
    out: dict[str, str] = {}
    current, in_section = None, False
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            in_section = True
            continue
        if not in_section:
            continue
        if line and not line.startswith(" "):  # next section
            break
        match = re.match(r"^ {4}(\w+)(?: \([^)]*\))?: (.*)$", line)
        if match:
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def field_comments(cls: type) -> dict[str, str]:
    """``field -> comment`` from the source of a config class.

    Takes the comment lines right above a field and the comments on its own lines
    (a field may span several lines); ``{}`` when the source cannot be read.
    """
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments: dict[int, tuple[str, bool]] = {}  # line -> (text, the line holds only a comment)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            own_line = tok.line.strip().startswith("#")
            comments[tok.start[0]] = (tok.string.lstrip("#").strip(), own_line)
    out: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above, line = [], node.lineno - 1
        while line in comments and comments[line][1]:
            above.insert(0, comments[line][0])
            line -= 1
        inline = [
            comments[n][0]
            for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)
            if n in comments and not comments[n][1]
        ]
        text = " ".join(above + inline).strip()
        if text:
            out[node.target.id] = text
    return out


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin in (list, tuple):
        inner = ", ".join("..." if a is Ellipsis else _type_name(a) for a in args)
        return f"[{inner}]" if origin is tuple else f"list[{inner}]"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(metadata: Iterable[Any]) -> str:
    ops = (
        (annotated_types.Ge, ">=", "ge"),
        (annotated_types.Gt, ">", "gt"),
        (annotated_types.Le, "<=", "le"),
        (annotated_types.Lt, "<", "lt"),
    )
    return ", ".join(
        f"{op} {getattr(m, attr)}"
        for m in metadata
        for kind, op, attr in ops
        if isinstance(m, kind)
    )


def _section_class(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def describe_config(
    cls: type[BaseModel], default: BaseModel | None = None, prefix: str = ""
) -> dict[str, dict[str, Any]]:
    """Flatten a config class into ``{dotted key: {"type", "default", "help"}}``.

    Args:
        cls: a pydantic config class (nested configs become sections, recursed into).
        default: the instance whose values are the defaults (a section's default may
            differ from its class defaults, e.g. ``finetune_corruption``); None = ``cls()``.
        prefix: dotted path of ``cls`` inside the recipe.
    """
    default = default if default is not None else cls()
    comments, attributes = field_comments(cls), _docstring_attributes(cls)
    out: dict[str, dict[str, Any]] = {}
    for name, field in cls.model_fields.items():
        key, value = prefix + name, getattr(default, name)
        meaning = field.description or comments.get(name) or attributes.get(name, "")
        meaning = meaning.replace("``", "")
        section = _section_class(field.annotation)
        if section is not None:
            meaning = meaning or (inspect.getdoc(section) or "").split("\n")[0]
            out[key] = {"type": SECTION, "default": value.model_dump(mode="json"), "help": meaning}
            out.update(describe_config(section, value, f"{key}."))
            continue
        kind = _type_name(field.annotation)
        limits = _constraints(field.metadata)
        out[key] = {
            "type": f"{kind} ({limits})" if limits else kind,
            "default": json.loads(json.dumps(value)) if value is not None else None,
            "help": meaning,
        }
    return out


def build_keys() -> dict[str, Any]:
    """The content of ``recipe_keys.json`` from the trainer configs (imports torch)."""
    from aezoo.training.pipeline import FAMILIES

    return {
        "_generated": "by `python -m aezoo.training.recipe_help` from the trainer configs; "
        "do not edit",
        "families": {
            family: {"config": config.__name__, "keys": describe_config(config)}
            for family, (config, _) in FAMILIES.items()
        },
    }


# -- using them (torch-free) ------------------------------------------------------------


@lru_cache(maxsize=1)
def _families() -> dict[str, Any]:
    return json.loads(KEYS_FILE.read_text())["families"]


def recipe_keys(family: str) -> dict[str, dict[str, Any]]:
    """``{dotted key: {"type", "default", "help"}}`` of a family's trainer config.

    Raises:
        ConfigError: unknown family.
    """
    families = _families()
    if family not in families:
        raise ConfigError(f"unknown family {family!r}; known: {', '.join(families)}")
    return families[family]["keys"]


def flatten(data: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys of a nested recipe dict (a dict value is a section: its keys too)."""
    out = []
    for k, v in data.items():
        out.append(prefix + k)
        if isinstance(v, dict):
            out += flatten(v, f"{prefix}{k}.")
    return out


def _suggest(key: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return close[0]
    tail = [k for k in known if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]]
    return tail[0] if tail else None


def check_keys(family: str, keys: Iterable[str], recipe: str, what: str = "key") -> None:
    """Reject any key a family's config does not have, naming the closest valid one.

    Args:
        family: the recipe's ``family``.
        keys: dotted keys (``--set`` overrides' keys, or :func:`flatten` of a recipe).
        recipe: the recipe's name, for the message.
        what: ``"key"`` or ``"--set key"``, for the message.

    Raises:
        ConfigError: one line: the unknown key, ``did you mean`` the closest, every valid key.
    """
    known = recipe_keys(family)
    for key in keys:
        if key in known:
            continue
        parts = key.split(".")
        leaf = next(
            (".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in known),
            None,
        )
        if leaf and known[leaf]["type"] != SECTION:
            raise ConfigError(f"{what} {key!r}: {leaf!r} is a value, not a section")
        guess = _suggest(key, list(known))
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise ConfigError(
            f"unknown recipe {what} {key!r} for {recipe} (family {family}){hint} "
            f"valid keys: {', '.join(known)} "
            f"(`aezoo train {recipe} --help-recipe` explains each)"
        )


def override_keys(overrides: Iterable[str]) -> list[str]:
    """The keys of ``key=value`` overrides (malformed ones are left to ``apply_overrides``)."""
    return [item.partition("=")[0] for item in overrides if "=" in item]


def format_recipe_help(name: str, data: dict[str, Any]) -> str:
    """``--help-recipe``: each key with this recipe's value, the default and its meaning."""
    keys = recipe_keys(data["family"])
    given = set(flatten(data))
    rows = []
    for key, info in keys.items():
        if info["type"] == SECTION:
            rows.append((f"{key}.*", "", "", info["help"]))
            continue
        node: Any = data
        for part in key.split("."):
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
        value = info["default"] if key not in given else node
        mark = "" if key not in given or value == info["default"] else " *"
        rows.append((key, json.dumps(value) + mark, info["type"], info["help"]))
    width = max(len(r[0]) for r in rows)
    vwidth = min(24, max(len(r[1]) for r in rows))
    lines = [
        f"keys of recipe {name} (family {data['family']}); * = the recipe differs from the "
        "default; set one with --set KEY=VALUE (JSON values; dotted keys reach sections)",
        "",
    ]
    for key, value, kind, meaning in rows:
        if not value:
            lines.append(f"{key:<{width}}  {'':<{vwidth}}  {meaning}".rstrip())
            continue
        lines.append(
            f"{key:<{width}}  {value:<{vwidth}}  {kind}" + (f": {meaning}" if meaning else "")
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class RecipeInfo:
    """What ``aezoo train --list`` shows of one packaged recipe.

    Attributes:
        name: the recipe (and registry) name.
        family: the trainer family (``sda``, ``drsae``, ``lista``, ``conv-ae``).
        dataset: the data set it trains on (``mnist``, ``lines``, ``patches``).
        description: one line: what it trains.
        shipped_seconds: training time of the bundled model of that name (its
            ``training.json`` ``train_seconds``, 2-core CPU), None where none ships.
    """

    name: str
    family: str
    dataset: str
    description: str
    shipped_seconds: float | None


def recipe_infos() -> list[RecipeInfo]:
    """One :class:`RecipeInfo` per packaged recipe, sorted by name."""
    out = []
    for name in list_recipes():
        raw = json.loads((RECIPES_DIR / f"{name}.json").read_text())
        shipped = BUNDLED_DIR / name / TRAINING
        seconds = (
            json.loads(shipped.read_text()).get("train_seconds") if shipped.is_file() else None
        )
        dataset = raw.get("dataset") or recipe_keys(raw["family"])["dataset"]["default"]
        out.append(RecipeInfo(name, raw["family"], dataset, raw.get(DESCRIPTION, ""), seconds))
    return out


def main() -> None:
    """Rewrite ``recipe_keys.json`` from the configs (run after changing a config class)."""
    KEYS_FILE.write_text(json.dumps(build_keys(), indent=1) + "\n")
    print(f"wrote {KEYS_FILE}")


if __name__ == "__main__":
    main()
