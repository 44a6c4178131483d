import { expect, test } from "vitest";
import { criticalPath, dependenciesOf, layoutPlan, NODE_W } from "./graph";
import type { PlanStep } from "./types";

const steps = [
  { id: "a", agent: "x" },
  { id: "b", agent: "x", depends_on: ["a"] },
  { id: "c", agent: "x", depends_on: ["a"] },
  { id: "d", agent: "x", depends_on: ["b", "c"] },
  { id: "e", agent: "x", depends_on: ["c"] },
];

test("the critical path is the longest chain, by duration when known", () => {
  expect(criticalPath(steps)).toEqual(["a", "b", "d"]);
  const slowC = (id: string) => (id === "c" ? 10 : 1);
  expect(criticalPath(steps, slowC)).toEqual(["a", "c", "d"]);
  expect(criticalPath([])).toEqual([]);
});

test("the layout runs left to right: a step is right of what it depends on", () => {
  const layout = layoutPlan(steps);
  const x = new Map(layout.nodes.map((n) => [n.id, n.x]));
  expect(x.get("b")!).toBeGreaterThanOrEqual(x.get("a")! + NODE_W);
  expect(x.get("d")!).toBeGreaterThanOrEqual(x.get("c")! + NODE_W);
  expect(layout.edges).toHaveLength(5);
});

test("a 200-step plan lays out quickly", () => {
  const big = Array.from({ length: 200 }, (_, i) => ({
    id: `s${i}`,
    agent: "x",
    depends_on: i >= 10 ? [`s${i - 10}`, `s${i - 10 + ((i + 1) % 10) - (i % 10)}`] : [],
  }));
  const t0 = performance.now();
  const layout = layoutPlan(big);
  expect(layout.nodes).toHaveLength(200);
  expect(performance.now() - t0).toBeLessThan(3000);
});

test("a reference in the inputs is a dependency, as on the server", () => {
  const planned: PlanStep[] = [
    { id: "read", agent: "files.read", inputs: { path: "notes.md" } },
    { id: "sum", agent: "text.summarize", inputs: { text: "${read.content}" } },
    { id: "send", agent: "notify.email", inputs: { body: ["Summary: ${sum.summary}"] }, depends_on: ["read"] },
  ];
  const [, sum, send] = planned as [PlanStep, PlanStep, PlanStep];
  expect(dependenciesOf(sum)).toEqual(["read"]);
  expect(dependenciesOf(send)).toEqual(["read", "sum"]);
  expect(criticalPath(planned)).toEqual(["read", "sum", "send"]);
  const layout = layoutPlan(planned);
  const x = (id: string) => layout.nodes.find((n) => n.id === id)!.x;
  expect(x("read")).toBeLessThan(x("sum"));
  expect(x("sum")).toBeLessThan(x("send"));
});
