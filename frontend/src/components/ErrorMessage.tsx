import { ApiError } from "../lib/api/client";
import { useI18n, type I18n } from "../lib/i18n";

/** A sentence for a failure: the page's own translation for known codes, else the API's message. */
export function describeError(error: unknown, i18n: I18n): string {
  const { t, has } = i18n;
  if (error instanceof ApiError) {
    if (error.code === "network") return t("error.network");
    const key = `error.${error.code}`;
    if (has(key)) return t(key);
    return error.message;
  }
  return t("error.generic", { message: error instanceof Error ? error.message : String(error) });
}

export function ErrorMessage({ error, id }: { error: unknown; id?: string }) {
  const i18n = useI18n();
  if (!error) return null;
  return (
    <p className="error" role="alert" id={id}>
      {describeError(error, i18n)}
    </p>
  );
}
