import { queryOptions, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../lib/api/client";
import type { JobCreated, Workflow } from "../../lib/api/types";

export const workflowsQueryOptions = () =>
  queryOptions({
    queryKey: ["workflows"] as const,
    queryFn: (): Promise<Workflow[]> => unwrap(api.GET("/api/workflows")),
    staleTime: 10 * 60_000,
  });

export function useWorkflows() {
  return useQuery(workflowsQueryOptions());
}

export type Submission = { image: File; workflow: string; values: Record<string, string> };

/** POST /api/generate as multipart: the image, the workflow ref and each parameter as a form field. */
export function submitJob({ image, workflow, values }: Submission): Promise<JobCreated> {
  const form = new FormData();
  form.set("image", image, image.name);
  form.set("workflow", workflow);
  for (const [name, value] of Object.entries(values)) form.set(name, value);
  return unwrap(
    api.POST("/api/generate", {
      // The schema's fixed fields, type-checked; what goes on the wire is the multipart form
      // above (the file itself and every manifest parameter, which the schema cannot list).
      body: { image: image.name, workflow, prompt: values.prompt ?? null },
      bodySerializer: () => form,
    }),
  );
}

export function useSubmitJob() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: submitJob,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["jobs"] }),
  });
}
