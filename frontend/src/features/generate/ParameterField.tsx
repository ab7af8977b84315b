import { useId } from "react";
import type { Parameter } from "../../lib/api/types";
import { useI18n, type I18n } from "../../lib/i18n";
import { checkValue, defaultText, type FieldProblem } from "./form";

export function problemText(problem: FieldProblem, { t, formatNumber }: I18n): string {
  switch (problem.kind) {
    case "min":
      return t("field.min", { min: formatNumber(problem.min) });
    case "max":
      return t("field.max", { max: formatNumber(problem.max) });
    case "step":
      // As the server says it: a plain multiple when the lowest value is one itself (16, 32, ...).
      return problem.min % problem.step === 0
        ? t("field.multiple", { step: formatNumber(problem.step) })
        : t("field.step", { min: formatNumber(problem.min), step: formatNumber(problem.step) });
    default:
      return t(`field.${problem.kind}`);
  }
}

/**
 * A parameter's label: the translation when the page knows the name, else the manifest name made
 * readable ("motion_bucket" -> "Motion bucket"), so a new parameter needs no page change.
 */
export function labelFor(parameter: Pick<Parameter, "name">, { t, has }: I18n): string {
  const key = `param.${parameter.name}`;
  if (has(key)) return t(key);
  const words = parameter.name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

type Props = { parameter: Parameter; value: string; onChange: (value: string) => void };

/** One manifest parameter as a labelled input chosen by its type, with its bounds and description. */
export function ParameterField({ parameter, value, onChange }: Props) {
  const i18n = useI18n();
  const { t, formatNumber } = i18n;
  const id = useId();
  const problem = checkValue(parameter, value);
  const hintId = `${id}-hint`;
  const problemId = `${id}-problem`;
  const describedBy = [hintId, problem ? problemId : null].filter(Boolean).join(" ");
  const hasRange = parameter.min !== null && parameter.min !== undefined && parameter.max !== null && parameter.max !== undefined;
  const label = labelFor(parameter, i18n);

  let control;
  if (parameter.type === "enum") {
    control = (
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={describedBy}>
        {(parameter.choices ?? []).map((choice) => (
          <option key={String(choice)} value={String(choice)}>
            {String(choice)}
          </option>
        ))}
      </select>
    );
  } else if (parameter.type === "bool") {
    control = (
      <input
        id={id}
        type="checkbox"
        checked={value === "true"}
        onChange={(e) => onChange(e.target.checked ? "true" : "false")}
        aria-describedby={describedBy}
      />
    );
  } else if (parameter.type === "int" || parameter.type === "float") {
    control = (
      <input
        id={id}
        type="number"
        inputMode={parameter.type === "int" ? "numeric" : "decimal"}
        min={parameter.min ?? undefined}
        max={parameter.max ?? undefined}
        step={parameter.step ?? (parameter.type === "int" ? 1 : "any")}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={problem ? true : undefined}
        aria-describedby={describedBy}
      />
    );
  } else {
    control = (
      <input id={id} type="text" value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={describedBy} />
    );
  }

  const fallback = defaultText(parameter);
  return (
    <div className={`field field-${parameter.type}`} data-parameter={parameter.name}>
      <label htmlFor={id}>{label}</label>
      {control}
      <p className="hint" id={hintId}>
        {parameter.description}
        {hasRange && ` ${t("field.range", { min: formatNumber(parameter.min as number), max: formatNumber(parameter.max as number) })}.`}
        {fallback !== "" && ` ${t("field.default", { value: parameter.type === "bool" ? t(fallback === "true" ? "field.yes" : "field.no") : fallback })}`}
      </p>
      {problem && (
        <p className="error" id={problemId}>
          {problemText(problem, i18n)}
        </p>
      )}
    </div>
  );
}
