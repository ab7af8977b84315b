// The Generate form's rules, kept free of React so they are easy to test: which parameters the
// form shows where, how a typed value is checked against the manifest, the output size for an
// image, the frame count for a duration, and seeds.
import type { Parameter, Workflow } from "../../lib/api/types";

/** Parameters with their own widgets on the form; every other one is drawn from the manifest. */
export const SPECIAL = new Set(["image", "prompt", "negative_prompt", "seed", "num_frames"]);
/** Seeds stay below 2**53 so a JavaScript number (and the job's JSON) keeps them exact. */
export const SEED_LIMIT = 2 ** 53 - 1;
export const FRAME_STRIDE = 4;
/** The areas of the sizing presets (as in the nodes: the image's aspect within this many pixels). */
export const RESOLUTION_AREAS: Record<string, number> = { "480p": 832 * 480, "720p": 1280 * 720 };
const SIZE_MULTIPLE = 16;
const VAE_STRIDE = 8;

export type Values = Record<string, string>;

export type FieldProblem =
  | { kind: "required" | "notNumber" | "notInteger" }
  | { kind: "min"; min: number }
  | { kind: "max"; max: number }
  | { kind: "step"; min: number; step: number };

export function findParameter(workflow: Workflow | undefined, name: string): Parameter | undefined {
  return workflow?.parameters.find((p) => p.name === name);
}

/** Manifest parameters split into the main form and the Advanced section. */
export function layoutParameters(workflow: Workflow): { main: Parameter[]; advanced: Parameter[] } {
  const generic = workflow.parameters.filter((p) => !SPECIAL.has(p.name) && p.type !== "image");
  // A manifest that marks nothing advanced keeps the form short: everything generic goes there.
  if (!generic.some((p) => p.advanced)) return { main: [], advanced: generic };
  return { main: generic.filter((p) => !p.advanced), advanced: generic.filter((p) => p.advanced) };
}

export function defaultText(parameter: Parameter): string {
  const value = parameter.default;
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "true" : "false";
  return String(value);
}

export function defaultValues(workflow: Workflow): Values {
  const values: Values = {};
  for (const parameter of workflow.parameters) {
    if (parameter.type !== "image") values[parameter.name] = defaultText(parameter);
  }
  return values;
}

/**
 * The values for another workflow: what the person changed (differs from the old default) is kept
 * where the new workflow has that parameter; the rest take the new workflow's defaults.
 */
export function switchWorkflow(values: Values, from: Workflow | undefined, to: Workflow): Values {
  const next = defaultValues(to);
  for (const parameter of to.parameters) {
    const current = values[parameter.name];
    if (current === undefined || parameter.type === "image") continue;
    const old = findParameter(from, parameter.name);
    if (!old || current !== defaultText(old)) next[parameter.name] = current;
  }
  return next;
}

function isInteger(text: string): boolean {
  return /^[+-]?\d+$/.test(text.trim());
}

/** Why the text is not a valid value of the parameter, or null when it is. */
export function checkValue(parameter: Parameter, text: string): FieldProblem | null {
  const trimmed = text.trim();
  if (parameter.type === "int" || parameter.type === "float") {
    if (trimmed === "") return { kind: "required" };
    if (parameter.type === "int" && !isInteger(trimmed)) {
      return Number.isFinite(Number(trimmed)) ? { kind: "notInteger" } : { kind: "notNumber" };
    }
    const number = Number(trimmed);
    if (!Number.isFinite(number)) return { kind: "notNumber" };
    const min = parameter.min ?? null;
    const max = parameter.max ?? null;
    if (parameter.type === "int") {
      // BigInt keeps 64-bit bounds (seeds) exact.
      const value = BigInt(trimmed);
      if (min !== null && value < BigInt(Math.ceil(min))) return { kind: "min", min };
      if (max !== null && value > BigInt(Math.floor(max))) return { kind: "max", max };
      const step = parameter.step ?? null;
      if (step && step > 1 && (value - BigInt(Math.trunc(min ?? 0))) % BigInt(Math.trunc(step)) !== 0n) {
        return { kind: "step", min: min ?? 0, step };
      }
      return null;
    }
    if (min !== null && number < min) return { kind: "min", min };
    if (max !== null && number > max) return { kind: "max", max };
    return null;
  }
  if (parameter.type === "enum") {
    const choices = (parameter.choices ?? []).map(String);
    return choices.includes(trimmed) ? null : { kind: "required" };
  }
  return null;
}

/** Frames for a duration at an fps: the nearest 4n+1 count, within the parameter's bounds. */
export function framesForDuration(seconds: number, fps: number, parameter?: Parameter): number {
  const min = Math.max(1, Math.ceil(parameter?.min ?? 1));
  const max = Math.floor(parameter?.max ?? Number.MAX_SAFE_INTEGER);
  const raw = Number.isFinite(seconds) && Number.isFinite(fps) && fps > 0 ? seconds * fps : 0;
  let frames = Math.round(Math.max(0, raw) / FRAME_STRIDE) * FRAME_STRIDE + 1;
  while (frames < min) frames += FRAME_STRIDE;
  while (frames > max && frames - FRAME_STRIDE >= 1) frames -= FRAME_STRIDE;
  return frames;
}

export function durationForFrames(frames: number, fps: number): number {
  return fps > 0 ? (frames - 1) / fps : 0;
}

/**
 * The video's size: for 480p/720p the image's aspect within the preset's area, floored to
 * multiples of 16 as the nodes do; for "custom" the width and height given. Null when unknown.
 */
export function outputSize(
  image: { width: number; height: number } | null,
  resolution: string | undefined,
  width: string | undefined,
  height: string | undefined,
): { width: number; height: number } | null {
  if (resolution === "custom") {
    const w = Number(width);
    const h = Number(height);
    return Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0 ? { width: w, height: h } : null;
  }
  const area = resolution ? RESOLUTION_AREAS[resolution] : undefined;
  if (!image || !area || image.width <= 0 || image.height <= 0) return null;
  const aspect = image.height / image.width;
  const patch = SIZE_MULTIPLE / VAE_STRIDE;
  const latH = Math.floor(Math.floor(Math.sqrt(area * aspect) / VAE_STRIDE) / patch) * patch;
  const latW = Math.floor(Math.floor(Math.sqrt(area / aspect) / VAE_STRIDE) / patch) * patch;
  return { width: Math.max(latW, patch) * VAE_STRIDE, height: Math.max(latH, patch) * VAE_STRIDE };
}

/** A random seed in the parameter's range (and below 2**53). */
export function randomSeed(parameter?: Parameter): string {
  const words = new Uint32Array(2);
  crypto.getRandomValues(words);
  const min = Math.max(0, Math.ceil(parameter?.min ?? 0));
  const max = Math.min(SEED_LIMIT, Math.floor(parameter?.max ?? SEED_LIMIT));
  const span = max - min + 1;
  const random = ((words[0] ?? 0) % 2 ** 21) * 2 ** 32 + (words[1] ?? 0); // 53 random bits
  return String(min + (random % span));
}
