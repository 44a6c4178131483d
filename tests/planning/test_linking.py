from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from baton.planning.offline.linking import (
    EarlierStep,
    OutputField,
    compatible,
    find_link,
    input_types,
    output_fields,
    required_inputs,
)


class Slot(BaseModel):
    start: str
    end: str


class SlotsOut(BaseModel):
    slots: list[Slot]
    best: Slot | None
    count: int


class ReadOut(BaseModel):
    path: str
    content: str
    size: int


class Anything(BaseModel):
    json_: Any = None
    tags: list[str] | None = None


class Inputs(BaseModel):
    text: str
    limit: int = 3
    attendees: list[str]


def fields(model: type[BaseModel]) -> dict[tuple[str, ...], frozenset[str]]:
    return {f.path: f.types for f in output_fields(model)}


def test_output_fields_walk_one_level_into_optional_models() -> None:
    found = fields(SlotsOut)
    assert found[("slots",)] == {"array"}
    assert found[("best",)] == {"object"}
    assert found[("best", "start")] == {"string"}
    assert found[("count",)] == {"integer"}


def test_any_and_optional_types() -> None:
    found = fields(Anything)
    assert found[("json_",)] == frozenset()  # anything
    assert found[("tags",)] == {"array"}  # null is not a type a reference can rely on


def test_input_types_and_required() -> None:
    assert input_types(Inputs, "text") == {"string"}
    assert input_types(Inputs, "nope") == frozenset()
    assert required_inputs(Inputs) == ["text", "attendees"]


def test_compatible_types() -> None:
    assert compatible(frozenset({"integer"}), frozenset({"number"}))
    assert not compatible(frozenset({"number"}), frozenset({"integer"}))
    assert not compatible(frozenset({"array"}), frozenset({"string"}))
    assert compatible(frozenset(), frozenset({"string"}))


def earlier(step_id: str, model: type[BaseModel]) -> EarlierStep:
    return EarlierStep(step_id=step_id, outputs=output_fields(model))


def test_content_feeds_text() -> None:
    link = find_link("text", frozenset({"string"}), [earlier("read", ReadOut)])
    assert link is not None
    assert link.reference == "${read.content}"


def test_nested_best_start_feeds_start() -> None:
    link = find_link("start", frozenset({"string"}), [earlier("find", SlotsOut)])
    assert link is not None
    assert link.reference == "${find.best.start}"


def test_closest_earlier_step_wins() -> None:
    steps = [earlier("read", ReadOut), earlier("read_2", ReadOut)]
    link = find_link("content", frozenset({"string"}), steps)
    assert link is not None
    assert link.step_id == "read_2"


def test_skips_steps_with_nothing_compatible() -> None:
    steps = [earlier("read", ReadOut), earlier("find", SlotsOut)]
    link = find_link("text", frozenset({"string"}), steps)
    assert link is not None
    assert link.step_id == "read"


def test_type_mismatch_is_not_linked() -> None:
    only_array = [
        EarlierStep(step_id="x", outputs=[OutputField(path=("text",), types=frozenset({"array"}))])
    ]
    assert find_link("text", frozenset({"string"}), only_array) is None


def test_unrelated_names_are_not_linked() -> None:
    assert find_link("attendees", frozenset({"array"}), [earlier("read", ReadOut)]) is None
