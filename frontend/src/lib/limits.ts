// What the orchestrator accepts by default (MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, MIN_IMAGE_SIDE);
// the page checks them first so a person hears about a wrong image before a slow upload.
// The server checks again, so a deployment with other limits still gets a clear answer.
export const IMAGE_LIMITS = {
  maxBytes: 20_000_000,
  maxPixels: 40_000_000,
  minSide: 16,
  // The API also takes TIFF, which browsers other than Safari cannot show, so the page leaves it out.
  types: ["image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif"] as readonly string[],
  accept: ".png,.jpg,.jpeg,.webp,.bmp,.gif,image/png,image/jpeg,image/webp,image/bmp,image/gif",
};

export type ImageLimits = typeof IMAGE_LIMITS;
