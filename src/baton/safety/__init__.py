"""Safety: resource locks (the Conflict Resolver), human approval gates; rate limits join here."""

from baton.safety.approvals import ApprovalDecidedError as ApprovalDecidedError
from baton.safety.approvals import ApprovalError as ApprovalError
from baton.safety.approvals import ApprovalExpiredError as ApprovalExpiredError
from baton.safety.approvals import ApprovalInputsChangedError as ApprovalInputsChangedError
from baton.safety.approvals import ApprovalMissingError as ApprovalMissingError
from baton.safety.approvals import ApprovalPendingError as ApprovalPendingError
from baton.safety.approvals import ApprovalPlanChangedError as ApprovalPlanChangedError
from baton.safety.approvals import ApprovalRejectedError as ApprovalRejectedError
from baton.safety.approvals import ApprovalReplayError as ApprovalReplayError
from baton.safety.approvals import Approvals as Approvals
from baton.safety.approvals import GatePolicy as GatePolicy
from baton.safety.approvals import hash_inputs as hash_inputs
from baton.safety.approvals import hash_plan as hash_plan
from baton.safety.approvals import impact_of as impact_of
from baton.safety.locks import HeldLocks as HeldLocks
from baton.safety.locks import LockLostError as LockLostError
from baton.safety.locks import LockTimeoutError as LockTimeoutError
from baton.safety.locks import ResourceLocks as ResourceLocks

__all__ = [
    "ApprovalDecidedError",
    "ApprovalError",
    "ApprovalExpiredError",
    "ApprovalInputsChangedError",
    "ApprovalMissingError",
    "ApprovalPendingError",
    "ApprovalPlanChangedError",
    "ApprovalRejectedError",
    "ApprovalReplayError",
    "Approvals",
    "GatePolicy",
    "HeldLocks",
    "LockLostError",
    "LockTimeoutError",
    "ResourceLocks",
    "hash_inputs",
    "hash_plan",
    "impact_of",
]
