"""Plan validation: everything wrong with a plan, found before anything runs."""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from baton.agents.registry import AgentRegistry
from baton.core.graph import Dag, format_cycle
from baton.core.plan import REFERENCE_PATTERN, Plan, Reference, Step, is_whole_reference
from baton.errors import PlanProblem, PlanValidationError


def validate_plan(plan: Plan, registry: AgentRegistry) -> None:
    """Raise `PlanValidationError` listing every problem, or return if the plan is sound."""
    problems = plan_problems(plan, registry)
    if problems:
        raise PlanValidationError(problems)


def plan_problems(plan: Plan, registry: AgentRegistry) -> list[PlanProblem]:
    """Every problem in `plan` (empty when it can run)."""
    if not plan.steps:
        return [
            PlanProblem(
                code="empty_plan",
                message="the plan has no steps",
                hint="add at least one step with an id and an agent",
            )
        ]
    problems: list[PlanProblem] = []
    counts = Counter(s.id for s in plan.steps)
    problems += [
        PlanProblem(
            code="duplicate_step",
            message=f"step id {sid!r} is used by {n} steps",
            step_id=sid,
            hint="give every step a unique id",
        )
        for sid, n in counts.items()
        if n > 1
    ]
    by_id = {s.id: s for s in plan.steps}
    for step in plan.steps:
        problems += _agent_problems(step, registry)
        problems += _dependency_problems(step, by_id, registry)
    problems += [
        PlanProblem(
            code="cycle",
            message=f"the steps form a cycle: {format_cycle(c)}",
            step_id=c[0],
            hint="remove one of these dependencies",
        )
        for c in Dag.of(plan).find_cycles()
        if len(c) > 2  # a self-dependency is reported on its own, more plainly
    ]
    return problems


def _agent_problems(step: Step, registry: AgentRegistry) -> list[PlanProblem]:
    if step.agent not in registry:
        return [
            PlanProblem(
                code="unknown_agent",
                message=f"unknown agent {step.agent!r}",
                step_id=step.id,
                hint=registry.suggestion_hint(step.agent),
            )
        ]
    model = registry.get(step.agent).spec.input_model
    return _input_problems(step, model)


def _input_problems(step: Step, model: type[BaseModel]) -> list[PlanProblem]:
    """Validate inputs against the agent's schema.

    Fields fed by whole references are checked for existence only: their values are known
    at run time.
    """
    referenced = {k for k, v in step.inputs.items() if isinstance(v, str) and is_whole_reference(v)}
    literal = {k: v for k, v in step.inputs.items() if k not in referenced}
    unknown_fields = [k for k in referenced if k not in model.model_fields]
    problems = [
        PlanProblem(
            code="invalid_input",
            message=f"input {k!r} is not accepted by agent {step.agent!r}",
            step_id=step.id,
            hint="accepted inputs: " + ", ".join(model.model_fields),
        )
        for k in unknown_fields
    ]
    try:
        model.model_validate(literal)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            if err["loc"] and err["loc"][0] in referenced and err["type"] == "missing":
                continue
            problems.append(
                PlanProblem(
                    code="invalid_input",
                    message=f"input {loc!r} of agent {step.agent!r}: {err['msg']}",
                    step_id=step.id,
                    hint=_input_hint(err["type"], model),
                )
            )
    return problems


def _input_hint(error_type: str, model: type[BaseModel]) -> str:
    if error_type == "extra_forbidden":
        return "accepted inputs: " + ", ".join(model.model_fields)
    if error_type == "missing":
        required = [n for n, f in model.model_fields.items() if f.is_required()]
        return "required inputs: " + ", ".join(required)
    return "`baton agents show NAME` lists the agent's input schema"


def _dependency_problems(
    step: Step, by_id: dict[str, Step], registry: AgentRegistry
) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    for dep in step.depends_on:
        if dep == step.id:
            problems.append(
                PlanProblem(
                    code="self_dependency",
                    message="the step depends on itself",
                    step_id=step.id,
                    hint=f"remove {dep!r} from its depends_on",
                )
            )
        elif dep not in by_id:
            problems.append(_missing_step(step, dep, "depends on", by_id))
    for ref in step.references():
        if ref.step_id == step.id:
            problems.append(
                PlanProblem(
                    code="self_dependency",
                    message=f"{ref.location} references the step's own output ({ref})",
                    step_id=step.id,
                )
            )
        elif ref.step_id not in by_id:
            problems.append(_missing_step(step, ref.step_id, f"{ref.location} references", by_id))
        else:
            target = by_id[ref.step_id]
            if target.agent in registry:
                output = registry.get(target.agent).spec.output_model
                problem = _path_problem(step, ref, output)
                if problem:
                    problems.append(problem)
    return problems


def _missing_step(step: Step, missing: str, verb: str, by_id: dict[str, Step]) -> PlanProblem:
    from rapidfuzz import process

    close = process.extractOne(missing, list(by_id))
    hint = f"did you mean {close[0]!r}?" if close and close[1] >= 60 else None
    return PlanProblem(
        code="missing_step",
        message=f"{verb} step {missing!r}, which is not in the plan",
        step_id=step.id,
        hint=hint,
    )


def _path_problem(step: Step, ref: Reference, output: type[BaseModel]) -> PlanProblem | None:
    """Check that `ref.path` names fields that the target agent's output schema has."""
    schema: dict[str, Any] = output.model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    node: dict[str, Any] = schema
    for i, part in enumerate(ref.path):
        node = _deref(node, defs)
        props: dict[str, Any] | None = node.get("properties")
        if node.get("type") == "array" and part.isdigit():
            node = node.get("items", {})
            continue
        if props is None:
            return None  # free-form (dict / Any): cannot check deeper
        if part not in props:
            where = ".".join(ref.path[:i]) or "the output"
            return PlanProblem(
                code="missing_field",
                message=f"{ref.location} references {ref}, but {where} of step "
                f"{ref.step_id!r} has no field {part!r}",
                step_id=step.id,
                hint="available fields: " + ", ".join(props),
            )
        node = props[part]
    return None


def _deref(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and unwrap ``anyOf[X, null]`` (optional fields)."""
    while True:
        if "$ref" in node:
            node = defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
            continue
        variants: list[dict[str, Any]] = node.get("anyOf", [])
        non_null = [v for v in variants if v.get("type") != "null"]
        if len(non_null) == 1:
            node = non_null[0]
            continue
        return node


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanLimits:
    """Bounds on the size and shape of a plan a planner made (see `limit_problems`).

    They are not part of `validate_plan`: a person may hand-write, and a benchmark may
    generate, a plan of thousands of steps. They stop a model (or a request steering it) from
    producing unbounded work.
    """

    max_steps: int = 50
    """Most steps in one plan."""
    max_fan_out: int = 20
    """Most steps that may wait for one step."""
    max_width: int = 32
    """Most steps at one depth of the DAG (roughly: that could run at once)."""


def limit_problems(plan: Plan, limits: PlanLimits) -> list[PlanProblem]:
    """Every way `plan` exceeds `limits` (empty when within them)."""
    problems: list[PlanProblem] = []
    if len(plan.steps) > limits.max_steps:
        problems.append(
            PlanProblem(
                code="too_many_steps",
                message=f"the plan has {len(plan.steps)} steps; at most {limits.max_steps} "
                "are allowed",
                hint="combine steps, or split the request into smaller ones",
            )
        )
    dag = Dag.of(plan)
    problems += [
        PlanProblem(
            code="fan_out",
            message=f"{len(waiting)} steps wait for this step; at most {limits.max_fan_out} "
            "may wait for one step",
            step_id=step_id,
            hint="let one step work on the whole output instead of one step per item",
        )
        for step_id, waiting in dag.dependents.items()
        if len(waiting) > limits.max_fan_out
    ]
    widest, width = _widest_level(dag)
    if width > limits.max_width:
        problems.append(
            PlanProblem(
                code="too_wide",
                message=f"{width} steps sit at depth {widest} of the plan; at most "
                f"{limits.max_width} may run side by side",
                hint="let one step handle many items, or split the request",
            )
        )
    return problems


def _widest_level(dag: Dag) -> tuple[int, int]:
    """The depth (longest path from a root) holding the most steps, and how many it holds."""
    depth: dict[str, int] = {}
    for step_id in dag.topological():  # steps on a cycle are left out: reported elsewhere
        depth[step_id] = 1 + max((depth[d] for d in dag.deps[step_id] if d in depth), default=-1)
    per_level = Counter(depth.values())
    if not per_level:
        return 0, 0
    return max(per_level.items(), key=lambda item: (item[1], -item[0]))


_PATH_FIELD = re.compile(r"(^|_)(path|file|folder|dir|directory)$")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def path_problems(plan: Plan, registry: AgentRegistry) -> list[PlanProblem]:
    """Literal path inputs that leave the workspace whatever it is.

    A path input (a field named ``path``, ``*_path``, ``file``, ``folder``..., or described as
    relative to the workspace) is refused when it is absolute, starts at a home folder, or
    climbs out with ``..``. The file agents refuse such paths when they run, too; this finds
    them before anything runs. Planners apply it to what they plan; a hand-written plan may
    still name an absolute path inside the workspace.
    """
    problems: list[PlanProblem] = []
    for step in plan.steps:
        if step.agent not in registry:
            continue
        fields = registry.get(step.agent).spec.input_model.model_fields
        for name, value in step.inputs.items():
            field = fields.get(name)
            if field is None or not isinstance(value, str):
                continue
            if not (_PATH_FIELD.search(name) or "workspace" in (field.description or "")):
                continue
            why = _escape_reason(value)
            if why:
                problems.append(
                    PlanProblem(
                        code="outside_workspace",
                        message=f"input {name!r} ({value!r}) {why}, outside the workspace",
                        step_id=step.id,
                        hint="use a path relative to the workspace, without '..'",
                    )
                )
    return problems


def _escape_reason(raw: str) -> str | None:
    """Why `raw` names a place outside any workspace, or None."""
    # A reference is filled in at run time (and confined then); what is written around it is not.
    text = REFERENCE_PATTERN.sub("x", raw).strip().replace("\\", "/")
    if "\x00" in text:
        return "contains a NUL byte"
    if text.startswith("/") or _DRIVE.match(raw.strip()):
        return "is an absolute path"
    if text.startswith("~"):
        return "points into a home folder"
    if text and posixpath.normpath(text).split("/")[0] == "..":
        return "climbs out with '..'"
    return None
