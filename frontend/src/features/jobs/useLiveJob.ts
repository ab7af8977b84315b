// A job kept up to date: the event stream (EventSource on /api/jobs/{id}/events, the token in the
// query) writes each event's Job into the query cache; while the stream is down the query polls,
// and a closed stream is reopened a little later. Nothing stays open once the job has finished.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { eventsUrl } from "../../lib/api/client";
import { isTerminal, type Job } from "../../lib/api/types";
import { jobQueryOptions, POLL_MS } from "./api";

/** How long a closed stream waits before it is tried again (tests shorten it). */
export const liveTiming = { streamRetryMs: 10_000 };
export type LiveMode = "stream" | "polling" | "done";

export function useLiveJob(id: string) {
  const queryClient = useQueryClient();
  const [streamUp, setStreamUp] = useState(false);
  const [streamFailed, setStreamFailed] = useState(typeof EventSource === "undefined");
  const [attempt, setAttempt] = useState(0);
  const query = useQuery({
    ...jobQueryOptions(id),
    refetchInterval: (q) => (streamUp || (q.state.data && isTerminal(q.state.data.state)) ? false : POLL_MS),
  });
  const done = query.data ? isTerminal(query.data.state) : false;
  const known = query.data !== undefined;

  useEffect(() => {
    if (done || !known || typeof EventSource === "undefined") return;
    const key = jobQueryOptions(id).queryKey;
    const source = new EventSource(eventsUrl(id));
    let retry: number | undefined;
    const onJob = (event: MessageEvent<string>) => {
      try {
        queryClient.setQueryData(key, JSON.parse(event.data) as Job);
      } catch {
        // a malformed event: the next one (or the poll) brings the state
      }
    };
    source.addEventListener("open", () => {
      setStreamUp(true);
      setStreamFailed(false);
    });
    source.addEventListener("state", onJob as EventListener);
    source.addEventListener("progress", onJob as EventListener);
    source.addEventListener("end", ((event: MessageEvent<string>) => {
      onJob(event);
      source.close();
      setStreamUp(false);
    }) as EventListener);
    source.addEventListener("error", () => {
      setStreamUp(false);
      setStreamFailed(true);
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an error status, e.g. an expired token): the poll carries on and
        // notices a 401; the stream is tried again later.
        retry = window.setTimeout(() => setAttempt((n) => n + 1), liveTiming.streamRetryMs);
      }
    });
    return () => {
      source.close();
      window.clearTimeout(retry);
      setStreamUp(false);
    };
  }, [id, done, known, attempt, queryClient]);

  const mode: LiveMode = done ? "done" : streamUp ? "stream" : "polling";
  return { ...query, mode, streamFailed: streamFailed && !done && !streamUp };
}
