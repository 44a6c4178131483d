// An execution's live state, folded from its events (pure: unit-tested without a browser).
import type { ExecutionStatus, PlanDoc, RunEvent, StepOut, StepStatus } from "./types";

export interface Retry {
  attempt: number;
  error: string;
  delay_s: number;
}

export interface StepState {
  status: StepStatus;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  output: Record<string, unknown> | null;
  partials: Record<string, unknown>[];
  error: string | null;
  error_type: string | null;
  retries: Retry[];
  rung: string | null;
  rung_detail: string | null;
  approval_id: string | null;
  progress: { fraction: number | null; message: string } | null;
  /** The output came from the result cache (the agent did not run). */
  cached: boolean;
}

export interface ExecState {
  status: ExecutionStatus;
  error: string | null;
  waiting_reason: string | null;
  /** The plan that runs now: a replan (`plan_revised`) replaces it while the execution runs. */
  plan: PlanDoc;
  /** Why the plan was last revised, when it was. */
  revised_because: string | null;
  steps: Record<string, StepState>;
}

const MAX_PARTIALS = 500;

export function emptyStep(status: StepStatus = "pending"): StepState {
  return {
    status,
    attempts: 0,
    started_at: null,
    finished_at: null,
    duration_s: null,
    output: null,
    partials: [],
    error: null,
    error_type: null,
    retries: [],
    rung: null,
    rung_detail: null,
    approval_id: null,
    progress: null,
    cached: false,
  };
}

/** The state as the REST API reports it, before the stream replays the details. */
export function initialState(status: ExecutionStatus, error: string | null, plan: PlanDoc, rows: StepOut[]): ExecState {
  const steps: Record<string, StepState> = {};
  for (const s of plan.steps) steps[s.id] = emptyStep();
  for (const r of rows) {
    steps[r.step_id] = {
      ...emptyStep(r.status),
      attempts: r.attempts,
      started_at: r.started_at ?? null,
      finished_at: r.finished_at ?? null,
      duration_s: r.duration_s ?? null,
      output: r.output ?? null,
      error: r.error ?? null,
    };
  }
  const reason = typeof plan.revised_because === "string" ? plan.revised_because : null;
  return { status, error, waiting_reason: null, plan, revised_because: reason, steps };
}

/** The plan's version: 1 as planned, one more per revision. */
export function planVersion(plan: PlanDoc): number {
  return typeof plan.version === "number" ? plan.version : 1;
}

function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}

function num(v: unknown, fallback: number): number {
  return typeof v === "number" ? v : fallback;
}

function elapsed(from: unknown, to: string): number | null {
  if (typeof from !== "string") return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : null;
}

/** The state after one event. Unchanged steps keep their object, so their nodes don't re-render. */
export function applyEvent(state: ExecState, ev: RunEvent): ExecState {
  switch (ev.kind) {
    case "execution_started":
      return { ...state, status: "running", waiting_reason: null };
    case "execution_waiting":
      return { ...state, status: "waiting", waiting_reason: str(ev.reason) || null };
    case "execution_finished":
      return { ...state, status: str(ev.status, "succeeded") as ExecutionStatus, error: (ev.error as string | null) ?? null };
    case "plan_revised":
      return revised(state, ev);
  }
  const id = ev.step_id;
  if (!id) return state;
  const before = state.steps[id] ?? emptyStep();
  const step = stepAfter(before, ev);
  return step === before ? state : { ...state, steps: { ...state.steps, [id]: step } };
}

/** After a replan: the new plan's steps; `added` ones start afresh, `removed` ones are gone. */
function revised(state: ExecState, ev: RunEvent): ExecState {
  const plan = ev.plan as PlanDoc | undefined;
  if (!plan || !Array.isArray(plan.steps)) return state;
  const fresh = new Set(Array.isArray(ev.added) ? (ev.added as string[]) : []);
  const steps: Record<string, StepState> = {};
  for (const s of plan.steps) steps[s.id] = fresh.has(s.id) ? emptyStep() : (state.steps[s.id] ?? emptyStep());
  const version = typeof ev.version === "number" ? ev.version : planVersion(state.plan) + 1;
  return { ...state, plan: { ...plan, version }, revised_because: str(ev.reason) || null, steps };
}

function stepAfter(s: StepState, ev: RunEvent): StepState {
  switch (ev.kind) {
    case "step_started":
      return {
        ...s,
        status: "running",
        attempts: num(ev.attempt, s.attempts + 1),
        started_at: ev.at,
        finished_at: null,
        duration_s: null,
        error: null,
        progress: null,
      };
    case "step_succeeded":
      return {
        ...s,
        status: "succeeded",
        attempts: num(ev.attempt, s.attempts),
        output: (ev.output as Record<string, unknown>) ?? {},
        duration_s: num(ev.duration_s, 0),
        finished_at: ev.at,
        error: null,
        cached: ev.cached === true,
      };
    case "step_retrying":
      return {
        ...s,
        attempts: num(ev.attempt, s.attempts),
        error: str(ev.error),
        retries: [...s.retries, { attempt: num(ev.attempt, 0), error: str(ev.error), delay_s: num(ev.delay_s, 0) }],
      };
    case "step_failed":
      return {
        ...s,
        status: "failed",
        attempts: num(ev.attempts, s.attempts),
        error: str(ev.error),
        error_type: str(ev.error_type) || null,
        finished_at: ev.at,
        duration_s: elapsed(ev.started_at ?? s.started_at, ev.at),
      };
    case "step_skipped":
      return { ...s, status: "skipped", error: str(ev.reason) || null, finished_at: ev.at };
    case "step_cancelled":
      return { ...s, status: "cancelled", finished_at: ev.at };
    case "step_in_doubt":
      return { ...s, status: "in_doubt", error: str(ev.reason) || null };
    case "approval":
      return { ...s, status: "awaiting_approval", approval_id: str(ev.approval_id) || null };
    case "step_recovery":
      return { ...s, rung: str(ev.rung) || null, rung_detail: str(ev.detail) || null };
    case "step_reset":
      return { ...s, status: "pending", error: null, finished_at: null, duration_s: null };
    case "progress":
      return { ...s, progress: { fraction: typeof ev.fraction === "number" ? ev.fraction : null, message: str(ev.message) } };
    case "partial": {
      const partials = [...s.partials, (ev.data as Record<string, unknown>) ?? {}];
      return { ...s, partials: partials.length > MAX_PARTIALS ? partials.slice(-MAX_PARTIALS) : partials };
    }
    default:
      return s;
  }
}

/** Whether an execution will change no more. */
export function isFinished(status: ExecutionStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}
