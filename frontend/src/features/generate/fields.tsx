// The Generate form's own widgets (the rest of the parameters come from the manifest, see
// ParameterField): the workflow choice, the prompts, the duration and the seed.
import { useId } from "react";
import type { Parameter, Workflow } from "../../lib/api/types";
import { useI18n } from "../../lib/i18n";
import { durationForFrames, randomSeed } from "./form";

export function WorkflowSelect({ workflows, value, onChange }: { workflows: Workflow[]; value: Workflow | undefined; onChange: (ref: string) => void }) {
  const { t } = useI18n();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t("generate.workflow")}</label>
      <select id={id} value={value?.ref ?? ""} onChange={(e) => onChange(e.target.value)}>
        {workflows.filter((w) => w.latest).map((w) => (
          <option key={w.ref} value={w.ref}>{w.title}</option>
        ))}
        {workflows.some((w) => !w.latest) && (
          <optgroup label={t("generate.olderVersions")}>
            {workflows.filter((w) => !w.latest).map((w) => (
              <option key={w.ref} value={w.ref}>{`${w.title} (v${w.version})`}</option>
            ))}
          </optgroup>
        )}
      </select>
      {value?.description && <p className="hint">{value.description}</p>}
      {value?.demo_model && <p className="notice">{t("generate.demoModel")}</p>}
    </div>
  );
}

type TextProps = {
  label: string;
  hint: string;
  value: string;
  onChange: (value: string) => void;
  /** Offer to restore this value when the text differs from it. */
  reset?: { value: string; label: string };
};

export function TextAreaField({ label, hint, value, onChange, reset }: TextProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} rows={3} value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={`${id}-hint`} />
      <p className="hint" id={`${id}-hint`}>
        {hint}{" "}
        {reset && value !== reset.value && (
          <button type="button" className="link-button" onClick={() => onChange(reset.value)}>
            {reset.label}
          </button>
        )}
      </p>
    </div>
  );
}

/** One step of the duration input: a group of four frames at the fps. */
function frameStep(fps: number): number | "any" {
  return fps > 0 ? Number((4 / fps).toFixed(4)) : "any";
}

export function DurationField({ value, onChange, frames, fps }: { value: string; onChange: (value: string) => void; frames: number; fps: number }) {
  const { t, formatNumber } = useI18n();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t("generate.duration")}</label>
      <input
        id={id}
        type="number"
        inputMode="decimal"
        min={0}
        step={frameStep(fps)}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={`${id}-hint`}
      />
      <p className="hint" id={`${id}-hint`} aria-live="polite">
        {t("generate.durationInfo", {
          frames: t("generate.frames", { count: frames }),
          fps: formatNumber(fps),
          seconds: formatNumber(durationForFrames(frames, fps), { maximumFractionDigits: 2 }),
        })}
      </p>
    </div>
  );
}

type SeedProps = {
  parameter: Parameter;
  value: string;
  locked: boolean;
  onChange: (value: string) => void;
  onLock: (locked: boolean) => void;
};

export function SeedField({ parameter, value, locked, onChange, onLock }: SeedProps) {
  const { t } = useI18n();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t("generate.seed")}</label>
      <div className="seed-row">
        <input id={id} type="text" inputMode="numeric" value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={`${id}-hint`} />
        <button type="button" onClick={() => onChange(randomSeed(parameter))}>
          {t("generate.seedRandomise")}
        </button>
        <label className="inline">
          <input type="checkbox" checked={locked} onChange={(e) => onLock(e.target.checked)} /> {t("generate.seedLock")}
        </label>
      </div>
      <p className="hint" id={`${id}-hint`}>
        {t("generate.seedHint")}
      </p>
    </div>
  );
}
