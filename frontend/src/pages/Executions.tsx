// Executions: filter by status, search, live status updates from the workspace stream.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { StatusBadge } from "../components/StatusBadge";
import { ErrorNote } from "../components/ErrorNote";
import { api, errorText } from "../lib/api";
import { time } from "../lib/format";
import { href } from "../lib/router";
import { useEventStream } from "../lib/stream";
import { EXECUTION_STATUSES, type Execution, type ExecutionStatus, type Page } from "../lib/types";

const WORKSPACE_EVENTS = ["execution_started", "execution_waiting", "execution_finished"] as const;

export function Executions() {
  const [status, setStatus] = useState<ExecutionStatus | "">("");
  const [search, setSearch] = useState("");
  const [rows, setRows] = useState<Execution[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const refetchTimer = useRef<number | undefined>(undefined);
  const rowsRef = useRef(rows);
  rowsRef.current = rows;

  const load = useCallback(async (more: string | null) => {
    const q = new URLSearchParams({ limit: "100" });
    if (status) q.set("status", status);
    if (more) q.set("cursor", more);
    try {
      const page = await api<Page<Execution>>(`/api/orchestrate?${q}`);
      setRows((old) => (more ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(null);
    } catch (exc) {
      setError(errorText(exc));
    } finally {
      setLoading(false);
    }
  }, [status]);

  useEffect(() => {
    setLoading(true);
    void load(null);
  }, [load]);

  useEffect(() => () => window.clearTimeout(refetchTimer.current), []);

  useEventStream({
    url: "/api/stream",
    events: WORKSPACE_EVENTS,
    // The workspace stream has no replay: after a reconnection, read the list again.
    onOpen: (first) => {
      if (!first) void load(null);
    },
    onEvent: (name, data) => {
      const ev = data as { execution_id?: string; status?: ExecutionStatus; error?: string | null };
      const id = ev.execution_id;
      if (!id) return;
      const next: ExecutionStatus =
        name === "execution_started" ? "running" : name === "execution_waiting" ? "waiting" : (ev.status ?? "succeeded");
      const known = rowsRef.current.some((r) => r.id === id);
      setRows((old) =>
        old.map((r) => {
          if (r.id !== id) return r;
          return { ...r, status: next, error: name === "execution_finished" ? (ev.error ?? null) : r.error };
        }),
      );
      // A new execution (or one that now matches the filter): fetch the list again, once.
      if (!known || (status && next !== status)) {
        window.clearTimeout(refetchTimer.current);
        refetchTimer.current = window.setTimeout(() => void load(null), 300);
      }
    },
  });

  const shown = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    return rows.filter((r) => {
      if (status && r.status !== status) return false;
      const text = `${r.id} ${r.name} ${r.request ?? ""} ${r.error ?? ""}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
  }, [rows, search, status]);

  return (
    <section>
      <h1>Executions</h1>
      <div className="row filters">
        <div>
          <label htmlFor="status-filter">Status</label>
          <select id="status-filter" data-testid="status-filter" value={status} onChange={(e) => setStatus(e.target.value as ExecutionStatus | "")}>
            <option value="">All</option>
            {EXECUTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="grow">
          <label htmlFor="search">Search</label>
          <input id="search" type="search" data-testid="search-input" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="id, name or request" />
        </div>
      </div>
      <ErrorNote error={error} />
      <table data-testid="execution-list" className="table">
        <caption className="sr-only">Executions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Execution</th>
            <th scope="col">Status</th>
            <th scope="col">Request</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={r.id} data-testid={`execution-row-${r.id}`} data-status={r.status}>
              <td>
                <a href={href("executions", r.id)}>{r.name || r.id}</a>
                <div className="muted small">{r.id}</div>
              </td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td className="wrap">{r.request ?? <span className="muted">(a plan)</span>}</td>
              <td>{time(r.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!loading && shown.length === 0 && <p className="muted">No executions match.</p>}
      {cursor && (
        <button type="button" onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}
