import { makeJob } from "../../test/api-mock";
import { jobTiming } from "./timing";

const at = (iso: string) => Date.parse(iso);

describe("jobTiming", () => {
  it("counts from creation and estimates the rest from the running share", () => {
    const job = makeJob({ created_at: "2026-01-01T00:00:00Z", started_at: "2026-01-01T00:00:10Z", progress: 0.25 });
    const timing = jobTiming(job, at("2026-01-01T00:00:40Z"));
    expect(timing.elapsed).toBe(40);
    expect(timing.remaining).toBeCloseTo(90); // 30 s for a quarter
    expect(timing.total).toBeNull();
  });

  it("has no estimate while queued or before any progress, and a total once finished", () => {
    expect(jobTiming(makeJob({ state: "queued", started_at: null, progress: 0 }), Date.now()).remaining).toBeNull();
    expect(jobTiming(makeJob({ progress: 0 }), Date.now()).remaining).toBeNull();
    const done = makeJob({ state: "succeeded", progress: 1, created_at: "2026-01-01T00:00:00Z", finished_at: "2026-01-01T00:01:05Z" });
    const timing = jobTiming(done, at("2026-01-01T09:00:00Z"));
    expect(timing.total).toBe(65);
    expect(timing.elapsed).toBe(65);
    expect(timing.remaining).toBeNull();
  });

  it("never goes negative when the clocks disagree", () => {
    const job = makeJob({ created_at: "2026-01-01T00:01:00Z", started_at: "2026-01-01T00:01:00Z" });
    expect(jobTiming(job, at("2026-01-01T00:00:00Z")).elapsed).toBe(0);
  });
});
