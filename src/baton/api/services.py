"""What the routes work with, built once per app by the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from baton.api.runs import BackgroundRuns
from baton.app import Baton
from baton.enterprise.tenancy import Tenancy
from baton.errors import ConfigError
from baton.settings import Settings
from baton.store.feedback import FeedbackStore
from baton.store.tenancy import TenancyStore
from baton.streaming.bus import EventBus

__all__ = ["ApiServices", "services_of"]


@dataclass(slots=True, kw_only=True)
class ApiServices:
    """The engine, and the executions this server runs in its background."""

    baton: Baton
    """The engine (store, registry, planner, orchestrator, approvals, tenancy)."""
    runs: BackgroundRuns
    """Executions running in this server's background."""

    @property
    def settings(self) -> Settings:
        """The engine's settings."""
        return self.baton.settings

    @property
    def tenancy(self) -> Tenancy:
        """Workspaces, users, API keys; authentication."""
        return self.baton.tenancy

    @property
    def tenancy_store(self) -> TenancyStore:
        """Where workspaces, users and keys are kept."""
        return self.baton.tenancy_store

    @property
    def feedback(self) -> FeedbackStore:
        """Feedback on executions."""
        return self.baton.feedback

    @property
    def bus(self) -> EventBus:
        """Live events of the executions this process runs (for SSE)."""
        return self.baton.bus


def services_of(app: FastAPI) -> ApiServices:
    """The app's services (set by its lifespan)."""
    services = getattr(app.state, "services", None)
    if not isinstance(services, ApiServices):
        raise ConfigError("the API's services are not set up: start the app with its lifespan")
    return services
