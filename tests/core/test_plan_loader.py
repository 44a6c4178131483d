from __future__ import annotations

from pathlib import Path

import pytest

from baton.core.plan_loader import MAX_PLAN_BYTES, load_plan, parse_plan
from baton.errors import PlanLoadError

YAML_PLAN = """
name: demo
steps:
  - id: read
    agent: files.read
    inputs: {path: notes.md}
  - id: sum
    agent: text.summarize
    inputs: {text: "${read.content}"}
    policy: {timeout_s: 10, retry: {max_attempts: 5}}
"""


def test_yaml_and_json_plans_load() -> None:
    plan = parse_plan(YAML_PLAN, source="p.yaml")
    assert [s.id for s in plan.steps] == ["read", "sum"]
    assert plan.steps[1].dependencies() == ["read"]
    assert plan.steps[1].policy.retry.max_attempts == 5
    again = parse_plan(plan.model_dump_json(), source="p.json")
    assert again == plan


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(
        PlanLoadError, match=r"bad.yaml: invalid YAML at line 3, column 13: mapping values"
    ):
        parse_plan("steps:\n  - id: a\n    agent: x: y\n", source="bad.yaml")


def test_json_syntax_error_names_the_line() -> None:
    with pytest.raises(PlanLoadError, match=r"invalid JSON at line 2"):
        parse_plan('{"steps": [\n  {"id": "a",}]}', source="bad.json")


def test_unknown_fields_are_named() -> None:
    text = "steps:\n  - id: a\n    agent: x\n    inptus: {}\n"
    with pytest.raises(PlanLoadError) as info:
        parse_plan(text, source="typo.yaml")
    assert "steps[0].inptus: unknown field" in str(info.value)


def test_bad_step_id_and_missing_agent() -> None:
    with pytest.raises(PlanLoadError) as info:
        parse_plan('{"steps": [{"id": "has space"}]}')
    message = str(info.value)
    assert "steps[0].id" in message
    assert "steps[0].agent: required field is missing" in message


def test_not_a_mapping_and_empty() -> None:
    with pytest.raises(PlanLoadError, match="must be a mapping"):
        parse_plan("- a\n- b\n", source="list.yaml")
    with pytest.raises(PlanLoadError, match="empty"):
        parse_plan("  \n", source="empty.yaml")


def test_oversized_plan_is_refused() -> None:
    with pytest.raises(PlanLoadError, match="limit"):
        parse_plan("#" * (MAX_PLAN_BYTES + 1))


def test_files(tmp_path: Path) -> None:
    path = tmp_path / "plan.yml"
    path.write_text(YAML_PLAN)
    assert load_plan(path).name == "demo"
    with pytest.raises(PlanLoadError, match="does not exist"):
        load_plan(tmp_path / "missing.yaml")
    with pytest.raises(PlanLoadError, match="is a folder"):
        load_plan(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(PlanLoadError, match="not UTF-8"):
        load_plan(tmp_path / "latin1.yaml")
