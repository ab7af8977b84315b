import type { ImageLimits } from "../../lib/limits";

export type ImageSize = { width: number; height: number };
export type ImageInfo = ImageSize & { file: File };

/** Why a file cannot be the start image; `vars` fill the translated message. */
export type ImageProblem =
  | { kind: "badType"; vars: { name: string } }
  | { kind: "tooLarge"; vars: { size: number; limit: number } }
  | { kind: "unreadable"; vars: { name: string } }
  | { kind: "tooManyPixels"; vars: { pixels: number; limit: number } }
  | { kind: "tooSmall"; vars: { width: number; height: number; min: number } };

export type SizeReader = (file: File) => Promise<ImageSize>;

const EXTENSIONS: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  bmp: "image/bmp",
  gif: "image/gif",
};

function typeOf(file: File): string {
  if (file.type) return file.type;
  const extension = file.name.split(".").pop()?.toLowerCase() ?? "";
  return EXTENSIONS[extension] ?? "";
}

/** Decodes just enough of the image to learn its size (createImageBitmap, else an <img>). */
export const readImageSize: SizeReader = async (file) => {
  if (typeof createImageBitmap === "function") {
    const bitmap = await createImageBitmap(file);
    const size = { width: bitmap.width, height: bitmap.height };
    bitmap.close();
    return size;
  }
  const url = URL.createObjectURL(file);
  try {
    return await new Promise<ImageSize>((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve({ width: image.naturalWidth, height: image.naturalHeight });
      image.onerror = () => reject(new Error("unreadable image"));
      image.src = url;
    });
  } finally {
    URL.revokeObjectURL(url);
  }
};

/** The image's size when it passes the type, byte-size and pixel checks; else the first problem. */
export async function checkImage(
  file: File,
  limits: ImageLimits,
  readSize: SizeReader = readImageSize,
): Promise<{ image: ImageInfo } | { problem: ImageProblem }> {
  if (!limits.types.includes(typeOf(file))) return { problem: { kind: "badType", vars: { name: file.name } } };
  if (file.size > limits.maxBytes) {
    return { problem: { kind: "tooLarge", vars: { size: file.size, limit: limits.maxBytes } } };
  }
  let size: ImageSize;
  try {
    size = await readSize(file);
  } catch {
    return { problem: { kind: "unreadable", vars: { name: file.name } } };
  }
  if (size.width * size.height > limits.maxPixels) {
    return { problem: { kind: "tooManyPixels", vars: { pixels: size.width * size.height, limit: limits.maxPixels } } };
  }
  if (Math.min(size.width, size.height) < limits.minSide) {
    return { problem: { kind: "tooSmall", vars: { ...size, min: limits.minSide } } };
  }
  return { image: { file, ...size } };
}
