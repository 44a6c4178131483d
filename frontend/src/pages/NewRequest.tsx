// New request: plan (dry run) → see the graph, critical path and estimate → edit → run.
import { useMemo, useState, type FormEvent } from "react";
import { DagView, type NodeInfo } from "../components/DagView";
import { ErrorNote } from "../components/ErrorNote";
import { api, errorText } from "../lib/api";
import { criticalPath } from "../lib/graph";
import { json, seconds } from "../lib/format";
import { href, navigate } from "../lib/router";
import type { OrchestrateOut, PlanDoc, PlanPreview } from "../lib/types";

function parsePlan(text: string): { plan: PlanDoc | null; error: string | null } {
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== "object" || !Array.isArray((value as PlanDoc).steps)) {
      return { plan: null, error: "the plan must be a JSON object with a `steps` list" };
    }
    return { plan: value as PlanDoc, error: null };
  } catch (exc) {
    return { plan: null, error: `the plan is not valid JSON: ${(exc as Error).message}` };
  }
}

export function NewRequest() {
  const [request, setRequest] = useState("");
  const [preview, setPreview] = useState<PlanPreview | null>(null);
  const [planText, setPlanText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<"plan" | "check" | "run" | null>(null);
  const [edited, setEdited] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);

  const parsed = useMemo(() => (planText ? parsePlan(planText) : { plan: null, error: null }), [planText]);
  const shownPlan = parsed.plan ?? preview?.plan ?? null;
  // The server's critical path is for the plan it answered; after edits, compute our own.
  const path = useMemo(() => {
    if (!shownPlan) return [];
    if (preview && !edited && preview.critical_path.length) return preview.critical_path;
    return criticalPath(shownPlan.steps);
  }, [shownPlan, preview, edited]);
  const critical = useMemo(() => new Set(path), [path]);
  const info = useMemo(() => {
    const out: Record<string, NodeInfo> = {};
    for (const s of shownPlan?.steps ?? []) out[s.id] = { status: "planned" };
    return out;
  }, [shownPlan]);

  const dryRun = async (body: Record<string, unknown>, kind: "plan" | "check") => {
    setBusy(kind);
    setError(null);
    try {
      const out = await api<OrchestrateOut>("/api/orchestrate", { method: "POST", body: { ...body, dry_run: true } });
      if (!out.preview) throw new Error("the server answered without a plan");
      setPreview(out.preview);
      setPlanText(json(out.preview.plan));
      setEdited(false);
      setSelected(null);
    } catch (exc) {
      setError(errorText(exc));
    } finally {
      setBusy(null);
    }
  };

  const onPlan = (e: FormEvent) => {
    e.preventDefault();
    void dryRun({ request }, "plan");
  };

  const onRun = async () => {
    if (!parsed.plan) {
      setError(parsed.error ?? "plan the request first");
      return;
    }
    setBusy("run");
    setError(null);
    try {
      const body: Record<string, unknown> = { plan: parsed.plan };
      if (request.trim()) body.request = request;
      const out = await api<OrchestrateOut>("/api/orchestrate", { method: "POST", body });
      if (!out.execution) throw new Error("the server answered without an execution");
      navigate(href("executions", out.execution.id));
    } catch (exc) {
      setError(errorText(exc));
      setBusy(null);
    }
  };

  const selectedStep = shownPlan?.steps.find((s) => s.id === selected) ?? null;

  return (
    <section>
      <h1>New request</h1>
      <form onSubmit={onPlan} className="stack">
        <label htmlFor="request">Request</label>
        <textarea
          id="request"
          data-testid="request-input"
          rows={3}
          value={request}
          onChange={(e) => setRequest(e.target.value)}
          placeholder="e.g. uppercase the text 'hello world'"
          required
        />
        <div className="row">
          <button type="submit" className="primary" data-testid="plan-button" disabled={busy !== null || !request.trim()}>
            {busy === "plan" ? "Planning…" : "Plan"}
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {shownPlan && (
        <>
          <h2>Proposed plan{shownPlan.name ? `: ${shownPlan.name}` : ""}</h2>
          <dl className="facts">
            <div>
              <dt>Steps</dt>
              <dd>{shownPlan.steps.length}</dd>
            </div>
            <div>
              <dt>Estimated duration</dt>
              <dd data-testid="estimated-duration">
                {edited ? "re-check the edited plan for an estimate" : seconds(preview?.estimated_duration_s ?? null)}
              </dd>
            </div>
            <div>
              <dt>Critical path{edited || !preview?.critical_path.length ? " (by step count, computed here)" : ""}</dt>
              <dd data-testid="critical-path">{path.join(" → ") || "—"}</dd>
            </div>
          </dl>
          <DagView
            steps={shownPlan.steps}
            info={info}
            critical={critical}
            selected={selected}
            onSelect={(id) => setSelected(id === selected ? null : id)}
            testId="plan-graph"
            caption={`Plan graph of ${shownPlan.steps.length} steps, left to right; the critical path is outlined.`}
          />
          {selectedStep && (
            <div className="card">
              <h3>Step {selectedStep.id}</h3>
              <pre>{json(selectedStep)}</pre>
            </div>
          )}
          <h2>Edit or confirm</h2>
          <div className="stack">
            <label htmlFor="plan-json">Plan (JSON)</label>
            <textarea
              id="plan-json"
              data-testid="plan-json"
              className="code"
              rows={14}
              spellCheck={false}
              value={planText}
              onChange={(e) => {
                setPlanText(e.target.value);
                setEdited(true);
              }}
              aria-invalid={parsed.error ? true : undefined}
              aria-describedby={parsed.error ? "plan-json-error" : undefined}
            />
            {parsed.error && (
              <p id="plan-json-error" className="error">
                {parsed.error}
              </p>
            )}
            <div className="row">
              <button
                type="button"
                disabled={busy !== null || !parsed.plan || !edited}
                onClick={() => parsed.plan && void dryRun({ plan: parsed.plan, request: request || undefined }, "check")}
              >
                {busy === "check" ? "Checking…" : "Check edits"}
              </button>
              <button type="button" className="primary" data-testid="run-button" disabled={busy !== null || !parsed.plan} onClick={() => void onRun()}>
                {busy === "run" ? "Starting…" : "Run"}
              </button>
            </div>
          </div>
        </>
      )}
    </section>
  );
}
