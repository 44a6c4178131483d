// Who is signed in. The session itself is an HttpOnly cookie the page never sees; the
// principal (name, workspace, role) comes from `GET /api/me` or the sign-in answer.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, api, setCsrfToken, setUnauthenticatedHandler } from "./api";
import type { Principal } from "./types";

interface SessionValue {
  /** undefined: still asking; null: signed out. */
  principal: Principal | null | undefined;
  signIn: (apiKey: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [principal, setPrincipal] = useState<Principal | null | undefined>(undefined);

  useEffect(() => {
    setUnauthenticatedHandler(() => setPrincipal(null));
    const ctrl = new AbortController();
    api<Principal>("/api/me", { signal: ctrl.signal, quiet401: true })
      .then(setPrincipal)
      .catch((exc: unknown) => {
        if (exc instanceof DOMException) return;
        setPrincipal(null);
      });
    return () => {
      ctrl.abort();
      setUnauthenticatedHandler(null);
    };
  }, []);

  const signIn = useCallback(async (apiKey: string) => {
    const answer = await api<{ csrf_token: string; principal: Principal }>("/api/session", {
      method: "POST",
      body: { api_key: apiKey },
      quiet401: true,
    });
    setCsrfToken(answer.csrf_token);
    setPrincipal(answer.principal);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api("/api/session", { method: "DELETE", quiet401: true });
    } catch (exc) {
      if (!(exc instanceof ApiError)) throw exc;
    }
    setCsrfToken(null);
    setPrincipal(null);
  }, []);

  const value = useMemo(() => ({ principal, signIn, signOut }), [principal, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** The signed-in principal (only rendered once signed in). */
export function usePrincipal(): Principal {
  const { principal } = useSession();
  if (!principal) throw new Error("usePrincipal before sign-in");
  return principal;
}

/** Whether the principal may act (run, cancel, approve, reject): a viewer may not. */
export function useCanAct(): boolean {
  return usePrincipal().role !== "viewer";
}
