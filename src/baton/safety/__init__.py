"""Safety: resource locks (the Conflict Resolver); HITL gates and rate limits join here."""

from baton.safety.locks import HeldLocks as HeldLocks
from baton.safety.locks import LockLostError as LockLostError
from baton.safety.locks import LockTimeoutError as LockTimeoutError
from baton.safety.locks import ResourceLocks as ResourceLocks

__all__ = ["HeldLocks", "LockLostError", "LockTimeoutError", "ResourceLocks"]
