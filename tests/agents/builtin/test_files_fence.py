"""files.write checks its fencing token right before writing a locked file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from baton.agents.builtin import files
from baton.agents.builtin.resources import AgentResources
from baton.agents.protocol import AgentContext
from baton.errors import AgentError

pytestmark = pytest.mark.anyio


class FakeFence:
    def __init__(self, held: dict[str, bool]) -> None:
        self.held = held
        self.checked: list[str] = []

    def covers(self, resource: str) -> bool:
        return resource in self.held

    async def still_held(self, resource: str) -> bool:
        self.checked.append(resource)
        return self.held[resource]


def write_agent(ws: Path) -> Any:
    agents = files.agents(AgentResources(workspace=ws, calendar=cast("Any", object())))
    return next(a for a in agents if a.spec.name == "files.write")


async def test_a_lost_lock_stops_the_write(tmp_path: Path) -> None:
    agent = write_agent(tmp_path)
    fence = FakeFence({"file:out/report.md": False})
    ctx = AgentContext(execution_id="e", step_id="s", workspace=tmp_path, fence=fence)
    inputs = agent.spec.input_model(path="out/./report.md", content="stale")
    with pytest.raises(AgentError, match=r"lost the lock on file:out/report\.md") as info:
        await agent.run(inputs, ctx)
    assert info.value.retryable
    assert not (tmp_path / "out" / "report.md").exists()
    assert fence.checked == ["file:out/report.md"]


async def test_a_held_lock_lets_the_write_through(tmp_path: Path) -> None:
    agent = write_agent(tmp_path)
    fence = FakeFence({"file:report.md": True})
    ctx = AgentContext(execution_id="e", step_id="s", workspace=tmp_path, fence=fence)
    await agent.run(agent.spec.input_model(path="report.md", content="fresh"), ctx)
    assert (tmp_path / "report.md").read_text() == "fresh"
    assert fence.checked == ["file:report.md"]


async def test_an_unlocked_file_is_written_without_a_check(tmp_path: Path) -> None:
    agent = write_agent(tmp_path)
    fence = FakeFence({"file:other.md": False})
    ctx = AgentContext(execution_id="e", step_id="s", workspace=tmp_path, fence=fence)
    await agent.run(agent.spec.input_model(path="notes.md", content="x"), ctx)
    assert fence.checked == []
