from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from baton.planning.offline.linking import (
    EarlierStep,
    Link,
    Mismatch,
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
    assert isinstance(link, Link)
    assert link.reference == "${read.content}"


def test_nested_best_start_feeds_start() -> None:
    link = find_link("start", frozenset({"string"}), [earlier("find", SlotsOut)])
    assert isinstance(link, Link)
    assert link.reference == "${find.best.start}"


def test_closest_earlier_step_wins() -> None:
    steps = [earlier("read", ReadOut), earlier("read_2", ReadOut)]
    link = find_link("content", frozenset({"string"}), steps)
    assert isinstance(link, Link)
    assert link.step_id == "read_2"


class WriteOut(BaseModel):
    path: str
    bytes_written: int


def test_passes_over_steps_with_nothing_related() -> None:
    steps = [earlier("read", ReadOut), earlier("write", WriteOut)]
    link = find_link("text", frozenset({"string"}), steps)
    assert isinstance(link, Link)
    assert link.reference == "${read.content}"


def test_a_closer_list_blocks_an_older_text() -> None:
    # "read a.txt, find the slots, then summarize them": the slots are "them", not the file.
    steps = [earlier("read", ReadOut), earlier("find", SlotsOut)]
    found = find_link("text", frozenset({"string"}), steps)
    assert isinstance(found, Mismatch)
    assert str(found) == "${find.slots} is array"


def test_type_mismatch_is_not_linked() -> None:
    only_array = [
        EarlierStep(step_id="x", outputs=[OutputField(path=("text",), types=frozenset({"array"}))])
    ]
    assert isinstance(find_link("text", frozenset({"string"}), only_array), Mismatch)


def test_unrelated_names_are_not_linked() -> None:
    assert find_link("attendees", frozenset({"array"}), [earlier("read", ReadOut)]) is None
