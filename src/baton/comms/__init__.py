"""Agent communication: shared context store and messenger."""

from baton.comms.context import SharedContext as SharedContext
from baton.comms.messenger import BROADCAST as BROADCAST
from baton.comms.messenger import MessageHub as MessageHub
from baton.comms.messenger import Messenger as Messenger
from baton.comms.messenger import RequestTimeoutError as RequestTimeoutError
from baton.comms.messenger import Subscription as Subscription

__all__ = [
    "BROADCAST",
    "MessageHub",
    "Messenger",
    "RequestTimeoutError",
    "SharedContext",
    "Subscription",
]
