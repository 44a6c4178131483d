"""Persistence: store protocols, records, and the in-memory store.

SQL backends live in `baton.store.sql` (imported only by the composition root, so that
the core never reaches a database driver).
"""

from baton.store.memory import MemoryExecutionStore as MemoryExecutionStore
from baton.store.protocol import ExecutionStore as ExecutionStore
from baton.store.records import ExecutionRecord as ExecutionRecord
from baton.store.records import StepRecord as StepRecord
from baton.store.records import StoredEvent as StoredEvent

__all__ = ["ExecutionRecord", "ExecutionStore", "MemoryExecutionStore", "StepRecord", "StoredEvent"]
