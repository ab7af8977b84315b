import { NavLink, Outlet } from "react-router-dom";
import { useSession } from "../features/auth/session";
import { clearDraft } from "../features/generate/draft";
import { LOCALE_NAMES, LOCALES, useI18n, type Locale } from "../lib/i18n";
import { useSoundMuted } from "../lib/sound";

export function Layout() {
  const { t, locale, setLocale } = useI18n();
  const { user, logout } = useSession();
  const [muted, setMuted] = useSoundMuted();
  return (
    <>
      <a className="skip-link" href="#main">
        {t("app.skip")}
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand">
          {t("app.title")}
        </NavLink>
        {user && (
          <nav aria-label={t("nav.main")}>
            <NavLink to="/" end>
              {t("nav.home")}
            </NavLink>
            <NavLink to="/generate">{t("nav.generate")}</NavLink>
          </nav>
        )}
        <div className="topbar-tools">
          <label className="inline">
            <span className="visually-hidden">{t("nav.language")}</span>
            <select value={locale} onChange={(e) => setLocale(e.target.value as Locale)} aria-label={t("nav.language")}>
              {LOCALES.map((code) => (
                <option key={code} value={code} lang={code}>
                  {LOCALE_NAMES[code]}
                </option>
              ))}
            </select>
          </label>
          {user && (
            <>
              <label className="inline sound-switch">
                <input type="checkbox" checked={!muted} onChange={(e) => setMuted(!e.target.checked)} />
                <span>{t("nav.sound")}</span>
              </label>
              <span className="user" title={t("nav.signedInAs", { name: user.username })}>
                {user.username}
              </span>
              <button
                type="button"
                onClick={() => {
                  clearDraft();
                  logout();
                }}
              >
                {t("nav.logout")}
              </button>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
