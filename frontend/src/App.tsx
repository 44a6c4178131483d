// The shell: sign-in gate, navigation, the reconnecting banner, and the page of the route.
import { useEffect } from "react";
import { useRoute, type Route } from "./lib/router";
import { useSession } from "./lib/session";
import { useReconnecting } from "./lib/stream";
import { SignIn } from "./pages/SignIn";
import { NewRequest } from "./pages/NewRequest";
import { Executions } from "./pages/Executions";
import { ExecutionPage } from "./pages/Execution";
import { Logs } from "./pages/Logs";
import { Approvals } from "./pages/Approvals";
import { Metrics } from "./pages/Metrics";
import { Agents } from "./pages/Agents";

const LINKS: { path: string; text: string; actor?: boolean }[] = [
  { path: "new", text: "New request", actor: true },
  { path: "executions", text: "Executions" },
  { path: "approvals", text: "Approvals" },
  { path: "logs", text: "Live logs" },
  { path: "metrics", text: "Metrics" },
  { path: "agents", text: "Agents" },
];

function defaultPage(canAct: boolean): string {
  return canAct ? "new" : "executions";
}

export function App() {
  const { principal, signOut } = useSession();
  const route = useRoute();
  const reconnecting = useReconnecting();
  const canAct = principal ? principal.role !== "viewer" : false;
  const page = route.parts[0] ?? (principal ? defaultPage(canAct) : "");

  useEffect(() => {
    const title = LINKS.find((l) => l.path === page)?.text ?? (page === "executions" ? "Execution" : "Dashboard");
    document.title = `${principal ? title : "Sign in"} · baton`;
  }, [page, principal]);

  if (principal === undefined) {
    return (
      <main id="main" className="centered">
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (principal === null) {
    return (
      <main id="main" className="centered">
        <SignIn />
      </main>
    );
  }
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">baton</span>
        <nav aria-label="Main" data-testid="nav">
          <ul>
            {LINKS.filter((l) => canAct || !l.actor).map((l) => (
              <li key={l.path}>
                <a href={`#/${l.path}`} aria-current={page === l.path ? "page" : undefined}>
                  {l.text}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span>
            {principal.name} · <span data-testid="role">{principal.role}</span> · workspace {principal.workspace_id}
          </span>
          <button type="button" className="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      {reconnecting && (
        <div className="banner" role="status" data-testid="reconnecting-banner">
          Reconnecting… the live stream dropped; events resume where they stopped.
        </div>
      )}
      <main id="main" tabIndex={-1}>
        <PageFor page={page} route={route} canAct={canAct} />
      </main>
    </>
  );
}

function PageFor({ page, route, canAct }: { page: string; route: Route; canAct: boolean }) {
  switch (page) {
    case "new":
      return canAct ? <NewRequest /> : <NotAllowed />;
    case "executions": {
      const id = route.parts[1];
      if (!id) return <Executions />;
      return <ExecutionPage key={id} executionId={id} stepId={route.parts[3] ?? null} />;
    }
    case "logs":
      return <Logs executionId={route.query.get("execution")} />;
    case "approvals":
      return <Approvals />;
    case "metrics":
      return <Metrics />;
    case "agents":
      return <Agents />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page <code>{page}</code>. Go to the <a href="#/executions">executions</a>.
          </p>
        </section>
      );
  }
}

function NotAllowed() {
  return (
    <section>
      <h1>New request</h1>
      <p>Your role (viewer) may read executions but not start them.</p>
    </section>
  );
}
