# pyright: strict
"""Data flow between steps: which earlier output feeds an input ("summarize it").

An input is fed by the closest earlier step that has a compatible output: one whose name has an
affinity with the input's name (``content`` feeds ``text``, ``best.start`` feeds ``start``) and
whose JSON-schema type fits the input's. The result is a whole ``${step.field}`` reference, so the
value keeps its type when it is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel

# How well an output named like the key feeds an input named like the value (1.0 = same name).
# Text-like values flow into each other; a summary is the best "it" after summarizing. The
# collections (matches, rows, entries...) are "the result" of their step too: they have a low
# affinity so that, being lists, they stop the search for a text ("extract the emails and save
# them") instead of letting it reach past them to an older text, which would be the wrong data.
_COLLECTIONS = {"matches": 0.5, "rows": 0.4, "entries": 0.4, "events": 0.4, "slots": 0.3}
_AFFINITY: Mapping[str, Mapping[str, float]] = {
    "text": {"content": 0.95, "text": 1.0, "summary": 0.9, "body": 0.85, "message": 0.8}
    | _COLLECTIONS,
    "content": {"content": 1.0, "text": 0.95, "summary": 0.9, "body": 0.85, "message": 0.8}
    | _COLLECTIONS,
    "message": {"message": 1.0, "summary": 0.95, "text": 0.9, "content": 0.9, "body": 0.9}
    | _COLLECTIONS,
    "body": {"body": 1.0, "content": 0.95, "text": 0.95, "summary": 0.9, "message": 0.85}
    | _COLLECTIONS,
    "to": {"matches": 0.6, "attendees": 0.7},
    "attendees": {"matches": 0.6, "to": 0.7},
    "values": {"json_body": 0.5, "json": 0.5},
}

_JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object"})


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputField:
    """A field of an agent's output that another step can reference."""

    path: tuple[str, ...]
    """Field path, e.g. ``("best", "start")``."""
    types: frozenset[str]
    """JSON types it may have; empty when anything goes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EarlierStep:
    """A step planned before the one being linked."""

    step_id: str
    """Its id."""
    outputs: Sequence[OutputField]
    """What it produces."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """An input fed by an earlier step's output."""

    step_id: str
    """The step that produces the value."""
    path: tuple[str, ...]
    """The output field."""

    @property
    def reference(self) -> str:
        """The ``${step.field}`` text to put in the inputs."""
        return "${" + ".".join((self.step_id, *self.path)) + "}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Mismatch:
    """The closest related output has the wrong type for the input (why nothing was linked)."""

    step_id: str
    """The step whose output was closest."""
    path: tuple[str, ...]
    """Its best related field."""
    types: frozenset[str]
    """That field's JSON types."""

    def __str__(self) -> str:
        ref = "${" + ".".join((self.step_id, *self.path)) + "}"
        return f"{ref} is {' or '.join(sorted(self.types)) or 'of another type'}"


def output_fields(model: type[BaseModel]) -> list[OutputField]:
    """Referencable fields of an output model: top-level ones and those one object deeper."""
    schema = model.model_json_schema()
    defs = cast("dict[str, Any]", schema.get("$defs", {}))
    found: list[OutputField] = []
    for name, prop in _properties(schema, defs).items():
        found.append(OutputField(path=(name,), types=json_types(prop, defs)))
        for sub, sub_prop in _properties(_resolve(prop, defs), defs).items():
            found.append(OutputField(path=(name, sub), types=json_types(sub_prop, defs)))
    return found


def input_types(model: type[BaseModel], name: str) -> frozenset[str]:
    """JSON types the input field `name` accepts (empty: anything, or no such field)."""
    schema = model.model_json_schema()
    defs = cast("dict[str, Any]", schema.get("$defs", {}))
    prop = _properties(schema, defs).get(name)
    return json_types(prop, defs) if prop is not None else frozenset()


def required_inputs(model: type[BaseModel]) -> list[str]:
    """Names of the inputs that have no default, in declaration order."""
    return [n for n, f in model.model_fields.items() if f.is_required()]


def json_types(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a property schema allows, ``null`` left out (empty: anything)."""
    prop = _resolve(prop, defs)
    if "type" in prop:
        kind = prop["type"]
        kinds = [kind] if isinstance(kind, str) else cast("list[str]", kind)
        return frozenset(kinds) & _JSON_TYPES
    if "properties" in prop:
        return frozenset({"object"})
    union = cast("list[Mapping[str, Any]]", prop.get("anyOf", prop.get("oneOf", [])))
    found: set[str] = set()
    for option in union:
        option_types = json_types(option, defs)
        if not option_types and _resolve(option, defs).get("type") != "null":
            return frozenset()  # one option takes anything, so the union does too
        found |= option_types
    return frozenset(found)


def compatible(output: frozenset[str], accepted: frozenset[str]) -> bool:
    """Whether a value of the output's types may feed an input of the accepted types."""
    if not output or not accepted:
        return True
    # An integer is a valid JSON-schema number.
    widened = output | ({"number"} if "integer" in output else set[str]())
    return bool(widened & accepted)


def affinity(input_name: str, output_path: tuple[str, ...]) -> float:
    """How plausibly the output at `output_path` is meant for the input `input_name` (0..1)."""
    leaf = output_path[-1]
    score = 1.0 if leaf == input_name else _AFFINITY.get(input_name, {}).get(leaf, 0.0)
    # Prefer a top-level field to the same name deeper down (``path`` over ``best.path``).
    return score - 0.05 * (len(output_path) - 1) if score else 0.0


def find_link(
    input_name: str, accepted: frozenset[str], earlier: Sequence[EarlierStep]
) -> Link | Mismatch | None:
    """The output of the closest earlier step that can feed `input_name`, if any.

    Steps with no output related to the input (a file write, for a text) are passed over. The
    closest step that has a related output decides: if none of its related outputs has a fitting
    type, nothing is linked (a list of matches does not become "the text") and the `Mismatch`
    says why.

    Args:
        input_name: The input to feed.
        accepted: JSON types the input accepts (empty: anything).
        earlier: Steps planned before, oldest first.
    """
    for step in reversed(earlier):
        related = [(affinity(input_name, f.path), f) for f in step.outputs]
        related = [(score, f) for score, f in related if score > 0]
        if not related:
            continue
        fitting = [(score, f.path) for score, f in related if compatible(f.types, accepted)]
        if not fitting:
            f = max(related, key=lambda r: (r[0], r[1].path))[1]
            return Mismatch(step_id=step.step_id, path=f.path, types=f.types)
        return Link(step_id=step.step_id, path=max(fitting)[1])
    return None


def _properties(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    return cast("dict[str, Any]", _resolve(schema, defs).get("properties", {}))


def _resolve(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return cast("Mapping[str, Any]", defs.get(ref.removeprefix("#/$defs/"), {}))
    # Optional[Model] is anyOf [Model, null]: look through to the model for its fields.
    options = cast("list[Mapping[str, Any]]", prop.get("anyOf", []))
    non_null = [o for o in options if o.get("type") != "null"]
    if len(non_null) == 1 and "$ref" in non_null[0]:
        return _resolve(non_null[0], defs)
    return prop


__all__ = [
    "EarlierStep",
    "Link",
    "Mismatch",
    "OutputField",
    "affinity",
    "compatible",
    "find_link",
    "input_types",
    "json_types",
    "output_fields",
    "required_inputs",
]
