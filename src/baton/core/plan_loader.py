"""Read plans from the JSON and YAML documents people write by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from baton.core.plan import Plan
from baton.errors import PlanLoadError

MAX_PLAN_BYTES = 5 * 1024 * 1024
"""Largest plan document accepted (a plan is configuration, not data)."""


def parse_plan(text: str, *, source: str = "<plan>", fmt: str | None = None) -> Plan:
    """Parse a plan from JSON or YAML text.

    Args:
        text: The document.
        source: Where it came from, for messages (a file name).
        fmt: ``json`` or ``yaml``; guessed from `source`'s suffix, else from the text.

    Raises:
        PlanLoadError: naming the line of a syntax error, or the field that is wrong.
    """
    if len(text) > MAX_PLAN_BYTES:
        raise PlanLoadError(
            f"{source}: the plan is {len(text):,} bytes; the limit is {MAX_PLAN_BYTES:,}",
            hint="a plan lists steps; put large data in files that steps read",
        )
    if not text.strip():
        raise PlanLoadError(f"{source}: the plan document is empty", hint="see docs/plans.md")
    kind = fmt or _guess_format(source, text)
    data = _parse_json(text, source) if kind == "json" else _parse_yaml(text, source)
    return plan_from_data(data, source=source)


def plan_from_data(data: object, *, source: str = "<plan>") -> Plan:
    """Validate already-parsed plan data (e.g. a JSON request body) into a `Plan`.

    Raises:
        PlanLoadError: naming the field that is wrong.
    """
    if not isinstance(data, dict):
        raise PlanLoadError(
            f"{source}: a plan must be a mapping with a 'steps' list, not {type(data).__name__}",
            hint='start the document with `steps:` (YAML) or `{"steps": [...]}` (JSON)',
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanLoadError(
            f"{source}: the plan does not match the plan format:\n"
            + "\n".join(_describe(e) for e in exc.errors()),
            hint="fields of a step: id, agent, inputs, depends_on, description, policy",
        ) from None


def load_plan(path: Path) -> Plan:
    """Read and parse a plan file (``.json``, ``.yaml`` or ``.yml``)."""
    try:
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            raise PlanLoadError(
                f"{path}: the plan is {size:,} bytes; the limit is {MAX_PLAN_BYTES:,}"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanLoadError(f"plan file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise PlanLoadError(f"{path} is a folder, not a plan file") from None
    except PermissionError:
        raise PlanLoadError(f"plan file {path} cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise PlanLoadError(f"{path} is not UTF-8 text") from None
    return parse_plan(text, source=str(path))


def _guess_format(source: str, text: str) -> str:
    suffix = source.rsplit(".", 1)[-1].lower() if "." in source else ""
    if suffix == "json":
        return "json"
    if suffix in ("yaml", "yml"):
        return "yaml"
    return "json" if text.lstrip().startswith(("{", "[")) else "yaml"


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanLoadError(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PlanLoadError(f"{source}: invalid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PlanLoadError(f"{source}: invalid YAML: {exc}") from None


def _describe(err: Any) -> str:
    loc = _location(err["loc"])
    if err["type"] == "extra_forbidden":
        return f"  - {loc}: unknown field (check its spelling)"
    if err["type"] == "missing":
        return f"  - {loc}: required field is missing"
    return f"  - {loc}: {err['msg']}"


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"
