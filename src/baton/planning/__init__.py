"""Planning: the `Planner` protocol and the planners (offline by default)."""

from baton.planning.offline import OfflinePlanner as OfflinePlanner
from baton.planning.protocol import Planner as Planner
from baton.planning.protocol import PlanningContext as PlanningContext

__all__ = ["OfflinePlanner", "Planner", "PlanningContext"]
