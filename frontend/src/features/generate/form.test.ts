import { WORKFLOW, WORKFLOW_720 } from "../../test/api-mock";
import type { Parameter } from "../../lib/api/types";
import {
  checkValue,
  defaultValues,
  durationForFrames,
  findParameter,
  framesForDuration,
  layoutParameters,
  outputSize,
  randomSeed,
  SEED_LIMIT,
  switchWorkflow,
} from "./form";

const param = (name: string) => findParameter(WORKFLOW, name) as Parameter;

describe("framesForDuration", () => {
  it("maps seconds to the nearest 4n+1 frame count at the fps", () => {
    expect(framesForDuration(5, 16, param("num_frames"))).toBe(81);
    expect(framesForDuration(0.25, 16, param("num_frames"))).toBe(5);
    expect(framesForDuration(3, 16, param("num_frames"))).toBe(49);
    expect(framesForDuration(2, 24, param("num_frames"))).toBe(49);
    expect(framesForDuration(0, 16, param("num_frames"))).toBe(1);
    for (const seconds of [0.1, 0.7, 1.3, 2.9, 7.77]) {
      expect((framesForDuration(seconds, 16) - 1) % 4).toBe(0);
    }
  });

  it("stays inside the parameter's bounds", () => {
    expect(framesForDuration(1000, 16, param("num_frames"))).toBe(1001);
    expect(framesForDuration(-3, 16, param("num_frames"))).toBe(1);
    expect(durationForFrames(81, 16)).toBe(5);
  });
});

describe("outputSize", () => {
  // Expected values are what comfy_nodes.pipeline.image.target_size returns (same float rounding).
  it("keeps the image's aspect within the preset's area, in multiples of 16 (as the nodes do)", () => {
    expect(outputSize({ width: 1920, height: 1080 }, "480p", "", "")).toEqual({ width: 832, height: 464 });
    expect(outputSize({ width: 832, height: 480 }, "480p", "", "")).toEqual({ width: 832, height: 464 });
    expect(outputSize({ width: 832, height: 480 }, "720p", "", "")).toEqual({ width: 1248, height: 720 });
    expect(outputSize({ width: 1080, height: 1920 }, "480p", "", "")).toEqual({ width: 464, height: 832 });
    expect(outputSize({ width: 1000, height: 1000 }, "720p", "", "")).toEqual({ width: 960, height: 960 });
    expect(outputSize({ width: 1280, height: 720 }, "720p", "", "")).toEqual({ width: 1280, height: 720 });
  });

  it("uses width and height for custom, and is unknown without an image", () => {
    expect(outputSize(null, "custom", "640", "368")).toEqual({ width: 640, height: 368 });
    expect(outputSize(null, "480p", "", "")).toBeNull();
    expect(outputSize({ width: 10, height: 10 }, "weird", "", "")).toBeNull();
  });
});

describe("checkValue", () => {
  it("checks numbers against the manifest's bounds and steps", () => {
    expect(checkValue(param("steps"), "20")).toBeNull();
    expect(checkValue(param("steps"), "0")).toEqual({ kind: "min", min: 1 });
    expect(checkValue(param("steps"), "201")).toEqual({ kind: "max", max: 200 });
    expect(checkValue(param("steps"), "2.5")).toEqual({ kind: "notInteger" });
    expect(checkValue(param("steps"), "abc")).toEqual({ kind: "notNumber" });
    expect(checkValue(param("steps"), " ")).toEqual({ kind: "required" });
    expect(checkValue(param("cfg"), "4.5")).toBeNull();
    expect(checkValue(param("cfg"), "21")).toEqual({ kind: "max", max: 20 });
    expect(checkValue(param("width"), "640")).toBeNull();
    expect(checkValue(param("width"), "650")).toEqual({ kind: "step", min: 16, step: 16 });
    expect(checkValue(param("num_frames"), "33")).toBeNull();
    expect(checkValue(param("num_frames"), "32")).toEqual({ kind: "step", min: 1, step: 4 });
  });

  it("keeps 64-bit seeds exact and checks enum choices", () => {
    expect(checkValue(param("seed"), "18446744073709551615")).toBeNull();
    expect(checkValue(param("seed"), "18446744073709551617")).toEqual({ kind: "max", max: 18446744073709551615 });
    expect(checkValue(param("seed"), "-1")).toEqual({ kind: "min", min: 0 });
    expect(checkValue(param("attention"), "sage")).toBeNull();
    expect(checkValue(param("attention"), "flash")).toEqual({ kind: "required" });
  });
});

describe("layout and workflow switches", () => {
  it("draws the manifest's non-special parameters, advanced ones apart", () => {
    const { main, advanced } = layoutParameters(WORKFLOW);
    expect(main.map((p) => p.name)).toEqual(["resolution"]);
    expect(advanced.map((p) => p.name)).toEqual(["steps", "cfg", "width", "height", "fps", "attention"]);
  });

  it("puts a new manifest parameter on the form with no page change", () => {
    const extended = {
      ...WORKFLOW,
      parameters: [...WORKFLOW.parameters, { name: "motion", type: "float", default: 1, min: 0, max: 2, description: "", advanced: true }],
    } as typeof WORKFLOW;
    expect(layoutParameters(extended).advanced.map((p) => p.name)).toContain("motion");
  });

  it("keeps what the person changed and takes the new defaults for the rest", () => {
    const values = { ...defaultValues(WORKFLOW), prompt: "a dog", steps: "12" };
    const next = switchWorkflow(values, WORKFLOW, WORKFLOW_720);
    expect(next.prompt).toBe("a dog");
    expect(next.steps).toBe("12");
    expect(next.resolution).toBe("720p");
    const untouched = switchWorkflow(defaultValues(WORKFLOW), WORKFLOW, WORKFLOW_720);
    expect(untouched.steps).toBe("30");
  });
});

describe("randomSeed", () => {
  it("draws integers inside the range and below 2**53", () => {
    const seeds = new Set<string>();
    for (let i = 0; i < 50; i += 1) {
      const seed = randomSeed(param("seed"));
      expect(seed).toMatch(/^\d+$/);
      expect(Number(seed)).toBeLessThanOrEqual(SEED_LIMIT);
      seeds.add(seed);
    }
    expect(seeds.size).toBeGreaterThan(45);
    const small = { ...param("seed"), min: 5, max: 7 } as Parameter;
    for (let i = 0; i < 20; i += 1) expect(["5", "6", "7"]).toContain(randomSeed(small));
  });
});
