// The seed's six key metrics, sampled every few seconds, each with a small chart over time.
import { useEffect, useState } from "react";
import { ErrorNote } from "../components/ErrorNote";
import { Sparkline } from "../components/Sparkline";
import { ApiError, api, errorText } from "../lib/api";
import { percent, seconds } from "../lib/format";
import type { KeyStats } from "../lib/types";

const SAMPLE_MS = 5000;
const KEEP = 60;
const WINDOWS = [
  { s: 900, text: "last 15 minutes" },
  { s: 3600, text: "last hour" },
  { s: 86_400, text: "last 24 hours" },
  { s: 604_800, text: "last 7 days" },
];

interface Metric {
  key: string;
  title: string;
  value: (k: KeyStats) => number | null;
  show: (k: KeyStats) => string;
}

const METRICS: Metric[] = [
  { key: "count", title: "Executions", value: (k) => k.executions.total, show: (k) => String(k.executions.total) },
  { key: "success", title: "Success rate", value: (k) => k.success_rate, show: (k) => percent(k.success_rate) },
  { key: "duration", title: "Average duration", value: (k) => k.average_duration_s, show: (k) => seconds(k.average_duration_s) },
  {
    key: "tokens",
    title: "Token usage",
    value: (k) => k.tokens?.total ?? null,
    show: (k) =>
      k.tokens
        ? `${k.tokens.total.toLocaleString()} tokens${k.tokens.cost_usd !== null ? ` · $${k.tokens.cost_usd.toFixed(4)}` : ""}`
        : "n/a (not recorded)",
  },
  { key: "cache", title: "Cache hit rate", value: (k) => k.cache_hit_rate, show: (k) => (k.cache_hit_rate === null ? "n/a (no lookups)" : percent(k.cache_hit_rate)) },
  {
    key: "errors",
    title: "Error rate",
    value: (k) => k.error_rate,
    show: (k) => `${percent(k.error_rate)}${k.errors_per_minute !== undefined ? ` · ${k.errors_per_minute.toFixed(2)} failed steps/min` : ""}`,
  },
];

export function Metrics() {
  const [windowS, setWindowS] = useState(3600);
  const [samples, setSamples] = useState<KeyStats[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setSamples([]);
    let stopped = false;
    const sample = async () => {
      try {
        const k = await api<KeyStats>(`/api/stats?window_s=${windowS}`);
        if (stopped) return;
        setSamples((old) => [...old.slice(-KEEP + 1), k]);
        setError(null);
      } catch (exc) {
        if (stopped) return;
        setError(exc instanceof ApiError && exc.status === 404 ? "This server has no key metrics route (GET /api/stats) yet." : errorText(exc));
      }
    };
    void sample();
    const timer = window.setInterval(() => void sample(), SAMPLE_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [windowS]);

  const last = samples[samples.length - 1];
  return (
    <section data-testid="metrics-page">
      <h1>Metrics</h1>
      <div className="row filters">
        <div>
          <label htmlFor="metrics-window">Window</label>
          <select id="metrics-window" value={windowS} onChange={(e) => setWindowS(Number(e.target.value))}>
            {WINDOWS.map((w) => (
              <option key={w.s} value={w.s}>
                {w.text}
              </option>
            ))}
          </select>
        </div>
        <p className="muted small grow">Sampled every {SAMPLE_MS / 1000} s while this page is open; charts show the last {KEEP} samples.</p>
      </div>
      <ErrorNote error={error} />
      {last && (
        <ul className="metrics">
          {METRICS.map((m) => (
            <li key={m.key} className="card metric" data-testid={`metric-${m.key}`}>
              <h2>{m.title}</h2>
              <p className="metric-value">{m.show(last)}</p>
              <Sparkline values={samples.map(m.value)} label={`${m.title} over time`} />
            </li>
          ))}
        </ul>
      )}
      {last && (
        <p className="muted small">
          By status:{" "}
          {Object.entries(last.executions.by_status)
            .map(([s, n]) => `${s} ${n}`)
            .join(" · ")}
        </p>
      )}
    </section>
  );
}
