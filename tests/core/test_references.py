from __future__ import annotations

import pytest

from baton.core.references import resolve_inputs
from baton.errors import AgentInputError

OUTPUTS = {"a": {"text": "hi", "rows": [{"n": 1}, {"n": 2}], "best": None}, "b": {"count": 3}}


def test_whole_references_keep_their_type() -> None:
    got = resolve_inputs({"rows": "${a.rows}", "n": "${b.count}", "all": "${b}"}, OUTPUTS)
    assert got == {"rows": [{"n": 1}, {"n": 2}], "n": 3, "all": {"count": 3}}


def test_embedded_references_interpolate_as_text() -> None:
    got = resolve_inputs({"msg": "say ${a.text} x${b.count} ${a.rows.1.n}"}, OUTPUTS)
    assert got == {"msg": "say hi x3 2"}


def test_nested_values_are_resolved() -> None:
    got = resolve_inputs({"values": {"x": ["${a.text}", 1]}}, OUTPUTS)
    assert got == {"values": {"x": ["hi", 1]}}


def test_dangling_paths_fail_clearly() -> None:
    with pytest.raises(AgentInputError, match=r"\$\{a.rows.5\} points at nothing"):
        resolve_inputs({"x": "${a.rows.5}"}, OUTPUTS)
    with pytest.raises(AgentInputError, match=r"\$\{a.best.start\} points at nothing"):
        resolve_inputs({"x": "${a.best.start}"}, OUTPUTS)
    with pytest.raises(AgentInputError, match="has no output"):
        resolve_inputs({"x": "${zz}"}, OUTPUTS)
