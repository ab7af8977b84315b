import { useEffect, useRef } from "react";
import { isTerminal, type JobState } from "../../lib/api/types";
import { playFinishSound } from "../../lib/sound";

/** Plays the chime once when a job watched on this page goes from queued/running to done or failed. */
export function useFinishSound(state: JobState | undefined): void {
  const previous = useRef<JobState | undefined>(undefined);
  useEffect(() => {
    const before = previous.current;
    previous.current = state;
    if (before && state && !isTerminal(before) && (state === "succeeded" || state === "failed")) playFinishSound();
  }, [state]);
}
