import { describe, expect, test } from "vitest";
import { applyEvent, initialState, type ExecState } from "./execution";
import type { RunEvent } from "./types";

const at = "2026-01-01T00:00:00Z";
const ev = (kind: string, fields: Record<string, unknown> = {}): RunEvent => ({ kind, execution_id: "ex_1", at, ...fields });

function fold(state: ExecState, events: RunEvent[]): ExecState {
  return events.reduce(applyEvent, state);
}

describe("applyEvent", () => {
  const start = initialState("pending", null, { steps: [{ id: "a", agent: "x" }, { id: "b", agent: "x" }] }, []);

  test("a failure with retries, a recovery rung and a skipped dependent", () => {
    const s = fold(start, [
      ev("execution_started"),
      ev("step_started", { step_id: "a", attempt: 1 }),
      ev("step_retrying", { step_id: "a", attempt: 1, error: "boom", delay_s: 0.5 }),
      ev("step_started", { step_id: "a", attempt: 2 }),
      ev("step_recovery", { step_id: "a", rung: "fail", detail: "no alternative" }),
      ev("step_failed", { step_id: "a", attempts: 2, error: "boom", error_type: "RuntimeError", started_at: "2026-01-01T00:00:00Z", at: "2026-01-01T00:00:02Z" }),
      ev("step_skipped", { step_id: "b", reason: "dependency 'a' did not succeed" }),
      ev("execution_finished", { status: "failed", error: "step 'a' failed" }),
    ]);
    expect(s.status).toBe("failed");
    expect(s.error).toBe("step 'a' failed");
    expect(s.steps.a).toMatchObject({ status: "failed", attempts: 2, error: "boom", error_type: "RuntimeError", rung: "fail", duration_s: 2 });
    expect(s.steps.a!.retries).toEqual([{ attempt: 1, error: "boom", delay_s: 0.5 }]);
    expect(s.steps.b).toMatchObject({ status: "skipped", error: "dependency 'a' did not succeed" });
  });

  test("partials stream in, then the output", () => {
    const s = fold(start, [
      ev("step_started", { step_id: "a" }),
      ev("partial", { step_id: "a", data: { n: 1 } }),
      ev("partial", { step_id: "a", data: { n: 2 } }),
      ev("step_succeeded", { step_id: "a", output: { n: 3 }, duration_s: 1.5, attempt: 1 }),
    ]);
    expect(s.steps.a!.partials).toEqual([{ n: 1 }, { n: 2 }]);
    expect(s.steps.a).toMatchObject({ status: "succeeded", output: { n: 3 }, duration_s: 1.5 });
  });

  test("an approval makes the step wait, the execution waits", () => {
    const s = fold(start, [ev("approval", { step_id: "a", approval_id: "ap_1" }), ev("execution_waiting", { reason: "approval of a" })]);
    expect(s.steps.a).toMatchObject({ status: "awaiting_approval", approval_id: "ap_1" });
    expect(s.status).toBe("waiting");
    expect(s.waiting_reason).toBe("approval of a");
  });

  test("steps an event does not touch keep their object (their nodes do not re-render)", () => {
    const s = applyEvent(start, ev("step_started", { step_id: "a" }));
    expect(s.steps.b).toBe(start.steps.b);
    expect(s.steps.a).not.toBe(start.steps.a);
    expect(applyEvent(s, ev("message", { step_id: "a" }))).toBe(s);
  });
});

describe("a replan while the execution runs", () => {
  const plan = { steps: [{ id: "fetch", agent: "a" }, { id: "send", agent: "b", depends_on: ["fetch"] }] };

  test("the new plan replaces the old one; kept steps keep their state, added ones start afresh", () => {
    const s = fold(initialState("pending", null, plan, []), [
      ev("execution_started"),
      ev("step_started", { step_id: "fetch", attempt: 1 }),
      ev("step_succeeded", { step_id: "fetch", attempt: 1, output: { text: "x" }, duration_s: 1, cached: true }),
      ev("step_started", { step_id: "send", attempt: 1 }),
      ev("step_failed", { step_id: "send", attempts: 1, error: "no route" }),
      ev("plan_revised", {
        plan: { steps: [...plan.steps.slice(0, 1), { id: "post", agent: "c", depends_on: ["fetch"] }], version: 2 },
        version: 2,
        reason: "step 'send' failed: no route",
        added: ["post"],
        removed: ["send"],
      }),
    ]);
    expect(s.plan.steps.map((p) => p.id)).toEqual(["fetch", "post"]);
    expect(s.plan.version).toBe(2);
    expect(s.revised_because).toBe("step 'send' failed: no route");
    expect(Object.keys(s.steps)).toEqual(["fetch", "post"]);
    expect(s.steps.fetch).toMatchObject({ status: "succeeded", cached: true });
    expect(s.steps.post).toMatchObject({ status: "pending", attempts: 0 });
  });
});
