// Step detail: inputs, outputs (partial results live), errors, idempotency key, locks, trace.
import { useEffect, useRef, useState } from "react";
import { ErrorNote } from "./ErrorNote";
import { StatusBadge } from "./StatusBadge";
import { TraceTimeline } from "./TraceTimeline";
import { api, errorText } from "../lib/api";
import type { StepState } from "../lib/execution";
import { json, seconds, time } from "../lib/format";
import { dependenciesOf } from "../lib/graph";
import type { PlanStep, Trace } from "../lib/types";

interface Props {
  executionId: string;
  step: PlanStep;
  state: StepState;
  /** The execution's status: spans are often exported when it ends. */
  executionStatus: string;
  onClose: () => void;
}

export function StepDetail({ executionId, step, state, executionStatus, onClose }: Props) {
  const [trace, setTrace] = useState<Trace | null>(null);
  const [traceError, setTraceError] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
  }, [step.id]);

  // Spans are stored in batches after they end: fetch the trace on opening, whenever the
  // step or the execution changes status, and once more a little later.
  useEffect(() => {
    const ctrl = new AbortController();
    const fetchTrace = () =>
      api<Trace>(`/api/orchestrate/${encodeURIComponent(executionId)}/trace`, { signal: ctrl.signal })
        .then((t) => {
          setTrace(t);
          setTraceError(null);
        })
        .catch((exc: unknown) => {
          if (!(exc instanceof DOMException)) setTraceError(errorText(exc));
        });
    void fetchTrace();
    const later = window.setTimeout(() => void fetchTrace(), 2000);
    return () => {
      window.clearTimeout(later);
      ctrl.abort();
    };
  }, [executionId, step.id, state.status, executionStatus]);

  const resources = step.resources ?? [];
  const running = state.status === "running";
  return (
    <section className="card step-detail" data-testid="step-detail" aria-labelledby="step-detail-title">
      <div className="row">
        <h2 id="step-detail-title" ref={heading} tabIndex={-1}>
          Step {step.id}
        </h2>
        <span className="grow" />
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={state.status} />
          </dd>
        </div>
        <div>
          <dt>Agent</dt>
          <dd>{step.agent}</dd>
        </div>
        <div>
          <dt>Attempts</dt>
          <dd>{state.attempts}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>
            {seconds(state.duration_s)}
            {state.cached && <span data-testid="step-cached"> (output reused from the result cache; the agent did not run)</span>}
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{time(state.started_at)}</dd>
        </div>
        <div>
          <dt>Finished</dt>
          <dd>{time(state.finished_at)}</dd>
        </div>
        <div>
          <dt>Idempotency key</dt>
          <dd>
            <code data-testid="idempotency-key">{`${executionId}:${step.id}`}</code>
          </dd>
        </div>
        <div>
          <dt>Locks {running ? "held" : "taken while running"}</dt>
          <dd data-testid="step-locks">{resources.length ? resources.join(", ") : "none"}</dd>
        </div>
        {state.rung && (
          <div>
            <dt>Recovery rung</dt>
            <dd>
              {state.rung}
              {state.rung_detail ? `: ${state.rung_detail}` : ""}
            </dd>
          </div>
        )}
        {state.approval_id && (
          <div>
            <dt>Approval</dt>
            <dd>
              {state.approval_id} (<a href="#/approvals">approval queue</a>)
            </dd>
          </div>
        )}
        {state.progress && (
          <div>
            <dt>Progress</dt>
            <dd>
              {state.progress.fraction !== null ? `${Math.round(state.progress.fraction * 100)}% ` : ""}
              {state.progress.message}
            </dd>
          </div>
        )}
      </dl>
      {step.description && <p>{step.description}</p>}
      <h3>Inputs</h3>
      <pre data-testid="step-inputs">{json(step.inputs ?? {})}</pre>
      {dependenciesOf(step).length > 0 && <p>Depends on: {dependenciesOf(step).join(", ")}</p>}
      <h3>Outputs</h3>
      {state.output ? <pre data-testid="step-output">{json(state.output)}</pre> : <p className="muted">No output yet.</p>}
      {state.partials.length > 0 && (
        <>
          <h4>Partial results ({state.partials.length})</h4>
          <ol className="partials" data-testid="step-partials" aria-live="polite">
            {state.partials.slice(-50).map((p, i) => (
              <li key={i}>
                <code>{JSON.stringify(p)}</code>
              </li>
            ))}
          </ol>
        </>
      )}
      <h3>Errors</h3>
      {state.error || state.retries.length ? (
        <>
          {state.error && (
            <p className="error-text" data-testid="step-error">
              {state.error_type ? `${state.error_type}: ` : ""}
              {state.error}
            </p>
          )}
          {state.retries.length > 0 && (
            <ol data-testid="step-retries">
              {state.retries.map((r, i) => (
                <li key={i}>
                  Attempt {r.attempt} failed: {r.error} (retried after {seconds(r.delay_s)})
                </li>
              ))}
            </ol>
          )}
        </>
      ) : (
        <p className="muted">None.</p>
      )}
      <h3>Trace</h3>
      <ErrorNote error={traceError} />
      {trace && <TraceTimeline trace={trace} stepId={step.id} />}
    </section>
  );
}
