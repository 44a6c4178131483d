import { useState, type FormEvent } from "react";
import { errorText } from "../lib/api";
import { useSession } from "../lib/session";

export function SignIn() {
  const { signIn } = useSession();
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
    } catch (exc) {
      setError(errorText(exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card signin">
      <h1>Sign in to baton</h1>
      <form data-testid="signin-form" onSubmit={(e) => void submit(e)}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api_key"
          type="password"
          autoComplete="current-password"
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby={error ? "signin-error" : "signin-help"}
        />
        <p id="signin-help" className="help">
          <code>baton serve</code> prints the first admin key; <code>baton keys create</code> makes more.
        </p>
        {error && (
          <p id="signin-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </section>
  );
}
