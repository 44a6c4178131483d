from __future__ import annotations

from baton.core.graph import Dag
from baton.core.plan import Plan, Step


def diamond() -> Plan:
    # A -> B -> E, C -> D -> E (the W1 shape)
    return Plan(
        steps=[
            Step(id="A", agent="x"),
            Step(id="B", agent="x", depends_on=["A"]),
            Step(id="C", agent="x"),
            Step(id="D", agent="x", depends_on=["C"]),
            Step(id="E", agent="x", depends_on=["B", "D"]),
        ]
    )


def test_references_imply_dependencies() -> None:
    step = Step(id="b", agent="x", inputs={"t": "${a.text}", "n": ["${c}"]}, depends_on=["d"])
    assert step.dependencies() == ["d", "a", "c"]


def test_topological_order_respects_dependencies() -> None:
    order = Dag.of(diamond()).topological()
    assert order.index("A") < order.index("B") < order.index("E")
    assert order.index("C") < order.index("D") < order.index("E")


def test_critical_path_uses_durations() -> None:
    durations = {"A": 1.0, "B": 5.0, "C": 2.0, "D": 2.0, "E": 1.0}
    path, total = Dag.of(diamond()).critical_path(durations.__getitem__)
    assert path == ["A", "B", "E"]
    assert total == 7.0


def test_remaining_path_ranks_the_long_branch_first() -> None:
    rank = Dag.of(diamond()).remaining_path(lambda s: 1.0)
    assert rank == {"A": 3.0, "B": 2.0, "C": 3.0, "D": 2.0, "E": 1.0}


def test_cycles_are_found_deep_without_recursion() -> None:
    n = 5000
    steps = [Step(id=f"s{i}", agent="x", depends_on=[f"s{i - 1}"]) for i in range(1, n)]
    steps.insert(0, Step(id="s0", agent="x", depends_on=[f"s{n - 1}"]))
    cycles = Dag.of(Plan(steps=steps)).find_cycles()
    assert len(cycles) == 1
    assert cycles[0][0] == cycles[0][-1]
    assert len(cycles[0]) == n + 1
