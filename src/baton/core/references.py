"""Resolve ``${step.field}`` references in step inputs against finished steps' outputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from baton.core.plan import REFERENCE_PATTERN, is_whole_reference
from baton.errors import AgentInputError


def resolve_inputs(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Return `inputs` with every reference replaced by the value it points at."""
    return {k: _resolve(v, outputs) for k, v in inputs.items()}


def _resolve(value: Any, outputs: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value
        whole = is_whole_reference(value)
        if whole:
            return _lookup(whole.group(1), whole.group(2), outputs)
        return REFERENCE_PATTERN.sub(
            lambda m: _as_text(_lookup(m.group(1), m.group(2), outputs)), value
        )
    if isinstance(value, dict):
        return {k: _resolve(v, outputs) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_resolve(v, outputs) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _lookup(step_id: str, dotted: str, outputs: Mapping[str, Any]) -> Any:
    if step_id not in outputs:
        raise AgentInputError(f"reference to step {step_id!r}, which has no output")
    node: Any = outputs[step_id]
    walked = step_id
    for part in (p for p in dotted.split(".") if p):
        walked += "." + part
        if isinstance(node, dict) and part in node:
            node = node[part]  # pyright: ignore[reportUnknownVariableType]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):  # pyright: ignore[reportUnknownArgumentType]
            node = node[int(part)]  # pyright: ignore[reportUnknownVariableType]
        else:
            raise AgentInputError(
                f"reference ${{{walked}}} points at nothing in the output of step {step_id!r}",
                hint="the step succeeded but its output has no such field (or it was empty)",
            )
    return node  # pyright: ignore[reportUnknownVariableType]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
