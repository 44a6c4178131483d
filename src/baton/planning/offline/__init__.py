"""The offline planner: the embedded default, with no model and no network."""

from baton.planning.offline.clauses import Clause as Clause
from baton.planning.offline.clauses import find_sources as find_sources
from baton.planning.offline.clauses import split_clauses as split_clauses
from baton.planning.offline.planner import MAX_REQUEST_CHARS as MAX_REQUEST_CHARS
from baton.planning.offline.planner import MIN_COVERAGE as MIN_COVERAGE
from baton.planning.offline.planner import OfflinePlanner as OfflinePlanner
from baton.planning.offline.ranking import AgentRanker as AgentRanker
from baton.planning.offline.ranking import Ranked as Ranked

__all__ = [
    "MAX_REQUEST_CHARS",
    "MIN_COVERAGE",
    "AgentRanker",
    "Clause",
    "OfflinePlanner",
    "Ranked",
    "find_sources",
    "split_clauses",
]
