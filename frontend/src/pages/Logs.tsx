// Live logs: the workspace's (or one execution's) log records as they are written.
import { useEffect, useMemo, useRef, useState } from "react";
import { clock } from "../lib/format";
import { useEventStream } from "../lib/stream";
import type { LogRecord } from "../lib/types";

const LEVELS = ["debug", "info", "warning", "error", "critical"] as const;
const KEEP = 2000;
const LOG_EVENTS = ["log"] as const;

export function Logs({ executionId }: { executionId: string | null }) {
  const [level, setLevel] = useState<string>("");
  const [search, setSearch] = useState("");
  const [follow, setFollow] = useState(true);
  const [records, setRecords] = useState<LogRecord[]>([]);
  const view = useRef<HTMLDivElement>(null);

  const url = useMemo(() => {
    const q = new URLSearchParams({ backlog: "200" });
    if (executionId) q.set("execution_id", executionId);
    if (level) q.set("level", level);
    return `/api/logs/stream?${q}`;
  }, [executionId, level]);

  useEffect(() => setRecords([]), [url]);

  const state = useEventStream({
    url,
    events: LOG_EVENTS,
    onEvent: (_name, data) => {
      const r = data as LogRecord;
      setRecords((old) => (old.length >= KEEP ? [...old.slice(-KEEP + 1), r] : [...old, r]));
    },
  });

  const shown = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return records;
    return records.filter((r) => {
      const text = `${r.message} ${r.logger} ${r.step_id ?? ""} ${r.execution_id ?? ""}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
  }, [records, search]);

  useEffect(() => {
    if (follow && view.current) view.current.scrollTop = view.current.scrollHeight;
  }, [shown, follow]);

  return (
    <section>
      <h1>Live logs{executionId ? ` of execution ${executionId}` : ""}</h1>
      {executionId && (
        <p>
          Following <a href={`#/executions/${encodeURIComponent(executionId)}`}>execution {executionId}</a> ·{" "}
          <a href="#/logs">show the whole workspace</a>
        </p>
      )}
      <div className="row filters">
        <div>
          <label htmlFor="log-level">Level (and worse)</label>
          <select id="log-level" data-testid="log-level" value={level} onChange={(e) => setLevel(e.target.value)}>
            <option value="">All</option>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div className="grow">
          <label htmlFor="log-search">Search</label>
          <input id="log-search" type="search" data-testid="log-search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="words in the message" />
        </div>
        <div className="check">
          <input id="log-follow" type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          <label htmlFor="log-follow">Follow the tail</label>
        </div>
      </div>
      <p className="muted small" role="status">
        {state === "open" ? "Live" : state === "reconnecting" ? "Reconnecting…" : state === "connecting" ? "Connecting…" : "Stopped"} ·{" "}
        {shown.length} of {records.length} records shown
      </p>
      <div className="logs" data-testid="log-view" ref={view} tabIndex={0} role="log" aria-label="Log records">
        {shown.map((r) => (
          <div key={r.id} className={`log-line level-${r.level}`}>
            <span className="log-time">{clock(r.at)}</span> <span className="log-level">{r.level.toUpperCase()}</span>{" "}
            {r.step_id && <span className="log-step">[{r.step_id}]</span>} <span className="log-msg">{r.message}</span>
          </div>
        ))}
        {shown.length === 0 && <p className="muted">No records yet.</p>}
      </div>
    </section>
  );
}
