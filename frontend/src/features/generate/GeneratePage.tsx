import { useEffect, useId, useMemo, useState, type FormEvent } from "react";
import { useLocation, useNavigate } from "react-router-dom";
import { ErrorMessage } from "../../components/ErrorMessage";
import type { ImageInfo } from "../../components/Upload/check";
import { Upload } from "../../components/Upload/Upload";
import { usePageTitle } from "../../components/usePageTitle";
import type { Job, Workflow } from "../../lib/api/types";
import { useI18n } from "../../lib/i18n";
import { useSubmitJob, useWorkflows } from "./api";
import { loadDraft, saveDraft, type Draft } from "./draft";
import {
  checkValue,
  defaultText,
  defaultValues,
  durationForFrames,
  findParameter,
  framesForDuration,
  layoutParameters,
  outputSize,
  randomSeed,
  switchWorkflow,
  type Values,
} from "./form";
import { DurationField, SeedField, TextAreaField, WorkflowSelect } from "./fields";
import { labelFor, ParameterField, problemText } from "./ParameterField";

export const DEFAULT_WORKFLOW = "i2v_480p";

export type ReuseState = { reuse?: Pick<Job, "id" | "workflow" | "parameters" | "seed"> };

function pickWorkflow(workflows: Workflow[], wanted: string | null): Workflow | undefined {
  if (wanted) {
    const exact = workflows.find((w) => w.ref === wanted);
    if (exact) return exact;
    const byName = workflows.find((w) => w.name === wanted.split("@")[0] && w.latest);
    if (byName) return byName;
  }
  return workflows.find((w) => w.name === DEFAULT_WORKFLOW && w.latest) ?? workflows.find((w) => w.latest) ?? workflows[0];
}

function fpsOf(workflow: Workflow | undefined, values: Values): number {
  const parameter = findParameter(workflow, "fps");
  if (parameter && !checkValue(parameter, values.fps ?? "")) return Number(values.fps);
  return workflow?.fps ?? 16;
}

/** A draft rebuilt from an earlier job's resolved parameters (its image must be chosen again). */
function draftFromJob(job: NonNullable<ReuseState["reuse"]>, workflow: Workflow): Draft {
  const values = defaultValues(workflow);
  for (const parameter of workflow.parameters) {
    const used = (job.parameters as Record<string, unknown>)[parameter.name];
    if (parameter.type !== "image" && used !== undefined && used !== null) values[parameter.name] = String(used);
  }
  if (job.seed !== null && job.seed !== undefined) values.seed = String(job.seed);
  const frames = Number(values.num_frames ?? 81);
  return {
    workflow: workflow.ref,
    values,
    duration: String(durationForFrames(frames, fpsOf(workflow, values))),
    seedLocked: true,
    image: null,
    reusedFrom: job.id,
  };
}

const EMPTY_DRAFT: Draft = { workflow: null, values: {}, duration: "", seedLocked: false, image: null };

function freshDraft(workflow: Workflow): Draft {
  const values = defaultValues(workflow);
  const seed = findParameter(workflow, "seed");
  if (seed) values.seed = randomSeed(seed);
  const frames = Number(values.num_frames ?? 81);
  return {
    workflow: workflow.ref,
    values,
    duration: String(durationForFrames(frames, fpsOf(workflow, values))),
    seedLocked: false,
    image: null,
  };
}

export function GeneratePage() {
  const i18n = useI18n();
  const { t } = i18n;
  const navigate = useNavigate();
  const location = useLocation();
  const reuse = (location.state as ReuseState | null)?.reuse;
  const workflows = useWorkflows();
  const submit = useSubmitJob();
  const heading = usePageTitle(t("generate.title"));
  const reasonId = useId();

  // The draft exists from the first render (an image can be dropped before the workflows arrive);
  // it gets a workflow and its defaults once they do.
  const [draft, setDraft] = useState<Draft>(() => (reuse ? null : loadDraft()) ?? EMPTY_DRAFT);
  const [imageProblem, setImageProblem] = useState<string | null>(null);

  // Once the workflows are known: apply "use these settings again", or fill in a fresh draft.
  useEffect(() => {
    if (!workflows.data || workflows.data.length === 0) return;
    if (reuse) {
      const workflow = pickWorkflow(workflows.data, reuse.workflow);
      if (workflow) setDraft((current) => ({ ...draftFromJob(reuse, workflow), image: current.image }));
      navigate(location.pathname, { replace: true, state: null });
    } else if (!draft.workflow) {
      const workflow = pickWorkflow(workflows.data, null);
      if (workflow) setDraft((current) => ({ ...freshDraft(workflow), image: current.image }));
    }
  }, [workflows.data, reuse, draft.workflow, navigate, location.pathname]);

  useEffect(() => {
    if (draft.workflow) saveDraft(draft);
  }, [draft]);

  const workflow = workflows.data && draft.workflow ? pickWorkflow(workflows.data, draft.workflow) : undefined;
  const values = draft.values;
  const layout = useMemo(() => (workflow ? layoutParameters(workflow) : { main: [], advanced: [] }), [workflow]);

  const update = (patch: Partial<Draft>) => setDraft((current) => ({ ...current, ...patch }));
  const setValue = (name: string, value: string) =>
    setDraft((current) => ({ ...current, values: { ...current.values, [name]: value } }));

  const fps = fpsOf(workflow, values);
  const framesParameter = findParameter(workflow, "num_frames");
  const seedParameter = findParameter(workflow, "seed");
  const promptParameter = findParameter(workflow, "prompt");
  const negativeParameter = findParameter(workflow, "negative_prompt");
  const durationNumber = Number(draft.duration ?? "");
  const durationValid = draft.duration.trim() !== "" && Number.isFinite(durationNumber) && durationNumber >= 0;
  const frames = framesParameter ? framesForDuration(durationValid ? durationNumber : 0, fps, framesParameter) : null;
  const size = outputSize(draft.image ?? null, values.resolution, values.width, values.height);

  // Every reason the form cannot be sent, in the order a person meets the fields.
  const reasons: string[] = [];
  if (!workflows.data) reasons.push(t("generate.loading"));
  else if (!workflow) reasons.push(t("generate.reason.workflow"));
  if (imageProblem) reasons.push(t("generate.reason.imageInvalid"));
  else if (!draft.image) reasons.push(t("generate.reason.image"));
  if (framesParameter && !durationValid) {
    reasons.push(t("generate.reason.field", { field: t("generate.duration"), problem: t("field.notNumber") }));
  }
  if (seedParameter) {
    const problem = checkValue(seedParameter, values.seed ?? "");
    if (problem) reasons.push(t("generate.reason.field", { field: t("generate.seed"), problem: problemText(problem, i18n) }));
  }
  for (const parameter of [...layout.main, ...layout.advanced]) {
    const problem = checkValue(parameter, values[parameter.name] ?? "");
    if (problem) {
      reasons.push(t("generate.reason.field", { field: labelFor(parameter, i18n), problem: problemText(problem, i18n) }));
    }
  }
  const blocked = reasons.length > 0 || submit.isPending;

  function chooseWorkflow(ref: string) {
    const next = workflows.data?.find((w) => w.ref === ref);
    if (!next) return;
    update({ workflow: next.ref, values: switchWorkflow(draft.values, workflow, next) });
  }

  function onImage(image: ImageInfo | null, problem: string | null) {
    setImageProblem(problem);
    update({ image });
  }

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (blocked || !workflow || !draft.image) return;
    const sent: Values = {};
    for (const parameter of workflow.parameters) {
      if (parameter.type === "image") continue;
      const value = draft.values[parameter.name];
      if (value !== undefined) sent[parameter.name] = value.trim();
    }
    if (seedParameter && !draft.seedLocked) sent.seed = randomSeed(seedParameter);
    if (framesParameter && frames !== null) sent.num_frames = String(frames);
    setDraft({ ...draft, values: { ...draft.values, seed: sent.seed ?? draft.values.seed ?? "" }, reusedFrom: undefined });
    try {
      const created = await submit.mutateAsync({ image: draft.image.file, workflow: workflow.ref, values: sent });
      // The next video starts from these settings, with a new seed unless it is locked.
      navigate(`/jobs/${encodeURIComponent(created.job_id)}`);
    } catch {
      // shown below through submit.error; a 401 has already sent the person to log in
    }
  }

  return (
    <section aria-labelledby="generate-heading">
      <h1 id="generate-heading" tabIndex={-1} ref={heading}>
        {t("generate.title")}
      </h1>
      {workflows.isError && <ErrorMessage error={workflows.error} />}
      {draft.reusedFrom && (
        <p className="notice" role="status">
          {t("generate.reuse")}
        </p>
      )}
      <form className="generate" onSubmit={onSubmit} noValidate>
        <div className="generate-media">
          <Upload value={draft.image ?? null} onChange={onImage} />
          <p className="output-size" aria-live="polite">
            <strong>{t("generate.outputSize")}:</strong>{" "}
            {size ? t("generate.outputSizeValue", { width: String(size.width), height: String(size.height) }) : t("generate.outputSizeUnknown")}
          </p>
        </div>
        <div className="generate-fields">
          {workflows.data && <WorkflowSelect workflows={workflows.data} value={workflow} onChange={chooseWorkflow} />}
          {promptParameter && (
            <TextAreaField
              label={t("generate.prompt")}
              hint={t("generate.promptHint")}
              value={values.prompt ?? ""}
              onChange={(value) => setValue("prompt", value)}
            />
          )}
          {negativeParameter && (
            <TextAreaField
              label={t("generate.negative")}
              hint={t("generate.negativeHint")}
              value={values.negative_prompt ?? ""}
              onChange={(value) => setValue("negative_prompt", value)}
              reset={{ value: defaultText(negativeParameter), label: t("generate.negativeReset") }}
            />
          )}
          {framesParameter && frames !== null && (
            <DurationField value={draft.duration} onChange={(duration) => update({ duration })} frames={frames} fps={fps} />
          )}
          {seedParameter && (
            <SeedField
              parameter={seedParameter}
              value={values.seed ?? ""}
              locked={draft.seedLocked}
              onChange={(value) => setValue("seed", value)}
              onLock={(seedLocked) => update({ seedLocked })}
            />
          )}
          {layout.main.map((parameter) => (
            <ParameterField
              key={parameter.name}
              parameter={parameter}
              value={values[parameter.name] ?? ""}
              onChange={(value) => setValue(parameter.name, value)}
            />
          ))}
          {layout.advanced.length > 0 && (
            <details className="advanced">
              <summary>{t("generate.advanced")}</summary>
              {layout.advanced.map((parameter) => (
                <ParameterField
                  key={parameter.name}
                  parameter={parameter}
                  value={values[parameter.name] ?? ""}
                  onChange={(value) => setValue(parameter.name, value)}
                />
              ))}
            </details>
          )}
          <ErrorMessage error={submit.error} />
          <div className="actions">
            <button
              type="submit"
              className="primary"
              disabled={blocked}
              aria-describedby={reasons.length ? reasonId : undefined}
            >
              {submit.isPending ? t("generate.submitting") : t("generate.submit")}
            </button>
            {reasons.length > 0 && (
              <ul className="reasons" id={reasonId} aria-live="polite">
                {reasons.map((reason) => (
                  <li key={reason}>{reason}</li>
                ))}
              </ul>
            )}
          </div>
        </div>
      </form>
    </section>
  );
}
