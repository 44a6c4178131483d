// The one way the dashboard talks to the API: same-origin cookies, a CSRF header on every
// state-changing request, and problem+json errors turned into readable messages.

export class ApiError extends Error {
  readonly status: number;
  readonly hint: string | null;

  constructor(message: string, status: number, hint: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.hint = hint;
  }
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
let csrfFallback: string | null = null;
let onUnauthenticated: (() => void) | null = null;

/** Remember the token the sign-in answered with (the cookie is the source of truth). */
export function setCsrfToken(token: string | null): void {
  csrfFallback = token;
}

/** Called when a request answers 401: the session ended (signed out elsewhere, expired). */
export function setUnauthenticatedHandler(handler: (() => void) | null): void {
  onUnauthenticated = handler;
}

export function readCookie(name: string, cookies: string = document.cookie): string | null {
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** The message of a problem+json body (`detail`, else `title`), with its hint if any. */
export function problemMessage(body: unknown, status: number): { message: string; hint: string | null } {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const detail = typeof b.detail === "string" && b.detail ? b.detail : null;
    const title = typeof b.title === "string" && b.title ? b.title : null;
    const hint = typeof b.hint === "string" && b.hint ? b.hint : null;
    if (detail || title) return { message: (detail ?? title) as string, hint };
    // FastAPI's own 422 shape, should one slip through: {"detail": [{"msg": ...}]}
    if (Array.isArray(b.detail)) {
      const msgs = (b.detail as { msg?: string }[]).map((d) => d.msg).filter(Boolean);
      if (msgs.length) return { message: msgs.join("; "), hint };
    }
  }
  return { message: `the server answered ${status}`, hint: null };
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Don't treat a 401 as the end of the session (the sign-in request itself). */
  quiet401?: boolean;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = (options.method ?? "GET").toUpperCase();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) {
    const token = readCookie("baton_csrf") ?? csrfFallback;
    if (token) headers["X-CSRF-Token"] = token;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (exc) {
    if (exc instanceof DOMException && exc.name === "AbortError") throw exc;
    throw new ApiError("cannot reach the server; is `baton serve` running?", 0);
  }
  const text = await response.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && !options.quiet401) onUnauthenticated?.();
    const { message, hint } = problemMessage(body, response.status);
    throw new ApiError(message, response.status, hint);
  }
  return body as T;
}

export function errorText(exc: unknown): string {
  if (exc instanceof ApiError) return exc.hint ? `${exc.message} (${exc.hint})` : exc.message;
  if (exc instanceof Error) return exc.message;
  return String(exc);
}
