// One execution: its overall status, the plan's DAG coloured live, and the selected step.
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { DagView, type NodeInfo } from "../components/DagView";
import { ErrorNote } from "../components/ErrorNote";
import { StatusBadge } from "../components/StatusBadge";
import { StepDetail } from "../components/StepDetail";
import { api, errorText } from "../lib/api";
import { applyEvent, initialState, isFinished, planVersion, type ExecState } from "../lib/execution";
import { label, time } from "../lib/format";
import { href, navigate } from "../lib/router";
import { useCanAct } from "../lib/session";
import { useEventStream } from "../lib/stream";
import { RUN_EVENT_KINDS, type ExecutionDetail, type RunEvent, type StepOut } from "../lib/types";

type Action = { type: "init"; state: ExecState } | { type: "event"; event: RunEvent };

function reducer(state: ExecState | null, action: Action): ExecState | null {
  if (action.type === "init") return action.state;
  return state ? applyEvent(state, action.event) : state;
}

export function ExecutionPage({ executionId, stepId }: { executionId: string; stepId: string | null }) {
  const canAct = useCanAct();
  const [detail, setDetail] = useState<ExecutionDetail | null>(null);
  const [state, dispatch] = useReducer(reducer, null);
  const [error, setError] = useState<string | null>(null);
  const [streamKey, setStreamKey] = useState(0);
  const [busy, setBusy] = useState(false);
  const stateRef = useRef(state);
  stateRef.current = state;

  const load = useCallback(async () => {
    try {
      const base = `/api/orchestrate/${encodeURIComponent(executionId)}`;
      const [d, steps] = await Promise.all([api<ExecutionDetail>(base), api<StepOut[]>(`${base}/steps`)]);
      setDetail(d);
      dispatch({ type: "init", state: initialState(d.status, d.error ?? null, d.plan, steps) });
      setError(null);
    } catch (exc) {
      setError(errorText(exc));
    }
  }, [executionId]);

  useEffect(() => {
    void load();
  }, [load]);

  // Only once the REST state is in: the stream then replays every event over it, in order.
  const streamUrl = detail ? `/api/orchestrate/${encodeURIComponent(executionId)}/stream${streamKey ? `?again=${streamKey}` : ""}` : null;
  const [problem, setProblem] = useState<string | null>(null);
  useEventStream({
    url: streamUrl,
    events: RUN_EVENT_KINDS,
    onEvent: (_name, data) => dispatch({ type: "event", event: data as RunEvent }),
    isLast: (name) => name === "execution_finished",
    isOver: () => (stateRef.current ? isFinished(stateRef.current.status) : false),
    onProblem: setProblem,
  });

  const onCancel = async () => {
    setBusy(true);
    try {
      await api(`/api/orchestrate/${encodeURIComponent(executionId)}/cancel`, { method: "POST" });
      setError(null);
    } catch (exc) {
      setError(errorText(exc));
    } finally {
      setBusy(false);
    }
  };

  const onResume = async () => {
    setBusy(true);
    try {
      await api(`/api/orchestrate/${encodeURIComponent(executionId)}/resume`, { method: "POST" });
      // The old stream closed at execution_finished: start over from the REST state and replay.
      await load();
      setStreamKey((k) => k + 1);
    } catch (exc) {
      setError(errorText(exc));
    } finally {
      setBusy(false);
    }
  };

  const info = useMemo(() => {
    const out: Record<string, NodeInfo> = {};
    if (!state) return out;
    for (const [id, s] of Object.entries(state.steps)) {
      out[id] = { status: s.status, attempts: s.attempts, duration_s: s.duration_s, rung: s.rung };
    }
    return out;
  }, [state]);

  const counts = useMemo(() => {
    const c = new Map<string, number>();
    for (const s of Object.values(state?.steps ?? {})) c.set(s.status, (c.get(s.status) ?? 0) + 1);
    return [...c.entries()].map(([s, n]) => `${n} ${label(s)}`).join(" · ");
  }, [state]);

  const select = useCallback(
    (id: string) => navigate(`${href("executions", executionId)}/steps/${encodeURIComponent(id)}`),
    [executionId],
  );

  if (!detail || !state) {
    return (
      <section>
        <h1>Execution {executionId}</h1>
        <ErrorNote error={error} />
        {!error && <p role="status">Loading…</p>}
      </section>
    );
  }

  // The plan that runs now (a replan replaces it live), not the one first loaded.
  const steps = state.plan.steps;
  const version = planVersion(state.plan);
  const step = stepId ? steps.find((s) => s.id === stepId) : undefined;
  const finished = isFinished(state.status);
  return (
    <section>
      <h1>Execution {detail.name || detail.id}</h1>
      <div className="row status-line">
        <span>
          Status: <StatusBadge status={state.status} testId="execution-status" />
        </span>
        <span className="muted">{counts}</span>
        <span className="grow" />
        <a href={`#/logs?execution=${encodeURIComponent(executionId)}`}>Live logs of this execution</a>
        {canAct && !finished && (
          <button type="button" className="danger" data-testid="cancel-button" disabled={busy || detail.cancel_requested} onClick={() => void onCancel()}>
            Cancel
          </button>
        )}
        {canAct && (state.status === "waiting" || state.status === "cancelled") && (
          <button type="button" data-testid="resume-button" disabled={busy} onClick={() => void onResume()}>
            Resume
          </button>
        )}
      </div>
      <ErrorNote error={error ?? problem} />
      <dl className="facts">
        <div>
          <dt>Id</dt>
          <dd>{detail.id}</dd>
        </div>
        <div>
          <dt>Request</dt>
          <dd className="wrap">{detail.request ?? "(a plan)"}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{time(detail.created_at)}</dd>
        </div>
        {version > 1 && (
          <div>
            <dt>Plan</dt>
            <dd data-testid="plan-version">
              version {version}, revised: {state.revised_because ?? "(no reason given)"}
            </dd>
          </div>
        )}
        {state.waiting_reason && (
          <div>
            <dt>Waiting for</dt>
            <dd>
              {state.waiting_reason} (<a href="#/approvals">approval queue</a>)
            </dd>
          </div>
        )}
        {state.error && (
          <div>
            <dt>Error</dt>
            <dd className="error-text">{state.error}</dd>
          </div>
        )}
      </dl>
      <h2>Steps</h2>
      <p className="muted small">Select a step (click, or Enter on a focused step) to see its inputs, outputs, errors and trace.</p>
      <DagView
        steps={steps}
        info={info}
        selected={stepId}
        onSelect={select}
        testId="execution-tree"
        caption={`Execution tree of ${steps.length} steps, left to right.`}
      />
      {step && state.steps[step.id] && (
        <StepDetail executionId={executionId} step={step} state={state.steps[step.id]!} executionStatus={state.status} onClose={() => navigate(href("executions", executionId))} />
      )}
    </section>
  );
}
