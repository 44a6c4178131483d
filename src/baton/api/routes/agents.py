"""``/api/agents``: the registry, with each agent's schemas, risk and live stats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from baton.api.auth import Services, requires
from baton.api.convert import agent_out
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.errors import NotFoundError
from baton.wire import AgentOut

router = APIRouter(prefix="/api/agents", tags=["agents"])

Reader = Annotated[Principal, Depends(requires(Permission.AGENTS_READ))]


@router.get("", summary="Every registered agent, by name")
async def list_agents(services: Services, principal: Reader) -> list[AgentOut]:
    """Specs and live performance stats (no schemas: see one agent for those)."""
    registry = services.baton.registry
    return [
        agent_out(registry.entry(name), registry.stats(name), detail=False)
        for name in registry.names()
    ]


@router.get("/{name}", summary="One agent with its input and output schemas")
async def get_agent(name: str, services: Services, principal: Reader) -> AgentOut:
    """404 with the closest names if there is no such agent."""
    registry = services.baton.registry
    if name not in registry:
        raise NotFoundError(f"agent {name!r} not found", hint=registry.suggestion_hint(name))
    return agent_out(registry.entry(name), registry.stats(name), detail=True)
