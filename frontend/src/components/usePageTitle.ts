import { useEffect, useRef } from "react";
import { useI18n } from "../lib/i18n";

/**
 * Sets the document title for a page and moves focus to its heading when the page opens, so a
 * screen reader announces where a link led. Returns the ref to put on the page's <h1 tabIndex={-1}>.
 */
export function usePageTitle(title: string) {
  const { t } = useI18n();
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · ${t("app.title")}`;
  }, [title, t]);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, []);
  return ref;
}
