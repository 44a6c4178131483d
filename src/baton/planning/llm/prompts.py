"""The planner's prompts: versioned files under ``baton/planning/prompts``, rendered here.

``system.<version>.md`` holds the instructions; ``plan.<version>.md`` and
``replan.<version>.md`` are `string.Template` documents filled with the agent catalogue, the
current time and the request. A substituted value is never scanned for placeholders again, so
a request that contains ``$agents`` stays text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

from baton.agents.protocol import AgentSpec
from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan
from baton.errors import ConfigError
from baton.planning.protocol import PlanningContext

PROMPT_VERSION = "v1"
"""The prompt files used unless another version is asked for."""
MAX_OUTPUT_CHARS = 1_500
"""Longest rendering of one finished step's output in a replan prompt."""
_EXAMPLES = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompts:
    """One version of the planner's prompt files."""

    version: str
    """E.g. ``v1``."""
    system: str
    """The instructions (the model's system prompt)."""
    plan: Template
    """The prompt asking for a plan."""
    replan: Template
    """The prompt asking for a revision."""

    @classmethod
    def load(cls, version: str = PROMPT_VERSION) -> Prompts:
        """Read the prompt files of `version` from the package.

        Raises:
            ConfigError: a file of that version is missing.
        """
        return cls(
            version=version,
            system=_read(f"system.{version}.md"),
            plan=Template(_read(f"plan.{version}.md")),
            replan=Template(_read(f"replan.{version}.md")),
        )

    def render_plan(self, request: str, registry: AgentRegistry, context: PlanningContext) -> str:
        """The prompt asking for a plan of `request`."""
        return self.plan.substitute(
            _when(context), agents=render_catalogue(registry), request=_quoted(request)
        )

    def render_replan(
        self,
        plan: Plan,
        *,
        finished: Mapping[str, dict[str, Any]],
        failed: Mapping[str, str],
        reason: str,
        registry: AgentRegistry,
        context: PlanningContext,
    ) -> str:
        """The prompt asking for a revision of `plan`."""
        shown = plan.model_dump(
            mode="json", exclude_defaults=True, exclude={"provenance", "budget", "request"}
        )
        return self.replan.substitute(
            _when(context),
            agents=render_catalogue(registry),
            request=_quoted(plan.request or plan.name),
            version=str(plan.version),
            plan=json.dumps(shown, indent=1, ensure_ascii=False),
            finished=_finished(finished),
            failed="\n".join(f"- {sid}: {err}" for sid, err in failed.items()) or "(none)",
            reason=_quoted(reason),
        )


def render_catalogue(registry: AgentRegistry) -> str:
    """Every agent of `registry`: name, description, risk, input schema, output, examples."""
    return "\n\n".join(_agent_entry(spec) for spec in registry.specs())


def _agent_entry(spec: AgentSpec) -> str:
    schema = _untitled(spec.input_model.model_json_schema())
    lines = [
        f"### {spec.name}",
        spec.description,
        f"- risk: {spec.risk.value}",
        f"- inputs (JSON schema): {json.dumps(schema, separators=(',', ':'))}",
        f"- output fields: {_output_fields(spec)}",
    ]
    if spec.examples:
        examples = "; ".join(json.dumps(e) for e in spec.examples[:_EXAMPLES])
        lines.append(f"- examples: {examples}")
    return "\n".join(lines)


def _output_fields(spec: AgentSpec) -> str:
    schema: dict[str, Any] = spec.output_model.model_json_schema()
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return "(none)"
    return ", ".join(f"{name} ({_type_of(node)})" for name, node in props.items())


def _type_of(node: dict[str, Any]) -> str:
    if "$ref" in node:
        return "object"
    variants: list[dict[str, Any]] = node.get("anyOf", [])
    if variants:
        return " or ".join(_type_of(v) for v in variants)
    kind = node.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(node.get('items', {}))}"
    return str(kind)


def _untitled(value: Any, *, names: bool = False) -> Any:
    """A JSON schema without pydantic's ``title`` annotations, which only cost tokens.

    `names` is true for a mapping of names to schemas (``properties``, ``$defs``), where a
    field may well be called ``title``.
    """
    if isinstance(value, dict):
        items: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return {
            k: _untitled(v, names=not names and k in ("properties", "$defs"))
            for k, v in items.items()
            if names or k != "title"
        }
    if isinstance(value, list):
        return [_untitled(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _when(context: PlanningContext) -> dict[str, str]:
    return {
        "now": context.now.isoformat(timespec="minutes"),
        "weekday": context.now.strftime("%A"),
        "timezone": context.timezone,
    }


def _quoted(text: str) -> str:
    # JSON keeps the text inside one string whatever it contains (quotes, newlines, fences).
    return json.dumps(text, ensure_ascii=False)


def _finished(finished: Mapping[str, dict[str, Any]]) -> str:
    if not finished:
        return "(none)"
    lines: list[str] = []
    for step_id, output in finished.items():
        text = json.dumps(output, ensure_ascii=False, default=str)
        if len(text) > MAX_OUTPUT_CHARS:
            text = text[:MAX_OUTPUT_CHARS] + f"... ({len(text):,} characters in all)"
        lines.append(f"- {step_id}: {text}")
    return "\n".join(lines)


def _read(name: str) -> str:
    path = resources.files("baton.planning").joinpath("prompts", name)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"the planner's prompt file {name!r} is missing",
            hint=f"reinstall baton, or use prompt version {PROMPT_VERSION!r}",
        ) from None
