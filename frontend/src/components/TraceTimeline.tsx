// A step's spans as a timeline: one bar per span, offset from the step's first span.
import { seconds } from "../lib/format";
import type { Span, Trace } from "../lib/types";

/** The step's attempt spans and everything under them, in trace order. */
export function stepSpans(trace: Trace, stepId: string): Span[] {
  const mine = new Set<string>();
  const out: Span[] = [];
  for (const s of trace.spans) {
    // Depth first: a parent always comes before its children.
    if (s.attributes["baton.step_id"] === stepId || (s.parent_span_id && mine.has(s.parent_span_id))) {
      mine.add(s.span_id);
      out.push(s);
    }
  }
  return out;
}

export function TraceTimeline({ trace, stepId }: { trace: Trace; stepId: string }) {
  const spans = stepSpans(trace, stepId);
  if (!spans.length) return <p className="muted">No spans kept for this step (tracing off, or not yet written).</p>;
  const t0 = Math.min(...spans.map((s) => Date.parse(s.start)));
  const t1 = Math.max(...spans.map((s) => Date.parse(s.end)));
  const total = Math.max(t1 - t0, 1);
  const minDepth = Math.min(...spans.map((s) => s.depth));
  return (
    <ol className="timeline" data-testid="step-trace">
      {spans.map((s) => {
        const left = ((Date.parse(s.start) - t0) / total) * 100;
        const width = Math.max((s.duration_s * 1000 * 100) / total, 0.5);
        return (
          <li key={s.span_id} style={{ paddingLeft: `${(s.depth - minDepth) * 1.2}rem` }}>
            <div className="timeline-label">
              <span>{s.name}</span>
              <span className="muted">
                {" "}
                +{seconds((Date.parse(s.start) - t0) / 1000)} · {seconds(s.duration_s)} · {s.status}
                {s.status_message ? `: ${s.status_message}` : ""}
              </span>
            </div>
            <div className="timeline-track" aria-hidden="true">
              <div className={`timeline-bar span-${s.status}`} style={{ left: `${left}%`, width: `${width}%` }} />
            </div>
            {s.events.length > 0 && (
              <ul className="small">
                {s.events.map((e, i) => (
                  <li key={i}>
                    +{seconds((Date.parse(e.at) - t0) / 1000)} {e.name}
                    {typeof e.attributes["baton.rung"] === "string" ? ` (rung ${e.attributes["baton.rung"]})` : ""}
                  </li>
                ))}
              </ul>
            )}
          </li>
        );
      })}
    </ol>
  );
}
