import type { JobState } from "../lib/api/types";
import { useI18n } from "../lib/i18n";

export function StatusBadge({ state }: { state: JobState }) {
  const { t } = useI18n();
  return <span className={`badge badge-${state}`}>{t(`state.${state}`)}</span>;
}
