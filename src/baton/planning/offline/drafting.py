# pyright: strict
"""From clauses to draft steps: pick an agent, fill its inputs, feed it from earlier steps.

A clause's agent is the best-ranked one (`ranking`) that the clause plausibly addresses, with a
bonus for an agent whose own extractor finds the inputs it requires. Inputs the extractor left to
"the previous result", and required inputs it did not find, are linked to an earlier step's output
(`linking`). When an input is still missing and the clause names a file or URL nobody used
("email dana@example.com the agenda from shared/agenda.md"), a helper step reads it first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from baton.agents.protocol import Agent, AgentSpec, Extraction, ExtractionContext, ExtractsInputs
from baton.agents.registry import AgentRegistry
from baton.planning.offline.clauses import Clause, find_sources
from baton.planning.offline.linking import (
    EarlierStep,
    Link,
    find_link,
    input_types,
    output_fields,
    required_inputs,
)
from baton.planning.offline.ranking import AgentRanker
from baton.planning.protocol import PlanningContext

_FIT_WEIGHT = 0.3  # an agent whose extractor finds what it needs beats a slightly closer wording
_CANDIDATES = 5  # best-ranked agents per clause whose extractors are asked


@dataclass(slots=True, kw_only=True)
class Draft:
    """A step being planned."""

    clause: Clause
    """The clause it serves."""
    agent: str
    """The agent's name."""
    step_id: str
    """Unique, readable id."""
    inputs: dict[str, Any]
    """Extracted values and ``${step.field}`` references."""
    description: str
    """What the step does, in words."""
    segment: int
    """Index of its group of clauses; "then" starts a new group."""
    depends_on: list[str] = field(default_factory=list[str])
    """Order-only dependencies (set when the plan is finished)."""

    def call(self) -> str:
        """The step as a call, e.g. ``files.read(path="notes.txt")``."""
        args = ", ".join(f"{k}={_show(v)}" for k, v in self.inputs.items())
        return f"{self.agent}({args})"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Choice:
    agent: Agent
    extraction: Extraction
    score: float


class Drafter:
    """Drafts the steps of one request, clause by clause; later clauses see earlier drafts.

    Args:
        registry: The agents to plan with.
        context: Time and time zone for the extractors.
        min_coverage: Share of a clause's words an agent must know to serve it, unless it knows
            the clause's verb and its extractor finds arguments in the clause.
    """

    def __init__(
        self, registry: AgentRegistry, *, context: PlanningContext, min_coverage: float
    ) -> None:
        self._registry = registry
        self._ranker = AgentRanker(registry.specs())
        self._context = context
        self._min_coverage = min_coverage
        self.drafts: list[Draft] = []
        """Steps drafted so far, in clause order."""
        self.failures: list[str] = []
        """Clauses not understood, with the reason."""
        self._earlier: list[EarlierStep] = []

    def draft_all(self, clauses: Sequence[Clause]) -> None:
        """Draft every clause; `drafts` and `failures` hold the outcome."""
        segment = 0
        for clause in clauses:
            segment += clause.ordered
            problem = self._draft(clause, segment)
            if problem:
                self.failures.append(f'"{clause.text}": {problem}')

    def understood(self) -> list[str]:
        """What was understood, clause by clause, e.g. ``"read a.txt" -> files.read(...)``."""
        return [f'"{d.clause.text}" -> {d.call()}' for d in self.drafts]

    def _draft(self, clause: Clause, segment: int) -> str:
        """Draft `clause` (and any helper step it needs); return the problem, or ``""``."""
        choice = self._choose(clause.text)
        if choice is None:
            return "no agent matches"
        spec, extraction = choice.agent.spec, choice.extraction
        if extraction.unparsed:
            return f"{spec.name} could not parse " + ", ".join(
                f"'{f}'" for f in extraction.unparsed
            )
        mark = len(self.drafts)
        inputs, missing = self._link(spec, extraction)
        if missing and self._add_helpers(clause, inputs, segment):
            inputs, missing = self._link(spec, extraction)
        if missing:
            self._rollback(mark)
            return f"{spec.name}: missing {', '.join(missing)}"
        self._commit(clause, spec, inputs, extraction.understood or clause.text, segment)
        return ""

    def _choose(self, text: str) -> _Choice | None:
        ectx = ExtractionContext(
            now=self._context.now,
            timezone=self._context.timezone,
            previous_agents=tuple(d.agent for d in self.drafts),
        )
        choices: list[_Choice] = []
        for r in self._ranker.rank(text)[:_CANDIDATES]:
            agent = self._registry.get(r.agent)
            extraction = (
                agent.extract_inputs(text, ectx)
                if isinstance(agent, ExtractsInputs)
                else Extraction()
            )
            # One shared word is not enough ("make me a sandwich" shares "make" with a text
            # agent): the agent must know most of the clause's words, or know its verb and find
            # values for its inputs in the clause. "From the previous step" does not count as a
            # value: some extractors say it of any clause that follows another.
            if r.coverage < self._min_coverage and not (r.verb_known and extraction.inputs):
                continue
            score = r.score + self._fit(agent.spec, extraction)
            choices.append(_Choice(agent=agent, extraction=extraction, score=score))
        # max() keeps the first of equals, and rank() orders ties by name: deterministic.
        return max(choices, key=lambda c: c.score, default=None)

    def _fit(self, spec: AgentSpec, extraction: Extraction) -> float:
        """Share of the required inputs the clause supplies, weighted; 0 when it parses badly."""
        if extraction.unparsed:
            return 0.0
        required = required_inputs(spec.input_model)
        if not required:
            return _FIT_WEIGHT if extraction.understood else _FIT_WEIGHT / 2
        found = sum(
            1
            for n in required
            if n in extraction.inputs
            or (
                n in extraction.from_previous
                and isinstance(find_link(n, input_types(spec.input_model, n), self._earlier), Link)
            )
        )
        return _FIT_WEIGHT * found / len(required)

    def _link(self, spec: AgentSpec, extraction: Extraction) -> tuple[dict[str, Any], list[str]]:
        """Inputs with references filled in, and the inputs that are still missing."""
        inputs = dict(extraction.inputs)
        required = required_inputs(spec.input_model)
        wanted = list(dict.fromkeys(extraction.from_previous))
        wanted += [n for n in required if n not in inputs and n not in wanted]
        missing: list[str] = []
        for name in wanted:
            link = find_link(name, input_types(spec.input_model, name), self._earlier)
            if isinstance(link, Link):
                inputs[name] = link.reference
            elif name in required:
                # An optional input the earlier steps cannot give keeps the agent's default.
                missing.append(
                    f"{name} ({link}, {name} needs {_types(spec, name)})" if link else name
                )
        return inputs, missing

    def _add_helpers(self, clause: Clause, inputs: dict[str, Any], segment: int) -> bool:
        """Draft a step reading each file or URL the clause names but no input uses."""
        used = json.dumps(inputs, ensure_ascii=False)
        added = False
        for source in find_sources(clause.text):
            if source in used:
                continue
            text = f"fetch {source}" if "://" in source else f"read {source}"
            choice = self._choose(text)
            if choice is None or choice.extraction.unparsed:
                continue
            spec, extraction = choice.agent.spec, choice.extraction
            if any(n not in extraction.inputs for n in required_inputs(spec.input_model)):
                continue
            self._commit(
                clause, spec, dict(extraction.inputs), extraction.understood or text, segment
            )
            added = True
        return added

    def _commit(
        self,
        clause: Clause,
        spec: AgentSpec,
        inputs: dict[str, Any],
        description: str,
        segment: int,
    ) -> None:
        draft = Draft(
            clause=clause,
            agent=spec.name,
            step_id=self._new_id(spec.name),
            inputs=inputs,
            description=description,
            segment=segment,
        )
        self.drafts.append(draft)
        self._earlier.append(
            EarlierStep(step_id=draft.step_id, outputs=output_fields(spec.output_model))
        )

    def _rollback(self, mark: int) -> None:
        del self.drafts[mark:]
        del self._earlier[mark:]

    def _new_id(self, agent_name: str) -> str:
        # Ids read like the action ("read", "summarize"); repeats get a counter ("read_2").
        base = re.sub(r"[^A-Za-z0-9_-]+", "_", agent_name.rsplit(".", 1)[-1]).strip("_-")[:56]
        base = base if base[:1].isalpha() else f"step_{base}"
        taken = {d.step_id for d in self.drafts}
        n, step_id = 1, base
        while step_id in taken:
            n += 1
            step_id = f"{base}_{n}"
        return step_id


def _types(spec: AgentSpec, name: str) -> str:
    return " or ".join(sorted(input_types(spec.input_model, name))) or "another type"


def _show(value: Any) -> str:
    if isinstance(value, str) and value.startswith("${"):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


__all__ = ["Draft", "Drafter"]
