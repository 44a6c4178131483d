"""Small fake agents with simple extractors, so the planner's mechanics are tested on their own."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from baton.agents import AgentRegistry, Extraction, ExtractionContext, FunctionAgent, agent
from baton.planning import PlanningContext

_PATH = re.compile(r"\b[\w/.-]+\.[a-z]{2,4}\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PRONOUN = re.compile(r"\b(it|them|the result|the text)\b")


class ReadOut(BaseModel):
    path: str
    content: str
    size: int


class SummaryOut(BaseModel):
    summary: str
    sentences: int


class SendOut(BaseModel):
    message_id: str


class Rows(BaseModel):
    rows: list[dict[str, object]]
    count: int


class Slot(BaseModel):
    start: str
    end: str


class SlotsOut(BaseModel):
    slots: list[Slot]
    best: Slot | None
    count: int


class EventOut(BaseModel):
    event_id: str


def _read(clause: str, ctx: ExtractionContext) -> Extraction:
    m = _PATH.search(clause)
    if not m:
        return Extraction(understood="read a file")
    return Extraction(inputs={"path": m.group(0)}, understood=f"read the file {m.group(0)}")


def _summarize(clause: str, ctx: ExtractionContext) -> Extraction:
    inputs: dict[str, object] = {}
    if m := re.search(r"(\d+) sentences?", clause):
        inputs["max_sentences"] = int(m.group(1))
    if (m := re.search(r"\bin (\w+) sentences", clause)) and not m.group(1).isdigit():
        return Extraction(understood="summarize", unparsed=(m.group(1),))
    prev = ("text",) if _PRONOUN.search(clause) else ()
    return Extraction(inputs=inputs, from_previous=prev, understood="summarize the text")


def _send(clause: str, ctx: ExtractionContext) -> Extraction:
    inputs: dict[str, object] = {}
    if m := _EMAIL.search(clause):
        inputs["to"] = m.group(0)
    if m := re.search(r"\bthat (.+)$", clause):
        inputs["message"] = m.group(1)
    prev = ("message",) if "message" not in inputs and _PRONOUN.search(clause) else ()
    return Extraction(
        inputs=inputs, from_previous=prev, understood=f"send a message to {inputs.get('to')}"
    )


def _load(clause: str, ctx: ExtractionContext) -> Extraction:
    m = _PATH.search(clause)
    return Extraction(inputs={"path": m.group(0)} if m else {}, understood="load a table")


def _filter(clause: str, ctx: ExtractionContext) -> Extraction:
    m = re.search(r"where (.+)$", clause)
    return Extraction(
        inputs={"where": m.group(1)} if m else {}, from_previous=("rows",), understood="filter rows"
    )


def _find(clause: str, ctx: ExtractionContext) -> Extraction:
    who = _EMAIL.findall(clause)
    return Extraction(
        inputs={"attendees": who, "duration_minutes": 60} if who else {"duration_minutes": 60},
        understood=f"find a free hour with {', '.join(who)}",
    )


def _book(clause: str, ctx: ExtractionContext) -> Extraction:
    m = re.search(r"as '([^']+)'", clause)
    return Extraction(
        inputs={"title": m.group(1)} if m else {},
        from_previous=("start", "end") if _PRONOUN.search(clause) else (),
        understood="create an event",
    )


def fake_agents() -> list[FunctionAgent]:
    @agent(
        "files.read",
        description="Read a text file from the workspace and return its content.",
        examples=("read notes.txt", "open the file report.md", "show me what is in todo.txt"),
        extract=_read,
    )
    async def read(path: str) -> ReadOut:
        return ReadOut(path=path, content="", size=0)

    @agent(
        "text.summarize",
        description="Summarize a text in a few sentences.",
        examples=("summarize it", "give me a short summary of the text", "tl;dr"),
        extract=_summarize,
    )
    async def summarize(text: str, max_sentences: int = 3) -> SummaryOut:
        return SummaryOut(summary=text, sentences=max_sentences)

    @agent(
        "notify.send",
        description="Send a message (an e-mail) to someone.",
        examples=("email bob@example.com that the build is green", "notify ops that it is done"),
        extract=_send,
    )
    async def send(to: str, message: str, subject: str = "") -> SendOut:
        return SendOut(message_id="1")

    @agent(
        "data.load",
        description="Load a CSV or JSON table into rows.",
        examples=("load sales.csv", "open the table people.json"),
        extract=_load,
    )
    async def load(path: str) -> Rows:
        return Rows(rows=[], count=0)

    @agent(
        "data.filter",
        description="Keep the rows of a table that match a condition.",
        examples=("keep the rows where amount > 100", "filter rows where region is EU"),
        extract=_filter,
    )
    async def filter_rows(rows: list[dict[str, object]], where: str) -> Rows:
        return Rows(rows=rows, count=len(rows))

    @agent(
        "calendar.find_slots",
        description="Find free time slots for a meeting with some attendees.",
        examples=("find a free hour with dana@example.com next week", "when are we all free"),
        extract=_find,
    )
    async def find_slots(attendees: list[str], duration_minutes: int) -> SlotsOut:
        return SlotsOut(slots=[], best=None, count=0)

    @agent(
        "calendar.create_event",
        description="Create a calendar event (book a meeting).",
        examples=("book it as 'Standup'", "create an event 'Lunch' tomorrow at noon"),
        extract=_book,
    )
    async def create_event(title: str, start: str, end: str) -> EventOut:
        return EventOut(event_id="e1")

    return [read, summarize, send, load, filter_rows, find_slots, create_event]


@pytest.fixture
def registry() -> AgentRegistry:
    reg = AgentRegistry()
    for a in fake_agents():
        reg.register(a)
    return reg


@pytest.fixture
def context() -> PlanningContext:
    return PlanningContext(now=datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Europe/London")))
