import { useState, type FormEvent } from "react";
import { useLocation, useNavigate } from "react-router-dom";
import { useI18n } from "../../lib/i18n";
import { ErrorMessage } from "../../components/ErrorMessage";
import { usePageTitle } from "../../components/usePageTitle";
import { useSession, type LoginState } from "./session";

export function LoginPage() {
  const { t } = useI18n();
  const { login } = useSession();
  const navigate = useNavigate();
  const state = (useLocation().state ?? {}) as LoginState;
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const heading = usePageTitle(t("login.title"));

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (!username.trim() || !password) {
      setMissing(true);
      return;
    }
    setMissing(false);
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
      const from = state.from;
      navigate(from && from.pathname !== "/login" ? from : "/", { replace: true });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <section className="card narrow" aria-labelledby="login-heading">
      <h1 id="login-heading" tabIndex={-1} ref={heading}>
        {t("login.title")}
      </h1>
      {state.expired && (
        <p className="notice" role="status">
          {t("login.expired")}
        </p>
      )}
      <form onSubmit={onSubmit} noValidate>
        <div className="field">
          <label htmlFor="login-username">{t("login.username")}</label>
          <input
            id="login-username"
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="login-password">{t("login.password")}</label>
          <input
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </div>
        {missing && (
          <p className="error" role="alert">
            {t("login.required")}
          </p>
        )}
        <ErrorMessage error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t("login.busy") : t("login.submit")}
        </button>
      </form>
    </section>
  );
}
