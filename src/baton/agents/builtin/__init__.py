"""Built-in agents that do real work offline. Found by discovery like any other agent."""

from __future__ import annotations

from baton.agents.builtin.resources import AgentResources as AgentResources
from baton.agents.builtin.resources import HttpLimits as HttpLimits
from baton.agents.protocol import Agent


def builtin_agents(resources: AgentResources) -> list[Agent]:
    """Build every built-in agent, wired to `resources`."""
    from baton.agents.builtin import calendar, data, files, http, notify, text

    found: list[Agent] = []
    for group in (files, http, text, data, calendar, notify):
        found.extend(group.agents(resources))
    return found


__all__ = ["AgentResources", "HttpLimits", "builtin_agents"]
