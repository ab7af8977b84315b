// Types of the orchestrator's API, read off the generated schema by endpoint (so they follow the
// OpenAPI document whatever its components are called). Regenerate with `npm run gen:api`.
import type { paths } from "./schema";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
type Ok<Op> = Op extends { responses: infer R }
  ? R extends { 200: infer A }
    ? Json<A>
    : R extends { 202: infer B }
      ? Json<B>
      : never
  : never;

export type Token = Ok<paths["/api/auth/login"]["post"]>;
export type User = Ok<paths["/api/auth/me"]["get"]>;
export type Health = Ok<paths["/api/health"]["get"]>;
export type Workflow = Ok<paths["/api/workflows"]["get"]>[number];
export type Parameter = Workflow["parameters"][number];
export type JobCreated = Ok<paths["/api/generate"]["post"]>;
export type JobPage = Ok<paths["/api/jobs"]["get"]>;
export type Job = Ok<paths["/api/jobs/{job_id}"]["get"]>;
export type JobState = Job["state"];
export type Instance = Ok<paths["/api/instances"]["get"]>[number];

export const TERMINAL_STATES: readonly JobState[] = ["succeeded", "failed", "cancelled"];

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}
