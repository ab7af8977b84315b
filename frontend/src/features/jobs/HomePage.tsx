import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { ErrorMessage } from "../../components/ErrorMessage";
import { StatusBadge } from "../../components/StatusBadge";
import { usePageTitle } from "../../components/usePageTitle";
import type { Job } from "../../lib/api/types";
import { useI18n } from "../../lib/i18n";
import { useSession } from "../auth/session";
import { instancesQueryOptions, PAGE_SIZE, useJobs } from "./api";

function Thumbnail({ job }: { job: Job }) {
  // poster_url carries a download signature: the <img> loads it without the bearer header.
  if (job.state === "succeeded" && job.poster_url) return <img src={job.poster_url} alt="" loading="lazy" />;
  return <div className={`thumb-placeholder thumb-${job.state}`} aria-hidden="true" />;
}

function JobCard({ job, showUser }: { job: Job; showUser: boolean }) {
  const { t, formatDate } = useI18n();
  const prompt = String((job.parameters as Record<string, unknown>).prompt ?? "").trim();
  // The link is named by what it shows, prompt first: "<prompt> <state> <date>".
  return (
    <li className="card job-card">
      <Link to={`/jobs/${encodeURIComponent(job.id)}`}>
        <Thumbnail job={job} />
        <div className="job-card-body">
          <p className="job-card-prompt">{prompt || t("home.noPrompt")}</p>
          <p className="job-card-meta">
            <StatusBadge state={job.state} /> <time dateTime={job.created_at}>{formatDate(job.created_at)}</time>
            {showUser && <span>{t("home.by", { user: job.user })}</span>}
          </p>
          {job.state === "running" && (
            <div className="mini-progress" aria-hidden="true">
              <div style={{ width: `${Math.round(job.progress * 100)}%` }} />
            </div>
          )}
        </div>
      </Link>
    </li>
  );
}

function InstancesPanel() {
  const { t, formatDate } = useI18n();
  const instances = useQuery(instancesQueryOptions());
  return (
    <section className="instances" aria-labelledby="instances-heading">
      <h2 id="instances-heading">{t("instances.title")}</h2>
      <ErrorMessage error={instances.error} />
      {instances.data && instances.data.length === 0 && <p>{t("instances.none")}</p>}
      {instances.data && instances.data.length > 0 && (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("instances.url")}</th>
                <th scope="col">{t("instances.state")}</th>
                <th scope="col">{t("instances.queue")}</th>
                <th scope="col">{t("instances.current")}</th>
                <th scope="col">{t("instances.nodes")}</th>
                <th scope="col">{t("instances.seen")}</th>
              </tr>
            </thead>
            <tbody>
              {instances.data.map((instance) => (
                <tr key={instance.id}>
                  <th scope="row">{instance.url}</th>
                  <td>
                    <span className={`badge badge-${instance.state === "up" ? "succeeded" : "failed"}`}>
                      {t(instance.state === "up" ? "instances.up" : "instances.down")}
                    </span>
                    {instance.error && <span className="hint"> {instance.error}</span>}
                  </td>
                  <td>{instance.queue_depth}</td>
                  <td>
                    {instance.current_job ? <Link to={`/jobs/${encodeURIComponent(instance.current_job)}`}>{instance.current_job}</Link> : "—"}
                  </td>
                  <td>{instance.node_types}</td>
                  <td>{instance.last_seen_at ? formatDate(instance.last_seen_at) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function HomePage() {
  const { t } = useI18n();
  const { user } = useSession();
  const isAdmin = user?.role === "admin";
  const [search, setSearch] = useSearchParams();
  const page = Math.max(1, Number.parseInt(search.get("page") ?? "1", 10) || 1);
  const jobs = useJobs(page);
  const title = isAdmin ? t("home.allTitle") : t("home.title");
  const heading = usePageTitle(title);
  const pages = jobs.data ? Math.max(1, Math.ceil(jobs.data.total / (jobs.data.page_size || PAGE_SIZE))) : 1;
  const goTo = (next: number) => setSearch(next === 1 ? {} : { page: String(next) });

  return (
    <section aria-labelledby="home-heading">
      <div className="page-head">
        <h1 id="home-heading" tabIndex={-1} ref={heading}>
          {title}
        </h1>
        <Link className="button primary" to="/generate">
          {t("nav.generate")}
        </Link>
      </div>
      <ErrorMessage error={jobs.error} />
      {jobs.isPending && <p role="status">{t("home.loading")}</p>}
      {jobs.data && jobs.data.total === 0 && (
        <p>
          {t("home.empty")} <Link to="/generate">{t("home.start")}</Link>
        </p>
      )}
      {jobs.data && jobs.data.items.length > 0 && (
        <>
          <p className="hint">{t("home.total", { count: jobs.data.total })}</p>
          <ul className="gallery" aria-label={title}>
            {jobs.data.items.map((job) => (
              <JobCard key={job.id} job={job} showUser={isAdmin} />
            ))}
          </ul>
          {pages > 1 && (
            <nav className="pagination" aria-label={t("home.pagination")}>
              <button type="button" onClick={() => goTo(page - 1)} disabled={page <= 1}>
                {t("home.prev")}
              </button>
              <span aria-current="page">{t("home.page", { page, pages })}</span>
              <button type="button" onClick={() => goTo(page + 1)} disabled={page >= pages}>
                {t("home.next")}
              </button>
            </nav>
          )}
        </>
      )}
      {isAdmin && <InstancesPanel />}
    </section>
  );
}
