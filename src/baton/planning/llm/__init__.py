"""The LLM planner: a language model writes the plan against the agents' schemas."""

from baton.planning.llm.checks import DraftCheck as DraftCheck
from baton.planning.llm.draft import PlanDraft as PlanDraft
from baton.planning.llm.draft import StepDraft as StepDraft
from baton.planning.llm.planner import MAX_REQUEST_CHARS as MAX_REQUEST_CHARS
from baton.planning.llm.planner import LLMPlanner as LLMPlanner
from baton.planning.llm.prompts import PROMPT_VERSION as PROMPT_VERSION
from baton.planning.llm.prompts import Prompts as Prompts
from baton.planning.llm.prompts import render_catalogue as render_catalogue

__all__ = [
    "MAX_REQUEST_CHARS",
    "PROMPT_VERSION",
    "DraftCheck",
    "LLMPlanner",
    "PlanDraft",
    "Prompts",
    "StepDraft",
    "render_catalogue",
]
