// A plan's DAG, left to right: edges in one SVG, steps as focusable buttons above it.
// The layout is computed once per plan; a status change re-renders only its own node.
import { memo, useLayoutEffect, useMemo, useRef } from "react";
import { NODE_H, NODE_W, layoutPlan } from "../lib/graph";
import { label, seconds } from "../lib/format";
import type { PlanStep } from "../lib/types";

export interface NodeInfo {
  status: string;
  attempts?: number;
  duration_s?: number | null;
  rung?: string | null;
}

interface DagViewProps {
  steps: PlanStep[];
  info: Record<string, NodeInfo | undefined>;
  critical?: ReadonlySet<string>;
  selected?: string | null;
  onSelect?: (stepId: string) => void;
  testId: string;
  caption: string;
}

export const STATUS_ICON: Record<string, string> = {
  pending: "○",
  planned: "○",
  running: "▶",
  succeeded: "✓",
  failed: "✕",
  skipped: "⤼",
  cancelled: "⊘",
  awaiting_approval: "‖",
  waiting: "‖",
  in_doubt: "?",
};

export function DagView({ steps, info, critical, selected, onSelect, testId, caption }: DagViewProps) {
  const layout = useMemo(() => layoutPlan(steps), [steps]);
  const agents = useMemo(() => new Map(steps.map((s) => [s.id, s.agent])), [steps]);
  const edges = useMemo(
    () => (
      <svg className="dag-edges" width={layout.width} height={layout.height} aria-hidden="true">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
            <path d="M0,0 L10,5 L0,10 z" fill="#94a3b8" />
          </marker>
        </defs>
        {layout.edges.map((e) => {
          const hot = critical?.has(e.from) && critical.has(e.to);
          const d = e.points.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
          return (
            <path
              key={`${e.from}->${e.to}`}
              d={d}
              className={hot ? "edge edge-critical" : "edge"}
              markerEnd="url(#arrow)"
            />
          );
        })}
      </svg>
    ),
    [layout, critical],
  );
  return (
    <figure className="dag" data-testid={testId}>
      <figcaption className="sr-only">{caption}</figcaption>
      <div className="dag-scroll">
        <div className="dag-canvas" style={{ width: layout.width, height: layout.height }}>
          {edges}
          {layout.nodes.map((n) => {
            const i = info[n.id];
            return (
              <StepNode
                key={n.id}
                id={n.id}
                agent={agents.get(n.id) ?? ""}
                x={n.x}
                y={n.y}
                status={i?.status ?? "pending"}
                attempts={i?.attempts ?? 0}
                duration={i?.duration_s ?? null}
                rung={i?.rung ?? null}
                critical={critical?.has(n.id) ?? false}
                selected={selected === n.id}
                onSelect={onSelect}
              />
            );
          })}
        </div>
      </div>
    </figure>
  );
}

interface StepNodeProps {
  id: string;
  agent: string;
  x: number;
  y: number;
  status: string;
  attempts: number;
  duration: number | null;
  rung: string | null;
  critical: boolean;
  selected: boolean;
  onSelect?: (stepId: string) => void;
}

const StepNode = memo(function StepNode(p: StepNodeProps) {
  const ref = useRef<HTMLButtonElement>(null);
  // Runs right after React wrote the new status to the DOM: the browser test's clock.
  useLayoutEffect(() => {
    ref.current?.setAttribute("data-applied-at", String(performance.now()));
  }, [p.status]);
  const retries = Math.max(0, p.attempts - 1);
  const classes = ["node", `status-${p.status}`];
  if (p.critical) classes.push("critical");
  if (p.selected) classes.push("selected");
  return (
    <button
      ref={ref}
      type="button"
      className={classes.join(" ")}
      style={{ left: p.x, top: p.y, width: NODE_W, height: NODE_H }}
      data-testid={`step-node-${p.id}`}
      data-status={p.status}
      aria-label={`step ${p.id}: ${p.status}`}
      aria-pressed={p.onSelect ? p.selected : undefined}
      onClick={p.onSelect ? () => p.onSelect?.(p.id) : undefined}
    >
      <span className="node-title">{p.id}</span>
      <span className="node-agent">{p.agent}</span>
      <span className="node-meta">
        <span className="node-status">
          {STATUS_ICON[p.status] ?? "•"} {label(p.status)}
        </span>
        {p.duration !== null && <span>{seconds(p.duration)}</span>}
        {retries > 0 && <span>{retries === 1 ? "1 retry" : `${retries} retries`}</span>}
        {p.rung && <span>rung: {p.rung}</span>}
        {p.critical && <span className="node-critical">critical</span>}
      </span>
    </button>
  );
});
