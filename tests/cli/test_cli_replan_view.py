"""How a replan (`PlanRevised`) shows: in the live view, the event lines and the recovery table."""

from __future__ import annotations

import io
from typing import cast

import pytest
from rich.console import Console

from baton.api.convert import event_out
from baton.cli import remote
from baton.cli.live import LiveRunView, RunTracker
from baton.cli.render import describe_event
from baton.cli.tables import recovery_table
from baton.client import BatonClient
from baton.core.plan import Plan, Step
from baton.events import PlanRevised, StepFailed, StepStarted, StepStatus, StepSucceeded
from baton.store.records import StoredEvent
from baton.wire import EventOut

EX = "ex_test"
OLD = Plan(
    steps=[
        Step(id="a", agent="echo", inputs={"text": "hi"}),
        Step(id="b", agent="broken"),
        Step(id="c", agent="shout", inputs={"text": "${b.text}"}),
    ]
)
NEW = Plan(
    steps=[
        Step(id="a", agent="echo", inputs={"text": "hi"}),
        Step(id="b2", agent="echo", inputs={"text": "x"}),
        Step(id="c", agent="shout", inputs={"text": "${b2.text}"}),
    ],
    version=2,
)
REVISED = PlanRevised(
    execution_id=EX,
    plan=NEW.model_dump(mode="json"),
    version=2,
    reason="step 'b' failed: broken on purpose",
    added=["b2", "c"],
    removed=["b"],
)


def test_the_live_view_follows_a_revised_plan() -> None:
    tracker = RunTracker(OLD, clock=lambda: 0.0)
    view = LiveRunView(Console(file=io.StringIO(), width=100), tracker)
    for event in (
        StepStarted(execution_id=EX, step_id="a", agent="echo"),
        StepSucceeded(execution_id=EX, step_id="a", duration_s=0.1),
        StepStarted(execution_id=EX, step_id="b", agent="broken"),
        StepFailed(execution_id=EX, step_id="b", error="broken on purpose"),
        REVISED,
    ):
        view.on_event(event)

    assert {sid: v.status for sid, v in tracker.steps.items()} == {
        "a": StepStatus.SUCCEEDED,
        "b2": StepStatus.PENDING,
        "c": StepStatus.PENDING,
    }
    assert tracker.steps["b2"].agent == "echo"
    assert tracker.finished == 1
    out = io.StringIO()
    Console(file=out, width=100).print(view.render())
    assert "1/3 steps" in out.getvalue()
    assert "waiting for b2" in out.getvalue()


def test_a_revision_reads_as_a_replan() -> None:
    assert describe_event(REVISED) == (
        "plan version 2 because step 'b' failed: broken on purpose; added b2, c; removed b"
    )
    out = io.StringIO()
    Console(file=out, width=200).print(recovery_table([StoredEvent(seq=9, event=REVISED)]))
    assert "replan" in out.getvalue()
    assert "plan version 2" in out.getvalue()


class PagedLog:
    """Stands in for `BatonClient.events`: a newer server's log, one unknown kind in it."""

    def __init__(self, events: list[EventOut]) -> None:
        self.log = events
        self.asked: list[int] = []

    async def events(self, execution_id: str, after: int = 0, limit: int = 1000) -> list[EventOut]:
        self.asked.append(after)
        return [e for e in self.log if e.seq > after][:limit]


@pytest.mark.anyio
async def test_a_remote_listing_leaves_out_kinds_this_client_does_not_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(remote, "_EVENT_PAGE", 2)
    at = REVISED.at.isoformat()
    log = [
        EventOut.model_validate(event_out(StoredEvent(seq=1, event=REVISED)).model_dump()),
        EventOut.model_validate(
            {"seq": 2, "kind": "from_the_future", "execution_id": EX, "at": at, "x": 1}
        ),
        EventOut.model_validate(
            {"seq": 3, "kind": "step_cancelled", "execution_id": EX, "at": at, "step_id": "c"}
        ),
    ]
    client = PagedLog(log)

    events = await remote.all_events(cast("BatonClient", client), EX)

    assert [(e.seq, e.event.kind) for e in events] == [(1, "plan_revised"), (3, "step_cancelled")]
    assert events[0].event == REVISED
    assert client.asked == [0, 2]
