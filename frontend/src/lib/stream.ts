// Live streams over Server-Sent Events, with the browser's EventSource.
//
// EventSource reconnects by itself after a dropped connection (a server restart, a network
// blip) and sends `Last-Event-ID`, so the server resumes right after the last event received.
// When the server answers a reconnection with an HTTP error instead (e.g. a proxy's 502 while
// the server restarts), EventSource gives up (readyState CLOSED); we then open a new one after
// a backoff. A new EventSource cannot send `Last-Event-ID`, so it replays from the start, and
// events whose numeric id we already have are dropped: no gap, no duplicate either way.
import { useEffect, useRef, useState, useSyncExternalStore } from "react";

declare global {
  interface Window {
    /** performance.now() when the latest SSE message arrived (read by the browser tests). */
    __batonLastEventReceivedAt?: number;
  }
}

// ---- which streams are reconnecting (one banner for the whole page) ----------------------

const reconnecting = new Set<symbol>();
const listeners = new Set<() => void>();
let reconnectingSnapshot = false;

function setReconnecting(key: symbol, on: boolean): void {
  const had = reconnecting.has(key);
  if (on === had) return;
  if (on) reconnecting.add(key);
  else reconnecting.delete(key);
  reconnectingSnapshot = reconnecting.size > 0;
  for (const listener of listeners) listener();
}

export function useReconnecting(): boolean {
  return useSyncExternalStore(
    (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    () => reconnectingSnapshot,
  );
}

// ---- the hook ------------------------------------------------------------------------------

export type StreamState = "connecting" | "open" | "reconnecting" | "closed";

export interface StreamOptions {
  /** The stream's URL; null: no stream. A new URL opens a new stream. */
  url: string | null;
  /** The SSE event names to listen to (EventSource delivers named events only to listeners). */
  events: readonly string[];
  /** Called for each new event, in order. */
  onEvent: (name: string, data: unknown, id: string) => void;
  /** True for the event after which the stream is over (the server closes it then). */
  isLast?: (name: string, data: unknown) => boolean;
  /** Called each time the stream (re)opens; `first` is false after a reconnection. */
  onOpen?: (first: boolean) => void;
  /** True when a dropped stream is simply over (nothing more will come): don't reconnect. */
  isOver?: () => boolean;
  /** A problem the server sent in the stream (an `error` event with problem details). */
  onProblem?: (message: string) => void;
}

const MAX_BACKOFF_MS = 10_000;

export function useEventStream(options: StreamOptions): StreamState {
  const { url } = options;
  const latest = useRef(options);
  latest.current = options;
  const eventsKey = options.events.join(",");
  const [state, setState] = useState<StreamState>("connecting");

  useEffect(() => {
    if (url === null) {
      setState("closed");
      return;
    }
    const key = Symbol(url);
    let source: EventSource | null = null;
    let timer: number | undefined;
    let lastNumericId = -1;
    let backoff = 1000;
    let stopped = false;
    let opened = false;

    const finish = (): void => {
      stopped = true;
      source?.close();
      window.clearTimeout(timer);
      setReconnecting(key, false);
      setState("closed");
    };

    const handle = (name: string) => (ev: Event): void => {
      const message = ev as MessageEvent<string>;
      window.__batonLastEventReceivedAt = performance.now();
      const id = message.lastEventId ?? "";
      if (/^\d+$/.test(id)) {
        const n = Number(id);
        if (n <= lastNumericId) return; // already applied (a replay after a fresh connection)
        lastNumericId = n;
      }
      let data: unknown = message.data;
      try {
        data = JSON.parse(message.data);
      } catch {
        // not JSON: pass the text on
      }
      latest.current.onEvent(name, data, id);
      if (latest.current.isLast?.(name, data)) finish();
    };

    const open = (): void => {
      const es = new EventSource(url, { withCredentials: true });
      source = es;
      for (const name of eventsKey.split(",").filter(Boolean)) {
        es.addEventListener(name, handle(name));
      }
      es.addEventListener("open", () => {
        backoff = 1000;
        setReconnecting(key, false);
        setState("open");
        latest.current.onOpen?.(!opened);
        opened = true;
      });
      es.addEventListener("error", (ev) => {
        if (stopped) return;
        if (ev instanceof MessageEvent && typeof ev.data === "string" && ev.data) {
          // The server's own `error` event: a problem it found once the stream had begun.
          let text = ev.data;
          try {
            const problem = JSON.parse(ev.data) as { detail?: string; title?: string };
            text = problem.detail ?? problem.title ?? text;
          } catch {
            // keep the raw text
          }
          latest.current.onProblem?.(text);
          finish();
          return;
        }
        if (latest.current.isOver?.()) {
          finish();
          return;
        }
        setReconnecting(key, true);
        setState("reconnecting");
        if (es.readyState === EventSource.CLOSED) {
          // The browser gave up (an HTTP error answered the reconnection): try again ourselves.
          window.clearTimeout(timer);
          timer = window.setTimeout(() => {
            if (!stopped) open();
          }, backoff);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        }
      });
    };

    setState("connecting");
    open();
    return () => {
      stopped = true;
      source?.close();
      window.clearTimeout(timer);
      setReconnecting(key, false);
    };
  }, [url, eventsKey]);

  return state;
}
