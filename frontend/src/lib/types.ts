// The API's JSON shapes (src/baton/wire.py), as the dashboard reads them.

export type Role = "admin" | "member" | "viewer";

export interface Principal {
  user_id: string;
  name: string;
  kind: string;
  workspace_id: string;
  role: Role;
  key_id: string | null;
}

export type ExecutionStatus = "pending" | "running" | "waiting" | "succeeded" | "failed" | "cancelled";

export const EXECUTION_STATUSES: ExecutionStatus[] = [
  "pending",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
];

export type StepStatus =
  | "pending"
  | "running"
  | "succeeded"
  | "failed"
  | "skipped"
  | "cancelled"
  | "awaiting_approval"
  | "in_doubt";

export interface PlanStep {
  id: string;
  agent: string;
  inputs?: Record<string, unknown>;
  depends_on?: string[];
  description?: string;
  resources?: string[];
  policy?: Record<string, unknown>;
}

export interface PlanDoc {
  name?: string;
  request?: string | null;
  steps: PlanStep[];
  [key: string]: unknown;
}

export interface PlanPreview {
  plan: PlanDoc;
  critical_path: string[];
  estimated_duration_s: number | null;
}

export interface Execution {
  id: string;
  name: string;
  request: string | null;
  status: ExecutionStatus;
  created_at: string;
  started_at?: string | null;
  finished_at?: string | null;
  error?: string | null;
  cancel_requested?: boolean;
  workspace_id: string;
}

export interface ExecutionDetail extends Execution {
  plan: PlanDoc;
}

export interface OrchestrateOut {
  execution?: Execution | null;
  preview?: PlanPreview | null;
}

export interface StepOut {
  execution_id: string;
  step_id: string;
  agent: string;
  position: number;
  status: StepStatus;
  attempts: number;
  started_at?: string | null;
  finished_at?: string | null;
  duration_s?: number | null;
  output?: Record<string, unknown> | null;
  error?: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Impact {
  summary?: string;
  targets?: string[];
  reversible?: boolean;
  [key: string]: unknown;
}

export interface Approval {
  id: string;
  workspace_id: string;
  execution_id: string;
  step_id: string;
  agent: string;
  inputs: Record<string, unknown>;
  impact: Impact;
  reason: string;
  status: string;
  created_at: string;
  expires_at: string;
}

export interface AgentStats {
  runs: number;
  successes: number;
  failures: number;
  success_rate: number | null;
  mean_duration_s: number | null;
  last_error: string | null;
}

export interface Agent {
  name: string;
  description: string;
  risk: string;
  idempotent: boolean;
  cacheable: boolean;
  rate_limit_key: string | null;
  tags: string[];
  source: string;
  stats: AgentStats;
  input_schema?: Record<string, unknown> | null;
  output_schema?: Record<string, unknown> | null;
  examples?: string[] | null;
}

export interface SpanEvent {
  name: string;
  at: string;
  attributes: Record<string, unknown>;
}

export interface Span {
  trace_id: string;
  span_id: string;
  parent_span_id?: string | null;
  name: string;
  kind: string;
  depth: number;
  start: string;
  end: string;
  duration_s: number;
  status: "unset" | "ok" | "error";
  status_message?: string | null;
  attributes: Record<string, unknown>;
  events: SpanEvent[];
}

export interface Trace {
  execution_id: string;
  spans: Span[];
}

export interface LogRecord {
  id: number;
  at: string;
  level: "debug" | "info" | "warning" | "error" | "critical";
  logger: string;
  message: string;
  execution_id?: string | null;
  step_id?: string | null;
  extra?: Record<string, unknown>;
}

/** `GET /api/stats?window_s=N`: the shape of `baton stats --json`. */
export interface KeyStats {
  since: string;
  until: string;
  executions: { total: number; by_status: Record<string, number> };
  success_rate: number | null;
  finished?: number;
  average_duration_s: number | null;
  tokens: { input: number; output: number; total: number; cost_usd: number | null } | null;
  cache_hit_rate: number | null;
  error_rate: number | null;
  steps?: { succeeded: number; failed: number };
  errors_per_minute?: number;
}

/** One event of an execution's stream (`baton.events`, as JSON). */
export interface RunEvent {
  kind: string;
  execution_id: string;
  at: string;
  step_id?: string;
  [key: string]: unknown;
}

/** Every event kind of an execution stream (EventSource needs a listener per name). */
export const RUN_EVENT_KINDS = [
  "execution_started",
  "execution_waiting",
  "execution_finished",
  "step_started",
  "step_succeeded",
  "step_retrying",
  "step_failed",
  "step_skipped",
  "step_cancelled",
  "step_in_doubt",
  "approval",
  "step_recovery",
  "step_reset",
  "message",
  "progress",
  "log",
  "partial",
  "plan_revised",
] as const;
