"""Composition root: build every part from `Settings`. Nothing happens at import time.

```python
async with Baton.open() as b:
    result = await b.run("read notes.txt and summarize it")
```
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from baton.agents.builtin import AgentResources, builtin_agents
from baton.agents.discovery import DiscoveryReport, discover
from baton.agents.protocol import Agent
from baton.agents.registry import AgentRegistry
from baton.core.caching import ResultCache
from baton.core.executor import EventCallback, ExecutionResult, Executor, ExecutorOptions
from baton.core.ladder import LadderPolicy
from baton.core.lease import LeaseHeldError
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan
from baton.core.run_state import ConcurrencyLimits
from baton.core.spending import ExecutionUsage, execution_usage
from baton.core.validation import validate_plan
from baton.enterprise.sessions import Sessions
from baton.enterprise.tenancy import Tenancy
from baton.events import RunEvent
from baton.llm.factory import build_model_client
from baton.llm.recording import StoreObserver
from baton.llm.usage import Budget, UsageTotals
from baton.observability.alerts import Alerts, build_alerts
from baton.observability.logs import LogAggregator
from baton.observability.metrics import Metrics
from baton.observability.tracing import Tracing, setup_tracing
from baton.planning.llm import LLMPlanner
from baton.planning.offline import OfflinePlanner
from baton.planning.protocol import Planner, PlanningContext
from baton.safety.approvals import Approvals
from baton.safety.locks import ResourceLocks
from baton.safety.rate_limit import RateLimit, RateLimiter
from baton.settings import Settings, load_settings
from baton.store.alerts import Activity, AlertStore, MemoryAlertStore, StoreActivity
from baton.store.approvals import ApprovalStore, MemoryApprovalStore
from baton.store.calendar import CalendarStore, MemoryCalendarStore
from baton.store.context import ContextStore, MemoryContextStore
from baton.store.feedback import FeedbackStore, MemoryFeedbackStore
from baton.store.locks import LockStore, MemoryLockStore
from baton.store.logs import LogStore, MemoryLogStore
from baton.store.memory import MemoryExecutionStore
from baton.store.messages import MemoryMessageStore, MessageStore
from baton.store.model_calls import MemoryModelCallStore, ModelCallStore
from baton.store.protocol import ExecutionStore
from baton.store.rate_limits import AdmissionStore
from baton.store.result_cache import MemoryResultCacheStore, ResultCacheStore
from baton.store.sessions import MemorySessionStore, SessionStore
from baton.store.tenancy import MemoryTenancyStore, TenancyStore
from baton.store.traces import MemoryTraceStore, TraceStore
from baton.streaming.bus import EventBus
from baton.streaming.publishing_store import PublishingStore

if TYPE_CHECKING:
    from baton.llm.client import ModelCallObserver, ModelClient
    from baton.observability.key_metrics import KeyMetrics
    from baton.store.sql.database import Database


@dataclass(slots=True, kw_only=True)
class Baton:
    """The assembled engine: registry, store, planner and orchestrator."""

    settings: Settings
    """The settings it was built from."""
    registry: AgentRegistry
    """Every agent found by discovery (and any registered by hand)."""
    store: ExecutionStore
    """Executions, steps and the event log."""
    calendar: CalendarStore
    """The embedded calendar."""
    planner: Planner
    """Turns requests into plans."""
    orchestrator: Orchestrator
    """Creates, runs, resumes and cancels executions."""
    approvals: Approvals
    """Human approval gates: requests, decisions, expiry and one-time use."""
    tenancy: Tenancy
    """Workspaces, users and API keys; authenticates API requests."""
    tenancy_store: TenancyStore
    """Where workspaces, users and API keys are kept."""
    sessions: Sessions
    """Dashboard sign-in sessions (cookie authentication of the API)."""
    feedback: FeedbackStore
    """People's feedback on executions."""
    bus: EventBus
    """Every event this process commits, live, for SSE subscribers (see `baton.streaming`)."""
    alerts: Alerts
    """The alert rules and their evaluator (``baton serve`` runs it; ``baton alerts``)."""
    tracing: Tracing
    """OpenTelemetry spans of executions, planning and model calls (``baton traces show``)."""
    logs: LogStore
    """The log aggregator's records: search, tail, export, purge (`baton.observability.logs`)."""
    discovery: DiscoveryReport = field(default_factory=DiscoveryReport)
    """What discovery found, and the plugins that failed to load."""
    metrics: Metrics | None = None
    """Prometheus metrics of this engine (``GET /metrics``); None when turned off."""
    database: Database | None = None
    """The SQL database (for aggregate reads such as ``GET /api/stats``); None in memory."""
    model: ModelClient | None = None
    """The configured language model (planning, text agents); None plans offline."""
    model_calls: ModelCallStore = field(default_factory=MemoryModelCallStore)
    """Every model call made for an execution: tokens, latency, cost (``executions show``)."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        in_memory: bool = False,
        agents: Iterable[Agent] = (),
        discover_plugins: bool = True,
    ) -> AsyncIterator[Baton]:
        """Build the engine; close its connections on exit.

        Args:
            settings: Configuration; read from the environment when omitted.
            in_memory: Keep state in memory only (tests, notebooks); nothing is written.
            agents: Extra agents to register (e.g. ones defined with `@agent` in a script).
            discover_plugins: Also load entry-point and plugins-folder agents.
        """
        settings = settings or load_settings()
        async with AsyncExitStack() as stack:
            stores = await _open_stores(settings, in_memory, stack)
            bus = EventBus(
                max_queue=settings.stream_queue_size, heartbeat_s=settings.stream_heartbeat_s
            )
            # Shut down after the database is disposed of: pushed later, it runs first and
            # flushes the spans left while the trace store can still take them.
            tracing = setup_tracing(settings, stores.traces)
            stack.push_async_callback(tracing.shutdown)
            # Entered after the database: left (its last records written) before it closes.
            aggregator = await stack.enter_async_context(
                LogAggregator.from_settings(stores.logs, settings)
            )
            if tracing.interceptor is not None:
                # One context write per step attempt for its span and its log context.
                tracing.interceptor.carry_log_context(aggregator.interceptor)
            # Events reach live subscribers only after their commit, from the store itself.
            store: ExecutionStore = PublishingStore(
                tracing.wrap_store(stores.executions, system=stores.dialect), bus
            )
            calendar = stores.calendar
            approvals = Approvals.from_settings(stores.approvals, settings)
            registry = AgentRegistry()
            metrics = Metrics() if settings.metrics_enabled else None
            model, recorder = await _open_model(
                settings, stores.model_calls, metrics, tracing, stack
            )
            resources = AgentResources(
                workspace=settings.workspace,
                calendar=calendar,
                timezone=settings.timezone,
                model=model,
            )
            report = discover(
                registry,
                builtins=builtin_agents(resources),
                plugin_dirs=[settings.resolved_plugins_dir] if discover_plugins else [],
                entry_points=discover_plugins,
            )
            registry.register_all(agents, source="python")
            for name, past in (await store.agent_history()).items():
                if name in registry:
                    registry.seed(
                        name,
                        successes=past.succeeded,
                        failures=past.failed,
                        mean_duration_s=past.mean_duration_s or 0.0,
                    )
            if metrics is not None:
                metrics.watch_bus(bus)
                # Imported here: the OTel metrics SDK is only needed when OTLP is configured.
                from baton.observability.metrics_otel import setup_otel_metrics

                otel_metrics = setup_otel_metrics(metrics)
                if otel_metrics is not None:
                    stack.push_async_callback(otel_metrics.shutdown)
            planner: Planner = (
                LLMPlanner.from_settings(model, settings) if model is not None else OfflinePlanner()
            )
            rate_limiter = RateLimiter(
                {k: RateLimit(**v.model_dump()) for k, v in settings.rate_limits.items()},
                admissions=stores.admissions,
                on_wait=metrics.record_rate_limit_wait if metrics is not None else None,
            )
            executor = Executor(
                registry,
                store,
                options=ExecutorOptions(
                    limits=ConcurrencyLimits(max_concurrency=settings.max_concurrency),
                    workspace=settings.workspace,
                    rate_limiter=rate_limiter,
                    locks=ResourceLocks(stores.locks),
                    context_store=stores.context,
                    message_store=stores.messages,
                    approvals=approvals,
                    # Only a model can revise a plan in ways the recovery ladder cannot.
                    replanner=(
                        _PlannerReplanner(planner, registry, settings)
                        if isinstance(planner, LLMPlanner)
                        else None
                    ),
                    max_replans=settings.max_replans,
                    usage_of=_step_usage(stores.model_calls, recorder),
                    cache=(
                        ResultCache(stores.result_cache, ttl_s=settings.cache_ttl_s)
                        if settings.cache_enabled
                        else None
                    ),
                    on_cache_lookup=metrics.record_cache if metrics is not None else None,
                    interceptors=tuple(
                        i
                        for i in (
                            tracing.interceptor,
                            # After tracing: an attempt's span is current when it is entered.
                            aggregator.interceptor,
                            metrics.interceptor if metrics is not None else None,
                        )
                        if i is not None
                    ),
                ),
                recovery=LadderPolicy(registry),
            )
            tenancy = Tenancy(stores.tenancy)
            yield cls(
                settings=settings,
                registry=registry,
                store=store,
                calendar=calendar,
                planner=planner,
                orchestrator=Orchestrator(registry, store, executor),
                approvals=approvals,
                tenancy=tenancy,
                tenancy_store=stores.tenancy,
                sessions=Sessions(
                    stores.sessions, tenancy, stores.tenancy, ttl_s=settings.session_ttl_s
                ),
                feedback=stores.feedback,
                bus=bus,
                tracing=tracing,
                logs=stores.logs,
                alerts=build_alerts(
                    settings,
                    store=stores.alerts,
                    activity=stores.activity,
                    rate_limits=rate_limiter,
                    registry=metrics.registry if metrics is not None else None,
                    publish=bus.publish_notice,
                ),
                discovery=report,
                metrics=metrics,
                database=stores.database,
                model=model,
                model_calls=stores.model_calls,
            )

    def planning_context(self, budget: Budget | None = None) -> PlanningContext:
        """Now, in the configured time zone, with the execution's model budget."""
        return _planning_context(self.settings, budget)

    async def plan(self, request: str, *, budget: Budget | None = None) -> Plan:
        """Plan a request within `budget` (the plan carries it on to its execution).

        Raises:
            PlanningError: the request cannot be planned.
            BudgetExceededError: planning spent the budget.
        """
        with self.tracing.planning(planner=type(self.planner).__name__) as span:
            context = self.planning_context(budget)
            plan = await self.planner.plan(request, self.registry, context=context)
            if budget is not None:
                plan = plan.model_copy(update={"budget": budget})
            validate_plan(plan, self.registry)
            span.set_attribute("baton.step_count", len(plan.steps))
        return plan

    async def usage(self, execution_id: str) -> ExecutionUsage:
        """What an execution spent on models: planning (its plan's provenance) and each step.

        Raises:
            NotFoundError: there is no such execution.
        """
        record = await self.store.get_execution(execution_id)
        return execution_usage(
            Plan.model_validate(record.plan), await self.model_calls.totals_by_step(execution_id)
        )

    async def key_metrics(
        self, *, since: datetime, until: datetime, workspace_id: str | None = None
    ) -> KeyMetrics:
        """The six key metrics of the executions created in ``[since, until)``.

        What ``baton stats`` and ``GET /api/stats`` show: aggregated in SQL, or scanned in
        memory; token and cache usage included, cacheable agents taken from the registry.
        """
        # Imported here: SQLAlchemy is not needed to start an engine (or any CLI command).
        from baton.observability.key_metrics import UsageSource, key_metrics
        from baton.observability.key_metrics_scan import scan_key_metrics
        from baton.observability.key_usage import SqlUsage
        from baton.observability.key_usage_scan import ScanUsage

        cacheable = [s.name for s in self.registry.specs() if s.cacheable]
        usage: UsageSource
        if self.database is None:
            usage = ScanUsage(self.store, self.model_calls, cacheable)
            return await scan_key_metrics(
                self.store, since=since, until=until, workspace_id=workspace_id, usage=usage
            )
        usage = SqlUsage(self.database, cacheable)
        return await key_metrics(
            self.database, since=since, until=until, workspace_id=workspace_id, usage=usage
        )

    async def run(
        self, plan_or_request: Plan | str, *, on_event: EventCallback | None = None
    ) -> ExecutionResult:
        """Plan (if given a request), then run to the end; events go to `on_event`."""
        if isinstance(plan_or_request, str):
            plan = await self.plan(plan_or_request)
            return await self.orchestrator.run(plan, request=plan_or_request, on_event=on_event)
        return await self.orchestrator.run(plan_or_request, on_event=on_event)

    async def recover(self, *, on_event: EventCallback | None = None) -> list[ExecutionResult]:
        """Take up every execution left running by a process that died, and run it on.

        Steps whose completion was committed are not run again; a step that was running is
        re-run if its agent is idempotent and put in doubt otherwise (see `Orchestrator`).
        Executions another live process holds are left alone.
        """
        found = await self.orchestrator.recoverable()
        results: list[ExecutionResult] = []

        async def one(execution_id: str, owner: str | None) -> None:
            # Another process may take it up first: then it is in good hands.
            with contextlib.suppress(LeaseHeldError):
                results.append(
                    await self.orchestrator.execute(
                        execution_id, on_event=on_event, take_over_from=owner
                    )
                )

        async with anyio.create_task_group() as tg:
            for record, owner in found:
                tg.start_soon(one, record.id, owner)
        return results

    @asynccontextmanager
    async def start(self, plan_or_request: Plan | str) -> AsyncIterator[RunHandle]:
        """Run in the background of a scope, exposing events as an async iterator.

        ```python
        async with b.start(plan) as run:
            async for event in run.events:
                print(event.kind)
        print(run.result)
        ```
        """
        plan = (
            await self.plan(plan_or_request)
            if isinstance(plan_or_request, str)
            else plan_or_request
        )
        request = plan_or_request if isinstance(plan_or_request, str) else None
        send, receive = anyio.create_memory_object_stream[RunEvent](float("inf"))
        handle = RunHandle(events=receive)

        async def runner() -> None:
            with send:
                handle.result = await self.orchestrator.run(
                    plan, request=request, on_event=send.send_nowait
                )

        with receive:
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner)
                yield handle


@dataclass(slots=True, kw_only=True)
class RunHandle:
    """A run started with `Baton.start`."""

    events: MemoryObjectReceiveStream[RunEvent]
    """Every event of the run, in order; the iteration ends when the run does."""
    result: ExecutionResult | None = None
    """Set when the run has finished."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Stores:
    executions: ExecutionStore
    calendar: CalendarStore
    approvals: ApprovalStore
    locks: LockStore
    context: ContextStore
    messages: MessageStore
    admissions: AdmissionStore | None
    """Rate-limit quotas shared through the database; None keeps them in this process."""
    tenancy: TenancyStore
    sessions: SessionStore
    feedback: FeedbackStore
    alerts: AlertStore
    activity: Activity
    traces: TraceStore
    logs: LogStore
    model_calls: ModelCallStore
    result_cache: ResultCacheStore
    dialect: str | None
    database: Database | None = None
    """The SQL database the stores share; None in memory."""
    """``sqlite`` or ``postgresql``; None in memory."""


async def _open_stores(settings: Settings, in_memory: bool, stack: AsyncExitStack) -> _Stores:
    if in_memory:
        executions = MemoryExecutionStore()
        return _Stores(
            executions=executions,
            calendar=MemoryCalendarStore(),
            approvals=MemoryApprovalStore(),
            locks=MemoryLockStore(),
            context=MemoryContextStore(),
            messages=MemoryMessageStore(),
            admissions=None,
            tenancy=MemoryTenancyStore(),
            sessions=MemorySessionStore(),
            feedback=MemoryFeedbackStore(),
            alerts=MemoryAlertStore(),
            activity=StoreActivity(executions),
            traces=MemoryTraceStore(),
            logs=MemoryLogStore(),
            model_calls=MemoryModelCallStore(),
            result_cache=MemoryResultCacheStore(),
            dialect=None,
        )
    from baton.store.sql.alerts import SqlActivity, SqlAlertStore
    from baton.store.sql.approvals import SqlApprovalStore
    from baton.store.sql.calendar import SqlCalendarStore
    from baton.store.sql.context import SqlContextStore
    from baton.store.sql.database import open_database
    from baton.store.sql.execution_store import SqlExecutionStore
    from baton.store.sql.feedback import SqlFeedbackStore
    from baton.store.sql.locks import SqlLockStore
    from baton.store.sql.logs import SqlLogStore
    from baton.store.sql.messages import SqlMessageStore
    from baton.store.sql.model_calls import SqlModelCallStore
    from baton.store.sql.rate_limits import SqlAdmissionStore
    from baton.store.sql.result_cache import SqlResultCacheStore
    from baton.store.sql.schema import create_schema
    from baton.store.sql.sessions import SqlSessionStore
    from baton.store.sql.tenancy import SqlTenancyStore
    from baton.store.sql.traces import SqlTraceStore

    if settings.database_url is None:
        settings.prepare_data_dir()
    db = open_database(
        settings.resolved_database_url, busy_timeout_s=settings.database_busy_timeout_s
    )
    stack.push_async_callback(db.dispose)
    await create_schema(db)
    return _Stores(
        executions=SqlExecutionStore(db),
        calendar=SqlCalendarStore(db),
        approvals=SqlApprovalStore(db),
        locks=SqlLockStore(db),
        context=SqlContextStore(db),
        messages=SqlMessageStore(db),
        admissions=SqlAdmissionStore(db),
        tenancy=SqlTenancyStore(db),
        sessions=SqlSessionStore(db),
        feedback=SqlFeedbackStore(db),
        alerts=SqlAlertStore(db),
        activity=SqlActivity(db),
        traces=SqlTraceStore(db),
        logs=SqlLogStore(db),
        model_calls=SqlModelCallStore(db),
        result_cache=SqlResultCacheStore(db),
        dialect=db.dialect,
        database=db,
    )


def _planning_context(
    settings: Settings, budget: Budget | None = None, spent: UsageTotals | None = None
) -> PlanningContext:
    tz = settings.timezone
    return PlanningContext(now=datetime.now(ZoneInfo(tz)), timezone=tz, budget=budget, spent=spent)


async def _open_model(
    settings: Settings,
    calls: ModelCallStore,
    metrics: Metrics | None,
    tracing: Tracing,
    stack: AsyncExitStack,
) -> tuple[ModelClient | None, StoreObserver]:
    """The configured model client (None: offline), and what records its calls.

    Calls are written to `calls` by a background task for the engine's life, and flushed
    when the engine closes.
    """
    recorder = StoreObserver(calls)
    observers: list[ModelCallObserver] = [recorder]
    if metrics is not None:
        observers.append(metrics.model_call_observer())
    model = build_model_client(settings, observers=observers, span=tracing.model_call)
    if model is None:
        return None, recorder
    stack.push_async_callback(model.aclose)
    tasks = await stack.enter_async_context(anyio.create_task_group())
    tasks.start_soon(recorder.run)
    # Pushed last, so run first on exit: stop the writer (it flushes what is queued).
    stack.callback(tasks.cancel_scope.cancel)
    return model, recorder


def _step_usage(
    calls: ModelCallStore, recorder: StoreObserver
) -> Callable[[str], Awaitable[UsageTotals]]:
    """What an execution's steps spent on models (planning counts through the plan)."""

    async def usage_of(execution_id: str) -> UsageTotals:
        await recorder.flush()  # a call made a moment ago must count against the budget
        by_step = await calls.totals_by_step(execution_id)
        total = UsageTotals()
        for step_id, totals in by_step.items():
            if step_id is not None:
                total = total.merged(totals)
        return total

    return usage_of


class _PlannerReplanner:
    """The executor's `Replanner`, over a planner's ``replan``."""

    def __init__(self, planner: LLMPlanner, registry: AgentRegistry, settings: Settings) -> None:
        self._planner = planner
        self._registry = registry
        self._settings = settings

    async def __call__(
        self,
        plan: Plan,
        *,
        finished: Mapping[str, dict[str, Any]],
        failed: Mapping[str, str],
        reason: str,
        spent: UsageTotals,
    ) -> Plan:
        return await self._planner.replan(
            plan,
            finished=finished,
            failed=failed,
            reason=reason,
            registry=self._registry,
            context=_planning_context(self._settings, plan.budget, spent),
        )
