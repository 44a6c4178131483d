"""The executor's step workers: run one attempt of a step and report back to the loop.

Workers are reused: spawning a task costs more than a no-op step, so a chain of steps runs
on one worker instead of a thousand short-lived tasks. Each worker runs under one cancel scope
whose deadline follows the current step's timeout (moving a deadline costs less than half of
entering a new scope per step).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream
from pydantic import BaseModel, ValidationError

from baton.agents.protocol import Agent, AgentContext
from baton.agents.registry import AgentRegistry
from baton.comms.context import SharedContext
from baton.comms.messenger import MessageHub
from baton.core.caching import ResultCache
from baton.core.interceptors import (
    around_attempt,
    attempt_hooks,
    attempt_watchers,
    joined_hooks,
)
from baton.core.plan import Step
from baton.core.references import resolve_inputs
from baton.core.run_types import ExecutorOptions
from baton.core.worker_messages import Done, Failed, Message, StreamSink, receive
from baton.errors import AgentInputError, StepTimeoutError
from baton.ids import idempotency_key
from baton.llm.protocol import CallScope
from baton.safety.locks import ResourceLocks

Job = tuple[str, int]
"""A step id and the attempt to run."""


class StepWorkers:
    """The workers of one execution."""

    def __init__(
        self,
        *,
        execution_id: str,
        steps: Mapping[str, Step],
        agents: Mapping[str, Agent],
        outputs: Mapping[str, dict[str, Any]],
        approved_inputs: dict[str, dict[str, Any]],
        inbox: MemoryObjectSendStream[Message],
        options: ExecutorOptions,
        registry: AgentRegistry,
        clock: Callable[[], float],
        context: SharedContext | None,
        hub: MessageHub | None,
        model_scope: Callable[[str], Awaitable[CallScope]],
        plan_version: int = 1,
        workspace_id: str | None = None,
    ) -> None:
        """Share the run's state: `steps`, `agents` and `outputs` change as the run goes on.

        `model_scope` makes the scope of a step's model calls when an attempt starts;
        `plan_version` is the version of the plan the steps come from (see `add_steps`);
        `workspace_id` is the execution's tenant (the options' by default), which scopes the
        smart cache.
        """
        self._id = execution_id
        self._steps = steps
        self._agents = agents
        self._outputs = outputs
        self._approved_inputs = approved_inputs
        self._inbox = inbox
        self._options = options
        self._registry = registry
        self._clock = clock
        self._context = context
        self._hub = hub
        self._model_scope = model_scope
        self._workspace_id = workspace_id or options.workspace_id
        self._sink = StreamSink(execution_id, inbox)
        self._jobs_send, self._jobs_recv = anyio.create_memory_object_stream[Job](math.inf)
        self._idle = 0
        # Per step, computed once: the timeout and the idempotency key (hot path).
        self._timeouts = {sid: s.policy.timeout_s for sid, s in steps.items()}
        self._keys = {sid: _key(execution_id, sid, plan_version) for sid in steps}
        # Steps whose current attempt was answered by the smart cache (set by `_from_cache`,
        # read by `_run_attempt` once the attempt returns).
        self._cache_hits: set[str] = set()
        # The interceptors' plain-call hooks, when they all have them (the telemetry
        # interceptors do): called directly around each attempt, they cost a fraction of a
        # context manager per interceptor (see `baton.core.interceptors`).
        self._watchers = attempt_watchers(options.interceptors)
        hooks = attempt_hooks(self._watchers) if self._watchers else None
        self._hooks = joined_hooks(hooks) if hooks is not None else None

    def add_steps(self, steps: Mapping[str, Step], plan_version: int) -> None:
        """Steps a revised plan starts afresh: ready their timeouts and idempotency keys.

        A step that failed and is run again by a revision is a new piece of work, so its key
        is new too: an external system must not answer it with the failed one's result.
        """
        for sid, step in steps.items():
            self._timeouts[sid] = step.policy.timeout_s
            self._keys[sid] = _key(self._id, sid, plan_version)

    @property
    def sink(self) -> StreamSink:
        """Where agents' log / progress / partial calls go."""
        return self._sink

    def close(self) -> None:
        """No more jobs: idle workers end."""
        self._jobs_send.close()
        self._jobs_recv.close()

    def dispatch(self, tg: TaskGroup, sid: str, attempt: int) -> None:
        """Hand a started step to an idle worker, or to a new one if none is idle."""
        job = (sid, attempt)
        if self._idle > 0:
            self._idle -= 1
            self._jobs_send.send_nowait(job)
        else:
            tg.start_soon(self._worker, job)

    async def _worker(self, first: Job) -> None:
        """Run jobs until the job stream closes; a fired deadline times the current step out."""
        job = first
        began = 0.0
        with anyio.CancelScope() as scope:
            while True:
                sid, attempt = job
                timeout = self._timeouts[sid]
                scope.deadline = math.inf if timeout is None else anyio.current_time() + timeout
                began = self._clock()
                await self._run_attempt(sid, attempt, began)
                # No await between here and going idle, so the deadline cannot fire unseen.
                scope.deadline = math.inf
                if scope.cancel_called:
                    # The deadline fired but the agent swallowed the cancellation and returned;
                    # its result stands. The scope stays cancelled, so retire this worker.
                    return
                self._idle += 1
                try:
                    job = await receive(self._jobs_recv)
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    return
        # Only a fired deadline gets here: the running step timed out.
        sid = job[0]
        error = StepTimeoutError(
            f"step {sid!r} ran longer than its timeout of "
            f"{self._steps[sid].policy.timeout_s or 0:g} s",
            hint="raise policy.timeout_s for this step if it needs longer",
        )
        self._report_failure(sid, error, began)

    async def _run_attempt(self, sid: str, attempt: int, began: float) -> None:
        agent = self._agents[sid]
        interceptors = self._watchers
        try:
            if not interceptors:
                output = await self._call_agent(self._steps[sid], agent, attempt)
            elif (hooks := self._hooks) is not None:
                # The fast path (see `__init__`): what `around_attempt` does, without an
                # async context manager per attempt.
                enter, leave = hooks
                state = enter(self._id, sid, agent.spec.name, attempt)
                try:
                    output = await self._call_agent(self._steps[sid], agent, attempt)
                except BaseException as exc:
                    leave(state, exc)
                    raise
                leave(state, None)
            else:
                async with around_attempt(interceptors, self._id, sid, agent.spec.name, attempt):
                    output = await self._call_agent(self._steps[sid], agent, attempt)
        except Exception as exc:
            self._report_failure(sid, exc, began)
            return
        took = self._clock() - began
        if self._cache_hits and sid in self._cache_hits:
            # The agent did not run: its stats (which estimate its duration) stay as they are.
            self._cache_hits.discard(sid)
            self._inbox.send_nowait(Done(sid, output, took, cached=True))
            return
        # Stats go to the agent that ran, which differs from the plan's after an alternative.
        self._registry.record(agent.spec.name, ok=True, duration_s=took)
        self._inbox.send_nowait(Done(sid, output, took))

    def _report_failure(self, sid: str, error: Exception, began: float) -> None:
        self._cache_hits.discard(sid)  # a hit whose attempt failed after all (an interceptor)
        took = self._clock() - began
        name = self._agents[sid].spec.name
        self._registry.record(name, ok=False, duration_s=took, error=str(error))
        self._inbox.send_nowait(Failed(sid, error))

    async def _call_agent(self, step: Step, agent: Agent, attempt: int) -> dict[str, Any]:
        spec = agent.spec
        approved = self._approved_inputs.pop(step.id, None)
        raw = approved if approved is not None else resolve_inputs(step.inputs, self._outputs)
        try:
            inputs = spec.input_model.model_validate(raw)
        except ValidationError as exc:
            raise AgentInputError(
                f"inputs of step {step.id!r} do not fit agent {spec.name!r}: "
                + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            ) from None
        opts = self._options
        if opts.cache is not None and step.policy.cache and spec.cacheable:
            return await self._from_cache(opts.cache, step, agent, inputs, attempt)
        return await self._run_agent(step, agent, inputs, attempt)

    async def _from_cache(
        self, cache: ResultCache, step: Step, agent: Agent, inputs: BaseModel, attempt: int
    ) -> dict[str, Any]:
        """The cached output for these inputs, or the agent's, which is then cached.

        The key is over the validated inputs, so inputs that differ only by a default the
        agent fills in share an entry.
        """
        spec, workspace_id = agent.spec, self._workspace_id
        key = cache.key(workspace_id, spec, inputs.model_dump(mode="json"))
        if key is None:
            return await self._run_agent(step, agent, inputs, attempt)
        cached = await cache.lookup(key)
        if self._options.on_cache_lookup is not None:
            self._options.on_cache_lookup(cached is not None)
        if cached is not None:
            self._cache_hits.add(step.id)
            return cached
        output = await self._run_agent(step, agent, inputs, attempt)
        await cache.save(key, workspace_id=workspace_id, agent=spec.name, output=output)
        return output

    async def _run_agent(
        self, step: Step, agent: Agent, inputs: BaseModel, attempt: int
    ) -> dict[str, Any]:
        """Run one attempt of the agent on validated `inputs`, holding the step's locks."""
        opts = self._options
        ctx = AgentContext(
            execution_id=self._id,
            step_id=step.id,
            attempt=attempt,
            idempotency_key=self._keys[step.id],
            workspace=opts.workspace,
            secrets=opts.secrets,
            sink=self._sink,
            context=self._context,
            messenger=self._hub.messenger(step.id) if self._hub is not None else None,
            model_scope=await self._model_scope(step.id),
        )
        if opts.locks is not None and step.resources:
            owner = f"{self._id}:{step.id}:{attempt}"  # unique per attempt, as the locks need
            async with opts.locks.hold(step.resources, owner) as held:
                ctx.fence = _HeldFence(opts.locks, held.tokens)
                return await self._guarded_run(agent, inputs, ctx)
        return await self._guarded_run(agent, inputs, ctx)

    async def _guarded_run(
        self, agent: Agent, inputs: BaseModel, ctx: AgentContext
    ) -> dict[str, Any]:
        """Run the agent within its integration's rate limit, if one is configured."""
        limiter = self._options.rate_limiter
        if limiter is None or agent.spec.rate_limit_key is None:
            result = await agent.run(inputs, ctx)
        else:
            async with limiter.slot(agent.spec.rate_limit_key):
                result = await agent.run(inputs, ctx)
        return result.model_dump(mode="json")


def _key(execution_id: str, step_id: str, plan_version: int) -> str:
    """The step's idempotency key; steps of a revised plan carry the plan's version."""
    key = idempotency_key(execution_id, step_id)
    return key if plan_version == 1 else f"{key}:v{plan_version}"


class _HeldFence:
    """`Fence` over the locks a step's attempt holds."""

    def __init__(self, locks: ResourceLocks, tokens: Mapping[str, int]) -> None:
        self._locks = locks
        self._tokens = tokens

    def covers(self, resource: str) -> bool:
        return resource in self._tokens

    async def still_held(self, resource: str) -> bool:
        return await self._locks.still_held(resource, self._tokens[resource])
