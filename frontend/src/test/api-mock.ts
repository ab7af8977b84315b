// A stand-in for the orchestrator in component tests: routes "METHOD /path" to handlers and
// answers like the API (JSON, error bodies). Unknown requests fail the test loudly.
import { vi } from "vitest";
import type { Job, User, Workflow } from "../lib/api/types";

export type Handler = (request: Request, match: RegExpMatchArray) => unknown | Response | Promise<unknown | Response>;

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

export function apiError(status: number, code: string, message = code): Response {
  return json({ error: { code, message, field: null } }, status);
}

export function mockApi(routes: Record<string, Handler>) {
  const table = Object.entries(routes).map(([key, handler]) => {
    const [method, path] = key.split(" ") as [string, string];
    const pattern = new RegExp(`^${path.replace(/:[a-z_]+/g, "([^/]+)")}$`);
    return { method, pattern, handler };
  });
  const calls: Request[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), window.location.origin), init);
    calls.push(request);
    const url = new URL(request.url);
    for (const route of table) {
      const match = url.pathname.match(route.pattern);
      if (match && route.method === request.method) {
        const result = await route.handler(request, match);
        return result instanceof Response ? result : json(result);
      }
    }
    throw new Error(`unexpected request ${request.method} ${url.pathname}${url.search}`);
  });
  vi.stubGlobal("fetch", fetchMock);
  return { fetchMock, calls };
}

export const USER: User = { id: "u1", username: "alice", role: "user", created_at: "2026-01-02T03:04:05Z" };

/** Stores a signed-in session the way the page does after logging in. */
export function signIn(user = USER): void {
  localStorage.setItem("wan.session", JSON.stringify({ token: "tok-1", user, expiresAt: Date.now() + 3_600_000 }));
}

export const WORKFLOW: Workflow = {
  name: "i2v_480p",
  version: 1,
  ref: "i2v_480p@1",
  title: "WAN 2.1 image to video, 480p",
  description: "480p",
  fps: 16,
  latest: true,
  parameters: [
    { name: "prompt", type: "string", default: "", description: "What happens.", advanced: false },
    { name: "negative_prompt", type: "string", default: "blurry, static", description: "Avoid.", advanced: false },
    { name: "seed", type: "int", default: 0, min: 0, max: 18446744073709551615, description: "Seed.", advanced: false },
    { name: "steps", type: "int", default: 40, min: 1, max: 200, description: "Denoising steps.", advanced: true },
    { name: "cfg", type: "float", default: 5, min: 0, max: 20, description: "Guidance scale.", advanced: true },
    { name: "num_frames", type: "int", default: 81, min: 1, max: 1001, step: 4, description: "Frames.", advanced: false },
    { name: "resolution", type: "enum", default: "480p", choices: ["480p", "720p", "custom"], description: "Size.", advanced: false },
    { name: "width", type: "int", default: 832, min: 16, max: 2048, step: 16, description: "Width.", advanced: true },
    { name: "height", type: "int", default: 480, min: 16, max: 2048, step: 16, description: "Height.", advanced: true },
    { name: "fps", type: "float", default: 16, min: 1, max: 120, description: "Frames per second.", advanced: true },
    { name: "attention", type: "enum", default: "auto", choices: ["auto", "sdpa", "sage"], description: "Kernel.", advanced: true },
  ],
} as Workflow;

export const WORKFLOW_720: Workflow = {
  ...WORKFLOW,
  name: "i2v_720p",
  ref: "i2v_720p@1",
  title: "WAN 2.1 image to video, 720p",
  parameters: WORKFLOW.parameters.map((p) =>
    p.name === "resolution" ? { ...p, default: "720p" } : p.name === "steps" ? { ...p, default: 30 } : p,
  ),
} as Workflow;

export function makeJob(patch: Partial<Job> = {}): Job {
  return {
    id: "job-1",
    user: "alice",
    state: "running",
    progress: 0.25,
    step: 5,
    steps: 20,
    node: "WanI2VSampler",
    queue_position: null,
    instance: "gpu0",
    attempt: 1,
    cached: false,
    created_at: "2026-01-02T03:04:05Z",
    started_at: "2026-01-02T03:04:06Z",
    finished_at: null,
    error: null,
    workflow: "i2v_480p@1",
    workflow_hash: "abc",
    parameters: { prompt: "a cat walks", steps: 20, seed: 1234, num_frames: 33 },
    seed: 1234,
    outputs: [],
    video_url: null,
    poster_url: null,
    timings: null,
    ...patch,
  } as Job;
}
