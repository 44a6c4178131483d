"""The benchmark workloads of the spine issue, as plans over two tiny agents."""

from __future__ import annotations

import random

import anyio

from baton.agents import agent
from baton.core.plan import Plan, Step


@agent(description="Do nothing.")
async def noop() -> int:
    return 0


@agent(description="Sleep for `seconds`.")
async def sleep(seconds: float) -> int:
    await anyio.sleep(seconds)
    return 0


BENCH_AGENTS = (noop, sleep)


def w1() -> tuple[Plan, dict[str, float]]:
    """Five steps A..E: B after A, D after C, E after B and D; 0.3 s each."""
    deps = {"A": [], "B": ["A"], "C": [], "D": ["C"], "E": ["B", "D"]}
    steps = [
        Step(id=s, agent="sleep", inputs={"seconds": 0.3}, depends_on=d) for s, d in deps.items()
    ]
    return Plan(name="W1", steps=steps), dict.fromkeys(deps, 0.3)


def w2(n: int = 1000) -> tuple[Plan, dict[str, float]]:
    """A root, then `n` independent no-op steps, then one step joining them all."""
    steps = [Step(id="root", agent="noop")]
    steps += [Step(id=f"s{i}", agent="noop", depends_on=["root"]) for i in range(n)]
    steps.append(Step(id="join", agent="noop", depends_on=[f"s{i}" for i in range(n)]))
    return Plan(name="W2", steps=steps), {s.id: 0.0 for s in steps}


def w3(seed: int = 7) -> tuple[Plan, dict[str, float]]:
    """200 steps in 20 layers of 10; each depends on 1-3 random steps of the layer before;
    durations uniform in 10-50 ms."""
    rng = random.Random(seed)
    steps: list[Step] = []
    durations: dict[str, float] = {}
    for layer in range(20):
        for i in range(10):
            sid = f"l{layer}_{i}"
            deps = (
                []
                if layer == 0
                else [f"l{layer - 1}_{j}" for j in rng.sample(range(10), rng.randint(1, 3))]
            )
            d = rng.uniform(0.010, 0.050)
            durations[sid] = d
            steps.append(Step(id=sid, agent="sleep", inputs={"seconds": d}, depends_on=deps))
    return Plan(name="W3", steps=steps), durations


def w4(n: int = 1000) -> tuple[Plan, dict[str, float]]:
    """A chain of `n` no-op steps."""
    steps = [Step(id="c0", agent="noop")]
    steps += [Step(id=f"c{i}", agent="noop", depends_on=[f"c{i - 1}"]) for i in range(1, n)]
    return Plan(name="W4", steps=steps), {s.id: 0.0 for s in steps}


WORKLOADS = {"W1": w1, "W2": w2, "W3": w3, "W4": w4}
