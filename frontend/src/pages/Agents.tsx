// The agent registry: each agent's risk, flags, live stats, and (on demand) its schemas.
import { useCallback, useEffect, useState } from "react";
import { ErrorNote } from "../components/ErrorNote";
import { api, errorText } from "../lib/api";
import { json, percent, seconds } from "../lib/format";
import type { Agent } from "../lib/types";

const POLL_MS = 10_000;

export function Agents() {
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");

  const load = useCallback(async () => {
    try {
      setAgents(await api<Agent[]>("/api/agents"));
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

  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = (agents ?? []).filter((a) => {
    const text = `${a.name} ${a.description} ${a.tags.join(" ")} ${a.risk}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });

  return (
    <section data-testid="agents-page">
      <h1>Agents</h1>
      <div className="row filters">
        <div className="grow">
          <label htmlFor="agent-filter">Filter</label>
          <input id="agent-filter" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="name, tag or risk" />
        </div>
      </div>
      <ErrorNote error={error} />
      {agents === null && !error && <p role="status">Loading…</p>}
      <ul className="agents">
        {shown.map((a) => (
          <AgentCard key={a.name} agent={a} />
        ))}
      </ul>
    </section>
  );
}

function AgentCard({ agent: a }: { agent: Agent }) {
  const [detail, setDetail] = useState<Agent | null>(null);
  const [error, setError] = useState<string | null>(null);
  const onToggle = (open: boolean) => {
    if (!open || detail) return;
    api<Agent>(`/api/agents/${encodeURIComponent(a.name)}`)
      .then(setDetail)
      .catch((exc: unknown) => setError(errorText(exc)));
  };
  const s = a.stats;
  return (
    <li className="card agent" data-testid={`agent-${a.name}`}>
      <h2>{a.name}</h2>
      <p>{a.description}</p>
      <dl className="facts">
        <div>
          <dt>Risk</dt>
          <dd>
            <span className={`badge risk-${a.risk}`}>{a.risk}</span>
          </dd>
        </div>
        <div>
          <dt>Idempotent</dt>
          <dd>{a.idempotent ? "yes" : "no"}</dd>
        </div>
        <div>
          <dt>Cacheable</dt>
          <dd>{a.cacheable ? "yes" : "no"}</dd>
        </div>
        <div>
          <dt>Runs</dt>
          <dd>
            {s.runs} ({s.successes} succeeded, {s.failures} failed)
          </dd>
        </div>
        <div>
          <dt>Success rate</dt>
          <dd>{percent(s.success_rate)}</dd>
        </div>
        <div>
          <dt>Mean duration</dt>
          <dd>{seconds(s.mean_duration_s)}</dd>
        </div>
        {s.last_error && (
          <div>
            <dt>Last error</dt>
            <dd className="error-text">{s.last_error}</dd>
          </div>
        )}
        {a.tags.length > 0 && (
          <div>
            <dt>Tags</dt>
            <dd>{a.tags.join(", ")}</dd>
          </div>
        )}
      </dl>
      <details onToggle={(e) => onToggle((e.currentTarget as HTMLDetailsElement).open)}>
        <summary>Schemas and examples</summary>
        <ErrorNote error={error} />
        {detail ? (
          <>
            <h3>Input schema</h3>
            <pre>{json(detail.input_schema ?? {})}</pre>
            <h3>Output schema</h3>
            <pre>{json(detail.output_schema ?? {})}</pre>
            {detail.examples && detail.examples.length > 0 && (
              <>
                <h3>Examples</h3>
                <ul>
                  {detail.examples.map((x) => (
                    <li key={x}>{x}</li>
                  ))}
                </ul>
              </>
            )}
          </>
        ) : (
          !error && <p className="muted">Loading…</p>
        )}
      </details>
    </li>
  );
}
