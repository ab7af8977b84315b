import type { Job } from "../../lib/api/types";

function ms(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const value = Date.parse(iso);
  return Number.isNaN(value) ? null : value;
}

/** Seconds since the job was made (or, once running, since it started), and a guess at what is left. */
export function jobTiming(job: Job, now: number): { elapsed: number; remaining: number | null; total: number | null } {
  const created = ms(job.created_at) ?? now;
  const started = ms(job.started_at);
  const finished = ms(job.finished_at);
  const end = finished ?? now;
  const elapsed = Math.max(0, (end - created) / 1000);
  const total = finished !== null ? Math.max(0, (finished - created) / 1000) : null;
  let remaining: number | null = null;
  if (job.state === "running" && started !== null && job.progress > 0.01 && job.progress < 1) {
    const running = Math.max(0, (now - started) / 1000);
    remaining = (running * (1 - job.progress)) / job.progress;
  }
  return { elapsed, remaining, total };
}
