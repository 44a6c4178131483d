"""Pure DAG analysis of a plan: dependencies, order, cycles, longest remaining paths."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from baton.core.plan import Plan


@dataclass(frozen=True, slots=True, kw_only=True)
class Dag:
    """Adjacency of a plan's steps (only edges between existing steps)."""

    order: tuple[str, ...]
    """Step ids in plan order."""
    deps: Mapping[str, tuple[str, ...]]
    """step -> the steps it waits for."""
    dependents: Mapping[str, tuple[str, ...]]
    """step -> the steps waiting for it."""

    @classmethod
    def of(cls, plan: Plan) -> Dag:
        """Build the adjacency of `plan`, ignoring edges to unknown steps."""
        ids = [s.id for s in plan.steps]
        known = set(ids)
        deps: dict[str, tuple[str, ...]] = {}
        dependents: dict[str, list[str]] = {i: [] for i in ids}
        for step in plan.steps:
            ds = tuple(d for d in step.dependencies() if d in known)
            deps[step.id] = ds
            for d in ds:
                dependents[d].append(step.id)
        return cls(
            order=tuple(ids),
            deps=deps,
            dependents={k: tuple(v) for k, v in dependents.items()},
        )

    def find_cycles(self) -> list[list[str]]:
        """Every elementary cycle found by one DFS pass, each as ``[a, b, c, a]``."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.order, white)
        position = {s: i for i, s in enumerate(self.order)}
        cycles: list[list[str]] = []
        for root in self.order:
            if color[root] != white:
                continue
            # Iterative DFS (plans can be thousands of steps deep).
            path: list[str] = [root]
            color[root] = grey
            stack = [iter(self.deps[root])]
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    stack.pop()
                    color[path.pop()] = black
                    continue
                if color[nxt] == grey:
                    # Edges point from a step to what it waits for; print in run order.
                    run_order = list(reversed(path[path.index(nxt) :]))
                    # Start at the step written first in the plan, as a person would read it.
                    first = min(range(len(run_order)), key=lambda i: position[run_order[i]])
                    run_order = run_order[first:] + run_order[:first]
                    cycles.append([*run_order, run_order[0]])
                elif color[nxt] == white:
                    color[nxt] = grey
                    path.append(nxt)
                    stack.append(iter(self.deps[nxt]))
        return cycles

    def topological(self) -> list[str]:
        """Steps with every dependency before its dependents (Kahn, stable in plan order)."""
        remaining = {s: len(self.deps[s]) for s in self.order}
        ready = [s for s in self.order if remaining[s] == 0]
        out: list[str] = []
        i = 0
        while i < len(ready):
            s = ready[i]
            i += 1
            out.append(s)
            for d in self.dependents[s]:
                remaining[d] -= 1
                if remaining[d] == 0:
                    ready.append(d)
        return out

    def remaining_path(self, duration: Callable[[str], float]) -> dict[str, float]:
        """For each step, the longest duration from its start to the end of the plan.

        This is the scheduler's priority: under a concurrency limit, the ready step with the
        longest remaining path goes first (critical-path list scheduling).
        """
        rank: dict[str, float] = {}
        for s in reversed(self.topological()):
            tail = max((rank[d] for d in self.dependents[s]), default=0.0)
            rank[s] = duration(s) + tail
        return rank

    def critical_path(self, duration: Callable[[str], float]) -> tuple[list[str], float]:
        """The longest path through the DAG and its total duration."""
        rank = self.remaining_path(duration)
        if not rank:
            return [], 0.0
        roots = [s for s in self.order if not self.deps[s]]
        current = max(roots, key=lambda s: rank[s])
        path = [current]
        while self.dependents[current]:
            current = max(self.dependents[current], key=lambda s: rank[s])
            path.append(current)
        return path, rank[path[0]]


def format_cycle(cycle: Sequence[str]) -> str:
    """``a -> b -> c -> a``."""
    return " -> ".join(cycle)
