// The Generate form's draft outlives the page: kept in memory (with the image) while the app runs,
// and its text in sessionStorage across a reload. So a session that expires mid-form, sending the
// person to log in and back, finds the form as they left it.
import type { ImageInfo } from "../../components/Upload/check";

export type Draft = {
  workflow: string | null;
  values: Record<string, string>;
  duration: string;
  seedLocked: boolean;
  image: ImageInfo | null;
  /** Set when the draft came from "use these settings again". */
  reusedFrom?: string;
};

const KEY = "wan.generate.draft";
let memory: Draft | null = null;

export function loadDraft(): Draft | null {
  if (memory) return memory;
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Omit<Draft, "image">;
    return { ...parsed, image: null };
  } catch {
    return null;
  }
}

export function saveDraft(draft: Draft): void {
  memory = draft;
  try {
    const { image: _image, ...text } = draft;
    sessionStorage.setItem(KEY, JSON.stringify(text));
  } catch {
    // kept in memory only
  }
}

export function clearDraft(): void {
  memory = null;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}
