// Plan graphs: the left-to-right layout (dagre) and the critical path.
import dagre from "@dagrejs/dagre";
import type { PlanStep } from "./types";

export const NODE_W = 200;
export const NODE_H = 72;

export interface NodeBox {
  id: string;
  x: number; // left
  y: number; // top
}

export interface EdgeLine {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

export interface Layout {
  nodes: NodeBox[];
  edges: EdgeLine[];
  width: number;
  height: number;
}

// A `${step_id}` or `${step_id.field.sub}` reference: the same pattern as baton.core.plan.
const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_-]*)((?:\.[A-Za-z0-9_-]+)*)\}/g;

function referencedSteps(value: unknown, into: Set<string>): void {
  if (typeof value === "string") {
    for (const m of value.matchAll(REFERENCE)) if (m[1] !== undefined) into.add(m[1]);
  } else if (Array.isArray(value)) {
    for (const v of value) referencedSteps(v, into);
  } else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) referencedSteps(v, into);
  }
}

/**
 * What a step waits for: its `depends_on` plus every step its inputs reference, in order and
 * without repeats (as `Step.dependencies()` on the server: a reference implies a dependency).
 */
export function dependenciesOf(step: PlanStep): string[] {
  const found = new Set<string>(step.depends_on ?? []);
  referencedSteps(step.inputs ?? {}, found);
  found.delete(step.id);
  return [...found];
}

/** Lay a plan's steps out left to right. Run once per plan: statuses never move a node. */
export function layoutPlan(steps: PlanStep[]): Layout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 56, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(steps.map((s) => s.id));
  for (const s of steps) g.setNode(s.id, { width: NODE_W, height: NODE_H });
  for (const s of steps) {
    for (const dep of dependenciesOf(s)) if (ids.has(dep)) g.setEdge(dep, s.id);
  }
  dagre.layout(g);
  const nodes: NodeBox[] = steps.map((s) => {
    const n = g.node(s.id);
    return { id: s.id, x: n.x - NODE_W / 2, y: n.y - NODE_H / 2 };
  });
  const edges: EdgeLine[] = g.edges().map((e) => ({
    from: e.v,
    to: e.w,
    points: (g.edge(e).points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y })),
  }));
  const graph = g.graph();
  return { nodes, edges, width: graph.width ?? 0, height: graph.height ?? 0 };
}

/**
 * The longest chain of dependencies, weighted by each step's expected duration (1 when
 * unknown). Used when the server's dry run gives no critical path.
 */
export function criticalPath(steps: PlanStep[], duration: (id: string) => number = () => 1): string[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const best = new Map<string, { total: number; prev: string | null }>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = best.get(id);
    if (known) return known.total;
    if (visiting.has(id)) return 0; // a cycle: the server refuses such a plan anyway
    visiting.add(id);
    let prev: string | null = null;
    let longest = 0;
    const step = byId.get(id);
    for (const dep of step ? dependenciesOf(step) : []) {
      if (!byId.has(dep)) continue;
      const t = visit(dep);
      if (t > longest) {
        longest = t;
        prev = dep;
      }
    }
    visiting.delete(id);
    const total = longest + duration(id);
    best.set(id, { total, prev });
    return total;
  };
  let end: string | null = null;
  let max = -1;
  for (const s of steps) {
    const t = visit(s.id);
    if (t > max) {
      max = t;
      end = s.id;
    }
  }
  const path: string[] = [];
  for (let at = end; at !== null; at = best.get(at)?.prev ?? null) path.unshift(at);
  return path;
}
