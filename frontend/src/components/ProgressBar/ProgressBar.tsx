import { useId } from "react";

export type ProgressBarProps = {
  /** 0..1, or null while the amount is not known yet (an indeterminate bar). */
  value: number | null;
  label: string;
  /** What a screen reader says instead of the bare percentage, e.g. "Step 3 of 20". */
  valueText?: string;
  /** Shown under the bar (and, being inside a live region, announced politely as it changes). */
  detail?: string;
};

/** An accessible progress bar: role=progressbar with its value, and a polite live description. */
export function ProgressBar({ value, label, valueText, detail }: ProgressBarProps) {
  const labelId = useId();
  const known = value !== null && Number.isFinite(value);
  const percent = known ? Math.round(Math.min(1, Math.max(0, value)) * 100) : null;
  return (
    <div className="progress">
      <div className="progress-head">
        <span id={labelId}>{label}</span>
        {percent !== null && <span aria-hidden="true">{percent}%</span>}
      </div>
      <div
        className={`progress-track${known ? "" : " progress-indeterminate"}`}
        role="progressbar"
        aria-labelledby={labelId}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
        aria-valuetext={valueText ?? (percent !== null ? `${percent}%` : undefined)}
      >
        <div className="progress-fill" style={{ width: `${percent ?? 100}%` }} />
      </div>
      {detail && (
        <p className="progress-detail" aria-live="polite">
          {detail}
        </p>
      )}
    </div>
  );
}
