import { Link, useNavigate, useParams } from "react-router-dom";
import { describeError, ErrorMessage } from "../../components/ErrorMessage";
import { Player } from "../../components/Player/Player";
import { ProgressBar } from "../../components/ProgressBar/ProgressBar";
import { StatusBadge } from "../../components/StatusBadge";
import { usePageTitle } from "../../components/usePageTitle";
import { ApiError } from "../../lib/api/client";
import { isTerminal, type Job } from "../../lib/api/types";
import { useI18n } from "../../lib/i18n";
import type { ReuseState } from "../generate/GeneratePage";
import { labelFor } from "../generate/ParameterField";
import { useCancelJob } from "./api";
import { jobTiming } from "./timing";
import { useFinishSound } from "./useFinishSound";
import { useLiveJob } from "./useLiveJob";
import { useNow } from "./useNow";

export function videoFilename(job: Job): string {
  const video = job.outputs.find((output) => output.kind === "video");
  return video?.filename.split("/").pop() || `${job.id}.mp4`;
}

function JobProgress({ job }: { job: Job }) {
  const { t, formatDuration } = useI18n();
  const now = useNow(!isTerminal(job.state));
  const { elapsed, remaining } = jobTiming(job, now);
  const steps = job.steps ?? null;
  const step = job.step ?? null;
  // The steps are the running stage's own (encode chunks, sampler steps, decode chunks): they follow its name.
  const stepText = steps ? t("job.step", { step: step ?? 0, steps }) : undefined;
  const stage = job.node ? t("job.stage", { stage: job.node }) : t("job.preparing");
  const stageText = [stage, stepText].filter(Boolean).join(" · ");
  return (
    <div className="job-progress">
      {job.state === "queued" && (
        <p className="queue" role="status">
          {job.queue_position ? t("job.queuePosition", { position: job.queue_position }) : t("job.waiting")}
        </p>
      )}
      <ProgressBar
        value={job.state === "queued" ? 0 : job.progress}
        label={t("job.progress")}
        valueText={job.state === "running" ? stageText : undefined}
        detail={job.state === "running" ? stageText : undefined}
      />
      <p className="timing">
        <span>{t("job.elapsed", { time: formatDuration(elapsed) })}</span>
        {job.state === "running" && (
          <span>{remaining !== null ? t("job.remaining", { time: formatDuration(remaining) }) : t("job.remainingUnknown")}</span>
        )}
      </p>
    </div>
  );
}

function JobResult({ job }: { job: Job }) {
  const { t } = useI18n();
  const prompt = String((job.parameters as Record<string, unknown>).prompt ?? "");
  // The job's URLs carry a download signature, so the player streams them (with seeking) and needs no header.
  if (!job.video_url) return <p role="status">{t("job.videoLoading")}</p>;
  return (
    <div className="job-result">
      <Player src={job.video_url} poster={job.poster_url ?? undefined} title={prompt || job.id} autoPlay />
      <a className="button primary" href={job.video_url} download={videoFilename(job)}>
        {t("job.download")}
      </a>
    </div>
  );
}

function JobParameters({ job }: { job: Job }) {
  const i18n = useI18n();
  const { t, formatDate } = i18n;
  const navigate = useNavigate();
  const entries = Object.entries(job.parameters as Record<string, unknown>).filter(([name]) => name !== "image");
  const reuse = () => {
    const state: ReuseState = { reuse: { id: job.id, workflow: job.workflow, parameters: job.parameters, seed: job.seed } };
    navigate("/generate", { state });
  };
  return (
    <section className="job-parameters" aria-labelledby="job-parameters-heading">
      <h2 id="job-parameters-heading">{t("job.parameters")}</h2>
      <dl>
        <dt>{t("job.workflowUsed")}</dt>
        <dd>{job.workflow}</dd>
        <dt>{t("job.seedUsed")}</dt>
        <dd data-testid="job-seed">{job.seed ?? "—"}</dd>
        <dt>{t("job.created")}</dt>
        <dd>
          <time dateTime={job.created_at}>{formatDate(job.created_at)}</time>
        </dd>
        {entries
          .filter(([name]) => name !== "seed")
          .map(([name, value]) => (
            <div key={name} className="dl-row">
              <dt>{name === "prompt" ? t("generate.prompt") : name === "negative_prompt" ? t("generate.negative") : labelFor({ name }, i18n)}</dt>
              <dd>{typeof value === "object" ? JSON.stringify(value) : String(value)}</dd>
            </div>
          ))}
      </dl>
      <button type="button" onClick={reuse}>
        {t("job.reuse")}
      </button>
    </section>
  );
}

export function JobPage() {
  const { id = "" } = useParams();
  const i18n = useI18n();
  const { t, formatDuration } = i18n;
  const job = useLiveJob(id);
  const cancel = useCancelJob(id);
  const heading = usePageTitle(t("job.title"));
  useFinishSound(job.data?.state);

  if (job.isPending) {
    return (
      <section>
        <h1 tabIndex={-1} ref={heading}>
          {t("job.title")}
        </h1>
        <p role="status">{t("job.loading")}</p>
      </section>
    );
  }
  if (!job.data) {
    const missing = job.error instanceof ApiError && [403, 404].includes(job.error.status);
    return (
      <section>
        <h1 tabIndex={-1} ref={heading}>
          {t("job.title")}
        </h1>
        <p className="error" role="alert">
          {missing ? t("job.notFound") : describeError(job.error, i18n)}
        </p>
        <Link to="/">{t("nav.home")}</Link>
      </section>
    );
  }

  const data = job.data;
  const prompt = String((data.parameters as Record<string, unknown>).prompt ?? "");
  const { total } = jobTiming(data, Date.now());
  return (
    <section className="job" aria-labelledby="job-heading">
      <div className="job-head">
        <h1 id="job-heading" tabIndex={-1} ref={heading}>
          {t("job.title")} <StatusBadge state={data.state} />
        </h1>
        <p className="job-prompt">{prompt || t("home.noPrompt")}</p>
      </div>
      <div role="status" aria-live="polite" className="visually-hidden" data-testid="job-state">
        {t(`state.${data.state}`)}
      </div>
      {!isTerminal(data.state) && (
        <>
          <JobProgress job={data} />
          {job.streamFailed && <p className="notice">{t("job.polling")}</p>}
          <ErrorMessage error={cancel.error} />
          <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            {cancel.isPending ? t("job.cancelling") : t("job.cancel")}
          </button>
        </>
      )}
      {data.state === "succeeded" && (
        <>
          <ProgressBar
            value={1}
            label={t("job.progress")}
            valueText={t("job.finished")}
          />
          {data.cached && <p className="notice">{t("job.cached")}</p>}
          {total !== null && <p className="timing">{t("job.took", { time: formatDuration(total) })}</p>}
          <JobResult job={data} />
        </>
      )}
      {data.state === "failed" && (
        <p className="error" role="alert">
          {data.error ? t("job.failed", { reason: data.error }) : t("job.failedUnknown")}
        </p>
      )}
      {data.state === "cancelled" && <p className="notice">{t("job.cancelled")}</p>}
      <JobParameters job={data} />
    </section>
  );
}
