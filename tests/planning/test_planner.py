"""The offline planner's mechanics, on the fake agents of conftest.py."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import BaseModel

import baton.planning
import baton.planning.offline
from baton.agents import AgentRegistry, Extraction, ExtractionContext, agent
from baton.core.plan import Plan
from baton.errors import PlanningError, UsageError
from baton.planning import OfflinePlanner, Planner, PlanningContext


def plan(request: str, registry: AgentRegistry, context: PlanningContext) -> Plan:
    return OfflinePlanner().plan_now(request, registry, context=context)


def refused(request: str, registry: AgentRegistry, context: PlanningContext) -> PlanningError:
    with pytest.raises(PlanningError) as info:
        plan(request, registry, context)
    return info.value


def deps(p: Plan) -> dict[str, list[str]]:
    return {s.id: s.dependencies() for s in p.steps}


def test_public_surface() -> None:
    assert baton.planning.__all__ == ["OfflinePlanner", "Planner", "PlanningContext"]
    assert "OfflinePlanner" in baton.planning.offline.__all__
    assert isinstance(OfflinePlanner(), Planner)


def test_context_needs_an_aware_now() -> None:
    with pytest.raises(UsageError, match="timezone-aware"):
        PlanningContext(now=datetime(2026, 11, 25, 10, 0))


@pytest.mark.anyio
async def test_plans_through_the_async_protocol(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    planner: Planner = OfflinePlanner()
    p = await planner.plan("read notes.txt", registry, context=context)
    assert [s.agent for s in p.steps] == ["files.read"]


def test_read_and_summarize_links_data(registry: AgentRegistry, context: PlanningContext) -> None:
    request = "read notes.txt and summarize it in 2 sentences"
    p = plan(request, registry, context)
    assert p.request == request
    assert p.name == request
    assert [(s.id, s.agent) for s in p.steps] == [
        ("read", "files.read"),
        ("summarize", "text.summarize"),
    ]
    assert p.step("read").inputs == {"path": "notes.txt"}
    assert p.step("summarize").inputs == {"max_sentences": 2, "text": "${read.content}"}
    assert p.step("summarize").depends_on == []  # the reference is the dependency
    assert p.step("read").description == "read the file notes.txt"


def test_long_request_gets_a_short_name(registry: AgentRegistry, context: PlanningContext) -> None:
    request = "read " + "/".join(["folder"] * 20) + "/notes.txt"
    p = plan(request, registry, context)
    assert len(p.name) <= 63
    assert p.name.endswith("...")


def test_and_without_data_flow_is_parallel(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    p = plan("read a.txt and read b.txt", registry, context)
    assert [s.id for s in p.steps] == ["read", "read_2"]
    assert deps(p) == {"read": [], "read_2": []}


def test_then_without_data_flow_orders(registry: AgentRegistry, context: PlanningContext) -> None:
    p = plan("read a.txt then notify x@y.com that it is read", registry, context)
    assert deps(p) == {"read": [], "send": ["read"]}
    assert p.step("send").inputs == {"to": "x@y.com", "message": "it is read"}


def test_then_waits_for_the_whole_previous_group(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    p = plan(
        "read a.txt and read b.txt, then notify x@y.com that both are read. After that read c.txt",
        registry,
        context,
    )
    assert deps(p) == {"read": [], "read_2": [], "send": ["read", "read_2"], "read_3": ["send"]}


def test_reference_already_orders_so_no_extra_dependency(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    p = plan("read a.txt, then summarize it", registry, context)
    assert p.step("summarize").depends_on == []
    assert p.step("summarize").dependencies() == ["read"]


def test_nested_output_feeds_inputs(registry: AgentRegistry, context: PlanningContext) -> None:
    p = plan(
        "find a free hour with dana@example.com next week and book it as 'Agenda review'",
        registry,
        context,
    )
    assert p.step("create_event").inputs == {
        "title": "Agenda review",
        "start": "${find_slots.best.start}",
        "end": "${find_slots.best.end}",
    }


def test_missing_required_input_is_linked_from_earlier_rows(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    p = plan("load sales.csv, keep the rows where amount > 100", registry, context)
    assert p.step("filter").inputs == {"where": "amount > 100", "rows": "${load.rows}"}


def test_is_deterministic(registry: AgentRegistry, context: PlanningContext) -> None:
    request = "read a.txt and summarize it, then email x@y.com that it is done"
    assert plan(request, registry, context) == plan(request, registry, context)


@pytest.mark.parametrize("request_text", ["", "   \n\t "])
def test_empty_request_is_refused(
    request_text: str, registry: AgentRegistry, context: PlanningContext
) -> None:
    assert "empty" in refused(request_text, registry, context).message


def test_oversized_request_names_the_limit(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    planner = OfflinePlanner(max_request_chars=100)
    with pytest.raises(PlanningError, match="the limit is 100") as info:
        planner.plan_now("read a.txt " * 20, registry, context=context)
    assert "220" in info.value.message


def test_punctuation_only_request_is_refused(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    err = refused(" ;;; ...", registry, context)
    assert err.not_understood == (" ;;; ...",)


def test_unknown_action_is_named_with_what_was_understood(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    err = refused("read notes.txt and then make me a sandwich", registry, context)
    assert err.understood == ('"read notes.txt" -> files.read(path="notes.txt")',)
    assert err.not_understood == ('"make me a sandwich": no agent matches',)
    assert "make me a sandwich" in str(err)


def test_pronoun_with_nothing_before_it_is_missing_input(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    err = refused("summarize it", registry, context)
    assert err.not_understood == ('"summarize it": text.summarize: missing text',)


def test_missing_required_inputs_are_named(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    err = refused("book it as 'Standup'", registry, context)
    assert err.not_understood == (
        "\"book it as 'Standup'\": calendar.create_event: missing start, end",
    )


def test_unparsed_fragment_is_named(registry: AgentRegistry, context: PlanningContext) -> None:
    err = refused("read a.txt and summarize it in few sentences", registry, context)
    assert err.not_understood == (
        "\"summarize it in few sentences\": text.summarize could not parse 'few'",
    )
    assert err.understood[0].startswith('"read a.txt" -> files.read')


def test_understood_shows_references(registry: AgentRegistry, context: PlanningContext) -> None:
    err = refused("read a.txt and summarize it. Then dance", registry, context)
    assert '"summarize it" -> text.summarize(text=${read.content})' in err.understood


class Out(BaseModel):
    ok: bool


def test_values_the_agent_schema_rejects_are_refused(context: PlanningContext) -> None:
    def extract(clause: str, ctx: ExtractionContext) -> Extraction:
        return Extraction(inputs={"count": "many"}, understood="count sheep")

    @agent("sheep.count", description="Count sheep.", examples=("count sheep",), extract=extract)
    async def count(count: int) -> Out:
        return Out(ok=True)

    reg = AgentRegistry()
    reg.register(count)
    with pytest.raises(PlanningError, match="not valid") as info:
        plan("count sheep", reg, context)
    assert any("count" in n for n in info.value.not_understood)


def test_agent_without_extractor_can_still_serve_a_clause(context: PlanningContext) -> None:
    @agent("clock.now", description="Tell the current time.", examples=("what time is it",))
    async def now() -> Out:
        return Out(ok=True)

    reg = AgentRegistry()
    reg.register(now)
    p = plan("tell me the current time", reg, context)
    assert [(s.id, s.agent, s.description) for s in p.steps] == [
        ("now", "clock.now", "tell me the current time")
    ]


def test_a_named_file_is_read_by_a_helper_step(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    p = plan("summarize docs/notes.md then notify x@y.com that it is done", registry, context)
    assert [(s.id, s.agent) for s in p.steps] == [
        ("read", "files.read"),
        ("summarize", "text.summarize"),
        ("send", "notify.send"),
    ]
    assert p.step("read").inputs == {"path": "docs/notes.md"}
    assert p.step("summarize").inputs == {"text": "${read.content}"}
    assert deps(p)["send"] == ["summarize"]


def test_helper_is_dropped_when_it_does_not_help(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    # A file is named, but reading it cannot give create_event its start and end.
    err = refused("book it as 'Review' from agenda.md", registry, context)
    assert err.understood == ()
    assert err.not_understood == (
        "\"book it as 'Review' from agenda.md\": calendar.create_event: missing start, end",
    )


def test_a_list_is_not_taken_for_a_text(registry: AgentRegistry, context: PlanningContext) -> None:
    err = refused("find a free hour with dana@example.com and summarize it", registry, context)
    assert err.not_understood == (
        '"summarize it": text.summarize: missing text '
        "(${find_slots.slots} is array, text needs string)",
    )


def test_then_waits_only_for_what_is_not_implied(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    p = plan("read a.txt and summarize it, then notify x@y.com that it is done", registry, context)
    assert p.step("send").depends_on == ["summarize"]  # read is implied through summarize


def test_extractors_get_the_clock_and_the_earlier_agents(context: PlanningContext) -> None:
    seen: list[ExtractionContext] = []

    def extract(clause: str, ctx: ExtractionContext) -> Extraction:
        seen.append(ctx)
        return Extraction(inputs={"what": clause}, understood=f"ping {clause}")

    @agent("net.ping", description="Ping a host.", examples=("ping the server",), extract=extract)
    async def ping(what: str) -> Out:
        return Out(ok=True)

    reg = AgentRegistry()
    reg.register(ping)
    p = plan("ping the server, then ping the router", reg, context)
    assert [s.inputs for s in p.steps] == [{"what": "ping the server"}, {"what": "ping the router"}]
    assert {c.now for c in seen} == {context.now}
    assert seen[-1].previous_agents == ("net.ping",)
    assert seen[0].previous_agents == ()


@pytest.mark.parametrize("request_text", ["notes.txt", "https://example.com/a", "x@y.com"])
def test_bare_values_are_not_an_action(
    request_text: str, registry: AgentRegistry, context: PlanningContext
) -> None:
    assert refused(request_text, registry, context).not_understood == (
        f'"{request_text}": no agent matches',
    )


def test_optional_input_nothing_earlier_gives_keeps_its_default(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    def extract(clause: str, ctx: ExtractionContext) -> Extraction:
        return Extraction(from_previous=("text", "label"), understood="tag the text")

    @agent("text.tag", description="Tag a text.", examples=("tag it",), extract=extract)
    async def tag(text: str, label: str = "") -> Out:
        return Out(ok=True)

    registry.register(tag)
    p = plan("read a.txt and tag it", registry, context)
    assert p.step("tag").inputs == {"text": "${read.content}"}
