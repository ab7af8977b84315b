// What the orchestrator accepts by default (MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, MIN_IMAGE_SIDE);
// the page checks them first so a person hears about a wrong image before a slow upload.
// The server checks again, so a deployment with other limits still gets a clear answer.
export const IMAGE_LIMITS = {
  maxBytes: 20_000_000,
  maxPixels: 40_000_000,
  minSide: 16,
  types: ["image/png", "image/jpeg", "image/webp"] as readonly string[],
  accept: ".png,.jpg,.jpeg,.webp,image/png,image/jpeg,image/webp",
};

export type ImageLimits = typeof IMAGE_LIMITS;
