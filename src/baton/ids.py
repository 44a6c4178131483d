"""Identifiers. Execution ids sort by creation time (a ULID-like layout)."""

from __future__ import annotations

import os
import time
from typing import NewType

ExecutionId = NewType("ExecutionId", str)
StepId = NewType("StepId", str)

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_execution_id() -> ExecutionId:
    """Return a new, time-sortable execution id such as ``ex_01hx...``."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return ExecutionId("ex_" + _b32(millis, 10) + _b32(rand, 16))


def idempotency_key(execution_id: str, step_id: str) -> str:
    """Key an agent can pass to an external system so a re-run of a step is recognised."""
    return f"{execution_id}:{step_id}"
