// The approval queue: pending approvals with their impact; approve (inputs editable) or reject.
import { useCallback, useEffect, useState } from "react";
import { ErrorNote } from "../components/ErrorNote";
import { api, errorText } from "../lib/api";
import { json, time } from "../lib/format";
import { href } from "../lib/router";
import { useCanAct } from "../lib/session";
import { useEventStream } from "../lib/stream";
import type { Approval } from "../lib/types";

const WORKSPACE_EVENTS = ["execution_waiting", "execution_finished", "execution_started"] as const;
const POLL_MS = 5000;

export function Approvals() {
  const [items, setItems] = useState<Approval[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setItems(await api<Approval[]>("/api/approvals"));
      setError(null);
    } catch (exc) {
      setError(errorText(exc));
    }
  }, []);

  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), POLL_MS);
    return () => window.clearInterval(timer);
  }, [load]);

  // A gated step makes its execution wait: that is the moment a new approval appears.
  useEventStream({
    url: "/api/stream",
    events: WORKSPACE_EVENTS,
    onEvent: () => void load(),
    onOpen: (first) => {
      if (!first) void load();
    },
  });

  return (
    <section data-testid="approval-queue">
      <h1>Approval queue</h1>
      <ErrorNote error={error} />
      {items === null && !error && <p role="status">Loading…</p>}
      {items && items.length === 0 && <p>No step is waiting for approval.</p>}
      {items?.map((a) => (
        <ApprovalCard key={a.id} approval={a} onDecided={() => void load()} />
      ))}
    </section>
  );
}

function ApprovalCard({ approval: a, onDecided }: { approval: Approval; onDecided: () => void }) {
  const canAct = useCanAct();
  const [inputs, setInputs] = useState(() => json(a.inputs));
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const reversible = a.impact.reversible;
  const targets = Array.isArray(a.impact.targets) ? a.impact.targets : [];

  const decide = async (kind: "approve" | "reject") => {
    let body: Record<string, unknown>;
    if (kind === "approve") {
      let edited: unknown;
      try {
        edited = JSON.parse(inputs);
      } catch (exc) {
        setError(`the inputs are not valid JSON: ${(exc as Error).message}`);
        return;
      }
      const changed = JSON.stringify(edited) !== JSON.stringify(a.inputs);
      body = changed ? { edited_inputs: edited } : {};
    } else {
      if (!reason.trim()) {
        setError("say why you reject it");
        return;
      }
      body = { reason: reason.trim() };
    }
    setBusy(true);
    setError(null);
    try {
      await api(`/api/approvals/${encodeURIComponent(a.id)}/${kind}`, { method: "POST", body });
      onDecided();
    } catch (exc) {
      setError(errorText(exc));
      setBusy(false);
    }
  };

  const ids = { inputs: `inputs-${a.id}`, reason: `reason-${a.id}`, title: `approval-title-${a.id}` };
  return (
    <article className="card approval" data-testid={`approval-${a.id}`} aria-labelledby={ids.title}>
      <h2 id={ids.title}>
        Step {a.step_id} <span className="muted">({a.agent})</span>
      </h2>
      <dl className="facts">
        <div>
          <dt>Execution</dt>
          <dd>
            <a href={`${href("executions", a.execution_id)}/steps/${encodeURIComponent(a.step_id)}`}>{a.execution_id}</a>
          </dd>
        </div>
        <div>
          <dt>Why approval</dt>
          <dd>{a.reason}</dd>
        </div>
        <div>
          <dt>Impact</dt>
          <dd data-testid="approval-impact">{typeof a.impact.summary === "string" ? a.impact.summary : json(a.impact)}</dd>
        </div>
        <div>
          <dt>Targets</dt>
          <dd>{targets.length ? targets.join(", ") : "none found"}</dd>
        </div>
        <div>
          <dt>Reversible</dt>
          <dd data-testid="approval-reversible" className={reversible === false ? "error-text" : undefined}>
            {reversible === undefined ? "unknown" : reversible ? "yes, it can be undone" : "no: it cannot be undone"}
          </dd>
        </div>
        <div>
          <dt>Requested</dt>
          <dd>{time(a.created_at)}</dd>
        </div>
        <div>
          <dt>Expires</dt>
          <dd>{time(a.expires_at)}</dd>
        </div>
      </dl>
      {canAct ? (
        <div className="decide">
          <div className="stack">
            <label htmlFor={ids.inputs}>Inputs (JSON; edit to approve with other inputs)</label>
            <textarea id={ids.inputs} data-testid="approval-inputs" className="code" rows={5} spellCheck={false} value={inputs} onChange={(e) => setInputs(e.target.value)} />
            <div className="row">
              <button type="button" className="primary" data-testid="approve-button" disabled={busy} onClick={() => void decide("approve")}>
                Approve
              </button>
            </div>
          </div>
          <div className="stack">
            <label htmlFor={ids.reason}>Reason to reject</label>
            <input id={ids.reason} data-testid="reject-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
            <div className="row">
              <button type="button" className="danger" data-testid="reject-button" disabled={busy} onClick={() => void decide("reject")}>
                Reject
              </button>
            </div>
          </div>
        </div>
      ) : (
        <>
          <h3>Inputs</h3>
          <pre>{json(a.inputs)}</pre>
        </>
      )}
      <ErrorNote error={error} />
    </article>
  );
}
