"""The smart cache: a cacheable agent's output, reused for the same inputs.

A step's result may be reused when its agent declares ``cacheable`` (its output depends only
on its inputs) and the step's ``policy.cache`` is on. The key (`cache_key`) is a SHA-256 over
the workspace, the agent's name, a fingerprint of its input and output JSON schemas (so a
changed schema invalidates the agent's entries) and the canonical JSON of the step's
resolved, validated inputs. Entries live `ttl_s` seconds.

The cache is an optimisation, never a dependency: `ResultCache.lookup` and `ResultCache.save`
log a failing store and carry on, so the step runs its agent as if there were no cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from baton.agents.protocol import AgentSpec
from baton.events import utcnow
from baton.store.result_cache import CacheEntry, ResultCacheStore

__all__ = ["DEFAULT_TTL_S", "ResultCache", "cache_key", "canonical_json", "schema_fingerprint"]

DEFAULT_TTL_S = 3600.0
"""How long an entry is used by default (``BATON_CACHE_TTL_S``)."""

_log = logging.getLogger(__name__)


def canonical_json(value: Any) -> str:
    """`value` as JSON with sorted keys and no whitespace: equal data, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def schema_fingerprint(input_model: type[BaseModel], output_model: type[BaseModel]) -> str:
    """SHA-256 over an agent's input and output JSON schemas."""
    schemas = [input_model.model_json_schema(), output_model.model_json_schema()]
    return hashlib.sha256(canonical_json(schemas).encode()).hexdigest()


def cache_key(workspace_id: str, agent: str, fingerprint: str, inputs: Mapping[str, Any]) -> str:
    """The cache key of a step: SHA-256 hex over who, which agent (and schemas), and inputs.

    Args:
        workspace_id: The tenant (entries are never shared across tenants).
        agent: The agent's name.
        fingerprint: `schema_fingerprint` of the agent's models.
        inputs: The step's resolved inputs, as JSON data (key order does not matter).
    """
    # A JSON array keeps the parts apart: no choice of names can make two keys' text equal.
    text = canonical_json([workspace_id, agent, fingerprint, inputs])
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """The smart cache the executor consults: keys, lookups and saves over a store."""

    def __init__(
        self,
        store: ResultCacheStore,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Keep entries in `store` for `ttl_s` seconds.

        Args:
            store: Where entries are kept.
            ttl_s: How long an entry is used after it is saved (must be positive).
            clock: The current time (inject a fake one to test expiry).

        Raises:
            ValueError: `ttl_s` is not positive.
        """
        if not ttl_s > 0:
            raise ValueError(f"the cache's ttl_s must be positive, not {ttl_s!r}")
        self.store = store
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        # model_json_schema() is costly: once per pair of models (agents share them rarely,
        # but a registry's agents are few, so this stays small).
        self._fingerprints: dict[tuple[type[BaseModel], type[BaseModel]], str] = {}

    def key(self, workspace_id: str, spec: AgentSpec, inputs: Mapping[str, Any]) -> str | None:
        """The key of a step of `spec`'s agent with these resolved `inputs`.

        None when no key can be made (a model pydantic cannot describe as a JSON schema, or
        inputs that are not JSON data): the step then runs uncached (logged once per agent).
        """
        models = (spec.input_model, spec.output_model)
        fingerprint = self._fingerprints.get(models)
        try:
            if fingerprint is None:
                fingerprint = self._fingerprints[models] = schema_fingerprint(*models)
            if not fingerprint:
                return None
            return cache_key(workspace_id, spec.name, fingerprint, inputs)
        except Exception as exc:
            if models not in self._fingerprints:
                _log.warning("agent %s's results cannot be cached: %s", spec.name, exc)
                self._fingerprints[models] = ""  # never again for these models
            return None

    async def lookup(self, key: str) -> dict[str, Any] | None:
        """The cached output under `key`; None on a miss or when the store fails (logged)."""
        try:
            return await self.store.get(key, self._clock())
        except Exception as exc:
            _log.warning("the result cache could not be read (running the agent): %s", exc)
            return None

    async def save(
        self, key: str, *, workspace_id: str, agent: str, output: dict[str, Any]
    ) -> None:
        """Keep `output` under `key` for the TTL; a failing store is logged, not raised."""
        now = self._clock()
        entry = CacheEntry(
            workspace_id=workspace_id,
            agent=agent,
            output=output,
            created_at=now,
            expires_at=now + self._ttl,
        )
        try:
            await self.store.put(key, entry)
        except Exception as exc:
            _log.warning("the result cache could not keep %s's output: %s", agent, exc)
