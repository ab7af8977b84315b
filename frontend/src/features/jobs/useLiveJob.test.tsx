import { QueryClientProvider } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { vi } from "vitest";
import { configureAuth } from "../../lib/api/client";
import { makeJob, mockApi } from "../../test/api-mock";
import { FakeEventSource } from "../../test/event-source";
import { testQueryClient } from "../../test/render";
import { liveTiming, useLiveJob } from "./useLiveJob";

function wrapper({ children }: { children: ReactNode }) {
  return <QueryClientProvider client={testQueryClient()}>{children}</QueryClientProvider>;
}

describe("useLiveJob", () => {
  let served = makeJob({ state: "queued", progress: 0, step: null, queue_position: 2 });
  let gets = 0;

  beforeEach(() => {
    FakeEventSource.instances = [];
    vi.stubGlobal("EventSource", FakeEventSource);
    configureAuth({ token: () => "tok 1", onUnauthorized: () => undefined });
    gets = 0;
    liveTiming.streamRetryMs = 300;
    served = makeJob({ state: "queued", progress: 0, step: null, queue_position: 2 });
    mockApi({
      "GET /api/jobs/:id": () => {
        gets += 1;
        return served;
      },
    });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("follows the event stream, opened with the token in the query, and closes it at the end", async () => {
    const { result } = renderHook(() => useLiveJob("job-1"), { wrapper });
    await waitFor(() => expect(result.current.data?.state).toBe("queued"));
    const source = FakeEventSource.latest();
    expect(source.url).toBe(`${window.location.origin}/api/jobs/job-1/events?access_token=tok+1`);
    act(() => source.open());
    expect(result.current.mode).toBe("stream");
    act(() => source.emit("progress", makeJob({ state: "running", progress: 0.5, step: 10, steps: 20 })));
    await waitFor(() => expect(result.current.data).toMatchObject({ state: "running", step: 10, steps: 20 }));
    act(() => source.emit("end", makeJob({ state: "succeeded", progress: 1, step: 20, steps: 20 })));
    await waitFor(() => expect(result.current.data?.state).toBe("succeeded"));
    expect(result.current.mode).toBe("done");
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
  });

  it("polls while the stream is down and reopens a closed stream later", async () => {
    const { result } = renderHook(() => useLiveJob("job-1"), { wrapper });
    await waitFor(() => expect(result.current.data?.state).toBe("queued"));
    const first = FakeEventSource.latest();
    act(() => first.open());
    const before = gets;
    act(() => first.fail(true));
    expect(result.current.mode).toBe("polling");
    expect(result.current.streamFailed).toBe(true);
    served = makeJob({ state: "running", progress: 0.3, step: 6, steps: 20 });
    // The poll (every 2 s) brings the new state without the stream.
    await waitFor(() => expect(result.current.data?.state).toBe("running"), { timeout: 4000 });
    expect(gets).toBeGreaterThan(before);
    await waitFor(() => expect(FakeEventSource.instances.length).toBe(2), { timeout: 3000 });
    act(() => FakeEventSource.latest().open());
    expect(result.current.mode).toBe("stream");
  }, 10_000);

  it("opens no stream for a job that has already finished", async () => {
    served = makeJob({ state: "failed", error: "out of memory" });
    const { result } = renderHook(() => useLiveJob("job-1"), { wrapper });
    await waitFor(() => expect(result.current.data?.state).toBe("failed"));
    expect(result.current.mode).toBe("done");
    expect(FakeEventSource.instances).toHaveLength(0);
  });
});
