import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { vi } from "vitest";
import { en } from "./en";
import { detectLocale, I18nProvider, LOCALE_STORAGE_KEY, makeI18n, translate, useI18n } from "./index";
import { ru } from "./ru";

function Probe() {
  const { t, setLocale, locale, formatDate } = useI18n();
  return (
    <div>
      <p>{t("login.title")}</p>
      <p data-testid="date">{formatDate("2026-03-05T14:30:00Z")}</p>
      <button onClick={() => setLocale(locale === "en" ? "ru" : "en")}>switch</button>
    </div>
  );
}

describe("i18n", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("has a Russian string for every English key, with the same placeholders", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      const english = JSON.stringify(en[key]);
      const russian = JSON.stringify(ru[key]);
      expect(russian, key).toBeTruthy();
      const names = (text: string) => [...new Set(text.match(/\{\w+\}/g) ?? [])].sort();
      expect(names(russian), key).toEqual(names(english));
    }
  });

  it("picks the browser's language, and a saved choice over it", () => {
    vi.stubGlobal("navigator", { ...navigator, languages: ["ru-RU", "en-US"], language: "ru-RU" });
    expect(detectLocale()).toBe("ru");
    vi.stubGlobal("navigator", { ...navigator, languages: ["de-DE", "fr"], language: "de-DE" });
    expect(detectLocale()).toBe("en");
    localStorage.setItem(LOCALE_STORAGE_KEY, "ru");
    expect(detectLocale()).toBe("ru");
  });

  it("uses Russian plural forms and locale number formats", () => {
    expect(translate("ru", "generate.frames", { count: 1 })).toBe("1 кадр");
    expect(translate("ru", "generate.frames", { count: 3 })).toBe("3 кадра");
    expect(translate("ru", "generate.frames", { count: 81 })).toBe("81 кадр");
    expect(translate("ru", "generate.frames", { count: 25 })).toBe("25 кадров");
    expect(translate("en", "generate.frames", { count: 1 })).toBe("1 frame");
    expect(translate("en", "generate.frames", { count: 1001 })).toBe("1,001 frames");
    expect(translate("ru", "generate.frames", { count: 1001 })).toBe("1\u00a0001 кадр");
    expect(makeI18n("ru").formatNumber(2.5)).toBe("2,5");
    expect(makeI18n("en").formatDuration(125)).toBe("2m 5s");
  });

  it("switches language, remembers it and sets <html lang>", async () => {
    const user = userEvent.setup();
    render(
      <I18nProvider initial="en">
        <Probe />
      </I18nProvider>,
    );
    expect(screen.getByText("Log in")).toBeInTheDocument();
    const englishDate = screen.getByTestId("date").textContent;
    await user.click(screen.getByRole("button", { name: "switch" }));
    expect(screen.getByText("Вход")).toBeInTheDocument();
    expect(document.documentElement.lang).toBe("ru");
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe("ru");
    expect(screen.getByTestId("date").textContent).not.toBe(englishDate);
    expect(screen.getByTestId("date").textContent).toMatch(/2026/);
  });
});
