import { keepPreviousData, queryOptions, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../lib/api/client";
import { isTerminal, type Instance, type Job, type JobPage } from "../../lib/api/types";

export const POLL_MS = 2_000;
/** How often the gallery refreshes while one of its jobs is still queued or running (tests shorten it). */
export const galleryTiming = { pollMs: 3_000 };
export const PAGE_SIZE = 12;

export const jobQueryOptions = (id: string) =>
  queryOptions({
    queryKey: ["jobs", "one", id] as const,
    queryFn: (): Promise<Job> => unwrap(api.GET("/api/jobs/{job_id}", { params: { path: { job_id: id } } })),
    retry: (count, error) => count < 2 && !("status" in error && [401, 403, 404].includes((error as { status: number }).status)),
  });

export const jobsQueryOptions = (page: number, pageSize = PAGE_SIZE) =>
  queryOptions({
    queryKey: ["jobs", "page", page, pageSize] as const,
    queryFn: (): Promise<JobPage> =>
      unwrap(api.GET("/api/jobs", { params: { query: { page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
    // Live while any job on the page is still queued or running.
    refetchInterval: (query) => (query.state.data?.items.some((job) => !isTerminal(job.state)) ? galleryTiming.pollMs : false),
  });

export function useJobs(page: number) {
  return useQuery(jobsQueryOptions(page));
}

export function useCancelJob(id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (): Promise<Job> => unwrap(api.POST("/api/jobs/{job_id}/cancel", { params: { path: { job_id: id } } })),
    onSuccess: (job) => {
      queryClient.setQueryData(jobQueryOptions(id).queryKey, job);
      void queryClient.invalidateQueries({ queryKey: ["jobs", "page"] });
    },
  });
}

export const instancesQueryOptions = () =>
  queryOptions({
    queryKey: ["instances"] as const,
    queryFn: (): Promise<Instance[]> => unwrap(api.GET("/api/instances")),
    refetchInterval: 5_000,
  });
