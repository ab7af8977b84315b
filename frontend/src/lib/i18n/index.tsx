// The i18n layer: every visible string goes through t(); dates, numbers, sizes and durations are
// formatted for the current locale with Intl. The language is the saved choice, else the
// browser's, else English; a change is remembered in localStorage.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { en, type MessageKey } from "./en";
import { ru } from "./ru";

export type Plural = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
export type Message = string | Plural;
export type Locale = "en" | "ru";
export type Vars = Record<string, string | number>;

export const LOCALES: readonly Locale[] = ["en", "ru"];
export const LOCALE_NAMES: Record<Locale, string> = { en: "English", ru: "Русский" };
export const LOCALE_STORAGE_KEY = "wan.locale";

const DICTIONARIES: Record<Locale, Record<MessageKey, Message>> = { en, ru };

/** The saved locale, else the first supported browser language, else English. */
export function detectLocale(): Locale {
  try {
    const saved = localStorage.getItem(LOCALE_STORAGE_KEY);
    if (saved && (LOCALES as readonly string[]).includes(saved)) return saved as Locale;
  } catch {
    // storage may be unavailable (private mode); fall through to the browser's languages
  }
  const languages = typeof navigator === "undefined" ? [] : (navigator.languages ?? [navigator.language]);
  for (const language of languages) {
    const base = language?.toLowerCase().split("-")[0];
    if (base && (LOCALES as readonly string[]).includes(base)) return base as Locale;
  }
  return "en";
}

function fill(text: string, vars: Vars | undefined, locale: Locale): string {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = vars[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? new Intl.NumberFormat(locale).format(value) : value;
  });
}

export function translate(locale: Locale, key: MessageKey, vars?: Vars): string {
  const message = DICTIONARIES[locale][key] ?? en[key];
  if (typeof message === "string") return fill(message, vars, locale);
  const count = Number(vars?.count ?? 0);
  const form = new Intl.PluralRules(locale).select(count);
  return fill(message[form] ?? message.other, vars, locale);
}

export type I18n = {
  locale: Locale;
  setLocale: (locale: Locale) => void;
  t: (key: MessageKey, vars?: Vars) => string;
  /** Whether a key exists (for error codes that may or may not have a translation). */
  has: (key: string) => key is MessageKey;
  formatNumber: (value: number, options?: Intl.NumberFormatOptions) => string;
  formatDate: (iso: string | null | undefined) => string;
  formatDuration: (seconds: number) => string;
  formatBytes: (bytes: number) => string;
};

export function makeI18n(locale: Locale, setLocale: (locale: Locale) => void = () => undefined): I18n {
  const number = (value: number, options?: Intl.NumberFormatOptions) =>
    new Intl.NumberFormat(locale, options).format(value);
  return {
    locale,
    setLocale,
    t: (key, vars) => translate(locale, key, vars),
    has: (key: string): key is MessageKey => key in en,
    formatNumber: number,
    formatDate: (iso) => {
      if (!iso) return "";
      const date = new Date(iso);
      if (Number.isNaN(date.getTime())) return iso;
      return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(date);
    },
    formatDuration: (seconds) => {
      const total = Math.max(0, Math.round(seconds));
      const h = Math.floor(total / 3600);
      const m = Math.floor((total % 3600) / 60);
      const s = total % 60;
      const unit = (value: number, name: "hour" | "minute" | "second") =>
        new Intl.NumberFormat(locale, { style: "unit", unit: name, unitDisplay: "narrow" }).format(value);
      if (h) return `${unit(h, "hour")} ${unit(m, "minute")}`;
      if (m) return `${unit(m, "minute")} ${unit(s, "second")}`;
      return unit(s, "second");
    },
    formatBytes: (bytes) => {
      const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
      let value = bytes;
      let index = 0;
      while (value >= 1000 && index < units.length - 1) {
        value /= 1000;
        index += 1;
      }
      return number(value, {
        style: "unit",
        unit: units[index],
        unitDisplay: index === 0 ? "long" : "short",
        maximumFractionDigits: index === 0 ? 0 : 1,
      });
    },
  };
}

const I18nContext = createContext<I18n>(makeI18n("en"));

export function I18nProvider({ children, initial }: { children: ReactNode; initial?: Locale }) {
  const [locale, setLocaleState] = useState<Locale>(() => initial ?? detectLocale());
  const setLocale = useCallback((next: Locale) => {
    setLocaleState(next);
    try {
      localStorage.setItem(LOCALE_STORAGE_KEY, next);
    } catch {
      // not remembered, but still switched
    }
  }, []);
  useEffect(() => {
    document.documentElement.lang = locale;
    document.title = translate(locale, "app.title");
  }, [locale]);
  const value = useMemo(() => makeI18n(locale, setLocale), [locale, setLocale]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}

export type { MessageKey };
