// The one API client: openapi-fetch typed by the generated schema, plus the bearer token and the
// "session expired" hook in a middleware. Every failure becomes an ApiError with the API's code.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | null;

  constructor(status: number, code: string, message: string, field: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

type AuthHooks = { token: () => string | null; onUnauthorized: (code: string) => void };
let hooks: AuthHooks = { token: () => null, onUnauthorized: () => undefined };

/** Wire the client to the session: where the token comes from and what a 401 does. */
export function configureAuth(next: AuthHooks): void {
  hooks = next;
}

export function currentToken(): string | null {
  return hooks.token();
}

const LOGIN_PATH = "/api/auth/login";

const auth: Middleware = {
  onRequest({ request }) {
    const token = hooks.token();
    if (token && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  async onResponse({ request, response }) {
    if (response.status === 401 && !new URL(request.url).pathname.endsWith(LOGIN_PATH)) {
      const error = await errorFrom(response.clone());
      hooks.onUnauthorized(error.code);
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: typeof window === "undefined" ? "" : window.location.origin,
  // Looked up on each call (not captured once) so tests can stub the global fetch.
  fetch: (request: Request) => globalThis.fetch(request),
});
api.use(auth);

/** The API's error body ({"error": {code, message, field}}) as an ApiError; tolerant of other shapes. */
export async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return toApiError(response.status, body);
}

export function toApiError(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)?.error;
  if (error && typeof error.code === "string") {
    return new ApiError(
      status,
      error.code,
      typeof error.message === "string" ? error.message : error.code,
      typeof error.field === "string" ? error.field : null,
    );
  }
  const detail = (body as { detail?: unknown } | null)?.detail;
  const message = typeof detail === "string" ? detail : `The server answered ${status}.`;
  return new ApiError(status, status === 401 ? "not_authenticated" : status >= 500 ? "internal" : "http_error", message);
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of an openapi-fetch call, or an ApiError thrown. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch (cause) {
    throw new ApiError(0, "network", cause instanceof Error ? cause.message : String(cause));
  }
  if (!result.response.ok) throw toApiError(result.response.status, result.error ?? null);
  return result.data as T;
}

/** The URL of a job's event stream; EventSource cannot send headers, so the token rides in the query. */
export function eventsUrl(jobId: string): string {
  const url = new URL(`/api/jobs/${encodeURIComponent(jobId)}/events`, window.location.origin);
  const token = hooks.token();
  if (token) url.searchParams.set("access_token", token);
  return url.toString();
}
