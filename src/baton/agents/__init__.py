"""Agents: the protocol, the decorator, the registry and discovery."""

from baton.agents.decorator import FunctionAgent as FunctionAgent
from baton.agents.decorator import agent as agent
from baton.agents.protocol import Agent as Agent
from baton.agents.protocol import AgentContext as AgentContext
from baton.agents.protocol import AgentSpec as AgentSpec
from baton.agents.protocol import Extraction as Extraction
from baton.agents.protocol import ExtractionContext as ExtractionContext
from baton.agents.protocol import ExtractsInputs as ExtractsInputs
from baton.agents.protocol import Risk as Risk
from baton.agents.registry import AgentRegistry as AgentRegistry
from baton.agents.registry import AgentStats as AgentStats

__all__ = [
    "Agent",
    "AgentContext",
    "AgentRegistry",
    "AgentSpec",
    "AgentStats",
    "Extraction",
    "ExtractionContext",
    "ExtractsInputs",
    "FunctionAgent",
    "Risk",
    "agent",
]
