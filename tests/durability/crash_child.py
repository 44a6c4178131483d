"""The process the crash tests kill: starts or recovers executions of the crash plan."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from baton import Baton, Plan, Settings, Step


def crash_plan() -> Plan:
    """14 steps: four parallel branches of idempotent and non-idempotent steps, a join."""
    p, s = "ledger.put", "ledger.send"
    spec = [
        ("a1", p, []), ("a2", s, ["a1"]), ("a3", p, ["a2"]),
        ("b1", p, []), ("b2", p, ["b1"]), ("b3", s, ["b2"]),
        ("c1", s, []), ("c2", p, ["c1"]),
        ("d1", p, []), ("d2", p, []), ("d3", p, []),
        ("join", p, ["a3", "b3", "c2", "d1", "d2", "d3"]),
        ("notify", s, ["join"]), ("done", p, ["notify"]),
    ]  # fmt: skip
    return Plan(
        name="crash test",
        steps=[Step(id=i, agent=a, inputs={"value": f"${{{d[0]}.result}}" if d else "x"},
                    depends_on=d) for i, a, d in spec],
    )  # fmt: skip


async def main(mode: str, url: str, home: Path, extra: list[str]) -> None:
    settings = Settings(
        data_dir=home / "data",
        database_url=url,
        workspace=home,
        plugins_dir=Path(__file__).parent / "plugins",
    )
    async with Baton.open(settings) as baton:
        if mode == "start":
            record = await baton.orchestrator.create(crash_plan())
            print(record.id, flush=True)  # noqa: T201  # the parent reads it
            await baton.orchestrator.execute(record.id)
        elif mode == "resume":
            print("resuming", flush=True)  # noqa: T201
            await baton.orchestrator.execute(extra[0])
        else:
            print("recovering", flush=True)  # noqa: T201
            await baton.recover()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
