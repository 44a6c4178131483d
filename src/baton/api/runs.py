"""Executions the server runs in the background of its lifespan.

A request that starts or resumes an execution returns as soon as the execution is stored;
the run goes on in a task group owned by the app, so shutting the server down cancels the
runs cleanly (each records its steps as cancelled, and ``baton serve`` takes them up again
at its next start). One execution is run at most once at a time in this process; across
processes its lease keeps that promise.
"""

from __future__ import annotations

import logging

import anyio
from anyio.abc import TaskGroup

from baton.app import Baton
from baton.core.lease import LeaseHeldError
from baton.core.plan import Plan
from baton.errors import BatonError, ExecutionStateError
from baton.store.records import ExecutionRecord

__all__ = ["BackgroundRuns"]

log = logging.getLogger("baton.api.runs")


class BackgroundRuns:
    """Starts executions in `task_group` and remembers which are running."""

    def __init__(self, baton: Baton, task_group: TaskGroup) -> None:
        self._baton = baton
        self._tg = task_group
        self._running: set[str] = set()

    @property
    def running(self) -> frozenset[str]:
        """Ids of the executions running in this process now."""
        return frozenset(self._running)

    async def start(self, plan: Plan, *, request: str | None, workspace_id: str) -> ExecutionRecord:
        """Store a new execution of `plan` and run it in the background.

        Raises:
            PlanValidationError: the plan is wrong; nothing is stored.
        """
        record = await self._baton.orchestrator.create(
            plan, request=request, workspace_id=workspace_id
        )
        self._launch(record.id)
        return record

    async def resume(self, execution_id: str) -> ExecutionRecord:
        """Go on with a stored execution (cancelled, waiting, or orphaned) in the background.

        Raises:
            ExecutionStateError: it is running here already, or has already finished.
        """
        if execution_id in self._running:
            raise ExecutionStateError(
                f"execution {execution_id} is running already",
                hint="watch it with its stream; cancel it first to stop it",
            )
        record = await self._baton.store.get_execution(execution_id)
        self._baton.orchestrator.check_resumable(record)
        self._launch(execution_id)
        return record

    async def recover(self) -> int:
        """Take up the executions a dead process left running; how many were started."""
        found = await self._baton.orchestrator.recoverable()
        for record, owner in found:
            self._launch(record.id, take_over_from=owner)
        return len(found)

    def _launch(self, execution_id: str, *, take_over_from: str | None = None) -> None:
        self._running.add(execution_id)
        self._tg.start_soon(self._run, execution_id, take_over_from)

    async def _run(self, execution_id: str, take_over_from: str | None) -> None:
        try:
            await self._baton.orchestrator.execute(execution_id, take_over_from=take_over_from)
        except LeaseHeldError:
            log.info("execution %s is run by another process", execution_id)
        except BatonError as exc:
            log.warning("execution %s stopped: %s", execution_id, exc)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception:
            # A bug in one run must not take the server (and every other run) down.
            log.exception("execution %s crashed", execution_id)
        finally:
            self._running.discard(execution_id)
