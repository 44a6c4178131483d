"""The calendar agents' extractors: what the offline planner gets out of a clause."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from baton.agents.builtin.calendar import agents
from baton.agents.builtin.resources import AgentResources
from baton.agents.protocol import Agent, Extraction, ExtractionContext, ExtractsInputs
from baton.store.calendar import MemoryCalendarStore

NOW = datetime(2026, 3, 4, 11, 20, tzinfo=ZoneInfo("Europe/Paris"))  # Wednesday
CTX = ExtractionContext(now=NOW, timezone="Europe/Paris")
AFTER_SEARCH = ExtractionContext(
    now=NOW, timezone="Europe/Paris", previous_agents=("calendar.find_slots",)
)


@pytest.fixture(scope="module")
def calendar() -> dict[str, Agent]:
    resources = AgentResources(workspace=Path("."), calendar=MemoryCalendarStore())
    return {a.spec.name: a for a in agents(resources)}


def extract(
    calendar: dict[str, Agent], name: str, clause: str, ctx: ExtractionContext = CTX
) -> Extraction:
    agent = calendar[name]
    assert isinstance(agent, ExtractsInputs)
    found = agent.extract_inputs(clause, ctx)
    # A complete extraction must be valid input for its agent, as JSON would carry it.
    agent.spec.input_model.model_validate_json(json.dumps(found.inputs))
    return found


def test_find_a_free_hour_next_week(calendar: dict[str, Agent]) -> None:
    found = extract(
        calendar, "calendar.find_slots", "find a free hour with dana@example.com next week"
    )
    assert found.inputs == {
        "attendees": ["dana@example.com"],
        "duration_minutes": 60,
        "window_start": "2026-03-09T00:00:00+01:00",
        "window_end": "2026-03-14T00:00:00+01:00",
    }
    assert "dana@example.com" in found.understood
    assert found.unparsed == ()


def test_find_a_30_minute_slot_with_two_people_on_friday(calendar: dict[str, Agent]) -> None:
    found = extract(
        calendar,
        "calendar.find_slots",
        "find a 30 minute slot with Alice@Example.com and bob@example.com on Friday",
    )
    assert found.inputs == {
        "attendees": ["alice@example.com", "bob@example.com"],
        "duration_minutes": 30,
        "window_start": "2026-03-06T00:00:00+01:00",
        "window_end": "2026-03-07T00:00:00+01:00",
    }


def test_find_slots_options(calendar: dict[str, Agent]) -> None:
    found = extract(
        calendar,
        "calendar.find_slots",
        "find 3 slots with Dana between 10am and 4pm with a 15 minute buffer tomorrow",
    )
    assert found.inputs == {
        "limit": 3,
        "working_hours": "10:00-16:00",
        "buffer_minutes": 15,  # not taken for the meeting's length
        "window_start": "2026-03-05T00:00:00+01:00",
        "window_end": "2026-03-06T00:00:00+01:00",
    }
    assert found.unparsed == ("Dana (an attendee needs an email address)",)


def test_find_slots_at_an_instant_searches_the_rest_of_that_day(calendar: dict[str, Agent]) -> None:
    found = extract(calendar, "calendar.find_slots", "find an hour with a@b.io tomorrow at 2pm")
    assert found.inputs["window_start"] == "2026-03-05T14:00:00+01:00"
    assert found.inputs["window_end"] == "2026-03-06T00:00:00+01:00"


@pytest.mark.parametrize("clause", ["book it", "schedule it", "Book that slot"])
def test_book_it_links_to_the_slot_found(calendar: dict[str, Agent], clause: str) -> None:
    found = calendar["calendar.create_event"]
    assert isinstance(found, ExtractsInputs)
    result = found.extract_inputs(clause, AFTER_SEARCH)
    assert result.from_previous == ("start", "end", "attendees")
    assert result.inputs == {"title": "Meeting"}


def test_book_it_without_a_search_links_nothing(calendar: dict[str, Agent]) -> None:
    agent = calendar["calendar.create_event"]
    assert isinstance(agent, ExtractsInputs)
    result = agent.extract_inputs("book it", CTX)
    assert result.from_previous == ()
    assert "start" not in result.inputs


def test_book_it_with_named_attendees_keeps_them(calendar: dict[str, Agent]) -> None:
    agent = calendar["calendar.create_event"]
    assert isinstance(agent, ExtractsInputs)
    result = agent.extract_inputs("book it with lee@example.com", AFTER_SEARCH)
    assert result.from_previous == ("start", "end")
    assert result.inputs["attendees"] == ["lee@example.com"]


def test_schedule_a_meeting_with_everything(calendar: dict[str, Agent]) -> None:
    found = extract(
        calendar,
        "calendar.create_event",
        "schedule a meeting 'Design review' with dana@example.com next Tuesday at 3pm "
        "for 45 minutes",
    )
    assert found.inputs == {
        "title": "Design review",
        "attendees": ["dana@example.com"],
        "start": "2026-03-10T15:00:00+01:00",
        "duration_minutes": 45,
    }
    assert found.from_previous == ()


def test_quoted_title_is_not_read_as_a_date(calendar: dict[str, Agent]) -> None:
    found = extract(calendar, "calendar.create_event", 'add "Friday retro" tomorrow at 10')
    assert found.inputs == {"title": "Friday retro", "start": "2026-03-05T10:00:00+01:00"}


def test_a_day_is_not_a_start_time(calendar: dict[str, Agent]) -> None:
    agent = calendar["calendar.create_event"]
    assert isinstance(agent, ExtractsInputs)
    found = agent.extract_inputs("schedule a call with bob@example.com on Friday", CTX)
    assert found.inputs == {"title": "Call", "attendees": ["bob@example.com"]}
    assert found.unparsed == ("on Friday (a day or range, not a start time)",)


def test_list_events(calendar: dict[str, Agent]) -> None:
    found = extract(
        calendar, "calendar.list_events", "show meetings with dana@example.com this week"
    )
    assert found.inputs == {
        "attendee": "dana@example.com",
        "start": "2026-03-04T00:00:00+01:00",
        "end": "2026-03-07T00:00:00+01:00",
    }
    assert extract(calendar, "calendar.list_events", "what is on my calendar").inputs == {}


@pytest.mark.parametrize(
    ("clause", "path"),
    [
        ("import calendar.ics", "calendar.ics"),
        ("import the events from invites/team.ics.", "invites/team.ics"),
        ("import 'my cal.ics'", "my cal.ics"),
    ],
)
def test_import_ics(calendar: dict[str, Agent], clause: str, path: str) -> None:
    assert extract(calendar, "calendar.import_ics", clause).inputs == {"path": path}


def test_import_without_a_file(calendar: dict[str, Agent]) -> None:
    agent = calendar["calendar.import_ics"]
    assert isinstance(agent, ExtractsInputs)
    assert agent.extract_inputs("import my calendar", CTX).unparsed == ("no .ics file named",)


def test_export_ics(calendar: dict[str, Agent]) -> None:
    found = extract(calendar, "calendar.export_ics", "export my calendar to out/week.ics")
    assert found.inputs == {"path": "out/week.ics"}  # "week" in the path is not a date
    found = extract(
        calendar,
        "calendar.export_ics",
        "export next week's events with dana@example.com to dana.ics",
    )
    assert found.inputs == {
        "path": "dana.ics",
        "attendee": "dana@example.com",
        "start": "2026-03-09T00:00:00+01:00",
        "end": "2026-03-14T00:00:00+01:00",
    }


def test_every_example_is_understood(calendar: dict[str, Agent]) -> None:
    for agent in calendar.values():
        assert isinstance(agent, ExtractsInputs)
        for example in agent.spec.examples:
            found = agent.extract_inputs(example, AFTER_SEARCH)
            assert found.understood, (agent.spec.name, example)


# --- a day or date that cannot be read is reported, never dropped ---------------------------

_UNREADABLE = [
    ("on blursday", "on blursday"),
    ("next blursday", "next blursday"),
    ("on the 45th", "on the 45th"),
    ("on Feb 30", "Feb 30"),
    ("on 2026-13-45", "2026-13-45"),
    ("next month", "next month"),
    ("on Mondays", "on Mondays"),
]


@pytest.mark.parametrize(("phrase", "reported"), _UNREADABLE)
@pytest.mark.parametrize(
    ("name", "clause"),
    [
        ("calendar.find_slots", "find a free hour with dana@example.com {}"),
        ("calendar.list_events", "list my meetings with dana@example.com {}"),
        ("calendar.create_event", "schedule a call with dana@example.com {} at 3pm"),
        ("calendar.export_ics", "export my events {} to out.ics"),
    ],
)
def test_an_unreadable_day_is_unparsed(
    calendar: dict[str, Agent], name: str, clause: str, phrase: str, reported: str
) -> None:
    agent = calendar[name]
    assert isinstance(agent, ExtractsInputs)
    found = agent.extract_inputs(clause.format(phrase), CTX)
    assert [u for u in found.unparsed if reported in u], found.unparsed


def test_the_unparsed_day_says_what_it_is(calendar: dict[str, Agent]) -> None:
    agent = calendar["calendar.find_slots"]
    assert isinstance(agent, ExtractsInputs)
    found = agent.extract_inputs("find a free hour with dana@example.com on blursday", CTX)
    assert found.unparsed == ("on blursday (not a day or date that can be read)",)
    assert found.inputs == {"attendees": ["dana@example.com"], "duration_minutes": 60}


def test_a_second_day_is_not_dropped(calendar: dict[str, Agent]) -> None:
    agent = calendar["calendar.list_events"]
    assert isinstance(agent, ExtractsInputs)
    found = agent.extract_inputs("list my events today or tomorrow", CTX)
    assert found.unparsed == ("tomorrow (not a day or date that can be read)",)


@pytest.mark.parametrize(
    ("phrase", "start"),
    [
        ("on Friday", "2026-03-06T00:00:00+01:00"),
        ("on 2026-12-03", "2026-12-03T00:00:00+01:00"),
        ("on Dec 3", "2026-12-03T00:00:00+01:00"),
        ("on the 3rd of December", "2026-12-03T00:00:00+01:00"),
        ("last Friday", "2026-02-27T00:00:00+01:00"),
    ],
)
def test_readable_days_are_read(calendar: dict[str, Agent], phrase: str, start: str) -> None:
    for name, key in (("calendar.find_slots", "window_start"), ("calendar.list_events", "start")):
        found = extract(calendar, name, f"find my meetings with dana@example.com {phrase}")
        assert found.inputs[key] == start, (name, found.inputs)
        assert found.unparsed == (), (name, found.unparsed)


@pytest.mark.parametrize(
    "clause",
    [
        "list my events on the project",
        "what is on my calendar",
        "list events on it",
        "find a free hour with dana@example.com to work on the holiday plan",
        "find a slot for the 2nd review with dana@example.com",
    ],
)
def test_ordinary_words_are_not_dates(calendar: dict[str, Agent], clause: str) -> None:
    for name in ("calendar.find_slots", "calendar.list_events"):
        assert extract(calendar, name, clause).unparsed == (), (name, clause)


def test_a_titled_day_is_not_a_date(calendar: dict[str, Agent]) -> None:
    found = extract(calendar, "calendar.create_event", "add 'Blursday party' tomorrow at 10")
    assert found.inputs == {"title": "Blursday party", "start": "2026-03-05T10:00:00+01:00"}
    assert found.unparsed == ()


# --- addresses, and inputs built to make a regex backtrack -----------------------------------


def test_addresses_are_read_whole(calendar: dict[str, Agent]) -> None:
    found = extract(
        calendar, "calendar.find_slots", "find an hour with o'brien@example.com and 'lee@x.io'"
    )
    assert found.inputs["attendees"] == ["o'brien@example.com", "lee@x.io"]


@pytest.mark.parametrize(
    ("name", "noise"),
    [
        # A dotted run with no "@": took 0.14 s on 10,000 characters, and 4 times that on twice.
        ("calendar.find_slots", "a." * 50_000),
        ("calendar.list_events", "a." * 50_000),
        ("calendar.find_slots", "%a" * 50_000),
        ("calendar.find_slots", "a''" * 33_000),
        ("calendar.find_slots", "x@" + "a." * 50_000),
        ("calendar.create_event", " \u201c" * 50_000),  # curly quotes that never close
        ("calendar.export_ics", "\\" * 100_000),  # backslashes before no ".ics"
        ("calendar.find_slots", "between 10" + " " * 100_000 + "x"),
        ("calendar.find_slots", "1" + " " * 100_000 + "x"),  # spaces after a number
        ("calendar.find_slots", "in 1m " * 16_000),
    ],
)
def test_long_adversarial_input_is_read_in_linear_time(
    calendar: dict[str, Agent], name: str, noise: str
) -> None:
    # Only the result is asserted: a super-linear regex would run far past the test timeout.
    agent = calendar[name]
    assert isinstance(agent, ExtractsInputs)
    found = agent.extract_inputs(f"meet dana@example.com {noise} out.ics", CTX)
    assert found.inputs.get("attendees", [found.inputs.get("attendee")]) == ["dana@example.com"]
